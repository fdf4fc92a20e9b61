/* Wuwei map loader: fetches each layer's GeoJSON for the visible bbox and keeps it fresh.
 *
 * Configured by gis/maps.py: Wuwei.init(map, {layers: [...], bounds, focus, texts}). No layer data
 * is embedded in the page; every layer comes from its URL with ?bbox=…&limit=…, again after each
 * move, or, for a layer with ``tiles`` (buildings), from vector tiles (leaflet.vectorgrid). One panel is both the layer switcher and the legend, and shows per layer whether it is
 * loading, empty, failed, hidden until a closer zoom, or how many features are drawn.
 * window.Wuwei.state exposes what is drawn (used by the browser test). Editing (static/js/wuwei-edit.js,
 * loaded for users who may edit) starts from here when the config has ``edit``: Wuwei.reload(name)
 * fetches a layer again, and each drawn feature knows its layer (``wuweiLayer``).
 */
(function () {
  "use strict";
  var Wuwei = window.Wuwei = window.Wuwei || {};

  function esc(v) {
    return String(v).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function fmt(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (_, k) { return values[k]; });
  }

  var ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

  // A property as a person reads it: its label, yes/no for a boolean, a time in the page's language
  // (Asia/Shanghai), never a raw ISO timestamp or true/false.
  function valueText(layer, key, value, texts) {
    var labels = (layer.values || {})[key];
    if (labels && labels[value] !== undefined) { return labels[value]; }
    if (value === true || value === false) { return (texts || {})[value ? "yes" : "no"] || (value ? "✓" : "✗"); }
    if (typeof value === "string" && ISO_TIME.test(value)) {
      var d = new Date(value);
      if (!isNaN(d)) {
        return d.toLocaleString(document.documentElement.lang || "zh-CN", {
          timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
        });
      }
    }
    return value;
  }

  function popupHtml(layer, feature, texts) {
    var p = feature.properties || {}, labels = layer.labels || {};
    var keys = layer.popup || Object.keys(p);
    var rows = keys.filter(function (k) {
      return p[k] !== null && p[k] !== undefined && p[k] !== "" && !(k === "name" && p.name);
    })
      .map(function (k) {
        return "<tr><th>" + esc(labels[k] || k) + "</th><td>" + esc(valueText(layer, k, p[k], texts)) + "</td></tr>";
      });
    var title = p.name ? esc(p.name) : esc(layer.title) + (feature.id !== undefined ? " #" + esc(feature.id) : "");
    var html = '<div class="wuwei-popup"><div class="wuwei-popup-kind">' + esc(layer.title) + "</div>" +
      "<strong>" + title + "</strong><table>" + rows.join("") + "</table>";
    if (layer.list_url) {
      var href = layer.list_url;
      if (layer.search_param && p.name) {
        href += (href.indexOf("?") >= 0 ? "&" : "?") + layer.search_param + "=" + encodeURIComponent(p.name);
      }
      html += '<a class="wuwei-popup-link" href="' + esc(href) + '">' + esc(texts.show_list || "…") + " →</a>";
    }
    return html + "</div>";
  }

  function styleFor(layer, feature) {
    var s = Object.assign({}, layer.style || {});
    var p = feature && feature.properties || {};
    if (layer.style_by && layer.styles && layer.styles[p[layer.style_by]]) {
      Object.assign(s, layer.styles[p[layer.style_by]]);
    }
    if (layer.color_by) {
      var c = (layer.colors || {})[p[layer.color_by]];
      if (c) {
        s.fillColor = c;
        if (!layer.geom_type || layer.geom_type.indexOf("Point") < 0) { s.color = c; }
      }
    }
    s.className = "wuwei-f wuwei-f-" + layer.name;
    return s;
  }

  function swatchColor(s) { return s.fillColor || s.color || "#555"; }

  function swatchHtml(layer, s) {
    var point = layer.geom_type && layer.geom_type.indexOf("Point") >= 0;
    var line = layer.geom_type && layer.geom_type.indexOf("Line") >= 0;
    var css = point ? "background:" + swatchColor(s) + ";border-color:" + (s.color || "#333")
      : line ? "background:" + (s.color || "#555") + ";height:3px;border:0;vertical-align:3px"
      : "background:" + (s.fillOpacity !== undefined && s.fillOpacity < 0.1 ? "transparent" : swatchColor(s)) + ";border-color:" + (s.color || "#555") +
        (s.dashArray ? ";border-style:dashed" : "");
    return '<i class="sw' + (point ? " pt" : "") + '" style="' + esc(css) + '"></i>';
  }

  function wantsLabel(layer, feature, zoom) {
    if (!layer.label || zoom < (layer.label_min_zoom || 0)) { return false; }
    var p = feature.properties || {};
    if (!p[layer.label]) { return false; }
    var f = layer.label_filter;
    if (f) {
      for (var k in f) { if (f[k].indexOf(p[k]) < 0) { return false; } }
    }
    return true;
  }

  /* A layer drawn from vector tiles (leaflet.vectorgrid): ``layer.tiles`` is the /tiles/{layer}/{z}/{x}/{y}.mvt
   * URL. Tiles are made once on the server and kept by the browser; a dense layer's tiles below its detail
   * zoom carry counts per cell (``<layer>-cells``), drawn as circles. A click fetches the whole feature from
   * the API for its popup (tiles carry only what is drawn), so editing starts from it as from any layer. */
  function tileLayer(map, layer, state, texts, report) {
    var styles = {}, name = layer.name, version = 0;
    var point = layer.geom_type && layer.geom_type.indexOf("Point") >= 0;
    styles[name] = function (p) {
      var s = styleFor(layer, {properties: p});
      return Object.assign(point ? {fill: true, weight: 1, fillOpacity: 0.9, radius: 6}
                                 : {fill: true, weight: 1, fillOpacity: 0.3}, s);
    };
    styles[name + "-cells"] = function (p) {
      var s = styleFor(layer, {properties: p});
      return {radius: Math.min(14, 3 + Math.sqrt(p.count || 1)), fill: true, fillColor: swatchColor(s),
              color: "#ffffff", weight: 1, fillOpacity: 0.75, className: "wuwei-c-" + name};
    };
    /* Not the minZoom option: Leaflet would make it the whole map's minimum zoom. */
    var Grid = L.VectorGrid.Protobuf.extend({
      _isValidTile: function (coords) {
        return coords.z >= (layer.min_zoom || 0) && L.VectorGrid.Protobuf.prototype._isValidTile.call(this, coords);
      },
      /* Leaflet places a click on a small circle at its getLatLng(), which VectorGrid's points lack
       * (an error, no click): without it the mouse position is used, as for polygons. */
      _createLayer: function (feat, pxPerExtent, layerStyle) {
        var l = L.VectorGrid.Protobuf.prototype._createLayer.call(this, feat, pxPerExtent, layerStyle);
        if (l && feat.type === 1) { l.getLatLng = null; }
        return l;
      }
    });
    var grid = new Grid(layer.tiles, {
      pane: "wuwei-" + name, vectorTileLayerStyles: styles, interactive: true,
      maxNativeZoom: layer.tiles_max_zoom || 18, fetchOptions: {credentials: "same-origin"},
      getFeatureId: function (f) { f.properties.wuwei_id = f.id; return f.id; }
    });
    grid.wuweiName = name;
    grid.wuweiTiles = true;
    grid.wuweiById = {};
    var pick = L.layerGroup().addTo(map);
    grid.wuweiReport = function () {
      var z = map.getZoom();
      if (!map.hasLayer(grid)) { state.drawn[name] = 0; report("off", ""); return; }
      if (layer.min_zoom && z < layer.min_zoom) {
        if (grid._removeAllTiles) { grid._removeAllTiles(); }
        state.drawn[name] = 0; report("zoom", (texts.zoom_in || "zoom in") + " (≥" + layer.min_zoom + ")"); return;
      }
      if (grid.isLoading && grid.isLoading()) { report("loading", texts.loading || "…"); return; }
      var n = 0;
      Object.keys(grid._tiles || {}).forEach(function (key) {
        var r = grid._vectorTiles && grid._vectorTiles[key];
        if (r && r._features) { n += Object.keys(r._features).length; }
      });
      state.drawn[name] = state.loaded[name] = state.matched[name] = n;
      if (!n) { report("empty", texts.empty || "0"); } else { report("ok", String(n)); }
    };
    grid.wuweiFresh = function () {
      pick.clearLayers();
      version += 1;
      grid.setUrl(layer.tiles + (layer.tiles.indexOf("?") >= 0 ? "&" : "?") + "v=" + version);
    };
    grid.on("loading", function () { report("loading", texts.loading || "…"); });
    grid.on("load", grid.wuweiReport);
    grid.on("tileerror", function () { report("error", (texts.error || "error") + " (tiles)"); });
    /* The whole feature (from the API) drawn over the tiles with its popup open at ``latlng``. */
    grid.wuweiShow = function (f, latlng) {
      pick.clearLayers();
      var shown = L.geoJSON(f, {
        pane: "wuwei-" + name,
        style: function () { return Object.assign({}, styleFor(layer, f), {weight: 3, color: "#f59e0b"}); },
        pointToLayer: function (feature, ll) {
          return L.circleMarker(ll, Object.assign({radius: 8, fillOpacity: 0.9, pane: "wuwei-" + name},
                                                  styleFor(layer, feature), {weight: 3, color: "#f59e0b"}));
        }
      });
      shown.eachLayer(function (l) {
        l.feature = f;
        l.wuweiLayer = name;
        grid.wuweiById = {};
        grid.wuweiById[String(f.id)] = l;
        l.bindPopup(popupHtml(layer, f, texts), {maxWidth: 320});
        l.on("popupclose", function () { pick.clearLayers(); });
        pick.addLayer(l);
        l.openPopup(latlng || (l.getLatLng ? l.getLatLng() : l.getBounds().getCenter()));
      });
    };
    grid.on("click", function (e) {
      var id = e.layer && e.layer.properties && e.layer.properties.wuwei_id;
      if (id === undefined || id === null) { return; }
      fetch(layer.url.split("?")[0] + "/" + id, {credentials: "same-origin", headers: {"Accept": "application/geo+json"}})
        .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
        .then(function (f) { grid.wuweiShow(f, e.latlng); })
        .catch(function (err) { report("error", (texts.error || "error") + " (" + (err && err.message || err) + ")"); });
    });
    return grid;
  }

  /* The panel: one row per layer (checkbox, swatch, title, status) plus the colour keys. */
  function buildPanel(map, config, state) {
    var texts = config.texts || {};
    var Panel = L.Control.extend({
      options: {position: "topright"},
      onAdd: function () {
        var div = L.DomUtil.create("div", "wuwei-panel leaflet-bar");
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        var head = '<button type="button" class="wuwei-panel-toggle" aria-expanded="true">' +
          esc(texts.layers || "Layers") + "</button>";
        var rows = config.layers.map(function (layer) {
          var keys = "";
          if (layer.color_by && layer.colors) {
            keys = '<ul class="keys">' + Object.keys(layer.colors).map(function (v) {
              var s = Object.assign({}, layer.style, {fillColor: layer.colors[v]});
              if (!layer.geom_type || layer.geom_type.indexOf("Point") < 0) { s.color = layer.colors[v]; }
              return "<li>" + swatchHtml(layer, s) + esc(valueText(layer, layer.color_by, v)) + "</li>";
            }).join("") + "</ul>";
          } else if (layer.style_by && layer.styles && Object.keys(layer.styles).length > 1) {
            keys = '<ul class="keys">' + Object.keys(layer.styles).map(function (v) {
              return "<li>" + swatchHtml(layer, Object.assign({}, layer.style, layer.styles[v])) +
                esc(valueText(layer, layer.style_by, v)) + "</li>";
            }).join("") + "</ul>";
          }
          var base = Object.assign({}, layer.style);
          if (layer.color_by && layer.colors) {
            var c0 = layer.colors[Object.keys(layer.colors)[0]];
            base.fillColor = c0;
            if (!layer.geom_type || layer.geom_type.indexOf("Point") < 0) { base.color = c0; }
          }
          return '<li class="layer" data-layer="' + esc(layer.name) + '"><label>' +
            '<input type="checkbox" data-layer="' + esc(layer.name) + '"' + (layer.visible === false ? "" : " checked") + ">" +
            swatchHtml(layer, base) + '<span class="title">' + esc(layer.title) + "</span>" +
            '<span class="st" data-status="off"></span></label>' +
            (layer.list_url ? '<a class="ls" href="' + esc(layer.list_url) + '" title="' + esc(texts.list || "") + '">≡</a>' : "") +
            keys + "</li>";
        }).join("");
        div.innerHTML = head + '<ul class="wuwei-layers">' + rows + "</ul>";
        var toggle = div.querySelector(".wuwei-panel-toggle");
        if (window.matchMedia && window.matchMedia("(max-width: 640px)").matches) {
          L.DomUtil.addClass(div, "collapsed");
          toggle.setAttribute("aria-expanded", "false");
        }
        L.DomEvent.on(toggle, "click", function () {
          var collapsed = L.DomUtil.hasClass(div, "collapsed");
          (collapsed ? L.DomUtil.removeClass : L.DomUtil.addClass)(div, "collapsed");
          toggle.setAttribute("aria-expanded", collapsed ? "true" : "false");
        });
        Array.prototype.forEach.call(div.querySelectorAll("input[type=checkbox]"), function (box) {
          L.DomEvent.on(box, "change", function () {
            var group = state.layers[box.getAttribute("data-layer")];
            if (box.checked) { group.addTo(map); } else { map.removeLayer(group); }
          });
        });
        return div;
      }
    });
    var panel = new Panel();
    panel.addTo(map);
    return panel.getContainer();
  }

  Wuwei.init = function (map, config) {
    var texts = config.texts || {};
    var state = Wuwei.state = {map: map, layers: {}, loaded: {}, matched: {}, drawn: {}, errors: {},
                               status: {}, ready: false, focus: null};
    var controllers = {}, seq = {};
    L.control.scale({imperial: false}).addTo(map);
    var bar = L.DomUtil.create("div", "wuwei-status", map.getContainer());
    bar.setAttribute("role", "status");
    bar.style.display = "none";

    config.layers.forEach(function (layer, i) {
      var pane = map.createPane("wuwei-" + layer.name);
      pane.style.zIndex = 410 + i;
      if (layer.tiles && L.vectorGrid) {
        var grid = tileLayer(map, layer, state, texts, function (st, text) { setStatus(layer.name, st, text); });
        state.layers[layer.name] = grid;
        state.status[layer.name] = "off";
        if (layer.visible !== false) { grid.addTo(map); }
        return;
      }
      var group = L.geoJSON(null, {
        pane: "wuwei-" + layer.name,
        interactive: layer.interactive !== false,  // false: taps reach the map (the report form's pin)
        style: function (f) { return styleFor(layer, f); },
        pointToLayer: function (f, latlng) {
          var s = styleFor(layer, f);
          return L.circleMarker(latlng, Object.assign({radius: 6, weight: 1, fillOpacity: 0.9,
                                                       pane: "wuwei-" + layer.name,
                                                       interactive: layer.interactive !== false}, s));
        },
        onEachFeature: function (f, l) {
          l.feature = f;
          l.wuweiLayer = layer.name;
          if (layer.interactive !== false) { l.bindPopup(popupHtml(layer, f, texts), {maxWidth: 320}); }
        }
      });
      group.wuweiName = layer.name;
      group.wuweiById = {};
      state.layers[layer.name] = group;
      state.status[layer.name] = "off";
      if (layer.visible !== false) { group.addTo(map); }
    });
    var panel = buildPanel(map, config, state);

    function setStatus(name, status, text) {
      state.status[name] = status;
      /* Tiles may start loading while the layers are made, before the panel exists. */
      var el = panel && panel.querySelector('li[data-layer="' + name + '"] .st');
      if (el) { el.setAttribute("data-status", status); el.textContent = text || ""; el.title = text || ""; }
      var busy = Object.keys(state.status).filter(function (n) { return state.status[n] === "loading"; }).length;
      bar.textContent = busy ? (texts.busy || "…") : "";
      bar.style.display = busy ? "" : "none";
      if (!busy && !state.ready) { state.ready = true; map.fire("wuwei:loaded"); }
      else if (!busy) { map.fire("wuwei:loaded"); }
    }

    function load(layer) {
      var group = state.layers[layer.name], z = map.getZoom();
      if (group.wuweiTiles) { group.wuweiReport(); return; }  /* tiles load themselves */
      if (controllers[layer.name]) { controllers[layer.name].abort(); controllers[layer.name] = null; }
      if (!map.hasLayer(group)) {
        clear(group); state.drawn[layer.name] = 0; setStatus(layer.name, "off", ""); return;
      }
      if (layer.min_zoom && z < layer.min_zoom) {
        clear(group); state.drawn[layer.name] = 0;
        setStatus(layer.name, "zoom", (texts.zoom_in || "zoom in") + " (≥" + layer.min_zoom + ")");
        return;
      }
      var b = map.getBounds();
      var bbox = [Math.max(b.getWest(), -180), Math.max(b.getSouth(), -90), Math.min(b.getEast(), 180),
                  Math.min(b.getNorth(), 90)].map(function (v) { return v.toFixed(6); });
      var sep = layer.url.indexOf("?") >= 0 ? "&" : "?";
      var ctrl = window.AbortController ? new AbortController() : null;
      var mine = seq[layer.name] = (seq[layer.name] || 0) + 1;
      controllers[layer.name] = ctrl;
      setStatus(layer.name, "loading", texts.loading || "…");
      fetch(layer.url + sep + "bbox=" + bbox.join(",") + "&limit=" + (layer.limit || 5000),
            {credentials: "same-origin", headers: {"Accept": "application/geo+json"}, signal: ctrl && ctrl.signal})
        .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
        .then(function (fc) {
          if (mine !== seq[layer.name]) { return; }
          merge(layer, group, fc.features || []);
          var n = (fc.features || []).length;
          state.loaded[layer.name] = n;
          // numberMatched is null on a full page (not counted, docs/web-toolkit.md): "n+" there.
          var full = n >= (layer.limit || 5000);
          state.matched[layer.name] = typeof fc.numberMatched === "number" ? fc.numberMatched : (full ? null : n);
          state.drawn[layer.name] = group.getLayers().length;
          delete state.errors[layer.name];
          if (!n) { setStatus(layer.name, "empty", texts.empty || "0"); }
          else if (state.matched[layer.name] === null) { setStatus(layer.name, "partial", n + "+"); }
          else if (state.matched[layer.name] > n) {
            setStatus(layer.name, "partial", fmt(texts.shown_of || "{shown}/{total}",
                                                 {shown: n, total: state.matched[layer.name]}));
          } else { setStatus(layer.name, "ok", String(n)); }
          openFocus(layer.name);
        })
        .catch(function (e) {
          if (e && e.name === "AbortError") { return; }
          if (mine !== seq[layer.name]) { return; }
          state.errors[layer.name] = String(e && e.message || e);
          setStatus(layer.name, "error", (texts.error || "error") + " (" + state.errors[layer.name] + ")");
        });
    }

    function clear(group) { group.clearLayers(); group.wuweiById = {}; }

    /* Replace a layer's features by ``features`` but keep those that did not change, so that an
     * open popup survives the reload that its own auto-pan triggers. */
    function merge(layer, group, features) {
      var old = group.wuweiById, fresh = {}, z = map.getZoom();
      features.forEach(function (f, i) {
        var key = f.id !== undefined && f.id !== null ? String(f.id) : "#" + i;
        var sig = JSON.stringify([f.geometry, f.properties]);
        var kept = old[key];
        if (kept && kept.wuweiSig === sig) {
          fresh[key] = kept;
          delete old[key];
        } else {
          group.addData(f);
          var all = group.getLayers(), added = all[all.length - 1];
          added.wuweiSig = sig;
          fresh[key] = added;
        }
      });
      Object.keys(old).forEach(function (k) { group.removeLayer(old[k]); });
      group.wuweiById = fresh;
      if (layer.label) {
        group.eachLayer(function (l) {
          var want = wantsLabel(layer, l.feature, z);
          if (want && !l.getTooltip()) {
            l.bindTooltip(esc(l.feature.properties[layer.label]), {permanent: true, direction: "center",
                                                                   className: "wuwei-label", interactive: false});
          } else if (!want && l.getTooltip()) { l.unbindTooltip(); }
        });
      }
    }

    function refresh() { config.layers.forEach(load); }

    Wuwei.reload = function (name) {
      config.layers.forEach(function (l) {
        if (name && l.name !== name) { return; }
        var group = state.layers[l.name];
        if (group.wuweiTiles) { group.wuweiFresh(); } else { load(l); }
      });
    };

    function openFocus(name) {
      var f = state.focus;
      if (!f || f.opened || !f.positioned || f.layer !== name) { return; }
      state.layers[name].eachLayer(function (l) {
        if (!f.opened && l.feature && String(l.feature.id) === String(f.id)) {
          f.opened = true;
          l.openPopup();
          if (l.setStyle) { l.setStyle({weight: 4, color: "#f59e0b"}); }
        }
      });
    }

    map.on("moveend", refresh);
    map.on("layeradd layerremove", function (e) {
      if (e.layer && e.layer.wuweiName) {
        var layer = config.layers.filter(function (l) { return l.name === e.layer.wuweiName; })[0];
        if (layer) { load(layer); }
      }
    });

    // Basemap tiles that can't be had (an intranet, no key, the network gone): the map keeps its own
    // outlines on the plain background instead of grey squares, and says so once.
    var tileErrors = 0, tileLoads = 0;
    map.eachLayer(function (l) {
      if (!(l instanceof L.TileLayer)) { return; }
      l.on("tileload", function () { tileLoads++; });
      l.on("tileerror", function () {
        tileErrors++;
        if (tileErrors === 4 && tileLoads === 0) {
          map.eachLayer(function (t) { if (t instanceof L.TileLayer) { map.removeLayer(t); } });
          map.getContainer().classList.add("wuwei-offline");
          state.basemap = "offline";
        }
      });
    });

    function fitArea() { if (config.bounds) { map.fitBounds(config.bounds, {padding: [12, 12]}); } }

    if (!config.focus || !config.focus.url) { fitArea(); }

    if (config.focus) {
      state.focus = {layer: config.focus.layer, id: config.focus.id, opened: false, positioned: !config.focus.url};
      var group = state.layers[config.focus.layer];
      if (group && !map.hasLayer(group)) {
        group.addTo(map);
        var box = panel.querySelector('input[data-layer="' + config.focus.layer + '"]');
        if (box) { box.checked = true; }
      }
      if (config.focus.url) {
        fetch(config.focus.url, {credentials: "same-origin", headers: {"Accept": "application/geo+json"}})
          .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
          .then(function (feature) {
            var b = L.geoJSON(feature).getBounds();
            var layer = config.layers.filter(function (l) { return l.name === config.focus.layer; })[0];
            var minZoom = layer && layer.min_zoom || 0;
            state.focus.positioned = true;
            var before = map.getCenter().toString() + map.getZoom();
            map.fitBounds(b, {maxZoom: Math.max(17, minZoom), padding: [40, 40]});
            if (map.getZoom() < minZoom) { map.setZoom(minZoom); }
            var tiled = state.layers[config.focus.layer];
            if (tiled && tiled.wuweiTiles) {  /* tiles carry no popup: the fetched feature is shown over them */
              state.focus.opened = true;
              tiled.wuweiShow(feature);
            }
            if (before === map.getCenter().toString() + map.getZoom()) { refresh(); }
          })
          .catch(function () {
            state.focus.missing = true;
            fitArea();
            var note = L.DomUtil.create("div", "wuwei-note", map.getContainer());
            note.textContent = texts.focus_missing || "not found";
            note.setAttribute("role", "alert");
          });
      }
    }
    if (config.edit && Wuwei.initEditing) { Wuwei.initEditing(map, config, state); }
    /* fitBounds fires moveend, which loads every visible layer; when nothing moved, load now. */
    setTimeout(function () { if (!Object.keys(seq).length) { refresh(); } }, 0);
  };
})();
