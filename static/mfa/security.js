// The security page: once django-otp-webauthn's script has registered a passkey, reload the page
// so that it lists the new passkey (marked, with its link to rename it). The print button of the
// recovery codes. No inline script: the strict CSP allows none.
(function () {
  "use strict";
  document.addEventListener("otp_webauthn.register_complete", function (event) {
    var url = new URL(window.location.href);
    url.searchParams.set("added", event.detail && event.detail.id ? event.detail.id : "");
    window.location.assign(url.toString());
  });
  var print = document.getElementById("recovery-codes-print");
  if (print) {
    print.hidden = false;
    print.addEventListener("click", function () { window.print(); });
  }
})();
