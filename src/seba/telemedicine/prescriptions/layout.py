"""The e-prescription's page: grid, colours, bilingual wording, text calls, header and footer.

What ``prescription_pdf`` builds its pages from: the A4 grid and palette, the Bengali / English
words for the codes a prescription carries (mode, sex, dosage form, vital sign), how typed ages,
dates and names are printed, the calls that write a label and value, a heading, a one-line cell
or a rule, and what every page carries: the header (on page 1 with the verification QR symbol)
and the footer. Pure: it reads no database; the body of the document is laid out in
``prescription_pdf``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import segno
from fpdf import FPDF
from fpdf.enums import Align, MethodReturnValue, WrapMode
from fpdf.text_region import Paragraph, TextColumns

from seba.core.i18n import bn_digits
from seba.telemedicine.prescriptions.fonts import TOTAL_PAGES, printable, set_font_for, write_runs
from seba.vocabulary import (
    DOSAGE_FORM_LABELS,
    FREQUENCY_LABELS,
    PATIENT_SEX_LABELS,
    bilingual,
    dose_in,
    read_term,
)

if TYPE_CHECKING:
    from seba.telemedicine.prescriptions.document import PrescriptionDocument

INDIA_TZ = ZoneInfo("Asia/Kolkata")

# Layout, millimetres on A4 portrait.
PAGE_W = 210.0
MARGIN = 14.0
TOP = 12.0
BOTTOM = 16.0
CONTENT_W = PAGE_W - 2 * MARGIN

TEAL = (0, 92, 110)
GREY = (95, 95, 95)
RULE = (170, 180, 185)
STRIPE = (240, 245, 246)
BLACK = (0, 0, 0)

# (x, y, side) of the QR symbol on page 1, without its quiet zone; tests read the modules back
# from the rendered page at this place. Text keeps >= 4 modules away (the QR quiet zone).
QR_BOX = (PAGE_W - MARGIN - 32.0, TOP + 2.0, 30.0)
_QR_COLUMN_W = 36.0  # the code and "scan to verify" are centred under the symbol in this width

LABEL_PT = 7.5
VALUE_PT = 9.5
LINE_HEIGHT = 1.3  # text regions: line height as a multiple of the largest font on the line

# ----------------------------------------------------------------------------------------------
# Words

MODES = {
    "video": ("ভিডিও", "video"),
    "audio": ("অডিও", "audio"),
    "text": ("টেক্সট", "text"),
}
CONSULT_KINDS = {
    "first": "প্রথম পরামর্শ / First consultation",
    "follow_up": "ফলো-আপ পরামর্শ / Follow-up consultation",
}
VITALS = {
    "bp": "রক্তচাপ / BP",
    "blood pressure": "রক্তচাপ / BP",
    "pulse": "নাড়ি / Pulse",
    "temperature": "তাপমাত্রা / Temperature",
    "temp": "তাপমাত্রা / Temperature",
    "spo2": "অক্সিজেন / SpO2",
    "weight": "ওজন / Weight",
    "height": "উচ্চতা / Height",
    "blood glucose": "রক্তে শর্করা / Blood glucose",
    "glucose": "রক্তে শর্করা / Blood glucose",
    "respiratory rate": "শ্বাসের হার / Respiratory rate",
    "resp. rate": "শ্বাসের হার / Respiratory rate",
}


# One-letter sexes a record may carry.
_SEX_LETTERS = {"m": "male", "f": "female", "o": "other"}


def bilingual_term(table: dict[str, str], value: str) -> str:
    """A known code (vital) in both languages; anything else exactly as typed."""
    cleaned = printable(value)
    return table.get(cleaned.casefold(), cleaned)


def bilingual_sex(value: str) -> str:
    """The patient's sex in the vocabulary's words, both languages; anything else as typed."""
    cleaned = printable(value)
    code = _SEX_LETTERS.get(cleaned.casefold()) or read_term(PATIENT_SEX_LABELS, cleaned)
    return bilingual(PATIENT_SEX_LABELS, code) if code else cleaned


def _bilingual_typed(table: Mapping[str, str], value: str) -> str:
    cleaned = printable(value)
    code = read_term(table, cleaned)
    return bilingual(table, code) if code else cleaned


def bilingual_form(value: str) -> str:
    """A dosage form in the vocabulary's words, both languages ("ট্যাবলেট / Tablet"), whichever
    language it was typed in; a form the vocabulary does not know, as typed."""
    return _bilingual_typed(DOSAGE_FORM_LABELS, value)


def bilingual_dose(value: str) -> str:
    """A dose as an amount and a known unit in both languages ("১ ট্যাবলেট / 1 tablet");
    anything else as typed."""
    cleaned = printable(value)
    bengali, english = dose_in(cleaned, "bn"), dose_in(cleaned, "en")
    return f"{bengali} / {english}" if bengali != english else cleaned


def bilingual_frequency(value: str) -> str:
    """How often, as ``bilingual_form`` does it ("দিনে দুবার / twice a day")."""
    return _bilingual_typed(FREQUENCY_LABELS, value)


def two_lines(bilingual: str, size: float) -> list[tuple[str, str, float]]:
    """ "বাংলা / English" as two (text, style, size) lines for a narrow cell; other text as it
    is."""
    bengali, sep, english = bilingual.partition(" / ")
    if sep:
        return [(bengali, "", size), (english, "", size)]
    return [(bilingual, "", size)]


_LATIN_DIGITS = str.maketrans("০১২৩৪৫৬৭৮৯", "0123456789")
# An age as typed: a number and an optional unit, in English or Bengali ("34", "34 y",
# "৭ বছর", "8 months", "10 দিন"); a unit not listed leaves the age unparsed.
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([^\d\s.]*)\.?\s*$")
_AGE_UNITS: tuple[tuple[tuple[str, ...], float], ...] = (
    (("", "y", "yr", "yrs", "year", "years", "বছর", "বৎসর"), 1.0),
    (("m", "mo", "mon", "month", "months", "মাস"), 1 / 12),
    (("w", "wk", "wks", "week", "weeks", "সপ্তাহ"), 7 / 365),
    (("d", "day", "days", "দিন"), 1 / 365),
)


def age_in_years(value: str) -> float | None:
    """The age in years when it is written as a number with a known unit, else None."""
    match = _AGE.match(printable(value).translate(_LATIN_DIGITS))
    if not match:
        return None
    unit = match.group(2).casefold()
    for names, factor in _AGE_UNITS:
        if unit in names:
            return float(match.group(1)) * factor
    return None


def bilingual_age(value: str) -> str:
    """A bare number of years in both languages; any other typed age exactly as typed."""
    cleaned = printable(value)
    latin = cleaned.translate(_LATIN_DIGITS)
    if latin.isascii() and latin.isdigit():
        return f"{bn_digits(latin)} বছর / {latin} years"
    return cleaned


def india_time(moment: datetime) -> str:
    """``moment`` (timezone-aware) as date and time in India."""
    # TPG asks for the date; the time matters when one patient has two consults in a day.
    return moment.astimezone(INDIA_TZ).strftime("%d %b %Y, %H:%M IST")


def bilingual_date(value: date) -> str:
    return f"{bn_digits(value.strftime('%d-%m-%Y'))} / {value.strftime('%d %b %Y')}"


def bilingual_name(bengali: str, english: str) -> str:
    """``বাংলা / English``, or the one given when the other is empty or the same."""
    bengali, english = printable(bengali), printable(english)
    if bengali and english and bengali != english:
        return f"{bengali} / {english}"
    return bengali or english


# ----------------------------------------------------------------------------------------------
# Writing text; ``pdf`` has been through pdf_fonts.bilingual_pdf.


def text_region(
    pdf: FPDF, left: float = MARGIN, right: float = MARGIN, ncols: int = 1
) -> TextColumns:
    pdf.set_x(left)  # a region's first line starts at the current x
    return pdf.text_columns(
        l_margin=left,
        r_margin=right,
        ncols=ncols,
        gutter=8.0,
        text_align="LEFT",
        line_height=LINE_HEIGHT,
        wrapmode=WrapMode.WORD,
    )


def write_text(
    pdf: FPDF, paragraph: Paragraph, text: str, style: str, size: float, color: tuple[int, ...]
) -> None:
    pdf.set_text_color(*color)
    write_runs(pdf, paragraph, text, style, size)


def write_field(
    pdf: FPDF, region: TextColumns, label: str, value: str, *, bold: bool = False
) -> None:
    """``label: value`` as one paragraph: grey label, black value, wrapped by words."""
    with region.paragraph(bottom_margin=0.8) as paragraph:
        write_text(pdf, paragraph, f"{label}: ", "", LABEL_PT, GREY)
        write_text(pdf, paragraph, value or "—", "B" if bold else "", VALUE_PT, BLACK)


def write_heading(pdf: FPDF, region: TextColumns, text: str) -> None:
    with region.paragraph(bottom_margin=0.8) as paragraph:
        write_text(pdf, paragraph, text, "B", 10, TEAL)


def write_cell(
    pdf: FPDF,
    width: float,
    height: float,
    text: str,
    style: str,
    size: float,
    *,
    align: Align = Align.L,
) -> None:
    """One line of text at the current position, which then moves right by ``width``."""
    set_font_for(pdf, text, style, size)
    x, y = pdf.get_x(), pdf.get_y()
    pdf.cell(width, height, text, align=align)
    pdf.set_xy(x + width, y)


def text_height(pdf: FPDF, width: float, text: str, style: str, size: float) -> float:
    """The height ``text`` takes wrapped in ``width`` at ``size`` pt (an empty text as "—")."""
    set_font_for(pdf, text, style, size)
    if "\n" not in text and pdf.get_string_width(text or "—") <= width - 2 * pdf.c_margin:
        return size * 0.45  # one line: a single measurement instead of a trial layout
    lines = pdf.multi_cell(
        width, size * 0.45, text or "—", dry_run=True, output=MethodReturnValue.LINES, padding=0
    )
    return len(lines) * size * 0.45


def draw_rule(pdf: FPDF, gap: float = 2.5) -> None:
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.3)
    pdf.line(MARGIN, pdf.get_y(), PAGE_W - MARGIN, pdf.get_y())
    pdf.set_line_width(0.2)
    pdf.ln(gap)


# ----------------------------------------------------------------------------------------------
# What every page carries: the header (on page 1 with the QR symbol), the footer


def qr_code(url: str) -> segno.QRCode:
    """The QR symbol printed for ``url``: a full QR code (never Micro QR), level M or better."""
    return segno.make_qr(url, error="m")


def _draw_qr(pdf: FPDF, url: str) -> float:
    """Draw the QR symbol in QR_BOX as vector squares; returns the module size."""
    qr_x, qr_y, side = QR_BOX
    matrix = qr_code(url).matrix
    module = side / len(matrix)
    pdf.set_fill_color(*BLACK)
    for row_index, row in enumerate(matrix):
        # One rectangle per horizontal run of dark modules. A hair of overlap into the next row
        # hides anti-aliasing seams between rows; no edge a scanner reads moves.
        overlap = 0.02 if row_index + 1 < len(matrix) else 0.0
        col = 0
        while col < len(row):
            if not row[col]:
                col += 1
                continue
            start = col
            while col < len(row) and row[col]:
                col += 1
            x = qr_x + start * module
            pdf.rect(x, qr_y + row_index * module, (col - start) * module, module + overlap, "F")
    return module


def draw_first_page_header(pdf: FPDF, doc: PrescriptionDocument) -> None:
    qr_x, qr_y, side = QR_BOX
    module = _draw_qr(pdf, printable(doc.verify_url))
    quiet = 4 * module  # the quiet zone QR readers need around the symbol

    # Under the symbol, clear of its quiet zone: the code a pharmacist can also type.
    column_x = qr_x + side / 2 - _QR_COLUMN_W / 2
    y = qr_y + side + quiet
    for text, style, size, height, color in (
        ("যাচাই কোড / Verification code", "", 7.0, 3.5, GREY),
        (printable(doc.verification_code), "B", 11.0, 5.5, BLACK),
        ("যাচাই করতে স্ক্যান করুন", "", 7.0, 3.5, GREY),
        ("Scan to verify", "", 7.0, 3.5, GREY),
    ):
        pdf.set_xy(column_x, y)
        pdf.set_text_color(*color)
        write_cell(pdf, _QR_COLUMN_W, height, text, style, size, align=Align.C)
        y += height
    qr_column_bottom = y

    # Left of the symbol and its quiet zone: who issues what, and when.
    width = qr_x - quiet - MARGIN
    pdf.set_xy(MARGIN, TOP)
    pdf.set_text_color(*TEAL)
    write_cell(pdf, width, 9, "সেবা · Seba", "B", 18)
    pdf.set_xy(MARGIN, TOP + 9)
    pdf.set_text_color(*GREY)
    write_cell(pdf, width, 4.5, "স্বাস্থ্য ইঙ্গিত টেলিপরামর্শ / Swasthya Ingit teleconsultation", "", 8.5)
    pdf.set_xy(MARGIN, TOP + 15)
    pdf.set_text_color(*BLACK)
    write_cell(pdf, width, 8, "ই-প্রেসক্রিপশন / e-Prescription", "B", 15)
    mode_bn, mode_en = MODES[doc.mode]
    lines = (
        ("তারিখ ও সময় / Date & time", india_time(doc.issued_at)),
        ("টেলিপরামর্শ / Teleconsultation", f"{mode_bn} / {mode_en.capitalize()}"),
        ("ধরন / Type", CONSULT_KINDS[doc.consult_kind]),
    )
    y = TOP + 24.5
    for label, value in lines:
        pdf.set_xy(MARGIN, y)
        pdf.set_text_color(*GREY)
        label_text = f"{label}: "
        set_font_for(pdf, label_text, "", LABEL_PT)
        label_w = pdf.get_string_width(label_text)
        write_cell(pdf, label_w, 5, label_text, "", LABEL_PT)
        pdf.set_text_color(*BLACK)
        write_cell(pdf, width - label_w, 5, value, "", VALUE_PT)
        y += 5
    pdf.set_text_color(*BLACK)
    pdf.set_xy(MARGIN, max(y, qr_column_bottom) + 2)
    draw_rule(pdf)


def draw_continuation_header(pdf: FPDF, doc: PrescriptionDocument) -> None:
    # A loose later page still names the prescription and patient it belongs to.
    pdf.set_xy(MARGIN, TOP)
    pdf.set_text_color(*TEAL)
    write_cell(pdf, CONTENT_W * 0.55, 6, "সেবা · Seba — ই-প্রেসক্রিপশন / e-Prescription", "B", 10)
    pdf.set_text_color(*GREY)
    tail = f"{printable(doc.patient_name)} · {printable(doc.verification_code)}"
    write_cell(pdf, CONTENT_W * 0.45, 6, tail, "", 8, align=Align.R)
    pdf.set_text_color(*BLACK)
    pdf.set_xy(MARGIN, TOP + 7)
    draw_rule(pdf)


def draw_footer(pdf: FPDF, doc: PrescriptionDocument) -> None:
    """The running foot of every page: the verification code and "Page n / total"."""
    pdf.set_y(-BOTTOM + 4)
    pdf.set_draw_color(*RULE)
    pdf.line(MARGIN, pdf.get_y(), PAGE_W - MARGIN, pdf.get_y())
    pdf.set_text_color(*GREY)
    pdf.set_x(MARGIN)
    code = printable(doc.verification_code)
    write_cell(pdf, CONTENT_W / 2, 5, f"যাচাই কোড / Verification code: {code}", "", 7.5)
    page = f"পৃষ্ঠা / Page {pdf.page_no()} / {TOTAL_PAGES}"
    write_cell(pdf, CONTENT_W / 2, 5, page, "", 7.5, align=Align.R)
    pdf.set_text_color(*BLACK)
