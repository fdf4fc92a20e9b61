// Visit form: add the phone's position when the user allows it (optional).
(function () {
  var note = document.getElementById('pos');
  if (!navigator.geolocation || !note) { if (note) note.textContent = ''; return; }
  navigator.geolocation.getCurrentPosition(function (p) {
    document.getElementById('lon').value = p.coords.longitude.toFixed(6);
    document.getElementById('lat').value = p.coords.latitude.toFixed(6);
    note.textContent = '✓ ' + p.coords.latitude.toFixed(5) + ', ' + p.coords.longitude.toFixed(5);
  }, function () { note.textContent = ''; }, {timeout: 8000, maximumAge: 60000});
})();
