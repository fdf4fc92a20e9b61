// Small behaviours of every page, bound here instead of inline handlers (the pages'
// Content-Security-Policy runs no inline event handler): print buttons, the user menu and the
// "更多" menus of the shell, and the column labels that turn list tables into cards on phones.
(function () {
  "use strict";

  document.addEventListener("click", function (e) {
    var button = e.target.closest("[data-print]");
    if (button) { e.preventDefault(); window.print(); return; }
    var toggle = e.target.closest(".user-toggle");
    var menu = document.getElementById("user-menu");
    if (toggle && menu) {
      var open = menu.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    } else if (menu && !e.target.closest("#user-panel")) {
      menu.classList.remove("open");
      var t = menu.querySelector(".user-toggle");
      if (t) { t.setAttribute("aria-expanded", "false"); }
    }
    // One open menu at a time; a tap elsewhere closes them.
    document.querySelectorAll("details.menu[open], details.tab-more[open]").forEach(function (d) {
      if (!d.contains(e.target)) { d.removeAttribute("open"); }
    });
  });

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") { return; }
    document.querySelectorAll("details.menu[open], details.tab-more[open]").forEach(function (d) { d.removeAttribute("open"); });
    var menu = document.getElementById("user-menu");
    if (menu) { menu.classList.remove("open"); }
  });

  // Each cell of a list table gets its column's name (data-label): below 700 px the rows are cards.
  function labelTable(table) {
    var head = table.querySelector("thead tr") || table.querySelector("tr");
    if (!head || !head.querySelector("th")) { return; }
    if (!table.tHead) { head.classList.add("head"); }
    var names = [];
    Array.prototype.forEach.call(head.children, function (th) {
      var span = th.colSpan || 1;
      for (var i = 0; i < span; i++) { names.push(th.textContent.trim()); }
    });
    Array.prototype.forEach.call(table.querySelectorAll("tr"), function (tr) {
      if (tr === head) { return; }
      var col = 0;
      Array.prototype.forEach.call(tr.children, function (cell) {
        if (!cell.hasAttribute("data-label") && names[col] && !cell.hasAttribute("colspan")) {
          cell.setAttribute("data-label", names[col]);
        }
        col += cell.colSpan || 1;
      });
    });
  }

  function labelTables() {
    document.querySelectorAll("table.list").forEach(labelTable);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", labelTables);
  } else {
    labelTables();
  }
  window.WuweiPages = { labelTables: labelTables };
}());
