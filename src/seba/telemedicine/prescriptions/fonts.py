"""Bengali and English text on fpdf2 pages: the Noto fonts, script runs and text shaping.

Bengali needs two things to be readable: a font that has the glyphs (Noto Sans Bengali, bundled
in ``seba/data/fonts`` under the SIL Open Font License) and text shaping (HarfBuzz through
fpdf2), without which conjuncts such as ক্ষ fall apart into letter + virama + letter and vowel
signs such as ি sit after their consonant instead of before it. Latin text uses Noto Sans;
fpdf2's font fallback switches font per character, so a typed line may mix both scripts.

Knows nothing of prescriptions: the e-prescription (``prescription_pdf``) lays its page out
with these calls.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from pathlib import Path

from fpdf import FPDF
from fpdf.line_break import Fragment
from fpdf.text_region import Paragraph

from seba.data import DATA_DIR

__all__ = [
    "BENGALI",
    "BUNDLED_FONT_DIR",
    "FONT_DIR_ENV",
    "LATIN",
    "TOTAL_PAGES",
    "SearchableShapedText",
    "bilingual_pdf",
    "font_search_path",
    "printable",
    "set_font_for",
    "write_runs",
]

FONT_DIR_ENV = "SEBA_FONT_DIR"
# fpdf2 subsets fonts with fontTools, which logs each step at INFO: ~140 lines per PDF in a
# server logging at INFO. Its warnings still come through.
logging.getLogger("fontTools").setLevel(logging.WARNING)
# Bundled with the code (copied from Debian's fonts-noto-core), so a fresh machine prints
# correct Bengali without system fonts, and every deployment prints the same glyphs.
BUNDLED_FONT_DIR = DATA_DIR / "fonts"

# fpdf2 family names. Each stretch of text is set in the font of its script (see _runs), and
# fpdf2's fallback catches any character that font lacks.
LATIN = "NotoSans"
BENGALI = "NotoSansBengali"
_FONT_FILES: dict[tuple[str, str], str] = {
    (LATIN, ""): "NotoSans-Regular.ttf",
    (LATIN, "B"): "NotoSans-Bold.ttf",
    (BENGALI, ""): "NotoSansBengali-Regular.ttf",
    (BENGALI, "B"): "NotoSansBengali-Bold.ttf",
}
# fpdf2 keeps a character in the current font whenever that font has it. Noto Sans has ZWNJ, ZWJ
# and the dotted circle, so a Bengali word containing them (র‍্যাব uses ZWJ) set in a Latin
# stretch would be cut into separately shaped pieces and lose its conjuncts. Hiding them from the
# Latin font sends them to the Bengali one; they are invisible or Indic-only anyway.
_LATIN_RANGE = [(0x0000, 0x200B), (0x200E, 0x25CB), (0x25CD, 0xFFFF)]


# ----------------------------------------------------------------------------------------------
# Fonts


def font_search_path() -> list[Path]:
    """Where the fonts are looked for: ``$SEBA_FONT_DIR`` alone when set, else the bundled ones.

    An explicit ``SEBA_FONT_DIR`` is not silently supplemented by the bundled folder: a
    deployment that brings its own fonts should fail loudly if they are missing, not print
    with another set.
    """
    configured = os.environ.get(FONT_DIR_ENV)
    if configured:
        return [Path(configured)]
    return [BUNDLED_FONT_DIR]


def _font_files() -> dict[tuple[str, str], Path]:
    found: dict[tuple[str, str], Path] = {}
    missing: list[str] = []
    search = font_search_path()
    for key, name in _FONT_FILES.items():
        path = next((folder / name for folder in search if (folder / name).is_file()), None)
        if path is None:
            missing.append(name)
        else:
            found[key] = path
    if missing:
        folders = ", ".join(str(folder) for folder in search)
        raise RuntimeError(
            f"Prescription fonts not found: {', '.join(missing)} (looked in {folders}). "
            f"Point {FONT_DIR_ENV} at a folder holding these Noto Sans files, or unset it to "
            "use the fonts bundled in seba/data/fonts."
        )
    return found


class _SearchableFragment(Fragment):
    """A fragment whose shaped Bengali carries its text as written (``/ActualText``).

    Shaping replaces characters by glyphs: a conjunct is one glyph, a pre-base vowel sign is
    drawn before its consonant. The font's ToUnicode map can only name a glyph's characters, so
    search, copy and screen readers get the glyphs' order and pieces ("সে বা" for "সেবা"). A
    marked-content span with ActualText (PDF 32000-1 §14.9.4) tells them the real text; it sits
    inside the text object the fragment is drawn in, as the standard requires.
    """

    def render_pdf_text(self, *args, **kwargs) -> str:
        drawn = super().render_pdf_text(*args, **kwargs)
        text = self.string
        if not drawn or not self.text_shaping_parameters or not _has_bengali(text):
            return drawn
        actual = (b"\xfe\xff" + text.encode("utf-16-be")).hex().upper()
        return f"/Span <</ActualText <{actual}>>> BDC {drawn} EMC"


class SearchableShapedText(FPDF):
    """An FPDF whose shaped Bengali text extracts as written (see ``_SearchableFragment``).

    Fragments are made when text is split into runs; line breaking clones them with their own
    class, so setting the class here covers every line a fragment ends up on.
    """

    def _parse_chars(self, text, markdown, **kwargs):
        for fragment in super()._parse_chars(text, markdown, **kwargs):
            if type(fragment) is Fragment:
                fragment.__class__ = _SearchableFragment
            yield fragment


def bilingual_pdf(pdf: FPDF | None = None) -> FPDF:
    """Register the Latin and Bengali fonts on ``pdf`` (a new A4 ``FPDF`` when None), each the
    fallback of the other, with text shaping on; the current font is Noto Sans regular, 10 pt.

    Raises RuntimeError when a font file is missing.
    """
    pdf = pdf or FPDF(orientation="P", unit="mm", format="A4")
    for (family, style), path in _font_files().items():
        unicode_range = _LATIN_RANGE if family == LATIN else None
        pdf.add_font(family, style, str(path), unicode_range=unicode_range)
    pdf.set_fallback_fonts([LATIN, BENGALI], exact_match=True)
    pdf.set_text_shaping(True)
    pdf.set_font(LATIN, "", 10)
    return pdf


# ----------------------------------------------------------------------------------------------
# Text preparation

# Control characters, and the private-use area: the total-pages alias lives there, so typed
# text can never contain it (fpdf2 replaces the alias wherever it appears, "{nb}" by default).
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ue000-\uf8ff]")
# One character: fpdf2 reserves the width of one digit for it, right for fewer than ten pages.
TOTAL_PAGES = "\ue000"
# Danda, double danda, the joiners and the dotted circle belong with Bengali text.
_BENGALI_MARKS = frozenset({0x0964, 0x0965, 0x200C, 0x200D, 0x25CC})


def printable(text: str | None) -> str:
    """Typed text as printable: CRLF and tabs normalised, other control and private-use
    characters dropped."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _UNPRINTABLE.sub("", text).strip()


def _script_family(char: str) -> str | None:
    """The family a letter is set in, or None for spaces, digits and punctuation."""
    code = ord(char)
    if 0x0980 <= code <= 0x09FF or code in _BENGALI_MARKS:
        return BENGALI
    if unicodedata.category(char)[0] in "LM":
        return LATIN
    return None


def _runs(text: str) -> list[tuple[str, str]]:
    """``text`` cut into (family, stretch) pieces, one per change of script.

    Spaces, digits and punctuation stay in the stretch they follow, so a Bengali phrase is one
    shaped run. This matters for speed as well as looks: fpdf2 re-measures every piece of a
    line for each character it adds, and a per-word split made long advice take seconds.
    """
    runs: list[tuple[str, list[str]]] = []
    leading: list[str] = []
    for char in text:
        family = _script_family(char)
        if family is None:
            (runs[-1][1] if runs else leading).append(char)
        elif runs and runs[-1][0] == family:
            runs[-1][1].append(char)
        else:
            runs.append((family, [*leading, char]))
            leading = []
    if leading:
        runs.append((LATIN, leading))
    return [(family, "".join(chars)) for family, chars in runs]


def _family_for(text: str) -> str:
    """The main family for a one-call text (a cell): the script with more letters."""
    bengali = latin = 0
    for char in text:
        family = _script_family(char)
        if family == BENGALI:
            bengali += 1
        elif family == LATIN:
            latin += 1
    return BENGALI if bengali > latin else LATIN


def _has_bengali(text: str) -> bool:
    return any(_script_family(char) == BENGALI for char in text)


# ----------------------------------------------------------------------------------------------
# Setting text


def set_font_for(pdf: FPDF, text: str, style: str, size: float) -> None:
    """Select the font for a one-call text, shaping it only when it holds Bengali.

    Latin needs no shaping (Noto Sans's kerning aside), and fpdf2 measures unshaped text from a
    width table instead of calling HarfBuzz for every character it lays out (about a fifth of
    the render time on a typical prescription). ``pdf`` must have been through bilingual_pdf.
    """
    family = _family_for(text)
    pdf.set_font(family, style, size)
    pdf.set_text_shaping(family == BENGALI or _has_bengali(text))


def write_runs(pdf: FPDF, paragraph: Paragraph, text: str, style: str, size: float) -> None:
    """Append ``text`` to ``paragraph``, each script run in its own font; ``pdf`` must have
    been through bilingual_pdf."""
    for family, stretch in _runs(text):
        pdf.set_font(family, style, size)
        pdf.set_text_shaping(family == BENGALI)  # per fragment: see set_font_for
        paragraph.write(stretch)
