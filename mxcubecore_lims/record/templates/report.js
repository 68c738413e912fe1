// The session report's only script: sorting and filtering of the collections table,
// opening a collection's details when linked to, and expanding all details for print.
// The page reads the same without it; the filter box stays hidden until this runs.
(function () {
  "use strict";
  var table = document.getElementById("collections");

  function rows() {
    return Array.prototype.slice.call(table.tBodies[0].rows);
  }

  function setUpFilter() {
    var box = document.getElementById("collection-filter-box");
    var input = document.getElementById("collection-filter");
    var count = document.getElementById("collection-count");
    if (!box || !input) return;
    function apply() {
      var wanted = input.value.trim().toLowerCase();
      var shown = 0;
      rows().forEach(function (row) {
        // The row's whole text: a person filters by whatever they see in it.
        var match = wanted === "" || row.textContent.toLowerCase().indexOf(wanted) !== -1;
        row.hidden = !match;
        if (match) shown += 1;
      });
      if (count) count.textContent = wanted === "" ? "" : shown + " of " + rows().length + " shown";
    }
    input.addEventListener("input", apply);
    box.hidden = false;
    apply();
  }

  function compare(kind, a, b) {
    if (kind === "number") return parseFloat(a) - parseFloat(b);
    if (kind === "date") return a < b ? -1 : a > b ? 1 : 0; // ISO text sorts in time order
    return a.localeCompare(b, undefined, { numeric: true, sensitivity: "base" });
  }

  function sortBy(header, column) {
    var kind = header.getAttribute("data-sort");
    var descending = header.getAttribute("aria-sort") === "ascending";
    var body = table.tBodies[0];
    var keyed = rows().map(function (row, index) {
      return { row: row, index: index, value: row.cells[column].getAttribute("data-value") || "" };
    });
    keyed.sort(function (x, y) {
      // Missing values last whichever way, so the known ones are what one sees first.
      if (x.value === "" || y.value === "") return (x.value === "") - (y.value === "") || x.index - y.index;
      var order = compare(kind, x.value, y.value);
      return (descending ? -order : order) || x.index - y.index;
    });
    keyed.forEach(function (item) { body.appendChild(item.row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) { cell.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }

  function setUpSorting() {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
      if (!header.hasAttribute("data-sort")) return;
      // A real button, so the headers are reachable and operable from the keyboard.
      var button = document.createElement("button");
      button.type = "button";
      button.title = "Sort by " + header.textContent;
      while (header.firstChild) button.appendChild(header.firstChild);
      header.appendChild(button);
      button.addEventListener("click", function () { sortBy(header, column); });
    });
  }

  function openTarget() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var target = id && document.getElementById(id);
    if (target && target.tagName === "DETAILS") target.open = true;
  }

  function setUpPrinting() {
    var closed = [];
    window.addEventListener("beforeprint", function () {
      closed = Array.prototype.filter.call(document.querySelectorAll("details"), function (d) { return !d.open; });
      closed.forEach(function (d) { d.open = true; });
    });
    window.addEventListener("afterprint", function () {
      closed.forEach(function (d) { d.open = false; });
      closed = [];
    });
  }

  if (table && table.tBodies.length) {
    setUpFilter();
    setUpSorting();
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
  setUpPrinting();
})();
