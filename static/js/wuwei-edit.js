/* Wuwei map editing: draw, reshape, move and delete features of every editable layer with
 * Leaflet-Geoman, an attribute form per layer built from its declared fields, the server's check
 * before every save (problems next to their fields, the invalid place, a one-click repair, the
 * overlap drawn), If-Match on every write (a conflict keeps the form), the feature's history with
 * undo, and splitting / merging grids with a preview.
 *
 * Started by wuwei-map.js (Wuwei.initEditing) when the page's config has ``edit`` (app/mappage/editing.py).
 * Nothing is decided here about what may be stored: the layer API checks every write.
 * window.Wuwei.edit exposes the editor's state and actions (used by the browser test).
 */
(function () {
  "use strict";
  var Wuwei = window.Wuwei = window.Wuwei || {};
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var EDIT_STYLE = {color: "#f59e0b", weight: 3, fillColor: "#fde68a", fillOpacity: 0.35, dashArray: null};
  var PROBLEM_STYLE = {color: "#dc2626", weight: 2, fillColor: "#dc2626", fillOpacity: 0.35, dashArray: "4 3"};
  var THEIRS_STYLE = {color: "#7c3aed", weight: 3, fillOpacity: 0.1, dashArray: "6 4"};

  function esc(v) {
    return String(v === null || v === undefined ? "" : v).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function fmt(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (_, k) { return values[k] === undefined ? "" : values[k]; });
  }

  function el(tag, cls, html) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (html !== undefined) { e.innerHTML = html; }
    return e;
  }

  /* fetch JSON with the session cookie and the CSRF header; resolves {status, body, etag}. */
  function api(method, url, body, headers) {
    var h = Object.assign({"Accept": "application/json", "X-CSRFToken": CSRF}, headers || {});
    if (body !== undefined) { h["Content-Type"] = "application/json"; }
    return fetch(url, {method: method, credentials: "same-origin", headers: h,
                       body: body === undefined ? undefined : JSON.stringify(body)})
      .then(function (r) {
        return r.text().then(function (text) {
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
          return {status: r.status, body: data, etag: r.headers.get("ETag")};
        });
      });
  }

  Wuwei.initEditing = function (map, config, mapState) {
    var cfg = config.edit, T = cfg.texts;
    var layers = {};
    cfg.layers.forEach(function (l) { layers[l.name] = l; });
    var mapLayers = {};
    config.layers.forEach(function (l) { mapLayers[l.name] = l; });
    if (map.pm && map.pm.setLang) {
      map.pm.setLang(document.documentElement.lang === "en" ? "en" : "zh");
    }
    map.createPane("wuwei-edit").style.zIndex = 640;
    var problems = L.featureGroup().addTo(map);
    var theirs = L.featureGroup().addTo(map);
    var preview = L.featureGroup().addTo(map);
    var ed = Wuwei.edit = {state: {mode: null}, problems: problems, layers: layers};
    var S = ed.state;

    /* ---------------------------------------------------------------- the panel */
    var panel = el("div", "wuwei-edit-panel");
    panel.setAttribute("role", "dialog");
    panel.hidden = true;
    panel.innerHTML = '<div class="ep-head"><strong class="ep-title"></strong>' +
      '<button type="button" class="ep-close" aria-label="' + esc(T.close) + '">×</button></div>' +
      '<p class="ep-hint"></p><div class="ep-msg" role="alert"></div>' +
      '<div class="ep-tools"></div><form class="ep-form" novalidate></form>' +
      '<div class="ep-actions"></div><div class="ep-history"></div>';
    map.getContainer().appendChild(panel);
    L.DomEvent.disableClickPropagation(panel);
    L.DomEvent.disableScrollPropagation(panel);
    var $ = function (sel) { return panel.querySelector(sel); };
    $(".ep-close").addEventListener("click", function () { stop(); });

    var toast = el("div", "wuwei-toast");
    toast.setAttribute("role", "status");
    toast.hidden = true;
    map.getContainer().appendChild(toast);
    L.DomEvent.disableClickPropagation(toast);

    function say(html, undoAction) {
      toast.innerHTML = html;
      if (undoAction) {
        var b = el("button", "link", esc(T.undo));
        b.type = "button";
        b.addEventListener("click", function () { toast.hidden = true; undoAction(); });
        toast.appendChild(b);
      }
      toast.hidden = false;
      clearTimeout(toast.timer);
      toast.timer = setTimeout(function () { toast.hidden = true; }, 12000);
    }

    function open(title, hint) {
      panel.hidden = false;
      map.getContainer().classList.add("wuwei-editing");
      $(".ep-title").textContent = title;
      $(".ep-hint").textContent = hint || "";
      $(".ep-msg").innerHTML = "";
      $(".ep-tools").innerHTML = "";
      $(".ep-form").innerHTML = "";
      $(".ep-actions").innerHTML = "";
      $(".ep-history").innerHTML = "";
      map.closePopup();
    }

    function button(where, text, cls, onclick) {
      var b = el("button", cls || "", esc(text));
      b.type = "button";
      b.addEventListener("click", onclick);
      $(where).appendChild(b);
      return b;
    }

    function message(html, cls) {
      var m = el("div", "ep-note " + (cls || "error"), html);
      $(".ep-msg").appendChild(m);
      return m;
    }

    /* ---------------------------------------------------------------- the form */
    function fieldInput(f, value) {
      var input;
      if (f.kind === "enum" || f.kind === "ref") {
        input = el("select");
        var blank = el("option", "", esc(f.required ? T.choose : T.none));
        blank.value = "";
        input.appendChild(blank);
        (f.choices || []).forEach(function (c) {
          var o = el("option", "", esc(c[1]));
          o.value = c[0];
          input.appendChild(o);
        });
        if (f.kind === "ref" && value !== null && value !== undefined) {
          var cur = el("option", "", "#" + esc(value));
          cur.value = String(value);
          input.appendChild(cur);
        }
      } else if (f.kind === "text") {
        input = el("textarea");
        input.rows = 2;
      } else if (f.kind === "bool") {
        input = el("input");
        input.type = "checkbox";
        input.checked = !!value;
      } else {
        input = el("input");
        input.type = {"int": "number", "float": "number", "date": "date", "datetime": "datetime-local"}[f.kind] || "text";
        if (f.kind === "int") { input.step = "1"; input.inputMode = "numeric"; }
        if (f.kind === "float") { input.step = "any"; input.inputMode = "decimal"; }
      }
      if (f.min !== undefined) { input.min = f.min; }
      if (f.max !== undefined) { input.max = f.max; }
      if (f.max_len) { input.maxLength = f.max_len; }
      if (f.required) { input.required = true; }
      input.name = f.name;
      if (f.kind !== "bool" && value !== null && value !== undefined) {
        input.value = f.kind === "datetime" ? String(value).slice(0, 16) : value;
      }
      return input;
    }

    function buildForm(layer, props) {
      var form = $(".ep-form");
      form.innerHTML = "";
      layer.fields.forEach(function (f) {
        var label = el("label", "ep-field");
        label.innerHTML = '<span>' + esc(f.label) + (f.required ? ' <b title="' + esc(T.required) + '">*</b>' : "") + "</span>";
        var input = fieldInput(f, props[f.name]);
        label.appendChild(input);
        label.appendChild(el("small", "ep-err"));
        label.appendChild(el("small", "ep-theirs"));
        form.appendChild(label);
        if (f.kind === "ref" && f.ref_url) { fillRef(f, input, props[f.name]); }
      });
    }

    /* A reference (a building's compound): the rows of the referenced layer near the feature. */
    function fillRef(f, select, value) {
      var b = S.shape.getLatLng ? S.shape.getLatLng().toBounds(600) : S.shape.getBounds().pad(1);
      var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); });
      api("GET", f.ref_url + "&bbox=" + bbox.join(",")).then(function (r) {
        if (r.status !== 200) { return; }
        (r.body.features || []).forEach(function (g) {
          if (String(g.id) === String(value)) {
            var cur = select.querySelector('option[value="' + g.id + '"]');
            if (cur) { cur.textContent = g.properties.name || "#" + g.id; }
            return;
          }
          var o = el("option", "", esc(g.properties.name || "#" + g.id));
          o.value = String(g.id);
          select.appendChild(o);
        });
        if (value !== null && value !== undefined) { select.value = String(value); }
      });
    }

    function formValues(layer) {
      var out = {};
      layer.fields.forEach(function (f) {
        var input = $(".ep-form [name='" + f.name + "']");
        if (!input) { return; }
        if (f.kind === "bool") { out[f.name] = input.checked; return; }
        var v = input.value;
        if (v === "") { out[f.name] = null; return; }
        if (f.kind === "ref") { out[f.name] = /^\d+$/.test(v) ? Number(v) : v; return; }
        if (f.kind === "datetime" && v.length === 16) { v = v + ":00+08:00"; }
        out[f.name] = v;  // numbers as typed: the API's own rules say what is wrong with them
      });
      return out;
    }

    function clearProblems() {
      problems.clearLayers();
      theirs.clearLayers();
      $(".ep-msg").innerHTML = "";
      Array.prototype.forEach.call(panel.querySelectorAll(".ep-err"), function (e) { e.textContent = ""; });
      Array.prototype.forEach.call(panel.querySelectorAll(".ep-field.invalid"), function (e) {
        e.classList.remove("invalid");
      });
    }

    function showProblems(list) {
      clearProblems();
      list.forEach(function (p) {
        var input = p.field && $(".ep-form [name='" + p.field + "']");
        if (input) {
          input.parentNode.classList.add("invalid");
          input.parentNode.querySelector(".ep-err").textContent = p.message;
          return;
        }
        var note = message(esc(p.label || p.message));
        if (p.location) {
          L.circleMarker([p.location[1], p.location[0]], {radius: 9, color: "#dc2626", weight: 3, fillOpacity: 0.2,
                                                          pane: "wuwei-edit"})
            .bindTooltip(T.problem_place).addTo(problems);
        }
        if (p.shape) {
          L.geoJSON(p.shape, {style: PROBLEM_STYLE, pane: "wuwei-edit", interactive: false}).addTo(problems);
        }
        if (p.repair) {
          var b = el("button", "primary small", esc(T.repair));
          b.type = "button";
          b.addEventListener("click", function () { replaceShape(p.repair); message(esc(T.repaired), "info"); });
          note.appendChild(b);
        }
      });
      var first = panel.querySelector(".ep-field.invalid input, .ep-field.invalid select");
      if (first) { first.focus(); }
    }

    /* ---------------------------------------------------------------- shapes */
    function styleOf(layer) {
      return Object.assign({}, EDIT_STYLE, {pane: "wuwei-edit"});
    }

    function shapeFrom(geometry, layer) {
      var made = L.geoJSON({type: "Feature", geometry: geometry, properties: {}}, {
        style: styleOf(layer),
        pointToLayer: function (f, ll) { return L.circleMarker(ll, Object.assign({radius: 9}, styleOf(layer))); }
      }).getLayers()[0];
      return made;
    }

    function editable(shape) {
      shape.addTo(map);
      shape.pm.enable({snappable: true, snapDistance: 15, allowSelfIntersection: true, draggable: true});
      S.moving = false;
    }

    function replaceShape(geometry) {
      if (S.shape) { S.shape.pm.disable(); map.removeLayer(S.shape); }
      S.shape = shapeFrom(geometry, S.layer);
      editable(S.shape);
      problems.clearLayers();
    }

    function geometryOf(shape) {
      var g = shape.toGeoJSON(7).geometry;
      return g;
    }

    function hideOriginal(l) {
      if (l && l.setStyle) { l.wuweiHidden = true; l.setStyle({opacity: 0, fillOpacity: 0}); }
      S.original = l;
    }

    function showOriginal() {
      if (S.original && S.original.wuweiHidden && S.original.setStyle) {
        var group = mapState.layers[S.original.wuweiLayer];
        if (group && group.options.style) { S.original.setStyle(group.options.style(S.original.feature)); }
      }
      S.original = null;
    }

    /* ---------------------------------------------------------------- sessions */
    function stop() {
      if (map.pm) { map.pm.disableDraw(); }
      if (S.shape) { S.shape.pm.disable(); if (S.shape.pm.disableLayerDrag) { S.shape.pm.disableLayerDrag(); } map.removeLayer(S.shape); }
      if (S.line) { map.removeLayer(S.line); }
      if (S.mergeHandler) { mapState.layers.grids.off("click", S.mergeHandler); }
      showOriginal();
      problems.clearLayers();
      theirs.clearLayers();
      preview.clearLayers();
      panel.hidden = true;
      map.getContainer().classList.remove("wuwei-editing");
      S.mode = null;
      S.shape = S.line = S.fid = S.etag = S.layer = S.mergeHandler = null;
    }

    function actions(layer, isNew) {
      button(".ep-actions", T.save, "primary ep-save", function () { save(); });
      button(".ep-actions", T.cancel, "ep-cancel", function () { stop(); });
      if (!isNew) {
        button(".ep-actions", T.history, "ep-history-btn", function () { showHistory(); });
        button(".ep-actions", T["delete"], "danger ep-delete", function () { remove(); });
      }
      if (layer.draw !== "CircleMarker") {
        var toggle = button(".ep-tools", T.move, "small ep-move", function () {
          if (!S.shape) { return; }
          if (S.moving) {
            S.shape.pm.disableLayerDrag();
            S.shape.pm.enable({snappable: true, snapDistance: 15, allowSelfIntersection: true});
            toggle.textContent = T.move;
          } else {
            S.shape.pm.disable();
            S.shape.pm.enableLayerDrag();
            toggle.textContent = T.reshape;
          }
          S.moving = !S.moving;
        });
      }
    }

    function startNew(name) {
      stop();
      var layer = layers[name];
      S.mode = "new";
      S.layer = layer;
      open(fmt(T.new_feature, {layer: layer.title}), T.draw_hint);
      button(".ep-actions", T.cancel, "ep-cancel", function () { stop(); });
      map.pm.enableDraw(layer.draw, {snappable: true, snapDistance: 15, allowSelfIntersection: true,
                                     pathOptions: styleOf(layer), templineStyle: EDIT_STYLE, hintlineStyle: EDIT_STYLE});
      map.once("pm:create", function (e) {
        if (S.mode !== "new") { map.removeLayer(e.layer); return; }
        map.removeLayer(e.layer);
        S.shape = shapeFrom(e.layer.toGeoJSON(7).geometry, layer);
        editable(S.shape);
        $(".ep-actions").innerHTML = "";
        actions(layer, true);
        buildForm(layer, Object.assign({}, layer.defaults));
        $(".ep-hint").textContent = T.edit_hint;
      });
    }

    function startEdit(name, fid) {
      stop();
      var layer = layers[name];
      return api("GET", layer.collection_url + "/" + fid).then(function (r) {
        if (r.status !== 200) { say(esc(fmt(T.failed, {message: r.body && r.body.error ? r.body.error.message : r.status}))); return; }
        S.mode = "edit";
        S.layer = layer;
        S.fid = fid;
        S.etag = r.etag;
        S.feature = r.body;
        open(fmt(T.edit_feature, {layer: layer.title, id: fid}), T.edit_hint);
        var group = mapState.layers[name];
        var original = group && group.wuweiById[String(fid)];
        hideOriginal(original);
        S.shape = shapeFrom(r.body.geometry, layer);
        editable(S.shape);
        actions(layer, false);
        buildForm(layer, r.body.properties || {});
      });
    }

    function afterWrite(name, fid, text) {
      Wuwei.reload(name);
      if (name === "grids" || name === "areas") { Wuwei.reload(); }
      if (!fid) { say(esc(text)); return; }
      api("GET", layers[name].collection_url + "/" + fid + "/history").then(function (h) {
        var newest = h.status === 200 && h.body.versions[0];
        say(esc(text), newest && newest.undoable ? function () { undo(name, fid, newest.id); } : null);
      });
    }

    function rounded(geometry) {
      return JSON.stringify(geometry && geometry.coordinates, function (k, v) {
        return typeof v === "number" ? Math.round(v * 1e7) / 1e7 : v;
      });
    }

    /* What the planner changed since opening the feature: only that is sent (PATCH), so that another
     * planner's change to other attributes is kept when this one saves after a conflict. */
    function changes(feature) {
      if (!S.fid || !S.feature) { return feature; }
      var opened = S.feature.properties || {}, out = {type: "Feature", properties: {}};
      Object.keys(feature.properties).forEach(function (k) {
        var was = opened[k] === undefined ? null : opened[k], now = feature.properties[k];
        if (String(was === null ? "" : was) !== String(now === null ? "" : now)) { out.properties[k] = now; }
      });
      if (rounded(feature.geometry) !== rounded(S.feature.geometry)) { out.geometry = feature.geometry; }
      return out;
    }

    function save() {
      var layer = S.layer;
      if (!S.shape) { return; }
      var feature = changes({type: "Feature", geometry: geometryOf(S.shape), properties: formValues(layer)});
      var saveBtn = $(".ep-save");
      saveBtn.disabled = true;
      saveBtn.textContent = T.saving;
      var done = function () { saveBtn.disabled = false; saveBtn.textContent = T.save; };
      api("POST", layer.check_url, {feature: feature, id: S.fid || null}).then(function (c) {
        if (c.status !== 200) { throw c; }
        if (!c.body.ok) { showProblems(c.body.problems); done(); return; }
        var write = S.fid ? api("PATCH", layer.collection_url + "/" + S.fid, feature, S.etag ? {"If-Match": S.etag} : {})
          : api("POST", layer.collection_url, feature);
        return write.then(function (w) {
          done();
          if (w.status === 200 || w.status === 201) {
            var fid = w.body.id, name = layer.name;
            stop();
            afterWrite(name, fid, T.saved);
          } else if (w.status === 412) {
            conflict();
          } else {
            clearProblems();
            message(esc(fmt(T.failed, {message: w.body && w.body.error ? w.body.error.message : w.status})));
          }
        });
      }).catch(function (e) {
        done();
        clearProblems();
        message(esc(e && e.body && e.body.error ? fmt(T.failed, {message: e.body.error.message}) : T.network));
      });
    }

    /* Someone saved the feature since it was opened: say who, keep the form, offer both ways on. */
    function conflict() {
      clearProblems();
      var layer = S.layer, fid = S.fid;
      api("GET", layer.collection_url + "/" + fid + "/history").then(function (h) {
        var who = h.status === 200 && h.body.versions[0] && h.body.versions[0].user || T.conflict_someone;
        var note = message(esc(fmt(T.conflict, {user: who})), "conflict");
        var row = el("div", "ep-row");
        note.appendChild(row);
        var show = el("button", "small", esc(T.show_theirs));
        show.type = "button";
        row.appendChild(show);
        var mine = el("button", "primary small", esc(T.keep_mine));
        mine.type = "button";
        row.appendChild(mine);
        show.addEventListener("click", function () { loadTheirs(false); });
        mine.addEventListener("click", function () { loadTheirs(true); });
      });
    }

    function loadTheirs(thenSave) {
      var layer = S.layer;
      api("GET", layer.collection_url + "/" + S.fid).then(function (r) {
        if (r.status !== 200) { return; }
        S.etag = r.etag;  // the version the planner has now seen
        theirs.clearLayers();
        L.geoJSON(r.body, {style: THEIRS_STYLE, pane: "wuwei-edit", interactive: false,
                           pointToLayer: function (f, ll) { return L.circleMarker(ll, Object.assign({radius: 12}, THEIRS_STYLE)); }})
          .addTo(theirs);
        layer.fields.forEach(function (f) {
          var input = $(".ep-form [name='" + f.name + "']");
          var v = (r.body.properties || {})[f.name];
          if (input) {
            var label = (f.choices || []).filter(function (c) { return c[0] === v; })[0];
            input.parentNode.querySelector(".ep-theirs").textContent =
              T.theirs + (v === null || v === undefined ? "—" : label ? label[1] : v);
          }
        });
        if (thenSave) { save(); }
      });
    }

    function remove() {
      if (!window.confirm(T.confirm_delete)) { return; }
      var layer = S.layer, fid = S.fid;
      api("DELETE", layer.collection_url + "/" + fid, undefined, S.etag ? {"If-Match": S.etag} : {}).then(function (r) {
        if (r.status === 204) { stop(); afterWrite(layer.name, fid, T.deleted); }
        else if (r.status === 412) { conflict(); }
        else { clearProblems(); message(esc(fmt(T.failed, {message: r.body && r.body.error ? r.body.error.message : r.status}))); }
      });
    }

    function undo(name, fid, entry) {
      var layer = layers[name];
      return api("GET", layer.collection_url + "/" + fid).then(function (cur) {
        var headers = cur.status === 200 && cur.etag ? {"If-Match": cur.etag} : {};
        return api("POST", layer.collection_url + "/" + fid + "/history/" + entry + "/undo", undefined, headers);
      }).then(function (r) {
        if (r.status === 200 || r.status === 204) {
          Wuwei.reload(name);
          say(esc(T.undone));
          if (S.mode === "edit" && S.fid === fid) { startEdit(name, fid).then(showHistory); }
        } else {
          say(esc(fmt(T.failed, {message: r.body && r.body.error ? r.body.error.message : r.status})));
        }
        return r;
      });
    }

    function fieldName(layer, name) {
      if (name === "geometry") { return T.geometry; }
      var f = layer.fields.filter(function (x) { return x.name === name; })[0];
      return f ? f.label : name;
    }

    function showHistory() {
      var layer = S.layer, fid = S.fid, box = $(".ep-history");
      box.innerHTML = "<h3>" + esc(T.history) + "</h3>";
      api("GET", layer.collection_url + "/" + fid + "/history").then(function (r) {
        if (r.status !== 200) { box.appendChild(el("p", "", esc(r.status))); return; }
        if (!r.body.versions.length) { box.appendChild(el("p", "", esc(T.no_history))); return; }
        var list = el("ol", "ep-versions");
        r.body.versions.forEach(function (v) {
          var li = el("li");
          var when = new Date(v.at).toLocaleString(document.documentElement.lang || undefined,
                                                    {dateStyle: "short", timeStyle: "short"});
          li.innerHTML = '<span class="when">' + esc(when) + '</span> <span class="who">' + esc(v.user || "—") +
            '</span> <span class="what">' + esc(T.actions[v.action] || v.action) + "</span>" +
            (v.changed.length ? '<div class="changed">' + esc(T.changed) +
              esc(v.changed.map(function (n) { return fieldName(layer, n); }).join("、")) + "</div>" : "");
          if (v.undoable) {
            var b = el("button", "small ep-undo", esc(T.undo));
            b.type = "button";
            b.setAttribute("data-entry", v.id);
            b.addEventListener("click", function () { undo(layer.name, fid, v.id); });
            li.appendChild(b);
          }
          list.appendChild(li);
        });
        box.appendChild(list);
      });
    }

    /* ---------------------------------------------------------------- split and merge grids */
    function rowsTable(rows) {
      var html = '<table class="ep-rows">';
      Object.keys(rows).forEach(function (t) {
        html += "<tr><th>" + esc((T.tables || {})[t] || t) + "</th><td>" + Object.keys(rows[t]).map(function (c) {
          return esc(c) + ": " + esc(rows[t][c]);
        }).join("<br>") + "</td></tr>";
      });
      return html + "</table>";
    }

    /* A refused split or merge, said in the planner's language when its kind is known. */
    function regridError(r) {
      var e = r.body && r.body.error;
      if (!e) { return String(r.status); }
      var said = (T.regrid_errors || {})[e.code];
      return said ? fmt(said, e.fields || {}) : e.message;
    }

    function showRegrid(result) {
      preview.clearLayers();
      var colors = ["#2563eb", "#16a34a"];
      result.grids.forEach(function (g, i) {
        L.geoJSON(g.geometry, {style: {color: colors[i % 2], weight: 3, fillOpacity: 0.25}, pane: "wuwei-edit",
                               interactive: false})
          .bindTooltip(esc(g.code), {permanent: true, direction: "center", className: "wuwei-label"}).addTo(preview);
      });
      var html = "";
      if (result.action === "split") {
        html = esc(fmt(T.preview_split, {kept: result.grids[0].name, code: result.grids[0].code, new_code: result.grids[1].code}));
      } else {
        html = esc(fmt(T.preview_merge, {gone: result.removed.name, gone_code: result.removed.code,
                                         keep: result.grids[0].name, code: result.grids[0].code}));
      }
      if (result.micro_grids.length) {
        html += "<p>" + esc(T.micro_moved) + result.micro_grids.map(function (m) {
          return esc(m.name) + " " + esc(m.old_code) + " → " + esc(m.code);
        }).join("；") + "</p>";
      }
      html += "<p>" + esc(T.rows_moved) + "</p>" + rowsTable(result.rows);
      message(html, "info");
    }

    function startSplit(fid, name) {
      stop();
      S.mode = "split";
      S.layer = layers.grids;
      S.fid = fid;
      open(T.split + " · " + name, T.split_hint);
      button(".ep-actions", T.cancel, "ep-cancel", function () { stop(); });
      var draw = function () {
        map.pm.enableDraw("Line", {snappable: true, snapDistance: 15, templineStyle: EDIT_STYLE, hintlineStyle: EDIT_STYLE,
                                   pathOptions: Object.assign({}, EDIT_STYLE, {pane: "wuwei-edit"})});
      };
      draw();
      map.once("pm:create", function onLine(e) {
        if (S.mode !== "split") { map.removeLayer(e.layer); return; }
        S.line = e.layer;
        var line = e.layer.toGeoJSON(7).geometry;
        var input = el("label", "ep-field", "<span>" + esc(T.new_name) + "</span>");
        var nameInput = el("input");
        nameInput.name = "name";
        nameInput.maxLength = 128;
        input.appendChild(nameInput);
        input.appendChild(el("small", "ep-err"));
        $(".ep-form").appendChild(input);
        var run = function (dry) {
          return api("POST", "/api/v1/grids/" + fid + "/split", {line: line, name: nameInput.value || null, dry_run: dry});
        };
        run(true).then(function (r) {
          $(".ep-msg").innerHTML = "";
          if (r.status !== 200) { message(esc(regridError(r))); return; }
          showRegrid(r.body);
          $(".ep-actions").innerHTML = "";
          button(".ep-actions", T.split_confirm, "primary ep-confirm", function () {
            run(false).then(function (w) {
              if (w.status !== 200) { $(".ep-msg").innerHTML = ""; message(esc(regridError(w))); return; }
              stop();
              afterWrite("grids", fid, T.saved);
            });
          });
          button(".ep-actions", T.redraw, "", function () { startSplit(fid, name); });
          button(".ep-actions", T.cancel, "ep-cancel", function () { stop(); });
        });
      });
    }

    function startMerge(fid, name) {
      stop();
      S.mode = "merge";
      S.layer = layers.grids;
      S.fid = fid;
      open(T.merge + " · " + name, fmt(T.merge_hint, {name: name}));
      button(".ep-actions", T.cancel, "ep-cancel", function () { stop(); });
      S.mergeHandler = function (e) {
        L.DomEvent.stop(e);
        map.closePopup();
        var other = e.layer && e.layer.feature;
        if (!other || other.id === fid) { return; }
        var run = function (dry) { return api("POST", cfg.merge_url, {keep: fid, other: other.id, dry_run: dry}); };
        run(true).then(function (r) {
          $(".ep-msg").innerHTML = "";
          if (r.status !== 200) { message(esc(regridError(r))); return; }
          showRegrid(r.body);
          $(".ep-actions").innerHTML = "";
          button(".ep-actions", T.merge_confirm, "primary ep-confirm", function () {
            run(false).then(function (w) {
              if (w.status !== 200) { $(".ep-msg").innerHTML = ""; message(esc(regridError(w))); return; }
              stop();
              afterWrite("grids", fid, T.saved);
            });
          });
          button(".ep-actions", T.cancel, "ep-cancel", function () { stop(); });
        });
      };
      mapState.layers.grids.on("click", S.mergeHandler);
    }

    /* ---------------------------------------------------------------- entry points */
    function mayWrite(layer, feature) {
      if (!layer.area_rows || !cfg.area_code) { return true; }
      var code = (feature.properties || {}).code || "";
      return code.indexOf(cfg.area_code) === 0 && code !== cfg.area_code;
    }

    map.on("popupopen", function (e) {
      var source = e.popup._source;
      var name = source && source.wuweiLayer, layer = name && layers[name];
      if (!layer || S.mode === "merge" || !source.feature || !mayWrite(layer, source.feature)) { return; }
      var box = e.popup.getElement().querySelector(".wuwei-popup");
      if (!box || box.querySelector(".wuwei-popup-edit")) { return; }
      var row = el("div", "wuwei-popup-edit");
      var fid = source.feature.id, title = (source.feature.properties || {}).name || layer.title + " #" + fid;
      var add = function (text, cls, fn) {
        var b = el("button", cls, esc(text));
        b.type = "button";
        b.addEventListener("click", fn);
        row.appendChild(b);
      };
      add(T.edit, "primary small ep-open", function () { startEdit(name, fid); });
      add(T.history, "small", function () { startEdit(name, fid).then(showHistory); });
      if (layer.split) {
        add(T.split, "small ep-split", function () { startSplit(fid, title); });
        add(T.merge, "small ep-merge", function () { startMerge(fid, title); });
      }
      box.appendChild(row);
      // Not popup.update(): it would render the content string again, without these buttons.
      if (e.popup._updateLayout) { e.popup._updateLayout(); e.popup._updatePosition(); }
    });

    /* The toolbar: which layer to draw into, and its import page. */
    var phone = window.matchMedia && window.matchMedia("(max-width: 640px)").matches;
    var Bar = L.Control.extend({
      options: {position: phone ? "bottomleft" : "topleft"},  // on a phone, away from the popups
      onAdd: function () {
        var div = L.DomUtil.create("div", "wuwei-edit-bar leaflet-bar");
        L.DomEvent.disableClickPropagation(div);
        var options = cfg.layers.map(function (l) {
          return '<option value="' + esc(l.name) + '">' + esc(l.title) + "</option>";
        }).join("");
        div.innerHTML = '<label><span class="visually-hidden">' + esc(T.editing) + "</span>" +
          '<select class="eb-layer" aria-label="' + esc(T.editing) + '">' + options + "</select></label>" +
          '<button type="button" class="eb-draw primary" title="' + esc(T.draw_new) + '">✎ <span class="txt">' +
          esc(T.draw_new) + "</span></button>" +
          '<a class="eb-import" href="#" title="' + esc(T["import"]) + '">⇪ <span class="txt">' + esc(T["import"]) +
          "</span></a>";
        var select = div.querySelector(".eb-layer"), link = div.querySelector(".eb-import");
        var sync = function () {
          var l = layers[select.value];
          link.hidden = !l.import_url;
          if (l.import_url) { link.href = l.import_url; }
        };
        select.value = layers["bike-zones"] ? "bike-zones" : cfg.layers[0].name;
        sync();
        select.addEventListener("change", sync);
        div.querySelector(".eb-draw").addEventListener("click", function () { startNew(select.value); });
        return div;
      }
    });
    if (cfg.layers.length) { new Bar().addTo(map); }

    ed.startNew = startNew;
    ed.startEdit = startEdit;
    ed.startSplit = startSplit;
    ed.startMerge = startMerge;
    ed.save = save;
    ed.stop = stop;
    ed.undo = undo;
    ed.showHistory = showHistory;
  };
})();
