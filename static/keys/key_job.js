// The key job page: follows a running import or generation. Polls the job's progress address
// and moves the bar; when the job ends, reloads the page, which then shows the outcome (and the
// download of generated keys). No inline script or style: the Content Security Policy forbids
// them, and setting element.style from a script file is allowed. Without JavaScript the page
// reloads itself (<noscript> refresh).
(function () {
  "use strict";
  var box = document.getElementById("key-job");
  if (!box || box.getAttribute("data-finished") === "true" || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-progress-url");
  var bar = box.querySelector("[role=progressbar]");
  var fill = bar ? bar.querySelector(".progress-bar") : null;
  var outcome = document.getElementById("key-job-outcome");
  var EVERY = 2000;

  function show(job) {
    if (bar && fill) {
      bar.setAttribute("aria-valuenow", String(job.done));
      bar.setAttribute("aria-valuetext", job.text);
      fill.style.width = job.percent + "%";
    }
    if (outcome) {
      outcome.textContent = job.text;
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (job) {
        show(job);
        if (job.finished) {
          window.location.reload();
        } else {
          window.setTimeout(poll, EVERY);
        }
      })
      .catch(function () {
        // A restarting server or a lost connection: try again a little later.
        window.setTimeout(poll, EVERY * 3);
      });
  }

  window.setTimeout(poll, EVERY);
})();
