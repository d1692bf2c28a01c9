"""Give the French catalogue French typography. `make messages` runs it between extracting and
compiling; read the diff it makes.

    .venv/bin/python scripts/french_typography.py [locale/fr/LC_MESSAGES/django.po]

The portal's convention (tests/portal/test_typography.py checks it):
- a no-break space (U+00A0) before « : » and « ; », and inside « guillemets »;
- a narrow no-break space (U+202F) before « ? » and « ! »;
- the typographic apostrophe (U+2019), never the straight one (U+0027).
Placeholders (%(name)s, {name}), HTML tags, URLs and times (10:15) are left as they are. The
script only rewrites msgstr (run by hand, compile with `manage.py compilemessages` afterwards).
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib

NBSP = "\u00a0"
NNBSP = "\u202f"
SPACES = " " + NBSP + NNBSP
BEFORE = {":": NBSP, ";": NBSP, "?": NNBSP, "!": NNBSP}
# Text that typography must not touch: placeholders, markup, addresses and clock times.
PROTECTED = re.compile(
    r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]"  # %(name)s
    r"|%[-#0 +]*\d*(?:\.\d+)?[sdfir]"  # %s, %d
    r"|\{[^{}]*\}"  # {name}
    r"|<[^<>]*>"  # <a href='…'>
    r"|\w+://\S+"  # URLs
    r"|\b\d{1,2}:\d{2}\b"  # 10:15
)


def _protected(text: str) -> list[bool]:
    mask = [False] * len(text)
    for match in PROTECTED.finditer(text):
        for index in range(match.start(), match.end()):
            mask[index] = True
    return mask


def french_typography(text: str) -> str:
    mask = _protected(text)
    out: list[str] = []
    for index, char in enumerate(text):
        if mask[index]:
            out.append(char)
            continue
        if char == "'":
            out.append("\u2019")
            continue
        if char in BEFORE or char == "»":
            space = BEFORE.get(char, NBSP)
            previous = out[-1] if out else ""
            if previous in SPACES and previous:
                out[-1] = space
            elif previous and previous not in BEFORE:  # "?!" stays together
                out.append(space)
            out.append(char)
            continue
        if out and out[-1] == "«":
            if char in SPACES:
                out.append(NBSP)
                continue
            out.append(NBSP)
        out.append(char)
    return "".join(out)


def main(path: str) -> int:
    po = polib.pofile(path, wrapwidth=79)
    changed = 0
    for entry in po:
        if entry.msgstr:
            fixed = french_typography(entry.msgstr)
            changed += fixed != entry.msgstr
            entry.msgstr = fixed
        for form, text in entry.msgstr_plural.items():
            fixed = french_typography(text)
            changed += fixed != text
            entry.msgstr_plural[form] = fixed
    po.save(path)
    if shutil.which("msgcat"):  # GNU gettext's own line wrapping, as makemessages writes it
        subprocess.run(["msgcat", "--output-file", path, path], check=True)  # noqa: S603,S607
    print(f"{changed} translations changed in {path}")
    return 0


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[1] / "locale" / "fr" / "LC_MESSAGES" / "django.po"
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else str(default)))
