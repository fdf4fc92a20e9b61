// Small behaviours of pages (print buttons …), bound here instead of inline handlers (the pages'
// Content-Security-Policy runs no inline event handler).
document.addEventListener("click", function (e) {
  var button = e.target.closest("[data-print]");
  if (button) { e.preventDefault(); window.print(); }
});
