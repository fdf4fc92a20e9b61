/* Patrol phone page, map first: start/stop a patrol, follow the position with watchPosition, draw the
 * own track live, keep fixes in IndexedDB (localStorage when IndexedDB is missing) and upload them in
 * batches when online; show the time under way, the distance and how many fixes the server's drift
 * filter kept (and why it dropped the others). Resending a batch is harmless: the server stores each
 * (device, time) once. */
(function () {
  "use strict";
  var root = document.getElementById("phone");
  if (!root) { return; }
  var T = JSON.parse(document.getElementById("phone-text").textContent);
  var API = root.dataset.api;
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var STATE_KEY = "wuwei.patrol.active", LS_QUEUE = "wuwei.patrol.queue";
  var BATCH = 500, MIN_INTERVAL_MS = 3000, FLUSH_MS = 15000;
  var watchId = null, lastFix = null, lastTaken = 0, sent = 0, recorded = 0, flushing = false;
  var $ = function (id) { return document.getElementById(id); };
  var map = window[root.dataset.map] || null;
  var trail = null, stored = null, me = null, meAccuracy = null, centred = false;
  var serverDistance = 0, pendingDistance = 0, pendingFrom = null, startedAt = null;
  var LANG = root.dataset.lang === "en" ? "en" : "zh";

  function say(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (_, k) { return values[k]; });
  }

  function metres(m) {
    return m >= 1000 ? (m / 1000).toFixed(2) + " " + T.km : Math.round(m) + " " + T.m;
  }

  function haversine(a, b) {
    var R = 6371008.8, rad = Math.PI / 180;
    var dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad;
    var h = Math.sin(dLat / 2) * Math.sin(dLat / 2) +
      Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) * Math.sin(dLon / 2);
    return 2 * R * Math.asin(Math.sqrt(h));
  }

  /* ---- the map: the own track (stored, cleaned by the server; and the fixes of this session) ---- */
  function mapLayers() {
    if (!map || !window.L) { return; }
    if (!stored) { stored = L.polyline([], {color: "#7c2d12", weight: 5, opacity: 0.55}).addTo(map); }
    if (!trail) { trail = L.polyline([], {color: "#b42318", weight: 5}).addTo(map); }
  }

  function showMe(fix) {
    if (!map || !window.L) { return; }
    var ll = [fix.lat, fix.lon];
    if (!me) {
      meAccuracy = L.circle(ll, {radius: fix.acc || 0, color: "#2563eb", weight: 1, fillOpacity: 0.1, interactive: false}).addTo(map);
      me = L.circleMarker(ll, {radius: 8, color: "#fff", weight: 3, fillColor: "#2563eb", fillOpacity: 1, className: "me-dot"})
        .bindTooltip(T.me).addTo(map);
    } else {
      me.setLatLng(ll); meAccuracy.setLatLng(ll).setRadius(fix.acc || 0);
    }
    if (!centred || active()) { map.panTo(ll, {animate: false}); centred = true; }
  }

  function loadStoredTrack(p) {
    if (!map || !p) { return; }
    fetch(API + "/" + p.id + "/track", {credentials: "same-origin", headers: {"Accept": "application/geo+json"}})
      .then(function (r) { return r.ok ? r.json() : {features: []}; })
      .then(function (fc) {
        mapLayers();
        var lines = [];
        (fc.features || []).forEach(function (f) {
          var g = f.geometry || {};
          var parts = g.type === "MultiLineString" ? g.coordinates : g.type === "LineString" ? [g.coordinates] : [];
          parts.forEach(function (c) { lines.push(c.map(function (xy) { return [xy[1], xy[0]]; })); });
        });
        stored.setLatLngs(lines);
      }).catch(function () {});
  }

  /* ---- time, distance, the drift filter's figures ---- */
  function tick() {
    if (!startedAt || !active()) { return; }
    var s = Math.max(0, Math.floor((Date.now() - startedAt) / 1000));
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
    $("elapsed").textContent = (h ? h + ":" + (m < 10 ? "0" : "") + m : m) + ":" + (sec < 10 ? "0" : "") + sec;
  }

  function showDistance() { $("distance").textContent = metres(serverDistance + pendingDistance); }

  function showProgress(t) {
    if (!t) { return; }
    serverDistance = t.distance_m || 0;
    pendingDistance = 0;
    showDistance();
    $("n-stored").textContent = t.stored_fixes;
    $("n-kept").textContent = t.kept_fixes;
    var dropped = (t.dropped_accuracy || 0) + (t.dropped_speed || 0);
    $("dropped").textContent = dropped ? "(" + say(T.dropped, {n: dropped, acc: t.dropped_accuracy, speed: t.dropped_speed}) + ")" : "";
    var note = $("filter-note");
    note.textContent = say(T.filter_note, {acc: t.max_accuracy_m, kmh: t.max_speed_kmh});
    note.hidden = !dropped;
  }

  function msg(text, bad) {
    var m = $("message");
    m.textContent = text; m.hidden = false; m.className = "flash" + (bad ? " error" : "");
    setTimeout(function () { m.hidden = true; }, 4000);
  }

  function api(method, url, body) {
    return fetch(url, {method: method, credentials: "same-origin",
                       headers: {"Content-Type": "application/json", "X-CSRFToken": CSRF, "Accept": "application/json"},
                       body: body === undefined ? undefined : JSON.stringify(body)})
      .then(function (r) {
        return r.text().then(function (t) {
          var data = null;
          try { data = t ? JSON.parse(t) : null; } catch (e) { data = null; }
          if (!r.ok) { var err = new Error((data && data.error && data.error.message) || r.status); err.status = r.status; throw err; }
          return data;
        });
      });
  }

  /* ---- the queue: IndexedDB, or localStorage as a fallback ---- */
  var Queue = (function () {
    var dbp = null;
    if (window.indexedDB) {
      dbp = new Promise(function (resolve) {
        var req = indexedDB.open("wuwei-patrols", 1);
        req.onupgradeneeded = function () { req.result.createObjectStore("fixes", {autoIncrement: true}); };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { resolve(null); };
      });
    } else {
      dbp = Promise.resolve(null);
    }
    function lsGet() { try { return JSON.parse(localStorage.getItem(LS_QUEUE) || "[]"); } catch (e) { return []; } }
    function tx(db, mode) { return db.transaction("fixes", mode).objectStore("fixes"); }
    return {
      add: function (item) {
        return dbp.then(function (db) {
          if (!db) { var q = lsGet(); q.push(item); localStorage.setItem(LS_QUEUE, JSON.stringify(q)); return; }
          return new Promise(function (res) { var r = tx(db, "readwrite").add(item); r.onsuccess = res; r.onerror = res; });
        });
      },
      take: function (n) {  /* → [{key, value}] oldest first */
        return dbp.then(function (db) {
          if (!db) { return lsGet().slice(0, n).map(function (v, i) { return {key: i, value: v}; }); }
          return new Promise(function (res) {
            var out = [], r = tx(db, "readonly").openCursor();
            r.onsuccess = function () {
              var c = r.result;
              if (c && out.length < n) { out.push({key: c.key, value: c.value}); c.continue(); } else { res(out); }
            };
            r.onerror = function () { res(out); };
          });
        });
      },
      drop: function (items) {
        return dbp.then(function (db) {
          if (!db) { localStorage.setItem(LS_QUEUE, JSON.stringify(lsGet().slice(items.length))); return; }
          return new Promise(function (res) {
            var store = tx(db, "readwrite");
            items.forEach(function (it) { store.delete(it.key); });
            store.transaction.oncomplete = res; store.transaction.onerror = res;
          });
        });
      },
      count: function () {
        return dbp.then(function (db) {
          if (!db) { return lsGet().length; }
          return new Promise(function (res) { var r = tx(db, "readonly").count(); r.onsuccess = function () { res(r.result); }; });
        });
      }
    };
  })();

  function active() { try { return JSON.parse(localStorage.getItem(STATE_KEY) || "null"); } catch (e) { return null; } }
  function setActive(p) { if (p) { localStorage.setItem(STATE_KEY, JSON.stringify(p)); } else { localStorage.removeItem(STATE_KEY); } }

  function refreshCounts() {
    Queue.count().then(function (n) { $("n-queued").textContent = n; });
    $("n-recorded").textContent = recorded;
    $("n-sent").textContent = sent;
    $("net-state").textContent = navigator.onLine ? T.online : T.offline;
  }

  function record(fix) {
    var p = active();
    if (!p || !fix || fix.t - lastTaken < MIN_INTERVAL_MS) { return; }
    lastTaken = fix.t;
    recorded++;
    mapLayers();
    if (trail) { trail.addLatLng([fix.lat, fix.lon]); }
    if (pendingFrom) { pendingDistance += haversine(pendingFrom, fix); showDistance(); }
    pendingFrom = fix;
    Queue.add({patrol: p.id, fix: fix}).then(refreshCounts);
  }

  function onPosition(pos) {
    var c = pos.coords;
    lastFix = {lat: c.latitude, lon: c.longitude, t: pos.timestamp || Date.now(), acc: c.accuracy,
               speed: c.speed, heading: c.heading, alt: c.altitude};
    $("gps-state").textContent = T.gps_ok + " ±" + Math.round(c.accuracy) + " " + T.m;
    $("gps-short").textContent = "±" + Math.round(c.accuracy) + " " + T.m;
    showMe(lastFix);
    record(lastFix);
  }

  function onError(err) {
    var text = err.code === 1 ? T.gps_denied : err.code === 3 ? T.gps_timeout : T.locating;
    $("gps-state").textContent = text;
    $("gps-short").textContent = "✕";
    if (err.code === 1) { msg(text, true); }
  }

  function startWatch() {
    if (!navigator.geolocation) { $("gps-state").textContent = T.gps_none; msg(T.gps_none, true); return; }
    if (watchId === null) {
      watchId = navigator.geolocation.watchPosition(onPosition, onError,
        {enableHighAccuracy: true, maximumAge: 0, timeout: 30000});
    }
  }

  function flush() {
    if (flushing || !navigator.onLine) { return Promise.resolve(); }
    flushing = true;
    return Queue.take(BATCH).then(function (items) {
      if (!items.length) { return; }
      var pid = items[0].value.patrol;
      var same = items.filter(function (it) { return it.value.patrol === pid; });
      return api("POST", API + "/" + pid + "/positions", {positions: same.map(function (it) { return it.value.fix; })})
        .then(function (r) {
          sent += r.received;
          if (r.track) { showProgress(r.track); pendingFrom = null; }
          return Queue.drop(same);
        })
        .catch(function (e) {
          // 4xx: the server will never take these (bad data, patrol gone): do not block the queue.
          if (e.status && e.status >= 400 && e.status < 500 && e.status !== 401 && e.status !== 429) { return Queue.drop(same); }
        });
    }).then(function () { flushing = false; refreshCounts(); }, function () { flushing = false; });
  }

  function show() {
    var p = active();
    $("start-card").hidden = !!p;
    $("run-card").hidden = !p;
    $("hud").hidden = !p;
    if (p) {
      $("run-title").textContent = p.title;
      $("bike-tools").hidden = p.kind !== "bike_rectification";
      $("people-list").textContent = p.people || "";
      startedAt = p.started ? Date.parse(p.started) : (startedAt || Date.now());
      tick();
    }
    refreshCounts();
  }

  $("btn-start").addEventListener("click", function () {
    var title = $("title").value.trim(), kind = $("kind").value;
    // No title typed: the server names it after the kind and the date (网格巡查 12月2日).
    api("POST", API, {kind: kind, title: title || undefined, area: root.dataset.area || undefined, start: true})
      .then(function (p) {
        setActive({id: p.id, title: p.title, kind: p.kind, started: p.started_at, people: p.participants.join("、")});
        serverDistance = 0; pendingDistance = 0; pendingFrom = null; startedAt = null;
        if (trail) { trail.setLatLngs([]); }
        if (stored) { stored.setLatLngs([]); }
        show(); startWatch(); msg(T.started);
        if (lastFix) { record(Object.assign({}, lastFix, {t: Date.now()})); }
      })
      .catch(function (e) { msg(T.failed + ": " + e.message, true); });
  });

  $("btn-stop").addEventListener("click", function () {
    var p = active();
    if (!p) { return; }
    flush().then(function () { return flush(); }).then(function () {
      return api("POST", API + "/" + p.id + "/stop");
    }).then(function () {
      setActive(null); show(); msg(T.stopped);
      var last = $("last-patrol");
      last.querySelector("a").href = API.replace("/api/v1/patrols", "/patrols") + "/" + p.id;
      last.querySelector("a").textContent = p.title;
      last.hidden = false;
    }).catch(function (e) {
      if (e.status === 409) { setActive(null); show(); }
      msg(T.failed + ": " + e.message, true);
    });
  });

  $("btn-spot").addEventListener("click", function () {
    var p = active();
    if (!p || !lastFix) { msg(T.no_fix, true); return; }
    api("POST", API + "/" + p.id + "/bad-parking", {lon: lastFix.lon, lat: lastFix.lat,
        bikes: parseInt($("spot-bikes").value, 10) || 0, reparked: $("spot-reparked").checked})
      .then(function (r) {
        msg(T.spot_saved + " · " + (r.zone_distance_m != null ? say(T.spot_near, {m: Math.round(r.zone_distance_m)}) : T.spot_no_zone));
      })
      .catch(function (e) { msg(T.failed + ": " + e.message, true); });
  });

  /* ---- incident report: only when the incidents API answers ---- */
  function setupIncidents() {
    fetch(root.dataset.categories, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        var sel = $("inc-category");
        (data.categories || []).forEach(function (c) {
          var o = document.createElement("option"); o.value = c.code;
          o.textContent = (c.parent ? "　" : "") + (LANG === "en" && c.name_en ? c.name_en : c.name); sel.appendChild(o);
        });
        $("incident-form").hidden = !(data.categories || []).length;
        $("incident-off").hidden = !!(data.categories || []).length;
      })
      .catch(function () { $("incident-form").hidden = true; $("incident-off").hidden = false; });
    $("incident-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!lastFix) { msg(T.no_fix, true); return; }
      // Reported as part of the patrol (source "patrol"): the patrol's record lists it.
      api("POST", root.dataset.incidents, {category: $("inc-category").value, description: $("inc-description").value,
                                           lon: lastFix.lon, lat: lastFix.lat, source: active() ? "patrol" : undefined})
        .then(function (inc) {
          var file = $("inc-photo").files[0];
          if (!file || !inc || inc.id === undefined) { return; }
          var fd = new FormData(); fd.append("photo", file);
          return fetch(root.dataset.incidents + "/" + inc.id + "/photos",
                       {method: "POST", body: fd, credentials: "same-origin", headers: {"X-CSRFToken": CSRF}});
        })
        .then(function () { $("inc-description").value = ""; $("inc-photo").value = ""; msg(T.reported); })
        .catch(function (e) { msg(T.failed + ": " + e.message, true); });
    });
  }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(root.dataset.sw).catch(function () {});
  }
  $("btn-people").addEventListener("click", function () {
    var p = active(), names = $("add-people").value.split(/[,，、\s]+/).filter(Boolean);
    if (!p || !names.length) { return; }
    api("POST", API + "/" + p.id + "/participants", {usernames: names})
      .then(function (r) {
        p.people = r.participants.join("、"); setActive(p); show();
        $("add-people").value = ""; msg(T.people_added);
      })
      .catch(function (e) { msg(T.failed + ": " + e.message, true); });
  });

  if (root.dataset.activeId) {
    var known = active();
    setActive({id: parseInt(root.dataset.activeId, 10), title: root.dataset.activeTitle, kind: root.dataset.activeKind,
               started: root.dataset.started || (known && known.started), people: root.dataset.participants});
  }
  if (root.dataset.progress) { try { showProgress(JSON.parse(root.dataset.progress)); } catch (e) { /* none yet */ } }
  loadStoredTrack(active());
  setInterval(tick, 1000);
  window.addEventListener("online", function () { refreshCounts(); flush(); });
  window.addEventListener("offline", refreshCounts);
  setInterval(flush, FLUSH_MS);
  show();
  startWatch();
  setupIncidents();
  flush();
  window.WuweiPhone = {flush: flush, queue: Queue, active: active, map: map,
                       trail: function () { return trail ? trail.getLatLngs().length : 0; }};
})();
