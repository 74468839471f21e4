"""The e-prescription PDF: TPG content, Bengali shaping (not tofu), the QR, refusals.

The reference image is regenerated with ``SEBA_UPDATE_REFERENCE=1`` after a deliberate change
of layout; look at it before committing it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import segno
from fpdf import FPDF
from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageStat, features

from seba.telemedicine.prescriptions import fonts as pdf_fonts
from seba.telemedicine.prescriptions import pdf as prescription_pdf
from seba.telemedicine.prescriptions.pdf import (
    BENGALI,
    LATIN,
    PrescriptionDocument,
    RxLine,
    bilingual_pdf,
    render_prescription,
)

REFERENCE = Path(__file__).parent / "reference" / "prescription-page1.png"
REFERENCE_SCALE = 1.5  # 108 dpi: Bengali strokes several pixels wide, the PNG still small
PT_PER_MM = 72 / 25.4

ITEMS = [
    RxLine("paracetamol", "500 mg", "tablet", "1 tablet", "তিনবার / 3 times a day", 5, "O",
           "প্যারাসিটামল"),
    RxLine("Amlodipine", "5 mg", "tablet", "1 tablet", "১-০-০ / once daily (morning)", 30, "A",
           "অ্যামলোডিপিন"),
    RxLine("metformin", "500 mg", "tablet", "1 tablet", "twice daily after food", 30, "A",
           "মেটফরমিন"),
    RxLine("oral rehydration salts", "20.5 g", "sachet", "1 sachet in 1 litre of water",
           "after each loose stool", 3, "O", "ও আর এস"),
    RxLine("zinc sulphate", "20 mg", "tablet", "1 tablet", "once daily", 14, "O", "জিঙ্ক"),
    RxLine("ferrous sulphate + folic acid", "100 mg + 0.5 mg", "tablet", "1 tablet",
           "once daily", 90, "O", "আয়রন ও ফলিক অ্যাসিড"),
    RxLine("cholecalciferol", "60000 IU", "capsule", "1 capsule", "once a week", 56, "O",
           "ভিটামিন ডি"),
    RxLine("cetirizine", "10 mg", "tablet", "1 tablet", "at night", 5, "O", "সেটিরিজিন"),
    RxLine("clotrimazole", "1%", "cream", "thin layer", "twice daily", 14, "A",
           "ক্লোট্রিমাজোল"),
    RxLine("hydrochlorothiazide", "12.5 mg", "tablet", "1 tablet", "once daily", 30, "B",
           "হাইড্রোক্লোরোথায়াজাইড"),
    RxLine("atenolol", "50 mg", "tablet", "1 tablet", "once daily", 30, "A"),
    RxLine("salbutamol", "100 mcg", "inhaler", "2 puffs", "when breathless, up to 4 times a day",
           30, "A", "সালবিউটামল"),
]  # fmt: skip
ADVICE = (
    "প্রচুর জল পান করুন, লবণ কম খান, প্রতিদিন ৩০ মিনিট হাঁটুন। ধূমপান সম্পূর্ণ বন্ধ করুন। "
    "রক্তচাপ প্রতি সপ্তাহে স্বাস্থ্য কেন্দ্রে মাপান। বুকে ব্যথা, শ্বাসকষ্ট বা অজ্ঞান হলে "
    "সঙ্গে সঙ্গে নিকটতম হাসপাতালে যান। Drink plenty of water, eat less salt, walk 30 minutes "
    "every day. Stop smoking completely. Check your blood pressure every week at the centre. "
) * 5
URL = "https://seba.wb.gov.in/verify/7KQ2-M9XD-4TPA"


def rich_document(**changes: object) -> PrescriptionDocument:
    doc = PrescriptionDocument(
        verification_code="7KQ2-M9XD-4TPA",
        verify_url=URL,
        issued_at=datetime(2025, 11, 17, 8, 35, tzinfo=UTC),
        mode="video",
        consult_kind="first",
        doctor_name="ডাঃ অনির্বাণ ঘোষ / Dr. Anirban Ghosh",
        doctor_qualification="MBBS, MD (Medicine)",
        doctor_registration="WBMC 61234",
        doctor_hpr_id="71-2345-6789-0123",
        hub_name="Bankura Sammilani Medical College Hub",
        hub_name_bn="বাঁকুড়া সম্মিলনী মেডিক্যাল কলেজ হাব",
        patient_name="সুস্মিতা চট্টোপাধ্যায়",
        patient_age="34",
        patient_sex="female",
        patient_phone="98300 12345",
        patient_address="গ্রাম ক্ষীরপাই, পোস্ট রাষ্ট্রকূট, থানা চন্দ্রকোণা, জেলা পশ্চিম মেদিনীপুর ৭২১২৩২",
        patient_abha="91-5003-6512-8457",
        adult_companion=None,
        spoke_name="Kshirpai Health & Wellness Centre",
        spoke_name_bn="ক্ষীরপাই স্বাস্থ্য ও সুস্থতা কেন্দ্র",
        cho_name="মৌমিতা দত্ত",
        chief_complaint="মাথা ঘোরা ও মাথাব্যথা ৩ দিন ধরে; headache for 3 days",
        history="উচ্চ রক্তচাপ ২ বছর, অনিয়মিত ওষুধ। Known hypertensive, irregular treatment.",
        vitals=[
            ("BP", "150/95 mmHg"),
            ("Pulse", "88/min"),
            ("Temperature", "98.6 °F"),
            ("SpO2", "98%"),
            ("Weight", "61 kg"),
            ("Blood glucose", "142 mg/dL (random)"),
        ],
        findings="No focal neurological deficit; পায়ে ফোলা নেই।",
        diagnosis="অনিয়ন্ত্রিত উচ্চ রক্তচাপ / Uncontrolled essential hypertension",
        investigations=["Serum creatinine", "Fasting blood sugar", "ECG", "মূত্র পরীক্ষা"],
        items=ITEMS,
        advice=ADVICE,
        follow_up_on=date(2025, 12, 1),
        referral="মেডিসিন বহির্বিভাগ / Medicine OPD, BSMCH, if BP stays above 160/100",
    )
    return dataclasses.replace(doc, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def rich_pdf() -> bytes:
    return render_prescription(rich_document())


def page_texts(data: bytes) -> list[str]:
    pdf = pdfium.PdfDocument(data)
    return [pdf[index].get_textpage().get_text_range() for index in range(len(pdf))]


def render_page(data: bytes, index: int = 0, scale: float = REFERENCE_SCALE) -> Image.Image:
    pdf = pdfium.PdfDocument(data)
    return pdf[index].render(scale=scale).to_pil().convert("L")


def flat(text: str) -> str:
    """Extracted text with line breaks and runs of spaces made single spaces."""
    return re.sub(r"\s+", " ", text)


# -- the document ------------------------------------------------------------------------------


def test_rich_document_is_an_a4_pdf_of_several_pages(rich_pdf: bytes) -> None:
    assert rich_pdf.startswith(b"%PDF-")
    assert rich_pdf.rstrip().endswith(b"%%EOF")
    pdf = pdfium.PdfDocument(rich_pdf)
    assert len(pdf) >= 2
    for index in range(len(pdf)):
        width, height = pdf[index].get_size()
        assert (round(width), round(height)) == (595, 842)  # A4 in points
    # Subset fonts: the four Noto files alone weigh about 1.1 MB.
    assert len(rich_pdf) < 150_000


def test_text_layer_carries_what_tpg_requires(rich_pdf: bytes) -> None:
    pages = page_texts(rich_pdf)
    text = flat(" ".join(pages))
    assert "WBMC 61234" in text
    assert "MBBS, MD (Medicine)" in text
    assert "Dr. Anirban Ghosh" in text
    assert "71-2345-6789-0123" in text  # HPR ID
    assert "91-5003-6512-8457" in text  # ABHA
    assert "98300 12345" in text
    assert "17 Nov 2025, 14:05 IST" in text  # 08:35 UTC shown in Asia/Kolkata
    assert "7KQ2-M9XD-4TPA" in text
    assert URL in text
    assert (
        "Issued on a teleconsultation (video) under the Telemedicine Practice Guidelines 2020"
        in text
    )
    assert "Provisional diagnosis" in text
    assert "Uncontrolled essential hypertension" in text
    assert "01 Dec 2025" in text  # follow-up
    assert "Medicine OPD, BSMCH" in text  # referral
    for item in ITEMS:
        assert item.generic.upper() in text
    # Capitals are the rule (TPG), whatever the case typed: no generic name in lower case.
    assert "paracetamol" not in text and "Amlodipine" not in text
    # Bengali words with conjuncts and post-base vowel signs survive into the text layer.
    assert "ক্ষীরপাই" in text
    assert "রক্তচাপ" in text


def test_every_page_has_its_number_and_the_code(rich_pdf: bytes) -> None:
    pages = page_texts(rich_pdf)
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} / {len(pages)}" in flat(page)
        assert "7KQ2-M9XD-4TPA" in page


def test_a_long_rx_table_repeats_its_header_on_every_page() -> None:
    many = [dataclasses.replace(item, generic=f"drug{n:02d}") for n, item in enumerate(ITEMS * 4)]
    data = render_prescription(rich_document(items=many, advice="Rest."))
    pages = [flat(page) for page in page_texts(data)]
    assert len(pages) >= 3
    seen = []
    for page in pages:
        rows = re.findall(r"DRUG(\d\d)", page)
        if rows:
            assert "Medicine (generic name)" in page and "Strength" in page
        seen.extend(int(row) for row in rows)
    assert seen == list(range(len(many)))  # every row once, in order, none lost at a break


def test_advice_running_over_pages_loses_nothing() -> None:
    data = render_prescription(rich_document(advice=ADVICE * 4))
    pages = [flat(page) for page in page_texts(data)]
    assert len(pages) >= 3
    assert sum(page.count("Stop smoking completely.") for page in pages) == 20
    # The statement comes last, after all of the advice, on the last page.
    assert "Issued on a teleconsultation (video)" in pages[-1]
    assert "Stop smoking completely." not in pages[-1].split("Issued on a teleconsultation")[1]
    for page in pages[1:]:
        assert "e-Prescription" in page and "7KQ2-M9XD-4TPA" in page  # continuation header


def test_optional_fields_are_left_out_when_absent() -> None:
    data = render_prescription(
        rich_document(doctor_hpr_id=None, patient_abha="  ", referral=None, follow_up_on=None)
    )
    text = flat(" ".join(page_texts(data)))
    assert "HPR ID" not in text
    assert "ABHA" not in text
    assert "Referral: —" in text
    assert "Follow-up on: —" in text


def test_typed_text_is_printed_as_typed() -> None:
    # fpdf2 replaces its total-pages alias anywhere in the text; typed text must not be touched
    # (and the private-use alias cannot be typed: such characters are dropped).
    data = render_prescription(rich_document(advice="Take {nb} tablets\ue000 as told.\x07"))
    text = flat(" ".join(page_texts(data)))
    assert "Take {nb} tablets as told." in text


def test_audio_follow_up_says_so() -> None:
    data = render_prescription(rich_document(mode="audio", consult_kind="follow_up"))
    text = flat(" ".join(page_texts(data)))
    assert "Issued on a teleconsultation (audio)" in text
    assert "Follow-up consultation" in text


def test_a_minor_is_printed_with_the_accompanying_adult() -> None:
    data = render_prescription(
        rich_document(patient_age="7", adult_companion="Ramesh Chatterjee (father), 98300 12346")
    )
    text = flat(" ".join(page_texts(data)))
    assert "Accompanying adult" in text
    assert "Ramesh Chatterjee (father)" in text
    assert "7 years" in text


def test_no_medicines_is_stated_not_left_blank() -> None:
    data = render_prescription(rich_document(items=[]))
    assert "No medicines prescribed" in flat(" ".join(page_texts(data)))


def test_same_document_gives_the_same_bytes(rich_pdf: bytes) -> None:
    assert render_prescription(rich_document()) == rich_pdf


def test_issue_time_is_shown_in_india_whatever_the_zone_given() -> None:
    elsewhere = datetime(2025, 11, 17, 3, 35, tzinfo=timezone(timedelta(hours=-5)))
    text = flat(" ".join(page_texts(render_prescription(rich_document(issued_at=elsewhere)))))
    assert "17 Nov 2025, 14:05 IST" in text


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("registration", ["", "   "])
def test_no_registration_number_no_prescription(registration: str) -> None:
    with pytest.raises(ValueError, match="registration number"):
        render_prescription(rich_document(doctor_registration=registration))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"patient_age": ""}, "age is missing"),
        ({"patient_age": "7", "adult_companion": None}, "accompanying adult"),
        ({"patient_age": "৮ মাস", "adult_companion": " "}, "accompanying adult"),
        ({"doctor_name": " "}, "doctor's name"),
        ({"patient_name": ""}, "patient's name"),
        ({"verification_code": ""}, "verification code"),
        ({"issued_at": datetime(2025, 11, 17, 8, 35)}, "timezone-aware"),
        ({"mode": "phone"}, "mode"),
        ({"consult_kind": "second"}, "consult_kind"),
        (
            {"items": [RxLine("morphine", "10 mg", "tablet", "1", "bd", 3, "prohibited")]},
            "cannot be prescribed",
        ),
        ({"items": [dataclasses.replace(ITEMS[0], duration_days=0)]}, "duration"),
        ({"items": [dataclasses.replace(ITEMS[0], generic=" ")]}, "generic name"),
    ],
)
def test_documents_that_must_not_be_issued_are_refused(
    changes: dict[str, object], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        render_prescription(rich_document(**changes))


def test_an_adult_needs_no_companion() -> None:
    for age in ("18", "৪০ বছর", "45 years", "1 year 2 months"):  # the last: left to the rules
        render_prescription(rich_document(patient_age=age, items=ITEMS[:1], advice="-"))


def test_missing_fonts_say_where_they_were_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(prescription_pdf.FONT_DIR_ENV, str(tmp_path))
    with pytest.raises(RuntimeError, match="SEBA_FONT_DIR") as failure:
        render_prescription(rich_document())
    assert str(tmp_path) in str(failure.value)
    assert "NotoSansBengali-Regular.ttf" in str(failure.value)


def test_the_bundled_fonts_are_used_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # No system fonts needed: a fresh machine prints Bengali with the fonts shipped in the code.
    monkeypatch.delenv(prescription_pdf.FONT_DIR_ENV, raising=False)
    assert prescription_pdf.font_search_path() == [prescription_pdf.BUNDLED_FONT_DIR]
    for name in pdf_fonts._FONT_FILES.values():
        assert (prescription_pdf.BUNDLED_FONT_DIR / name).read_bytes()[:4] == b"\x00\x01\x00\x00"
    assert (prescription_pdf.BUNDLED_FONT_DIR / "OFL.txt").is_file()


def test_font_dir_override_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in pdf_fonts._FONT_FILES.values():
        (tmp_path / name).symlink_to(prescription_pdf.BUNDLED_FONT_DIR / name)
    monkeypatch.setenv(prescription_pdf.FONT_DIR_ENV, str(tmp_path))
    assert prescription_pdf.font_search_path() == [tmp_path]
    assert render_prescription(rich_document(items=ITEMS[:2], advice="-")).startswith(b"%PDF")


# -- Bengali: shaped, and real glyphs ----------------------------------------------------------


def word_image(text: str, *, shaping: bool = True, font: str = "bilingual") -> Image.Image:
    """``text`` alone on a strip of page at 40 pt, rendered to grey pixels at 4x."""
    if font == "bilingual":
        pdf = bilingual_pdf(FPDF(unit="mm", format=(200, 25)))
        pdf.set_font(LATIN, "", 40)  # Bengali arrives through the fallback, as in documents
    else:  # a font without Bengali: what a broken font setup would print with
        pdf = FPDF(unit="mm", format=(200, 25))
        pdf.add_font(
            "latin-only", "", str(prescription_pdf.BUNDLED_FONT_DIR / "NotoSans-Regular.ttf")
        )
        pdf.set_font("latin-only", "", 40)
    pdf.set_text_shaping(shaping)
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_xy(5, 5)
    pdf.cell(text=text)
    return render_page(bytes(pdf.output()), scale=4)


def independent_image(text: str) -> Image.Image:
    """``text`` drawn by Pillow: FreeType glyphs laid out by libraqm, no fpdf2, no pdfium."""
    path = prescription_pdf.BUNDLED_FONT_DIR / "NotoSansBengali-Regular.ttf"
    font = ImageFont.truetype(str(path), 160, layout_engine=ImageFont.Layout.RAQM)
    image = Image.new("L", (2600, 400), 255)
    ImageDraw.Draw(image).text((50, 50), text, font=font, fill=0)
    return image


def ink(image: Image.Image) -> Image.Image:
    """Black-on-white as a 0/255 mask of the ink, cropped to it."""
    mask = Image.eval(image, lambda v: 255 if v < 128 else 0)
    box = mask.getbbox()
    assert box is not None, "nothing was drawn"
    return mask.crop(box)


def ink_width(image: Image.Image) -> int:
    return ink(image).width


def overlap(a: Image.Image, b: Image.Image) -> float:
    """Intersection over union of two inks scaled to the same box: 1 for the same shapes."""
    mask_a = ink(a)
    mask_b = ink(b).resize(mask_a.size).point(lambda v: 255 if v > 127 else 0)
    shared = ImageStat.Stat(ImageChops.multiply(mask_a, mask_b)).sum[0]
    either = ImageStat.Stat(ImageChops.lighter(mask_a, mask_b)).sum[0]
    return shared / either


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute pixel difference, 0 (same) to 255."""
    return ImageStat.Stat(ImageChops.difference(a, b)).mean[0]


@pytest.mark.parametrize("conjunct", ["ক্ষ", "স্ত্র", "ন্ত্র", "দ্ধ", "র্ম"])
def test_conjuncts_are_shaped_into_one_glyph(conjunct: str) -> None:
    # Unshaped, letter + virama + letter are drawn side by side; shaped, they make one
    # conjunct (or a reph on top), barely wider than one letter.
    shaped = ink_width(word_image(conjunct))
    unshaped = ink_width(word_image(conjunct, shaping=False))
    assert shaped < 0.75 * unshaped, (shaped, unshaped)


def test_pre_base_vowel_sign_is_drawn_before_its_consonant() -> None:
    # "কি" is stored ka + i-sign but written with the i-sign first: shaped, it must look like
    # the two glyphs drawn in visual order, and unlike them drawn in stored order.
    shaped = word_image("কি")
    visual_order = word_image("িক", shaping=False)
    stored_order = word_image("কি", shaping=False)
    assert difference(shaped, visual_order) < 0.25 * difference(shaped, stored_order)


@pytest.mark.parametrize("words", ["সুস্মিতা চট্টোপাধ্যায়", "ক্ষীরপাই রাষ্ট্রকূট", "মন্ত্রী শুদ্ধ ধর্ম কি"])
def test_bengali_looks_like_an_independent_rendering(words: str) -> None:
    if not features.check("raqm"):
        pytest.skip("Pillow was built without libraqm: no independent Bengali shaper")
    expected = independent_image(words)
    # Measured: about 0.9 for our rendering; about 0.2-0.3 for the same text unshaped.
    assert overlap(word_image(words), expected) > 0.8
    assert overlap(word_image(words, shaping=False), expected) < 0.5  # the check can tell


def test_a_font_without_bengali_prints_nothing_so_ink_is_checked() -> None:
    # fpdf2 leaves out glyphs a font lacks: a broken font setup shows blanks, not boxes, and
    # the comparisons above fail on it ("nothing was drawn").
    with pytest.raises(AssertionError, match="nothing was drawn"):
        ink(word_image("সুস্মিতা", font="latin-only"))


def test_zero_width_joiner_stays_inside_the_bengali_run() -> None:
    # র‍্য (ra + ZWJ + virama + ya) must be shaped as one run: Noto Sans also has ZWJ, and a
    # run cut at it would lose the ya-phala.
    runs = pdf_fonts._runs("(র‍্যাব) RAB-1 ১২৩, ok")
    # Spaces, digits and punctuation stay with the stretch they follow; Bengali digits are
    # Bengali letters for this purpose (only the Bengali font has them).
    assert runs == [(BENGALI, "(র‍্যাব) "), (LATIN, "RAB-1 "), (BENGALI, "১২৩, "), (LATIN, "ok")]


def test_page_one_matches_the_reference_image(rich_pdf: bytes) -> None:
    page = render_page(rich_pdf)
    if os.environ.get("SEBA_UPDATE_REFERENCE") == "1":
        REFERENCE.parent.mkdir(exist_ok=True)
        page.save(REFERENCE, optimize=True)
        pytest.skip("reference image rewritten")
    reference = Image.open(REFERENCE).convert("L")
    assert page.size == reference.size
    # Measured: the same render differs by 0; with Bengali unshaped by 6.7; with the Bengali
    # font missing (tofu) by 8.6; with another URL in the QR by 0.7; a blank page by 19.3.
    # Content is checked through the text layer above, not here.
    assert difference(page, reference) < 0.35


# -- the QR code -------------------------------------------------------------------------------


def qr_modules_on_page(data: bytes, url: str, scale: float = 4.0) -> list[list[bool]]:
    """Read the QR symbol back from the rendered page 1, one sample per module centre."""
    page = render_page(data, scale=scale)
    x0, y0, side = prescription_pdf.QR_BOX
    size = len(segno.make_qr(url, error="m").matrix)
    module = side / size
    px = PT_PER_MM * scale

    def dark(col: float, row: float) -> bool:
        x = (x0 + (col + 0.5) * module) * px
        y = (y0 + (row + 0.5) * module) * px
        return page.getpixel((round(x), round(y))) < 128

    border = 4  # the quiet zone: four modules all round must be light
    for index in range(-border, size + border):
        for col, row in ((index, -border), (index, size + border - 1), (-border, index)):
            assert not dark(col, row)
        assert not dark(size + border - 1, index)
    return [[dark(col, row) for col in range(size)] for row in range(size)]


def test_qr_encodes_the_verify_url(rich_pdf: bytes) -> None:
    expected = [[bool(v) for v in row] for row in segno.make_qr(URL, error="m").matrix]
    drawn = qr_modules_on_page(rich_pdf, URL)
    assert drawn == expected
    # The check can tell URLs apart: another code's symbol is not what was drawn.
    other = segno.make_qr(URL.replace("4TPA", "4TPB"), error="m").matrix
    assert drawn != [[bool(v) for v in row] for row in other]


def test_the_bengali_text_layer_reads_as_written(rich_pdf: bytes) -> None:
    """Search, copy and screen readers get the Bengali as typed, not the shaped glyphs' order
    (conjuncts and pre-base vowel signs came out as "সে বা" before ActualText)."""
    text = flat(" ".join(page_texts(rich_pdf)))
    for written in (
        "সুস্মিতা চট্টোপাধ্যায়",
        "ক্ষীরপাই স্বাস্থ্য ও সুস্থতা কেন্দ্র",
        "অনিয়ন্ত্রিত উচ্চ রক্তচাপ",
        "বাঁকুড়া সম্মিলনী মেডিক্যাল কলেজ হাব",
        "রক্তচাপ প্রতি সপ্তাহে স্বাস্থ্য কেন্দ্রে মাপান।",
        "সেবা",
    ):
        assert written in text


def test_printing_logs_nothing_at_info(caplog: pytest.LogCaptureFixture) -> None:
    """A server logging at INFO used to get ~140 fontTools lines per prescription."""
    with caplog.at_level(logging.INFO):
        render_prescription(rich_document(verification_code="LOGS-QUIET-0001"))
    assert [r.name for r in caplog.records if r.levelno < logging.WARNING] == []
