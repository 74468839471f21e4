"""The e-prescription document: a bilingual (Bengali / English) A4 PDF, rendered from data.

A pure renderer: it reads no database and knows no routes. The caller (the prescription
service) has already run the rules engine; this module still refuses to print a document that
the Telemedicine Practice Guidelines 2020 (TPG) forbid to issue at all (no registration
number, no patient age, a prohibited drug), because a printed prescription is what a pharmacist
acts on.

This module holds the document, its refusals and its body, part by part, in page order;
``prescription_layout`` the page's grid, colours, bilingual wording and text calls, and the
header (with the verification QR symbol) and footer every page carries; ``pdf_fonts`` the
fonts and Bengali shaping. Their names that callers use are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from fpdf import FPDF
from fpdf.enums import Align

from seba.core.i18n import bn_digits
from seba.telemedicine.prescriptions.document import PrescriptionDocument, RxLine
from seba.telemedicine.prescriptions.fonts import (
    BENGALI,
    BUNDLED_FONT_DIR,
    FONT_DIR_ENV,
    LATIN,
    TOTAL_PAGES,
    SearchableShapedText,
    bilingual_pdf,
    font_search_path,
    printable,
    set_font_for,
)
from seba.telemedicine.prescriptions.layout import (
    BLACK,
    BOTTOM,
    CONSULT_KINDS,
    CONTENT_W,
    LINE_HEIGHT,
    MARGIN,
    MODES,
    PAGE_W,
    QR_BOX,
    RULE,
    STRIPE,
    TEAL,
    TOP,
    VALUE_PT,
    VITALS,
    age_in_years,
    bilingual_age,
    bilingual_date,
    bilingual_dose,
    bilingual_form,
    bilingual_frequency,
    bilingual_name,
    bilingual_sex,
    bilingual_term,
    draw_continuation_header,
    draw_first_page_header,
    draw_footer,
    draw_rule,
    india_time,
    qr_code,
    text_height,
    text_region,
    two_lines,
    write_cell,
    write_field,
    write_heading,
    write_text,
)

__all__ = [
    "BENGALI",
    "BUNDLED_FONT_DIR",
    "FONT_DIR_ENV",
    "LATIN",
    "QR_BOX",
    "PrescriptionDocument",
    "RxLine",
    "bilingual_pdf",
    "font_search_path",
    "qr_code",
    "render_prescription",
]

# TPG lists a prescription may carry; "prohibited" is never printed.
PRINTABLE_LISTS = {"O", "A", "B"}
ADULT_AGE = 18

# Rx table: (Bengali header, English header, width in mm); widths add up to CONTENT_W.
_RX_COLUMNS: tuple[tuple[str, str, float], ...] = (
    ("ক্রম", "No.", 9.0),
    ("ওষুধ (জেনেরিক নাম)", "Medicine (generic name)", 50.0),
    ("শক্তি", "Strength", 20.0),
    ("রূপ", "Form", 21.0),
    ("মাত্রা", "Dose", 22.0),
    ("কতবার", "Frequency", 27.0),
    ("কত দিন", "Duration", 18.0),
    ("তালিকা", "TPG list", 15.0),
)
_CELL_PAD = 1.2


def _check(doc: PrescriptionDocument) -> None:
    problems: list[str] = []
    # TPG 2020: the registration number is on every prescription; without it none is issued.
    if not printable(doc.doctor_registration):
        problems.append("the doctor's registration number is missing (TPG 2020)")
    if not printable(doc.doctor_name):
        problems.append("the doctor's name is missing")
    if not printable(doc.patient_name):
        problems.append("the patient's name is missing")
    # TPG 2020: the age is asked before prescribing.
    if not printable(doc.patient_age):
        problems.append("the patient's age is missing (TPG 2020)")
    years = age_in_years(doc.patient_age)
    if years is not None and years < ADULT_AGE and not printable(doc.adult_companion):
        # TPG 2020: a minor is consulted only with an identified adult. Ages written in
        # other ways are left to the rules engine, which holds the date of birth.
        problems.append("a minor's prescription needs the accompanying adult (TPG 2020)")
    if not printable(doc.verification_code) or not printable(doc.verify_url):
        problems.append("the verification code and URL are required")
    if doc.issued_at.tzinfo is None or doc.issued_at.utcoffset() is None:
        problems.append("issued_at must be timezone-aware")
    if doc.mode not in MODES:
        problems.append(f"mode must be one of {sorted(MODES)}")
    if doc.consult_kind not in CONSULT_KINDS:
        problems.append(f"consult_kind must be one of {sorted(CONSULT_KINDS)}")
    for number, item in enumerate(doc.items, start=1):
        if not printable(item.generic):
            problems.append(f"item {number}: the generic name is missing")
        if item.tpg_list not in PRINTABLE_LISTS:
            # Prohibited drugs (Schedule X, NDPS, anti-cancer) are never issued by telemedicine.
            problems.append(f"item {number}: TPG list {item.tpg_list!r} cannot be prescribed")
        if item.duration_days < 1:
            problems.append(f"item {number}: the duration must be at least one day")
    if problems:
        raise ValueError("Cannot issue this prescription: " + "; ".join(problems) + ".")


# ----------------------------------------------------------------------------------------------
# The document


class _PrescriptionPdf(SearchableShapedText):
    def __init__(self, doc: PrescriptionDocument) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.doc = doc
        self.rx_header_repeat = False  # True while the Rx table runs: new pages repeat its header

    def header(self) -> None:
        if self.page == 1:
            draw_first_page_header(self, self.doc)
        else:
            draw_continuation_header(self, self.doc)
        if self.rx_header_repeat:
            _rx_header(self)

    def footer(self) -> None:
        draw_footer(self, self.doc)


def render_prescription(doc: PrescriptionDocument) -> bytes:
    """The e-prescription as PDF bytes: A4, fonts subset, the same bytes for the same document.

    Raises ValueError when the document must not be issued (no registration number, no patient
    age, a prohibited or unnamed drug, a naive ``issued_at``, an unknown mode, an Rx line too
    long for a page) and RuntimeError when the fonts are not installed.
    """
    _check(doc)
    pdf = _PrescriptionPdf(doc)
    bilingual_pdf(pdf)
    pdf.set_margins(MARGIN, TOP, MARGIN)
    pdf.set_auto_page_break(True, margin=BOTTOM)
    pdf.alias_nb_pages(TOTAL_PAGES, align=Align.L)
    # The issue time as creation date makes the bytes, and so the file /ID, reproducible.
    pdf.set_creation_date(doc.issued_at)
    pdf.set_title(f"e-Prescription {printable(doc.verification_code)}")
    pdf.set_author(printable(doc.doctor_name))
    pdf.set_creator("Seba")
    pdf.set_lang("bn")
    pdf.add_page()
    _people(pdf, doc)
    _clinical(pdf, doc)
    _rx_table(pdf, doc.items)
    _after_rx(pdf, doc)
    _statement(pdf, doc)
    return bytes(pdf.output())


# -- doctor, patient, clinical notes ------------------------------------------------------------


def _doctor_fields(doc: PrescriptionDocument) -> Iterator[tuple[str, str, bool]]:
    yield "নাম / Name", printable(doc.doctor_name), True
    yield "যোগ্যতা / Qualification", printable(doc.doctor_qualification), False
    yield "রেজিস্ট্রেশন নং / Registration No.", printable(doc.doctor_registration), True
    if printable(doc.doctor_hpr_id):
        yield "HPR আইডি / HPR ID", printable(doc.doctor_hpr_id), False
    yield "হাব / Hub", bilingual_name(doc.hub_name_bn, doc.hub_name), False


def _patient_fields(doc: PrescriptionDocument) -> Iterator[tuple[str, str, bool]]:
    yield "নাম / Name", printable(doc.patient_name), True
    yield "বয়স / Age", bilingual_age(doc.patient_age), False
    yield "লিঙ্গ / Sex", bilingual_sex(doc.patient_sex), False
    yield "ফোন / Phone", printable(doc.patient_phone), False
    yield "ঠিকানা / Address", printable(doc.patient_address), False
    if printable(doc.patient_abha):
        yield "ABHA নম্বর / ABHA number", printable(doc.patient_abha), False
    if printable(doc.adult_companion):
        # TPG 2020: a minor is consulted only with an identified adult, named here.
        yield "সঙ্গী প্রাপ্তবয়স্ক / Accompanying adult", printable(doc.adult_companion), True


def _people(pdf: FPDF, doc: PrescriptionDocument) -> None:
    # Two columns; a column too long for the page flows on to the next page by itself.
    with text_region(pdf, ncols=2) as region:
        write_heading(pdf, region, "চিকিৎসক / Doctor")
        for label, value, bold in _doctor_fields(doc):
            write_field(pdf, region, label, value, bold=bold)
        region.new_column()
        write_heading(pdf, region, "রোগী / Patient")
        for label, value, bold in _patient_fields(doc):
            write_field(pdf, region, label, value, bold=bold)
    with text_region(pdf) as region:
        spoke = bilingual_name(doc.spoke_name_bn, doc.spoke_name)
        spoke += f" · সিএইচও / CHO: {printable(doc.cho_name)}"
        write_field(pdf, region, "স্পোক (স্বাস্থ্য কেন্দ্র) / Spoke (health centre)", spoke)
    pdf.set_x(MARGIN)
    pdf.ln(1)
    draw_rule(pdf)


def _clinical(pdf: FPDF, doc: PrescriptionDocument) -> None:
    vitals = "   ·   ".join(
        f"{bilingual_term(VITALS, label)} {printable(value)}" for label, value in doc.vitals
    )
    tests = "   ".join(
        f"({number}) {name}"
        for number, name in enumerate(
            (printable(test) for test in doc.investigations if printable(test)), start=1
        )
    )
    with text_region(pdf) as region:
        write_field(pdf, region, "প্রধান সমস্যা / Chief complaint", printable(doc.chief_complaint))
        write_field(pdf, region, "ইতিহাস / History", printable(doc.history))
        write_field(pdf, region, "ভাইটালস / Vitals", vitals)
        write_field(pdf, region, "পর্যবেক্ষণ / Findings", printable(doc.findings))
        write_field(
            pdf,
            region,
            "সম্ভাব্য রোগনির্ণয় / Provisional diagnosis",
            printable(doc.diagnosis),
            bold=True,
        )
        write_field(pdf, region, "পরীক্ষা-নিরীক্ষা / Investigations", tests)
    pdf.set_x(MARGIN)
    pdf.ln(2)


# -- the Rx table -------------------------------------------------------------------------------

_RX_HEADER_H = 9.0


def _rx_header(pdf: FPDF) -> None:
    top = pdf.get_y()
    pdf.set_fill_color(*TEAL)
    pdf.rect(MARGIN, top, CONTENT_W, _RX_HEADER_H, style="F")
    pdf.set_text_color(255, 255, 255)
    x = MARGIN
    for bengali, english, width in _RX_COLUMNS:
        pdf.set_xy(x + _CELL_PAD, top + 0.6)
        write_cell(pdf, width - 2 * _CELL_PAD, 4, bengali, "B", 7.5)
        pdf.set_xy(x + _CELL_PAD, top + 4.4)
        write_cell(pdf, width - 2 * _CELL_PAD, 4, english, "", 7)
        x += width
    pdf.set_text_color(*BLACK)
    pdf.set_xy(MARGIN, top + _RX_HEADER_H)


def _rx_cells(number: int, item: RxLine) -> list[list[tuple[str, str, float]]]:
    """Per column, the (text, style, size) lines of one table row."""
    medicine = [(printable(item.generic).upper(), "B", 9.5)]  # TPG: generic name in capitals
    if printable(item.name_bn):
        medicine.append((printable(item.name_bn), "", 8.5))
    days = item.duration_days
    return [
        [(str(number), "", 9)],
        medicine,
        [(printable(item.strength), "", 9)],
        two_lines(bilingual_form(item.form), 8.5),
        two_lines(bilingual_dose(item.dose), 8.5),
        two_lines(bilingual_frequency(item.frequency), 8.5),
        [(f"{bn_digits(days)} দিন", "", 8.5), (f"{days} day{'' if days == 1 else 's'}", "", 8.5)],
        [(item.tpg_list, "", 9)],
    ]


def _rx_table(pdf: _PrescriptionPdf, items: Sequence[RxLine]) -> None:
    if pdf.will_page_break(6 + _RX_HEADER_H + 12):
        pdf.add_page()  # the title, the header and a first row stay together
    pdf.set_text_color(*TEAL)
    write_cell(pdf, CONTENT_W, 6, "℞  ওষুধ / Medicines", "B", 10)
    pdf.set_xy(MARGIN, pdf.get_y() + 6)
    pdf.set_text_color(*BLACK)
    if not items:
        write_cell(pdf, CONTENT_W, 6, "কোনো ওষুধ দেওয়া হয়নি / No medicines prescribed", "", VALUE_PT)
        pdf.set_xy(MARGIN, pdf.get_y() + 8)
        return
    _rx_header(pdf)
    pdf.rx_header_repeat = True
    room = pdf.page_break_trigger - 40.0  # below a continuation header and the table header
    for number, item in enumerate(items, start=1):
        cells = _rx_cells(number, item)
        height = 2 * _CELL_PAD + max(
            sum(text_height(pdf, width - 2 * _CELL_PAD, *line) for line in cell)
            for (_bn, _en, width), cell in zip(_RX_COLUMNS, cells, strict=True)
        )
        if height > room:
            raise ValueError(f"Rx line {number} is too long to print on one page.")
        if pdf.will_page_break(height):
            pdf.add_page()  # header() repeats the table header
        top = pdf.get_y()
        if number % 2 == 0:
            pdf.set_fill_color(*STRIPE)
            pdf.rect(MARGIN, top, CONTENT_W, height, style="F")
        x = MARGIN
        for (_bn, _en, width), cell in zip(_RX_COLUMNS, cells, strict=True):
            y = top + _CELL_PAD
            for text, style, size in cell:
                pdf.set_xy(x + _CELL_PAD, y)
                set_font_for(pdf, text, style, size)
                pdf.multi_cell(
                    width - 2 * _CELL_PAD, size * 0.45, text or "—", align=Align.L, padding=0
                )
                y = pdf.get_y()
            x += width
        pdf.set_draw_color(*RULE)
        pdf.line(MARGIN, top + height, PAGE_W - MARGIN, top + height)
        pdf.set_xy(MARGIN, top + height)
    pdf.rx_header_repeat = False
    pdf.ln(3)


# -- after the table ----------------------------------------------------------------------------


def _after_rx(pdf: FPDF, doc: PrescriptionDocument) -> None:
    follow_up = bilingual_date(doc.follow_up_on) if doc.follow_up_on else "—"
    with text_region(pdf) as region:
        write_field(pdf, region, "উপদেশ / Advice", printable(doc.advice))
        write_field(pdf, region, "পরবর্তী সাক্ষাৎ / Follow-up on", follow_up, bold=True)
        write_field(pdf, region, "রেফারাল / Referral", printable(doc.referral) or "—")
    pdf.set_x(MARGIN)
    pdf.ln(2)


def _statement(pdf: FPDF, doc: PrescriptionDocument) -> None:
    mode_bn, mode_en = MODES[doc.mode]
    registration = printable(doc.doctor_registration)
    code = printable(doc.verification_code)
    lines = (
        (
            f"টেলিমেডিসিন পরামর্শে প্রদত্ত ({mode_bn}), টেলিমেডিসিন প্র্যাকটিস গাইডলাইনস ২০২০ অনুসারে।",
            "B",
        ),
        (
            f"Issued on a teleconsultation ({mode_en}) under the Telemedicine Practice "
            "Guidelines 2020.",
            "B",
        ),
        (
            f"ডিজিটালি প্রদত্ত / Issued digitally by {printable(doc.doctor_name)}, "
            f"{printable(doc.doctor_qualification)} · রেজিস্ট্রেশন নং / Reg. No. {registration} · "
            f"{india_time(doc.issued_at)}",
            "",
        ),
        (f"যাচাই করুন / Verify at {printable(doc.verify_url)} · যাচাই কোড / code {code}", ""),
    )
    size = 8.5
    inner = CONTENT_W - 8
    # Keep the statement and the doctor's identity on one page. One measurement per line (not a
    # trial render): word wrapping wastes at most about a tenth of a line's width.
    lines_needed = 0
    for text, style in lines:
        set_font_for(pdf, text, style, size)
        lines_needed += math.ceil(pdf.get_string_width(text) / (inner * 0.9))
    if pdf.will_page_break(lines_needed * size * 0.3528 * LINE_HEIGHT + len(lines) + 6):
        pdf.add_page()
    top, page = pdf.get_y(), pdf.page
    with text_region(pdf, left=MARGIN + 4, right=MARGIN + 4) as region:
        for text, style in lines:
            with region.paragraph(top_margin=0.5, bottom_margin=0.5) as paragraph:
                write_text(pdf, paragraph, text, style, size, TEAL if style else BLACK)
    bottom = pdf.get_y() + 1.5
    if pdf.page == page:  # drawn after the text, so a frame only: a fill would hide it
        pdf.set_draw_color(*TEAL)
        pdf.rect(MARGIN, top - 1.5, CONTENT_W, bottom - top + 1.5, style="D")
        pdf.set_fill_color(*TEAL)
        pdf.rect(MARGIN, top - 1.5, 1.2, bottom - top + 1.5, style="F")
    pdf.set_xy(MARGIN, bottom)
