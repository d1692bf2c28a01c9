// Step 2: keep what the partner types with the draft on the server, so that a closed browser
// loses nothing (Resume fills the fields again). Without this script the fields are kept at each
// submit; with it, also after every change.
(function () {
  "use strict";
  var form = document.querySelector("form[data-keep-url]");
  if (!form) return;
  var timer = null;
  function keep() {
    fetch(form.dataset.keepUrl, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    }).catch(function () { /* the next change or the submit keeps it */ });
  }
  form.addEventListener("change", function () {
    clearTimeout(timer);
    timer = setTimeout(keep, 200);
  });
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(keep, 1500);
  });
})();
