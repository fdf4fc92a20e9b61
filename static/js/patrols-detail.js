/* Patrol detail: the incidents its members reported while it ran, listed and marked on its map. */
(function () {
  "use strict";
  var list = document.getElementById("patrol-incidents");
  if (!list) { return; }
  var map = window[list.dataset.map];
  var lang = list.dataset.lang === "en" ? "en" : "zh-CN";

  function esc(v) {
    return String(v).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function when(iso) {
    return new Date(iso).toLocaleString(lang, {timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hour12: false});
  }

  fetch(list.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/geo+json"}})
    .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
    .then(function (fc) {
      var features = fc.features || [];
      list.innerHTML = features.map(function (f) {
        var p = f.properties || {};
        return '<li><a href="/incidents/' + encodeURIComponent(f.id) + '">#' + esc(f.id) + " " + esc(p.category_name || "") +
          "</a> <span class=\"muted small\">" + esc(when(p.reported_at)) + "</span><br><span class=\"small\">" +
          esc((p.description || "").slice(0, 80)) + "</span></li>";
      }).join("");
      document.getElementById("patrol-incidents-empty").hidden = features.length > 0;
      if (map && window.L) {
        features.forEach(function (f) {
          var c = f.geometry && f.geometry.coordinates;
          if (!c) { return; }
          L.circleMarker([c[1], c[0]], {radius: 7, color: "#fff", weight: 2, fillColor: "#b42318", fillOpacity: 1})
            .bindTooltip("#" + f.id + " " + ((f.properties || {}).category_name || "")).addTo(map);
        });
      }
    })
    .catch(function () { list.innerHTML = ""; document.getElementById("patrol-incidents-empty").hidden = false; });
}());
