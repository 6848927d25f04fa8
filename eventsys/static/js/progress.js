// The progress page of bulk work (manage/job.html): polls the job's JSON every second
// until it is finished, and asks before the Cancel button stops it. Without this script
// the page shows the counts as they were and a reload link.
(function () {
  "use strict";

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });

  var box = document.querySelector("[data-progress-url]");
  if (!box || box.getAttribute("data-settled") === "true") {
    return;
  }
  var url = box.getAttribute("data-progress-url");
  var failures = 0;

  function toggle(selector, hidden) {
    box.querySelectorAll(selector).forEach(function (element) {
      element.hidden = hidden;
    });
  }

  function show(data) {
    box.querySelectorAll("[data-field]").forEach(function (element) {
      var name = element.getAttribute("data-field");
      if (!Object.prototype.hasOwnProperty.call(data, name)) {
        return;
      }
      if (element.tagName === "PROGRESS") {
        element.value = data[name];
      } else {
        element.textContent = String(data[name]);
      }
    });
    toggle("[data-while-active]", data.status !== "queued" && data.status !== "running");
    if (data.finished) {
      toggle("[data-while-running]", true);
      toggle("[data-when-finished]", false);
      box.setAttribute("data-finished", "true");
    }
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin",
                 cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        failures = 0;
        show(data);
        // Finished, but mail still going out (certificates: made first, mailed after):
        // the counts keep moving for a while.
        if (!data.finished || data.waiting > 0) {
          window.setTimeout(poll, data.finished ? 2000 : 1000);
        }
      })
      .catch(function () {
        // The server restarting or the network dropping: try again, less often, for a while.
        failures += 1;
        if (failures < 30) {
          window.setTimeout(poll, Math.min(1000 * failures, 10000));
        }
      });
  }

  window.setTimeout(poll, 1000);
})();
