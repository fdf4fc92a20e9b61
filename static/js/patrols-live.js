/* Live patrol map: refetch the layers every few seconds without reloading the page. */
(function () {
  "use strict";
  var el = document.getElementById("live-status");
  var seconds = parseInt(el && el.dataset.refresh, 10) || 10;
  function tick() {
    var st = window.Wuwei && window.Wuwei.state;
    if (!st || !st.map) { return; }
    st.map.fire("moveend");
  }
  function count() {
    var st = window.Wuwei && window.Wuwei.state, n = 0, sos = 0;
    if (st && st.layers.live) {
      st.layers.live.eachLayer(function (l) {
        var kind = l.feature && l.feature.properties.kind;
        if (kind === "position") { n++; } else if (kind === "sos") { sos++; }
      });
    }
    var c = document.getElementById("live-count");
    if (c) { c.textContent = (sos ? "SOS ×" + sos + " · " : "") + n + " ⦿ " + new Date().toLocaleTimeString(); }
    if (c) { c.style.color = sos ? "#b42318" : ""; c.style.fontWeight = sos ? "bold" : ""; }
  }
  function hook() {
    var st = window.Wuwei && window.Wuwei.state;
    if (st && st.map) { st.map.on("wuwei:loaded", count); count(); }
  }
  hook();
  setInterval(function () { if (!document.hidden) { tick(); } }, seconds * 1000);
})();
