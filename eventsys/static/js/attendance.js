// Attendance sheets (manage/attendance_sheet.html, attendance_day.html): find a name in a
// long list, see how many boxes changed since the page was drawn, and be warned before
// leaving with changes not saved. The sheets work without this script.
(function () {
  "use strict";

  var form = document.querySelector("form[data-sheet]");
  if (!form) {
    return;
  }
  var rows = Array.prototype.slice.call(form.querySelectorAll("tbody tr[data-name]"));
  var filter = form.querySelector("[data-sheet-filter]");
  var ticked = form.querySelector("[data-sheet-ticked]");
  var shown = form.querySelector("[data-sheet-shown]");
  var boxes = Array.prototype.slice.call(form.querySelectorAll("input[type=checkbox]"));
  var notes = Array.prototype.slice.call(form.querySelectorAll("input.sheet-note"));
  var submitting = false;

  function changed() {
    var n = 0;
    boxes.forEach(function (box) {
      if (box.checked !== box.defaultChecked) {
        n += 1;
      }
    });
    notes.forEach(function (note) {
      if (note.value !== note.defaultValue) {
        n += 1;
      }
    });
    return n;
  }

  function refresh() {
    if (!ticked) {
      return;
    }
    var n = changed();
    ticked.hidden = n === 0;
    var template = n === 1 ? ticked.getAttribute("data-template-one")
      : ticked.getAttribute("data-template");
    ticked.textContent = template.replace("{n}", String(n));
  }

  if (filter) {
    filter.hidden = false;
    filter.addEventListener("input", function () {
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      var visible = [];
      rows.forEach(function (row) {
        var name = row.getAttribute("data-name");
        row.hidden = !words.every(function (word) { return name.indexOf(word) !== -1; });
        if (!row.hidden) {
          visible.push(row.getAttribute("data-id"));
        }
      });
      // "Everyone listed" means those still shown: the server is told whom.
      if (shown) {
        shown.disabled = words.length === 0;
        shown.value = visible.join(",");
      }
    });
    filter.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();  // finding a name is not saving the sheet
      }
    });
  }
  form.addEventListener("change", refresh);
  form.addEventListener("input", refresh);
  form.addEventListener("submit", function () {
    submitting = true;
  });
  window.addEventListener("beforeunload", function (event) {
    if (!submitting && changed() > 0) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
