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

    function place(latlng) {
      lat.value = latlng.lat.toFixed(7);
      lon.value = latlng.lng.toFixed(7);
      if (marker) { marker.setLatLng(latlng); } else { marker = L.marker(latlng).addTo(map); }
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
      if (!navigator.geolocation) { return; }
      navigator.geolocation.getCurrentPosition(function (p) {
        var ll = L.latLng(p.coords.latitude, p.coords.longitude);
        map.setView(ll, 17);
        place(ll);
      });
    });
    if (lon.value && lat.value) { place(L.latLng(+lat.value, +lon.value)); }
  };
})();
