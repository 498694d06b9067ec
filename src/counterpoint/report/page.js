// Counterpoint report: sortable tables (the linked scatter plots are scatter.js's). No network.
"use strict";
(function () {
  function sortable(table) {
    table.querySelectorAll("thead th").forEach(function (th, column) {
      th.title = "sort by this column";
      th.addEventListener("click", function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var ascending = th.dataset.order !== "asc";
        table.querySelectorAll("thead th").forEach(function (other) { delete other.dataset.order; });
        th.dataset.order = ascending ? "asc" : "desc";
        function key(row) {
          var cell = row.cells[column]; if (!cell) return "";
          var text = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
          var number = parseFloat(text.replace(/^\[/, ""));
          return isNaN(number) ? text.toLowerCase() : number;
        }
        rows.sort(function (a, b) {
          var x = key(a), y = key(b), order = (typeof x === typeof y) ? (x < y ? -1 : x > y ? 1 : 0)
            : (typeof x === "number" ? -1 : 1);
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }
  document.querySelectorAll("table.sortable").forEach(sortable);
})();
