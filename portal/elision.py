"""French elision of the names the portal puts into French sentences: "l'offre de %(partner)s"
with Adatum reads "l'offre d'Adatum", not "de Adatum" (issue 16). A translator elides the words
they write; a name is only known when the sentence is made, so the finished text is corrected
here, once, for the pages (`FrenchElisionMiddleware`) and the e-mails (`portal.emails`).

Only "de", "que" and the words ending in "que" elide, before a word starting with a vowel; an
e-mail address or a link is left as it is, and so is the "h" (aspiré or not: names rarely start
with a mute one, and "de Hachette" is right).
"""

import re

from django.utils import translation

APOSTROPHE = "\u2019"
VOWELS = "AEIOUÉÈÊËÀÂÎÏÔÛŒaeiouéèêëàâîïôûœ"
# Not before "y": "de Yvette" stays.
_ELIDABLE = re.compile(
    rf"(?<![\w{APOSTROPHE}'-])(de|De|que|Que|jusque|lorsque|puisque) (?=[{VOWELS}])(\S+)"
)
# Parts of an HTML page whose text is not prose: left alone.
_RAW = re.compile(r"(<(script|style|textarea|pre)\b.*?</\2\s*>|<[^>]*>)", re.DOTALL | re.I)


def _elide(match: re.Match) -> str:
    word, following = match.group(1), match.group(2)
    if "@" in following or "/" in following:
        return match.group(0)
    return f"{word[:-1]}{APOSTROPHE}{following}"


def french_elision(text: str) -> str:
    """Plain text with its missing elisions made."""
    return _ELIDABLE.sub(_elide, text)


def french_elision_html(html: str) -> str:
    """An HTML page's text with its missing elisions made; tags, scripts, styles, text areas
    and preformatted text unchanged."""
    out, start = [], 0
    for raw in _RAW.finditer(html):
        out += [french_elision(html[start : raw.start()]), raw.group(0)]
        start = raw.end()
    out.append(french_elision(html[start:]))
    return "".join(out)


class FrenchElisionMiddleware:
    """French HTML pages get their elisions (see the module's docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            translation.get_language() == "fr"
            and not response.streaming
            and response.get("Content-Type", "").startswith("text/html")
            and response.status_code == 200
        ):
            charset = response.charset or "utf-8"
            response.content = french_elision_html(response.content.decode(charset)).encode(charset)
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        return response
