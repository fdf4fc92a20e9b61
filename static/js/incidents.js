/* Incident report form: click the map (or use the phone's position) to place the point, and show open
 * incidents of the same category nearby so the reporter can attach to one instead of filing a duplicate. */
(function () {
  "use strict";
  var W = window.WuweiIncidents = {};

  function esc(v) {
    return String(v).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  W.reportForm = function (map, text) {
    var form = document.getElementById("report-form");
    var lon = document.getElementById("lon"), lat = document.getElementById("lat");
    var category = document.getElementById("category"), box = document.getElementById("duplicates");
    var marker = null;

    var note = document.getElementById("locate-note");

    function say(text, bad) {
      if (!note) { return; }
      note.textContent = text || "";
      note.hidden = !text;
      note.className = bad ? "field-error" : "muted small";
    }

    // The pin: placed by a tap anywhere (the layers under it take no taps), dragged to correct it.
    function place(latlng) {
      lat.value = latlng.lat.toFixed(7);
      lon.value = latlng.lng.toFixed(7);
      if (marker) {
        marker.setLatLng(latlng);
      } else {
        marker = L.marker(latlng, {draggable: true, autoPan: true, title: text.drag || ""}).addTo(map);
        marker.on("dragend", function () { place(marker.getLatLng()); });
      }
      say(text.placed, false);
      suggest();
    }

    function suggest() {
      if (!lon.value || !lat.value || !category.value) { box.hidden = true; return; }
      var url = form.dataset.duplicatesUrl + "?category=" + encodeURIComponent(category.value) +
        "&lon=" + lon.value + "&lat=" + lat.value;
      fetch(url, {credentials: "same-origin"}).then(function (r) { return r.ok ? r.json() : {incidents: []}; })
        .then(function (data) {
          var ul = box.querySelector("ul");
          ul.innerHTML = "";
          data.incidents.forEach(function (i) {
            var li = document.createElement("li");
            li.innerHTML = "#" + i.id + " " + esc(i.description).slice(0, 60) + " (" + Math.round(i.distance_m) +
              " " + esc(text.away) + ") <button type='button' data-id='" + i.id + "'>" + esc(text.attach) + "</button>";
            ul.appendChild(li);
          });
          box.hidden = data.incidents.length === 0;
        });
    }

    box.addEventListener("click", function (e) {
      if (e.target.dataset.id) {
        var input = document.createElement("input");
        input.type = "hidden"; input.name = "attach_to"; input.value = e.target.dataset.id;
        form.appendChild(input);
        form.submit();
      }
    });
    map.on("click", function (e) { place(e.latlng); });
    category.addEventListener("change", suggest);
    document.getElementById("locate").addEventListener("click", function () {
      if (!navigator.geolocation) { say(text.no_geolocation, true); return; }
      say(text.locating, false);
      navigator.geolocation.getCurrentPosition(function (p) {
        var ll = L.latLng(p.coords.latitude, p.coords.longitude);
        map.setView(ll, 17);
        place(ll);
      }, function (err) {
        // Denied, unavailable or too slow: say which, and that a tap on the map does as well.
        say(err.code === 1 ? text.denied : err.code === 3 ? text.timeout : text.unavailable, true);
      }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    });
    if (lon.value && lat.value) { place(L.latLng(+lat.value, +lon.value)); }
  };
})();
