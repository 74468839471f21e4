"""Server-rendered pages: one Jinja environment, the language in every template.

Templates call ``_("English text")`` for every visible string (translated from the ``.po``
catalogues), ``num(n)`` or ``n|num`` for numbers (``core.i18n.number``: lakh grouping, Bengali
digits in Bengali; one function for every page, SMS and PDF) and ``when(dt)`` for times
(Asia/Kolkata: ``core.i18n.local_time``, which services use for SMS texts too; pages may import
it from here). Each domain keeps its templates in ``seba/<domain>/templates/<domain>/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from seba.core.http import LANG_COOKIE, request_language
from seba.core.i18n import LANGUAGES, gettext, local_time, number
from seba.vocabulary import DOSAGE_FORM_LABELS, FREQUENCY_LABELS, dose_in, strength_in, term_in
from seba.web.assets import ASSETS

PACKAGE = Path(__file__).resolve().parent.parent
LANG_COOKIE_AGE = 365 * 24 * 3600

env = Environment(
    loader=FileSystemLoader(
        [str(PACKAGE / "web" / "templates")]
        + [str(p) for p in sorted(PACKAGE.glob("*/templates")) if p.parent.name != "web"]
    ),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@pass_context
def _num_filter(context: Context, value: Any) -> str:
    return number(value, context.get("lang", "bn"))


# ``{{ beds|num }}``: the same as ``num(beds)``, in the page's language.
env.filters["num"] = _num_filter
# Fingerprinted static URLs (``web/assets.py``): cached by browsers for a year.
env.globals["asset_url"] = ASSETS.url


def page_context(request: Request, **extra: Any) -> dict[str, Any]:
    lang = request_language(request)
    other = "en" if lang == "bn" else "bn"
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    return {
        "request": request,
        "lang": lang,
        "other_lang": other,
        "languages": LANGUAGES,
        "switch_url": request.url.path + "?" + urlencode({**query, "lang": other}),
        "_": lambda message, **params: gettext(lang, message, **params),
        "num": lambda value: number(value, lang),
        "when": lambda value, fmt=None: local_time(value, lang, fmt),
        # A prescription's typed terms in the reader's language (``seba.vocabulary``).
        "dosage_form": lambda text: term_in(DOSAGE_FORM_LABELS, text, lang),
        "how_often": lambda text: term_in(FREQUENCY_LABELS, text, lang),
        "dose": lambda text: dose_in(text, lang),
        "strength": lambda text: strength_in(text, lang),
        **extra,
    }


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page; a ``?lang=`` choice is remembered in a cookie for a year."""
    ctx = page_context(request, **context)
    response = HTMLResponse(env.get_template(template).render(ctx), status_code=status_code)
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES and request.cookies.get(LANG_COOKIE) != chosen:
        response.set_cookie(LANG_COOKIE, chosen, max_age=LANG_COOKIE_AGE, samesite="lax")
    return response
