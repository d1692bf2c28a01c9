// Small page helpers that need no framework.
//
// The language menu has no script on purpose: it changes the language only when its button is
// pressed, so that a choice made with the arrow keys does not reload the page under the person
// (WCAG 3.2.2, on input).
(function () {
  "use strict";

  // The error summary of a form sent back with errors (templates/portal/error_summary.html):
  // focused when the page opens, so that a screen reader reads it first and the keyboard starts
  // there. Its links move the focus into their field (a plain jump to #id only scrolls) and
  // bring the field's label into view with it.
  var summary = document.querySelector("[data-error-summary]");
  if (!summary) return;
  summary.focus();
  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    var field = link && document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    event.preventDefault();
    var label = document.querySelector("label[for='" + field.id + "']");
    (label || field).scrollIntoView();
    field.focus({ preventScroll: true });
  });
})();
