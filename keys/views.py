from django.shortcuts import render

from keys.forms import KeyCheckForm
from keys.services import KeyGuessLimitReached, LookupStatus, key_check
from portal.access import partner_required


def too_many_guesses(request, error: KeyGuessLimitReached):
    return render(request, "keys/too_many_guesses.html", {"until": error.until}, status=429)


@partner_required
def check_key(request):
    """Look a key card up before redeeming it: product, seats and term, or why not."""
    form = KeyCheckForm(request.POST or None)
    lookup = None
    if request.method == "POST" and form.is_valid():
        try:
            lookup = key_check(
                user=request.user,
                partner=request.partner,
                raw=form.cleaned_data["key"],
                client_address=request.client_address,
            )
        except KeyGuessLimitReached as error:
            return too_many_guesses(request, error)
        if lookup.status is not LookupStatus.USABLE:
            form.add_error("key", lookup.message)
            lookup = None
    return render(request, "keys/check_key.html", {"form": form, "lookup": lookup})
