/* The planning pages (templates/planning/): the survey form posts to /api/v1/ebike-surveys (multipart,
 * with the photo); the siting page posts a plan, follows a queued one (GET /api/v1/charger-plans/<id>)
 * and draws its sites, today's chargers and the uncovered buildings; the zones page draws suggestions.
 * window.WuweiPlanning.state: for tests. */
(function () {
  "use strict";
  var textsEl = document.getElementById("planning-texts");
  if (!textsEl) { return; }
  var T = JSON.parse(textsEl.textContent);
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var state = {plan: null, drawn: [], gaps: null};
  window.WuweiPlanning = {state: state};
  var status = document.getElementById("plan-status") || document.getElementById("survey-status");

  function esc(v) {
    return String(v === null || v === undefined ? "" : v).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function fmt(t, v) { return String(t).replace(/\{(\w+)\}/g, function (_, k) { return v[k] === undefined ? "" : v[k]; }); }
  function show(html, cls) { status.hidden = false; status.className = "import-status " + (cls || ""); status.innerHTML = html; }
  function call(url, method, body, isForm) {
    var headers = {"X-CSRFToken": CSRF, "Accept": "application/json"};
    if (body && !isForm) { headers["Content-Type"] = "application/json"; }
    return fetch(url, {method: method || "GET", credentials: "same-origin", headers: headers,
                       body: body ? (isForm ? body : JSON.stringify(body)) : undefined})
      .then(function (r) { return r.json().then(function (b) { return {status: r.status, body: b}; }); });
  }
  function failed(r) { show(esc(fmt(T.failed || "{message}", {message: r.body && r.body.error ? r.body.error.message : ""})), "error"); }

  /* ---- the survey form */
  var survey = document.getElementById("survey-form");
  if (survey) {
    survey.addEventListener("submit", function (e) {
      e.preventDefault();
      call(survey.getAttribute("data-api"), "POST", new FormData(survey), true).then(function (r) {
        if (r.status !== 201) { show(esc(r.body.error ? r.body.error.message : ""), "error"); return; }
        var msg = esc(T.saved);
        if (r.body.incident_ids.length) { msg += " " + esc(T.incidents) + r.body.incident_ids.map(function (i) {
          return '<a href="/incidents/' + i + '">#' + i + "</a>"; }).join(" "); }
        show(msg, "ok");
        survey.reset();
      }).catch(function () { show(esc(T.network), "error"); });
    });
    var imp = document.getElementById("survey-import");
    imp.addEventListener("submit", function (e) {
      e.preventDefault();
      call(imp.getAttribute("data-api"), "POST", new FormData(imp), true).then(function (r) {
        if (r.status !== 200) { show(esc(r.body.error ? r.body.error.message : ""), "error"); return; }
        show(esc(fmt(T.imported, {n: r.body.imported})), "ok");
      }).catch(function () { show(esc(T.network), "error"); });
    });
    return;
  }

  /* ---- the map of the siting and zone pages */
  var map = L.map("plan-map", {attributionControl: false}).setView([36.05, 103.838], 15);
  var layer = L.layerGroup().addTo(map);
  var drawnLayer = L.layerGroup().addTo(map);

  var planForm = document.getElementById("plan-form");
  if (planForm) {
    var result = document.querySelector(".plan-result");
    var progress = document.getElementById("plan-progress");
    map.on("click", function (e) {
      var site = {lon: +e.latlng.lng.toFixed(7), lat: +e.latlng.lat.toFixed(7)};
      state.drawn.push(site);
      var m = L.circleMarker(e.latlng, {radius: 7, color: "#2563eb"}).addTo(drawnLayer);
      m.on("click", function (ev) { L.DomEvent.stop(ev); drawnLayer.removeLayer(m); state.drawn.splice(state.drawn.indexOf(site), 1); drawnCount(); });
      drawnCount();
    });
    var drawnCount = function () { show(esc(fmt(T.drawn, {n: state.drawn.length}))); };

    /* Demand before any plan: each building's e-bikes, estimates drawn hollow and dashed. */
    var demandLayer = L.layerGroup().addTo(map);
    var loadDemand = function () {
      if (!planForm.area.value) { return; }  /* no street or community in the user's reach */
      call(planForm.getAttribute("data-demand") + "?area=" + encodeURIComponent(planForm.area.value)).then(function (r) {
        demandLayer.clearLayers();
        if (r.status !== 200) { return; }
        var pts = [];
        r.body.features.forEach(function (f) {
          var p = f.properties, ll = [f.geometry.coordinates[1], f.geometry.coordinates[0]];
          pts.push(ll);
          L.circleMarker(ll, {radius: 3 + Math.sqrt(p.ebikes), color: "#7c3aed", weight: 1,
                              dashArray: p.estimated ? "3" : null, fillOpacity: p.estimated ? 0 : 0.35})
            .bindPopup(esc(p.name) + " · " + p.ebikes + " (" + esc(p.estimated ? T.estimated : T.surveyed) + ")" +
                       (p.hazards ? " · " + esc(T.hazards) + " " + p.hazards : "")).addTo(demandLayer);
        });
        if (pts.length && !state.plan) { map.fitBounds(L.latLngBounds(pts).pad(0.2)); }
      });
    };
    planForm.area.addEventListener("change", loadDemand);
    loadDemand();

    var drawPlan = function (plan) {
      state.plan = plan;
      layer.clearLayers();
      var res = plan.result;
      if (!res) { return; }
      var radius = res.radius_m;
      res.today_chargers.forEach(function (c) {
        L.circle([c.lat, c.lon], {radius: radius, color: "#16a34a", weight: 1, fillOpacity: .05}).addTo(layer);
        L.circleMarker([c.lat, c.lon], {radius: 4, color: "#16a34a"}).bindPopup(esc(T.today) + " " + esc(c.name)).addTo(layer);
      });
      res.uncovered_buildings.forEach(function (b) {
        L.circleMarker([b.lat, b.lon], {radius: 5, color: "#6b7280", fillOpacity: .8})
          .bindPopup(esc(T.uncovered) + ": " + esc(b.name) + " · " + b.ebikes + (b.estimated ? " (" + esc(T.estimated) + ")" : "")).addTo(layer);
      });
      var rows = [];
      var bounds = [];
      res.sites.forEach(function (s) {
        L.circle([s.lat, s.lon], {radius: radius, color: "#b42318", weight: 1, fillOpacity: .08}).addTo(layer);
        L.marker([s.lat, s.lon], {icon: L.divIcon({className: "site-label", html: String(s.rank), iconSize: [22, 18]})})
          .bindPopup(esc(T.new_site) + " " + s.rank + " · +" + s.adds_ebikes).addTo(layer);
        bounds.push([s.lat, s.lon]);
        rows.push("<tr><td>" + s.rank + "</td><td>" + esc(T.kinds[s.kind] || s.kind) + "</td><td>" + s.adds_ebikes + "</td><td class='" +
                  (s.over_capacity ? "over" : "") + "'>" + s.load_ebikes + " / " + s.capacity_ebikes +
                  (s.over_capacity ? " " + esc(T.over) : "") + "</td></tr>");
      });
      if (bounds.length) { map.fitBounds(L.latLngBounds(bounds).pad(0.6)); }
      result.querySelector("tbody").innerHTML = rows.join("");
      result.querySelector(".summary").innerHTML =
        "<p>" + esc(fmt(T.before, {c: res.today.covered_ebikes, u: res.today.uncovered_ebikes})) + "</p>" +
        "<p><strong>" + esc(fmt(T.after, {c: res.after.covered_ebikes, u: res.after.uncovered_ebikes, b: res.after.uncovered_buildings})) +
        "</strong></p><p class='muted'>" + esc(T.distance) + " " + esc(res.solver) + " · " + res.seconds + " s</p>";
      var actions = result.querySelector(".plan-actions");
      actions.hidden = false;
      var base = planForm.getAttribute("data-plans") + "/" + plan.id;
      actions.querySelector(".export-geojson").href = base + "/export?format=geojson";
      actions.querySelector(".export-csv").href = base + "/export?format=csv";
      var make = actions.querySelector(".make-chargers");
      if (make) { make.disabled = !!plan.chargers_made_at; make.onclick = function () {
        call(base + "/chargers", "POST").then(function (r) {
          if (r.status !== 201) { failed(r); return; }
          make.disabled = true; show(esc(fmt(T.made, {n: r.body.made})), "ok");
        });
      }; }
    };

    var follow = function (plan) {
      if (plan.status === "done") { progress.hidden = true; status.hidden = true; drawPlan(plan); loadList(); return; }
      if (plan.status === "failed") { progress.hidden = true; show(esc(fmt(T.failed, {message: plan.error})), "error"); return; }
      var p = plan.progress || {};
      progress.hidden = false;
      progress.querySelector(".bar").style.width = (100 * (p.done || 0) / (p.of || 5)) + "%";
      progress.querySelector("span").textContent = fmt(T.queued, {step: (T.steps[p.step] || ""), done: p.done || 0, of: p.of || 5});
      setTimeout(function () {
        call(planForm.getAttribute("data-plans") + "/" + plan.id).then(function (r) { follow(r.body); });
      }, 1000);
    };

    var loadList = function () {
      call(planForm.getAttribute("data-plans")).then(function (r) {
        var tbody = document.querySelector("#plan-list tbody");
        document.querySelector("#plan-list + .empty").hidden = r.body.length > 0;
        tbody.innerHTML = r.body.map(function (p) {
          var res = p.result;
          return "<tr data-id='" + p.id + "'><td><a href='#'>" + esc(p.name) + "</a></td><td>" + esc(p.area_name) + "</td><td>" +
            esc(T.statuses[p.status] || p.status) + "</td><td>" + (res ? res.today.uncovered_ebikes + " → " + res.after.uncovered_ebikes : "") + "</td></tr>";
        }).join("");
        tbody.querySelectorAll("a").forEach(function (a) {
          a.addEventListener("click", function (e) {
            e.preventDefault();
            var plan = r.body.filter(function (p) { return String(p.id) === a.closest("tr").getAttribute("data-id"); })[0];
            follow(plan);
          });
        });
      });
    };
    loadList();

    planForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = {name: planForm.name.value, area: planForm.area.value, new_sites: +planForm.new_sites.value,
                  radius_m: +planForm.radius_m.value, bikes_per_port: +planForm.bikes_per_port.value,
                  candidates: planForm.candidates.value, sites: state.drawn};
      show(esc(T.solving));
      call(planForm.getAttribute("data-plans"), "POST", body).then(function (r) {
        if (r.status !== 201 && r.status !== 202) { failed(r); return; }
        follow(r.body);
      }).catch(function () { show(esc(T.network), "error"); });
    });
  }

  var gapsForm = document.getElementById("gaps-form");
  if (gapsForm) {
    var params = function () {
      return ["area", "eps_m", "min_points", "threshold_m", "days"].map(function (k) {
        return k + "=" + encodeURIComponent(gapsForm[k].value); }).join("&");
    };
    var mayPlan = gapsForm.getAttribute("data-may-plan") === "1";
    var find = function () {
      gapsForm.querySelector(".export-gaps").href = gapsForm.getAttribute("data-api") + "?format=geojson&" + params();
      call(gapsForm.getAttribute("data-api") + "?" + params()).then(function (r) {
        if (r.status !== 200) { failed(r); return; }
        state.gaps = r.body;
        layer.clearLayers();
        var bounds = [];
        r.body.zones.forEach(function (z) {
          var zl = L.geoJSON(z.geometry, {style: {color: z.over ? "#dc2626" : "#0891b2", weight: 2, dashArray: z.status === "planned" ? "4" : null}})
            .bindPopup(esc(z.name) + " · " + z.capacity).addTo(layer);
          bounds.push(zl.getBounds());
        });
        var list = document.querySelector(".gaps");
        list.innerHTML = r.body.suggested.length ? "" : "<li>" + esc(T.none) + "</li>";
        r.body.suggested.forEach(function (s) {
          var g = L.geoJSON(s.geometry, {style: {color: "#b42318", weight: 2}}).addTo(layer);
          bounds.push(g.getBounds());
          var c = g.getBounds().getCenter();
          L.marker(c, {icon: L.divIcon({className: "site-label", html: String(s.bikes), iconSize: [26, 18]})}).addTo(layer);
          var li = document.createElement("li");
          li.innerHTML = esc(fmt(T.cluster, {n: s.cluster + 1, bikes: s.bikes, cap: s.capacity, m: s.nearest_zone_m === null ? "—" : s.nearest_zone_m}));
          if (mayPlan) {
            var b = document.createElement("button");
            b.type = "button"; b.className = "primary"; b.textContent = T.make_zone;
            b.onclick = function () {
              var body = {area: gapsForm.area.value, cluster: s.cluster, eps_m: +gapsForm.eps_m.value,
                          min_points: +gapsForm.min_points.value, threshold_m: +gapsForm.threshold_m.value, days: +gapsForm.days.value};
              call(gapsForm.getAttribute("data-make"), "POST", body).then(function (r2) {
                if (r2.status !== 201) { failed(r2); return; }
                b.disabled = true; show(esc(T.zone_made), "ok");
              });
            };
            li.appendChild(document.createTextNode(" ")); li.appendChild(b);
          }
          list.appendChild(li);
        });
        document.querySelector(".overfull").innerHTML = r.body.over_capacity.map(function (z) {
          return "<li class='over'>" + esc(fmt(T.overfull, {name: z.name, cap: z.capacity, most: z.most_bikes_in_a_day})) + "</li>";
        }).join("");
        if (bounds.length) { map.fitBounds(bounds.reduce(function (a, b) { return a.extend(b); }).pad(0.1)); }
      });
    };
    gapsForm.addEventListener("submit", function (e) { e.preventDefault(); find(); });
  }
}());
