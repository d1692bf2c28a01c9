"""French elision of the names the portal puts into French sentences: "l'offre de %(partner)s"
with Adatum reads "l'offre d'Adatum", not "de Adatum" (issue 16). A translator elides the words
they write; a name is only known when the sentence is made, so the finished text is corrected
here, once, for the pages (`FrenchElisionMiddleware`) and the e-mails (`portal.emails`).

Only a lower-case "de", "que" or word ending in "que" elides, before a word starting with a
vowel, and only after a word of the sentence's own (lower-case, or elided itself: "l'offre de
Adatum"), so that a name that holds "de" keeps its spelling: "Maria De Andrade", "Banco de Oro".
An e-mail address or a link is left as it is, and so is the "h" (aspiré or not: names rarely
start with a mute one, and "de Hachette" is right).
"""

import re

from django.utils import translation

APOSTROPHE = "\u2019"
VOWELS = "AEIOUÉÈÊËÀÂÎÏÔÛŒaeiouéèêëàâîïôûœ"
# "de" (or "que"…) with the word before it, if any, and the word after it. Not before "y":
# "de Yvette" stays.
_ELIDABLE = re.compile(
    rf"(?:(\S+)(\s+))?(?<!\S)(de|que|jusque|lorsque|puisque) (?=[{VOWELS}])(\S+)"
)
_ELIDED_START = re.compile(rf"^(?:[ldjmnst]|qu|jusqu|lorsqu|puisqu)[{APOSTROPHE}']", re.I)


def _of_the_sentence(word: str | None) -> bool:
    """Whether the word before "de" is the sentence's own, not part of a name: none (the text
    starts there), a lower-case word, an elided one ("L'offre"), or one that ends a clause."""
    return (
        not word or word[0].islower() or bool(_ELIDED_START.match(word)) or word[-1] in ".,;:!?»("
    )


# Parts of an HTML page whose text is not prose: left alone.
_RAW = re.compile(
    r"<!--.*?-->"
    r"|<(script|style|textarea|pre)\b.*?</\1\s*>"
    r"|<(?:[^>\"']|\"[^\"]*\"|'[^']*')*>",
    re.DOTALL | re.I,
)


def _elide(match: re.Match) -> str:
    before, space, word, following = match.groups()
    if "@" in following or "/" in following or not _of_the_sentence(before):
        return match.group(0)
    return f"{before or ''}{space or ''}{word[:-1]}{APOSTROPHE}{following}"


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
