// Step 2: say whether the domain prefix is available as it is typed. The server checks again on
// "Create my account"; without this script the form works the same.
(function () {
  "use strict";
  var input = document.querySelector("input[data-domain-check]");
  var result = document.getElementById("domain-check-result");
  if (!input || !result) return;
  var timer = null;
  var latest = 0;
  function check() {
    var value = input.value.trim();
    if (!value) { result.textContent = ""; return; }
    var ticket = ++latest;
    fetch(result.dataset.url + "?prefix=" + encodeURIComponent(value), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (ticket !== latest) return; // an older answer arriving late
        result.textContent = data.message;
        result.classList.toggle("text-success", data.available);
        result.classList.toggle("text-danger", !data.available);
        // step2_errors.js clears the field's error when the prefix is free.
        input.dispatchEvent(new CustomEvent("domain-checked", { detail: data }));
      })
      .catch(function () { result.textContent = ""; });
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  });
  // A prefix already there (Resume, or typed before this script ran) is checked at once.
  if (input.value.trim()) check();
  input.dataset.domainCheckReady = "1";
})();
