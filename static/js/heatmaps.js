/* Wuwei heat map: asks the server for the bins of the visible bbox and draws them.
 * The server sends [i, j, n] per bin and the bin size in Web Mercator metres (gis/heat.py);
 * the cell outline is computed here, so no geometry and no raw point ever crosses the wire. */
(function () {
  "use strict";
  var SQRT3 = Math.sqrt(3);
  var WuweiHeat = window.WuweiHeat = {};

  function esc(v) {
    return String(v === null || v === undefined ? "" : v).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function unproject(x, y) { return L.Projection.SphericalMercator.unproject(L.point(x, y)); }
  function squareRing(i, j, s) {
    return [unproject(i * s, j * s), unproject((i + 1) * s, j * s),
            unproject((i + 1) * s, (j + 1) * s), unproject(i * s, (j + 1) * s)];
  }
  function hexRing(i, j, s) {
    var h = SQRT3 * s, cx = 1.5 * s * i, cy = h * j + (i % 2 ? h / 2 : 0), out = [];
    for (var k = 0; k < 6; k++) {
      var a = Math.PI / 3 * k;
      out.push(unproject(cx + s * Math.cos(a), cy + s * Math.sin(a)));
    }
    return out;
  }
  function colorFor(classes, n) {
    for (var k = 0; k < classes.breaks.length; k++) { if (n <= classes.breaks[k]) { return classes.colors[k]; } }
    return classes.colors[classes.colors.length - 1];
  }

  WuweiHeat.init = function (map, config) {
    var T = config.text, form = document.getElementById("heat-form");
    var sourceSel = document.getElementById("heat-source"), shapeSel = document.getElementById("heat-shape");
    var filtersBox = document.getElementById("heat-filters"), slider = document.getElementById("heat-slider");
    var frameLabel = document.getElementById("heat-frame"), summary = document.getElementById("heat-summary");
    var drillBox = document.getElementById("heat-drill"), playBtn = document.getElementById("heat-play");
    var renderer = L.canvas({padding: 0.2});
    var layer = L.layerGroup().addTo(map);
    var state = WuweiHeat.state = {frames: [], frame: 0, requests: 0, last: null, bytes: 0};
    // The form is read by script, never sent (bound here: the page's CSP runs no inline handler).
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    var legend = L.control({position: "bottomright"});
    legend.onAdd = function () { this._div = L.DomUtil.create("div", "legend heat-legend"); return this._div; };
    legend.addTo(map);

    function source() {
      return config.sources.filter(function (s) { return s.name === sourceSel.value; })[0] || config.sources[0];
    }
    function drawFilters() {
      var src = source();
      filtersBox.innerHTML = src.filters.map(function (f) {
        return "<label>" + esc(f.label) + "<select multiple name='" + esc(f.name) + "'>" +
          f.choices.map(function (c) { return "<option value='" + esc(c[0]) + "'>" + esc(c[1]) + "</option>"; }).join("") +
          "</select></label>";
      }).join("");
      // A source without locations of its own (wishes) is coloured per area only.
      Array.prototype.forEach.call(shapeSel.options, function (o) {
        o.disabled = o.value === "grid" ? !src.areas : !src.binned;
      });
      if (!src.areas && shapeSel.value === "grid") { shapeSel.value = "square"; }
      if (!src.binned) { shapeSel.value = "grid"; }
      document.getElementById("heat-period").style.display = src.timed ? "" : "none";
      document.getElementById("heat-anim").style.display = src.timed ? "" : "none";
    }
    function params(extra) {
      var src = source(), p = new URLSearchParams();
      p.set("source", src.name);
      p.set("shape", source().binned ? shapeSel.value : "grid");
      if (src.timed) {
        var fr = state.frame > 0 ? state.frames[state.frame - 1] : null;
        p.set("from", fr ? fr.from : form.elements.from.value);
        p.set("to", fr ? fr.to : form.elements.to.value);
      }
      src.filters.forEach(function (f) {
        var sel = form.elements[f.name];
        var vals = Array.prototype.filter.call(sel.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; });
        if (vals.length) { p.set(f.name, vals.join(",")); }
      });
      var b = map.getBounds();
      p.set("bbox", [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); }).join(","));
      p.set("zoom", map.getZoom());
      Object.keys(extra || {}).forEach(function (k) { p.set(k, extra[k]); });
      return p;
    }
    function showLegend(data, isAreas) {
      var c = data.classes, rows = [], lo = 1, unit = data.unit || source().unit;
      for (var k = 0; k < c.breaks.length; k++) {
        rows.push("<i style='background:" + c.colors[k] + "'></i>" + lo + (c.breaks[k] > lo ? "–" + c.breaks[k] : ""));
        lo = Math.floor(c.breaks[k]) + 1;
      }
      var head = "<strong>" + esc(source().title) + "</strong><br>";
      if (!isAreas) { head += esc(T.cell) + " " + data.ground_m + " m<br>"; }
      legend._div.innerHTML = head + (data.total ? rows.join("<br>") : esc(T.none)) +
        "<br>" + esc(T.total) + " " + data.total + " " + esc(unit) +
        (data.suppressed ? "<br><span class='muted'>" + data.suppressed + " " + esc(T.suppressed) + "</span>" : "") +
        privacyNote(data.privacy, isAreas);
    }
    // A personal source is counted in people, per whole day (docs/heatmaps.md): say so, and which days.
    function privacyNote(p, isAreas) {
      if (!p) { return ""; }
      var last = p.to ? new Date(new Date(p.to).getTime() - 1000) : null;
      var days = p.from && last ? p.from.slice(0, 10) + " – " + last.toISOString().slice(0, 10) : "";
      return "<br><span class='muted heat-privacy'>" + esc(isAreas ? T.privacyAreas : T.privacyCells) +
        (days ? "<br>" + esc(T.counted) + " " + esc(days) : "") + "</span>";
    }
    function drill(extra) {
      if (!config.canDrill[source().name]) { drillBox.textContent = T.noDrill; return; }
      fetch(config.urls.drill + "?" + params(extra).toString(), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (d) {
          if (d.error) { drillBox.textContent = d.error.message; return; }
          var rows = d.rows, keys = rows.length ? Object.keys(rows[0]).filter(function (k) { return k !== "category_id"; }) : [];
          drillBox.innerHTML = "<strong>" + esc(T.records) + " (" + rows.length + ")</strong>" +
            (rows.length >= d.limit ? " <span class='muted'>" + esc(T.more) + "</span>" : "") +
            "<table><tr>" + keys.map(function (k) { return "<th>" + esc(k) + "</th>"; }).join("") + "</tr>" +
            rows.map(function (r) {
              return "<tr>" + keys.map(function (k) { return "<td>" + esc(r[k]) + "</td>"; }).join("") + "</tr>";
            }).join("") + "</table>";
        });
    }
    function drawCells(data) {
      layer.clearLayers();
      var ring = data.shape === "hexagon" ? hexRing : squareRing;
      data.cells.forEach(function (c) {
        var poly = L.polygon(ring(c[0], c[1], data.size), {renderer: renderer, weight: 0.5, color: "#7f0000",
          fillColor: colorFor(data.classes, c[2]), fillOpacity: 0.7});
        poly.bindTooltip(String(c[2]));
        poly.on("click", function () { drill({i: c[0], j: c[1]}); });
        layer.addLayer(poly);
      });
      showLegend(data, false);
    }
    function drawAreas(fc) {
      layer.clearLayers();
      L.geoJSON(fc, {
        renderer: renderer,
        style: function (f) {
          var n = f.properties.n;
          return {weight: 1, color: "#555", fillOpacity: n ? 0.65 : 0.05,
                  fillColor: n ? colorFor(fc.classes, n) : "#ccc"};
        },
        onEachFeature: function (f, l) {
          var p = f.properties;
          var n = p.n === null ? "&lt;5" : p.n + (p.suppressed ? " (" + esc(T.partial) + ")" : "");
          l.bindTooltip(esc(p.name) + ": " + n +
            (p.rate !== null ? " · " + esc(T.rate) + " " + p.rate : "") + " · " + esc(T.households) + " " + p.households);
          l.on("click", function () { drill({area: p.code}); });
        }
      }).eachLayer(function (l) { layer.addLayer(l); });
      showLegend(fc, true);
    }
    function refresh() {
      var id = ++state.requests, isAreas = shapeSel.value === "grid" || !source().binned;
      var url = (isAreas ? config.urls.areas : config.urls.cells) + "?" + params().toString();
      summary.textContent = T.loading;
      fetch(url, {credentials: "same-origin"})
        .then(function (r) { return r.text().then(function (t) { return {ok: r.ok, text: t}; }); })
        .then(function (res) {
          if (id !== state.requests) { return; }
          var data = JSON.parse(res.text);
          if (!res.ok) { summary.textContent = T.error + ": " + (data.error ? data.error.message : ""); return; }
          state.last = data;
          state.bytes = res.text.length;
          if (isAreas) { drawAreas(data); } else { drawCells(data); }
          summary.textContent = (isAreas ? data.features.length : data.cells.length) + " " + T.cells +
            " · " + Math.round(state.bytes / 1024 * 10) / 10 + " KB";
          map.fire("wuwei:heat");
        })
        .catch(function (e) { summary.textContent = T.error + ": " + e; });
    }
    function loadFrames() {
      state.frame = 0;
      if (!source().timed) { return; }
      var p = new URLSearchParams({from: form.elements.from.value, to: form.elements.to.value,
                                   step: document.getElementById("heat-step").value});
      fetch(config.urls.frames + "?" + p.toString(), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (d) {
          state.frames = d.frames || [];
          slider.max = state.frames.length;
          slider.value = 0;
          slider.disabled = !state.frames.length;
          frameLabel.textContent = d.error ? d.error.message : "";
        });
    }
    function showFrame() {
      state.frame = parseInt(slider.value, 10) || 0;
      var fr = state.frame > 0 ? state.frames[state.frame - 1] : null;
      frameLabel.textContent = fr ? fr.from.slice(0, 10) + " – " + fr.to.slice(0, 10) : "";
      refresh();
    }
    var timer = null;
    playBtn.addEventListener("click", function () {
      if (timer) { clearInterval(timer); timer = null; return; }
      timer = setInterval(function () {
        var next = (parseInt(slider.value, 10) || 0) + 1;
        if (next > state.frames.length) { clearInterval(timer); timer = null; return; }
        slider.value = next;
        showFrame();
      }, 1500);
    });
    slider.addEventListener("input", showFrame);
    sourceSel.addEventListener("change", function () { drawFilters(); loadFrames(); refresh(); });
    form.addEventListener("change", function (e) {
      if (e.target === sourceSel || e.target === slider) { return; }
      if (e.target.name === "from" || e.target.name === "to" || e.target.id === "heat-step") { loadFrames(); }
      refresh();
    });
    map.on("moveend", refresh);
    drawFilters();
    loadFrames();
    refresh();
  };
})();
