// Step 2: an error goes away as soon as its field is put right — under the field and in the
// summary at the top — instead of staying until the next "Create my account". The browser's own
// checks (required, e-mail, length) decide for most fields, the availability check for the
// domain prefix; the server checks everything again anyway.
(function () {
  "use strict";
  var form = document.querySelector("form[data-step2-errors]");
  if (!form) return;

  function clear(field) {
    field.classList.remove("is-invalid");
    field.removeAttribute("aria-invalid");
    var group = field.closest(".mb-3") || field.parentElement;
    group.querySelectorAll(".invalid-feedback").forEach(function (el) { el.remove(); });
    var summary = document.querySelector("[data-error-summary]");
    if (!summary) return;
    summary.querySelectorAll("a[href='#" + field.id + "']").forEach(function (link) {
      link.closest("li").remove();
    });
    if (!summary.querySelector("li")) summary.remove();
  }

  form.querySelectorAll(".is-invalid").forEach(function (field) {
    var sent = field.value;
    if (field.hasAttribute("data-domain-check")) {
      // Cleared when the availability check says this prefix is free (domain_check.js).
      field.addEventListener("domain-checked", function (event) {
        if (event.detail.available && field.value !== sent) clear(field);
      });
      return;
    }
    function check() {
      if (field.value !== sent && field.value.trim() && field.checkValidity()) clear(field);
    }
    field.addEventListener("input", check);
    field.addEventListener("change", check);
  });
  form.dataset.step2ErrorsReady = "1";
})();
