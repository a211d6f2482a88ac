// Sorting and filtering of the dashboard's tables, in the browser: the rows are already there.
(function () {
  "use strict";

  function cellValue(row, index) {
    var text = row.cells[index] ? row.cells[index].textContent.trim() : "";
    var number = parseFloat(text.replace(/[,%\s]|pts/g, ""));
    return isNaN(number) || !/^[-+]?[\d,.]+/.test(text) ? text.toLowerCase() : number;
  }

  function sortBy(table, header) {
    var index = Array.prototype.indexOf.call(header.parentNode.children, header);
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(header.parentNode.children, function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index), y = cellValue(b, index);
      if (x === y) { return 0; }
      var before = typeof x === typeof y ? x < y : typeof x === "number";
      return (before ? -1 : 1) * (ascending ? 1 : -1);
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function filter(input) {
    var table = document.getElementById(input.dataset.table);
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      var text = row.textContent.toLowerCase();
      row.hidden = !words.every(function (word) { return text.indexOf(word) >= 0; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.sortable th").forEach(function (header) {
      header.addEventListener("click", function () { sortBy(header.closest("table"), header); });
    });
    document.querySelectorAll("input.table-filter").forEach(function (input) {
      input.addEventListener("input", function () { filter(input); });
    });
  });
})();
