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
    var st = window.Wuwei && window.Wuwei.state, n = 0;
    if (st && st.layers.live) {
      st.layers.live.eachLayer(function (l) { if (l.feature && l.feature.properties.kind === "position") { n++; } });
    }
    var c = document.getElementById("live-count");
    if (c) { c.textContent = n + " ⦿ " + new Date().toLocaleTimeString(); }
  }
  function hook() {
    var st = window.Wuwei && window.Wuwei.state;
    if (st && st.map) { st.map.on("wuwei:loaded", count); count(); }
  }
  hook();
  setInterval(function () { if (!document.hidden) { tick(); } }, seconds * 1000);
})();
