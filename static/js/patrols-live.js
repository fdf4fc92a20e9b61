/* Live patrol map: refetch the layers every few seconds without reloading the page; SOS alarms get a
 * marker of their own (red, pulsing, labelled), a popup saying who, when and where in the reader's
 * language, and, for staff, an acknowledge button. An alarm stays on the map until acknowledged. */
(function () {
  "use strict";
  var el = document.getElementById("live-status");
  var seconds = parseInt(el && el.dataset.refresh, 10) || 10;
  var T = {};
  try { T = JSON.parse((el && el.dataset.sos) || "{}"); } catch (e) { T = {}; }
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var sosButton = null;

  function esc(v) {
    return String(v === null || v === undefined ? "" : v).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function sosPopup(p) {
    var where = (p.place ? esc(p.place) + "<br>" : "") + esc(Number(p.lat).toFixed(5) + ", " + Number(p.lon).toFixed(5));
    var patrol = p.patrol_id
      ? '<a href="' + esc(String(T.patrol_url || "").replace("/0", "/" + p.patrol_id)) + '">' + esc(p.patrol) + "</a>"
      : esc(T.outside);
    var html = '<div class="wuwei-popup live-sos-popup" data-event="' + esc(p.event_id) + '">' +
      '<div class="wuwei-popup-kind">' + esc(T.title) + "</div><strong>" + esc(p.who) + " · " +
      esc(String(p.alarm).toUpperCase()) + "</strong><table>" +
      "<tr><th>" + esc(T.who) + "</th><td>" + esc(p.who) + "</td></tr>" +
      "<tr><th>" + esc(T.when) + "</th><td>" + esc(p.fixed_at) + "</td></tr>" +
      "<tr><th>" + esc(T.where) + "</th><td>" + where + "</td></tr>" +
      "<tr><th>" + esc(T.patrol) + "</th><td>" + patrol + "</td></tr></table>";
    if (T.can_ack) {
      html += '<button type="button" class="live-sos-ack" data-event="' + esc(p.event_id) + '">' + esc(T.ack) +
        '</button><div class="live-sos-msg" role="status"></div>';
    }
    return html + "</div>";
  }

  function sosLayers() {
    var st = window.Wuwei && window.Wuwei.state, out = [];
    if (st && st.layers.live) {
      st.layers.live.eachLayer(function (l) {
        if (l.feature && l.feature.properties.kind === "sos") { out.push(l); }
      });
    }
    return out;
  }

  function markSos(l) {
    if (l.wuweiSos) { return; }
    l.wuweiSos = true;
    if (l.setRadius) { l.setRadius(11); }
    if (l.setStyle) { l.setStyle({color: "#7f1d1d", fillColor: "#dc2626", fillOpacity: 1, weight: 3}); }
    var node = l.getElement && l.getElement();
    if (node) { node.classList.add("live-sos"); }
    l.unbindPopup();
    l.bindPopup(sosPopup(l.feature.properties), {maxWidth: 320});
    l.bindTooltip("SOS", {permanent: true, direction: "top", offset: [0, -10], className: "live-sos-label"});
  }

  function count() {
    var st = window.Wuwei && window.Wuwei.state, n = 0, sos = sosLayers();
    if (st && st.layers.live) {
      st.layers.live.eachLayer(function (l) {
        if (l.feature && l.feature.properties.kind === "position") { n++; }
      });
    }
    sos.forEach(function (l) { markSos(l); if (l.bringToFront) { l.bringToFront(); } });
    var c = document.getElementById("live-count");
    if (c) { c.textContent = n + " ⦿ " + new Date().toLocaleTimeString(); }
    if (!sosButton && el) {
      sosButton = document.createElement("button");
      sosButton.type = "button";
      sosButton.className = "live-sos-count";
      sosButton.title = T.show || "";
      el.insertBefore(sosButton, el.firstChild);
      sosButton.addEventListener("click", showAll);
    }
    if (sosButton) {
      sosButton.hidden = !sos.length;
      sosButton.textContent = (T.count || "SOS") + " ×" + sos.length;
    }
  }

  function showAll() {
    var sos = sosLayers(), st = window.Wuwei.state;
    if (!sos.length) { return; }
    var bounds = L.latLngBounds(sos.map(function (l) { return l.getLatLng(); }));
    st.map.fitBounds(bounds, {maxZoom: 17, padding: [60, 60]});
    sos[0].openPopup();
  }

  function acknowledge(button) {
    var id = button.getAttribute("data-event");
    var msg = button.parentNode.querySelector(".live-sos-msg");
    button.disabled = true;
    msg.textContent = T.acking || "…";
    fetch(String(T.ack_url).replace("/0/", "/" + encodeURIComponent(id) + "/"), {
      method: "POST", credentials: "same-origin", headers: {"X-CSRFToken": CSRF, "Accept": "application/json"}
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) { return {ok: r.ok, status: r.status, body: body}; });
    }).then(function (res) {
      if (res.ok) {
        msg.textContent = T.acked + " · " + res.body.acknowledged_by;
      } else {
        msg.textContent = (res.status === 409 ? "" : T.failed + ": ") + ((res.body.error || {}).message || res.status);
        button.disabled = res.status === 409;
      }
      if (res.ok || res.status === 409 || res.status === 404) {
        setTimeout(function () { window.Wuwei.state.map.closePopup(); window.Wuwei.reload("live"); }, 1200);
      }
    }).catch(function (e) {
      msg.textContent = T.failed + ": " + (e && e.message || e);
      button.disabled = false;
    });
  }

  function hook() {
    var st = window.Wuwei && window.Wuwei.state;
    if (!st || !st.map) { return; }
    st.map.on("wuwei:loaded", count);
    st.map.getContainer().addEventListener("click", function (e) {
      var b = e.target.closest && e.target.closest(".live-sos-ack");
      if (b && !b.disabled) { acknowledge(b); }
    });
    count();
  }
  function tick() {
    var st = window.Wuwei && window.Wuwei.state;
    if (st && st.map) { st.map.fire("moveend"); }
  }
  hook();
  setInterval(function () { if (!document.hidden) { tick(); } }, seconds * 1000);
})();
