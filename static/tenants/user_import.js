// "Add users from a file", a large file: follows the worker adding the users. Polls the
// import's progress address and moves the bar; when the import ends, reloads the page, which
// then shows the outcome. No inline script: the Content Security Policy forbids it. Without
// JavaScript the page reloads itself (<noscript> refresh).
(function () {
  "use strict";
  var box = document.getElementById("user-import");
  if (!box || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-progress-url");
  var bar = document.getElementById("user-import-bar");
  var outcome = document.getElementById("user-import-outcome");
  var EVERY = 2000;

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (job) {
        if (bar) {
          bar.value = job.done;
          bar.textContent = job.text;
        }
        if (outcome) {
          outcome.textContent = job.text;
        }
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
