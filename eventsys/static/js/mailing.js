// The mailing form (manage/mailing_form.html): the number of recipients follows the
// audience as the organiser ticks it. Without this script the number is the one the page
// was drawn with, and the preview and the confirmation step state it again.
(function () {
  "use strict";

  var form = document.querySelector("form[data-count-url]");
  if (!form) {
    return;
  }
  var url = form.getAttribute("data-count-url");
  var shown = form.querySelector("[data-recipient-count]");
  var button = form.querySelector("[data-send-button]");
  var names = ["kind", "statuses", "modes", "answers", "roles", "attendance"];
  var latest = 0;

  function refresh() {
    var data = new FormData(form);
    var query = new URLSearchParams();
    names.forEach(function (name) {
      data.getAll(name).forEach(function (value) {
        query.append(name, value);
      });
    });
    var asked = ++latest;
    fetch(url + "?" + query.toString(), { headers: { Accept: "application/json" },
                                          credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (answer) {
        if (asked !== latest) {
          return;  // an older answer arriving after a newer one
        }
        if (shown) {
          shown.textContent = answer.text;
        }
        if (button) {
          button.textContent = answer.send;
        }
      })
      .catch(function () {
        // The count stays as it was; the confirmation step counts again anyway.
      });
  }

  form.addEventListener("change", function (event) {
    if (event.target && names.indexOf(event.target.name) !== -1) {
      refresh();
    }
  });
})();
