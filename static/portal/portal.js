// Small page helpers that need no framework. The language switcher submits as soon as a language
// is picked; its button stays for people without JavaScript.
(function () {
  "use strict";
  var select = document.getElementById("language-select");
  var button = document.getElementById("language-submit");
  if (select && button) {
    button.classList.add("d-none");
    select.addEventListener("change", function () { select.form.submit(); });
  }
})();
