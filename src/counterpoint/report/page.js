// Counterpoint report: sortable tables (the linked scatter plots are scatter.js's). No network.
"use strict";
(function () {
  // Each heading of a sortable table becomes a button (a click, Enter or Space sorts by its column);
  // aria-sort says the order: ascending or descending on the sorted column, none on the others.
  function sortable(table) {
    var headings = table.querySelectorAll("thead th");
    headings.forEach(function (th, column) {
      var button = document.createElement("button");
      button.type = "button"; button.title = "sort by this column";
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      th.setAttribute("aria-sort", "none");
      button.addEventListener("click", function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        headings.forEach(function (other) { other.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
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
