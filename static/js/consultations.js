/* The meeting form's incident picker: find open incidents by their description or click them on the
 * map; each picked incident becomes a hidden ``incident_ids`` input and a choice of the agenda rows.
 * Also adds agenda and decision rows on demand. Incidents come from /api/v1/incidents (GeoJSON, the
 * user's area, no personal data). */
(function () {
  "use strict";
  var C = window.WuweiConsultations = {};

  function esc(v) {
    return String(v == null ? "" : v).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function label(p) { return "#" + p.id + " " + String(p.description || "").slice(0, 40); }

  C.picker = function (map) {
    var box = document.getElementById("incident-picker");
    if (!box) { return; }
    var text = JSON.parse(box.dataset.texts), url = box.dataset.url;
    var picked = {}, pickedBox = document.getElementById("incident-picked");
    var results = document.getElementById("incident-results"), search = document.getElementById("incident-search");
    var markers = L.layerGroup().addTo(map);

    function refreshChoices() {
      document.querySelectorAll("select.incident-choice").forEach(function (sel) {
        var keep = sel.value;
        sel.innerHTML = sel.options[0].outerHTML;
        Object.keys(picked).forEach(function (id) {
          var o = document.createElement("option");
          o.value = id; o.textContent = label(picked[id]);
          sel.appendChild(o);
        });
        sel.value = picked[keep] ? keep : "";
      });
    }

    function draw() {
      var ids = Object.keys(picked);
      pickedBox.innerHTML = ids.length ? "" : "<span class='muted small'>" + esc(text.nothing) + "</span>";
      ids.forEach(function (id) {
        var chip = document.createElement("span");
        chip.className = "chip picked-incident";
        chip.innerHTML = "<input type='hidden' name='incident_ids' value='" + esc(id) + "'>" + esc(label(picked[id])) +
          " <button type='button' aria-label='" + esc(text.remove) + "' data-remove='" + esc(id) + "'>×</button>";
        pickedBox.appendChild(chip);
      });
      refreshChoices();
    }

    function pick(p) { picked[p.id] = p; draw(); }

    pickedBox.addEventListener("click", function (e) {
      var b = e.target.closest("[data-remove]");
      if (b) { delete picked[b.dataset.remove]; draw(); }
    });

    function find() {
      var q = search.value.trim();
      if (!q) { results.innerHTML = ""; return; }
      fetch(url + "?open=true&limit=20&q=" + encodeURIComponent(q), {credentials: "same-origin"})
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (fc) {
          results.innerHTML = fc.features.length ? "" : "<li class='muted'>" + esc(text.none) + "</li>";
          fc.features.forEach(function (f) {
            var li = document.createElement("li");
            li.innerHTML = esc(label(f.properties)) + " <button type='button'>" + esc(text.add) + "</button>";
            li.querySelector("button").addEventListener("click", function () { pick(f.properties); });
            results.appendChild(li);
          });
        })
        .catch(function () { results.innerHTML = "<li class='muted'>" + esc(text.failed) + "</li>"; });
    }
    document.getElementById("incident-search-go").addEventListener("click", find);
    search.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); find(); } });

    function load() {
      var b = map.getBounds();
      var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); });
      fetch(url + "?open=true&limit=300&bbox=" + bbox.join(","), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : {features: []}; })
        .then(function (fc) {
          markers.clearLayers();
          fc.features.forEach(function (f) {
            L.geoJSON(f, {
              style: {color: "#7c3aed", weight: 4},
              pointToLayer: function (_, at) { return L.circleMarker(at, {radius: 7, color: "#7c3aed", fillOpacity: 0.7}); }
            }).bindTooltip(esc(label(f.properties)))
              .on("click", function () { pick(f.properties); })
              .addTo(markers);
          });
        });
    }
    map.on("moveend", load);
    load();

    document.querySelectorAll("[data-add-row]").forEach(function (button) {
      button.addEventListener("click", function () {
        var set = document.getElementById(button.dataset.addRow), rows = set.querySelectorAll(".row");
        var copy = rows[rows.length - 1].cloneNode(true);
        copy.querySelectorAll("input, textarea, select").forEach(function (el) { el.value = ""; });
        var no = copy.querySelector(".no");
        if (no) { no.textContent = (rows.length + 1) + "."; }
        set.insertBefore(copy, button);
      });
    });
  };
})();
