// The periodic task form in the admin (django-celery-beat): under the crontab field, the chosen
// schedule in words. Moved out of django-celery-beat's inline script for the CSP.
(function ($) {
  "use strict";
  var readable = JSON.parse(document.getElementById("readable-crontabs").textContent);
  var originalHelp = JSON.parse(document.getElementById("crontab-help").textContent);
  var inWords = JSON.parse(document.getElementById("crontab-in-words").textContent);
  $(".field-crontab_translation").hide();
  $(".field-crontab").change(function () {
    var help = $(".field-crontab .help").empty();
    help.append(document.createTextNode(originalHelp), $("<br>"));
    help.append(document.createTextNode(inWords + " " + readable[$("#id_crontab").val()]));
  });
})(django.jQuery);
