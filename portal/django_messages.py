"""Django's own messages that the portal's pages show, in the portal's French.

Listed here only so that `make messages` keeps them in the portal's catalogue: the catalogues of
LOCALE_PATHS come before Django's, so the portal's translation of the same msgid wins. The French
then says "adresse e-mail" (not "adresse de courriel"), "Entrez" as every other message of the
portal does (not "Saisissez"), and follows the portal's typography. Nothing imports this module;
tests/portal/test_typography.py checks that each msgid is still one of Django's.
"""

from django.utils.translation import gettext_noop

DJANGO_MESSAGES = [
    # Form fields (django.core.validators, django.forms)
    gettext_noop("Enter a valid email address."),
    gettext_noop("Enter a valid value."),
    # Signing in and passwords (django.contrib.auth.forms)
    gettext_noop(
        "Please enter a correct %(username)s and password. Note that both fields may be "
        "case-sensitive."
    ),
    gettext_noop("Enter the same password as before, for verification."),
    gettext_noop("Your old password was entered incorrectly. Please enter it again."),
    # The admin's sign-in (django.contrib.admin.forms)
    gettext_noop(
        "Please enter the correct %(username)s and password for a staff account. Note that both "
        "fields may be case-sensitive."
    ),
    # The page of a refused form submission (django.views.csrf)
    gettext_noop(
        "You are seeing this message because this HTTPS site requires a “Referer header” to be "
        "sent by your web browser, but none was sent. This header is required for security "
        "reasons, to ensure that your browser is not being hijacked by third parties."
    ),
    gettext_noop(
        "If you have configured your browser to disable cookies, please re-enable them, at least "
        "for this site, or for “same-origin” requests."
    ),
]
