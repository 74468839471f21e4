"""What every teleconsultation page shares: its paths, its dependencies (who may open it, the
runtime, the CSRF-checked form), and how a posted form becomes the service's input schema with
its errors beside the boxes they belong to.

A form is read into the *same* schema the JSON API takes (``ConsultIn``, ``PrescriptionIn``…):
the rules live once, in the schema, and the page only says them in the reader's words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from pydantic import ValidationError
from starlette.datastructures import FormData

from seba.core.access import Principal
from seba.core.http import get_runtime
from seba.core.runtime import Runtime
from seba.web.session import permitted, say, staff_form

BASE = "/staff/tele"
DOCTOR_HOME = BASE + "/doctor"
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Cho = Annotated[Principal, Depends(permitted("consult.create"))]
Doctor = Annotated[Principal, Depends(permitted("consult.practice"))]
Rt = Annotated[Runtime, Depends(get_runtime)]
Form = Annotated[FormData, Depends(staff_form)]

# An English msgid and its parameters, said in the reader's language when the page is drawn.
Message = tuple[str, dict[str, Any]]
FORM_INVALID: Message = ("Some fields are not valid.", {})


@dataclass
class Posted:
    """A posted form: what was typed (to show it again) and what is wrong, field by field.

    ``errors`` maps a field name (or ``form``) to an English msgid and its parameters, except
    vitals, whose messages come already translated from ``vitals.validate_vitals``.
    """

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, Message] = field(default_factory=dict)

    def shown_errors(self, request: Request) -> dict[str, str]:
        return {name: say(request, text, **params) for name, (text, params) in self.errors.items()}


def schema_errors(
    exc: ValidationError,
    messages: Mapping[str, Message],
    *,
    by_type: Mapping[tuple[str, str], Message] | None = None,
) -> dict[tuple[Any, ...], Message]:
    """The schema's errors as the form's sentences, keyed by the error's location.

    ``messages`` maps a top-level field to its sentence; ``by_type`` a (field, error type) pair
    to a more precise one. A field the form has no sentence for reads as ``FORM_INVALID``
    under the key ``("form",)``: the form itself was tampered with.
    """
    found: dict[tuple[Any, ...], Message] = {}
    for error in exc.errors():
        loc = tuple(error.get("loc") or ())
        name = str(loc[0]) if loc else ""
        if name not in messages:
            found.setdefault(("form",), FORM_INVALID)
            continue
        precise = (by_type or {}).get((name, error["type"]))
        found.setdefault(loc, precise or messages[name])
    return found
