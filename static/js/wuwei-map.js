/* Wuwei map loader: fetches each layer's GeoJSON for the visible bbox and keeps it fresh.
 * Configured by gis/maps.py (Wuwei.init(map, {layers: [...]})); no data is embedded in the page. */
(function () {
  "use strict";
  var Wuwei = window.Wuwei = window.Wuwei || {};

  function esc(v) {
    return String(v).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function popupHtml(layer, feature) {
    var p = feature.properties || {}, keys = layer.popup || Object.keys(p), labels = layer.labels || {};
    var rows = keys.filter(function (k) { return p[k] !== null && p[k] !== undefined && p[k] !== ""; })
      .map(function (k) { return "<tr><th>" + esc(labels[k] || k) + "</th><td>" + esc(p[k]) + "</td></tr>"; });
    return "<strong>" + esc(layer.title) + "</strong><table>" + rows.join("") + "</table>";
  }

  function styleFor(layer, feature) {
    var s = Object.assign({}, layer.style || {});
    if (layer.colorBy && feature.properties) {
      var c = (layer.colors || {})[feature.properties[layer.colorBy]];
      if (c) { s.color = c; s.fillColor = c; }
    }
    return s;
  }

  Wuwei.init = function (map, config) {
    var control = L.control.layers(null, null, {collapsed: false}).addTo(map);
    var status = L.DomUtil.create("div", "wuwei-status", map.getContainer());
    var state = Wuwei.state = {map: map, layers: {}, loaded: {}, errors: {}};
    config.layers.forEach(function (layer) {
      var group = L.geoJSON(null, {
        style: function (f) { return styleFor(layer, f); },
        pointToLayer: function (f, latlng) {
          var s = styleFor(layer, f);
          return L.circleMarker(latlng, Object.assign({radius: 6, weight: 1, fillOpacity: 0.85}, s));
        },
        onEachFeature: function (f, l) { l.bindPopup(popupHtml(layer, f)); }
      });
      group.wuweiName = layer.name;
      state.layers[layer.name] = group;
      control.addOverlay(group, layer.title);
      if (layer.visible !== false) { group.addTo(map); }
    });

    function refresh() {
      var b = map.getBounds(), z = map.getZoom();
      var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); });
      var pending = 0;
      config.layers.forEach(function (layer) {
        var group = state.layers[layer.name];
        if (!map.hasLayer(group)) { return; }
        if (layer.min_zoom && z < layer.min_zoom) { group.clearLayers(); return; }
        pending++;
        var sep = layer.url.indexOf("?") >= 0 ? "&" : "?";
        fetch(layer.url + sep + "bbox=" + bbox.join(",") + "&limit=" + (layer.limit || 5000),
              {credentials: "same-origin", headers: {"Accept": "application/geo+json"}})
          .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
          .then(function (fc) {
            group.clearLayers();
            group.addData(fc);
            state.loaded[layer.name] = fc.features.length;
          })
          .catch(function (e) { state.errors[layer.name] = String(e); })
          .finally(function () {
            pending--;
            if (pending === 0) { status.textContent = ""; map.fire("wuwei:loaded"); }
          });
      });
      status.textContent = pending ? (config.loadingText || "…") : "";
    }
    map.on("moveend overlayadd", refresh);
    refresh();
  };
})();
