"""Photos and PDFs a CHO attaches to a consult (a wound, a rash, an old discharge summary).

Stored safely: the type is decided by the file's first bytes, never by its name or the
browser's word; the bytes live in ``SEBA_ATTACHMENT_DIR`` under their SHA-256 (no path from
the user ever reaches the filesystem); written to a temporary file and renamed, so a reader
never sees half a file. The row is written only after the bytes are safe on disk. Reading an
attachment is reading a patient's record: audited.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path

from sqlalchemy import func, select

from seba.core import audit
from seba.core.access import Principal
from seba.core.db import transactional
from seba.core.errors import Conflict, NotFound, ValidationFailed
from seba.core.runtime import Runtime
from seba.telemedicine.consults.access import access_consult
from seba.telemedicine.models import ConsultAttachment

MAX_PER_CONSULT = 10
# Magic numbers of the types a CHO's tablet produces.
SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)
OPEN = ("queued", "offered", "accepted", "in_progress")


def sniff(data: bytes) -> str | None:
    for magic, content_type in SIGNATURES:
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def clean_filename(name: str) -> str:
    """A display name only: no directories, no control characters, at most 120 characters."""
    name = unicodedata.normalize("NFC", os.path.basename(name.replace("\\", "/")))
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip() or "attachment"
    return name[:120]


def _path(rt: Runtime, sha256: str) -> Path:
    return Path(rt.settings.attachment_dir) / sha256[:2] / sha256


def _store(rt: Runtime, sha256: str, data: bytes) -> None:
    final = _path(rt, sha256)
    if final.exists():
        return  # content-addressed: the same bytes are already there
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def attach(
    rt: Runtime, *, actor: Principal, consult_id: int, filename: str, data: bytes
) -> ConsultAttachment:
    """Attach a file to an open consult of the CHO's spoke.

    Raises ValidationFailed (``attachment_empty``, ``attachment_too_large``,
    ``attachment_type``), Conflict (``consult_closed``, ``too_many_attachments``), NotFound.
    """
    limit = rt.settings.attachment_max_bytes
    if not data:
        raise ValidationFailed("The file is empty.", code="attachment_empty")
    if len(data) > limit:
        raise ValidationFailed(
            "The file is larger than {limit_mb} MB.",
            code="attachment_too_large",
            details={"size": len(data), "limit": limit},
            params={"limit_mb": limit // (1024 * 1024)},
        )
    content_type = sniff(data)
    if content_type is None:
        raise ValidationFailed("Attach a photo (JPEG, PNG, WebP) or a PDF.", code="attachment_type")
    sha256 = hashlib.sha256(data).hexdigest()
    async with transactional(rt.db) as session:
        consult = await access_consult(session, actor, consult_id, "attachment.create")
        if consult.status not in OPEN:
            raise Conflict("This consult is closed.", code="consult_closed")
        count = await session.scalar(
            select(func.count()).where(ConsultAttachment.consultation_id == consult_id)
        )
        if count >= MAX_PER_CONSULT:
            raise Conflict(
                "At most {n} files per consult.",
                code="too_many_attachments",
                params={"n": MAX_PER_CONSULT},
            )
        # Bytes first, row second: a failed write leaves no row pointing at nothing.
        await asyncio.to_thread(_store, rt, sha256, data)
        row = ConsultAttachment(
            consultation_id=consult_id,
            filename=clean_filename(filename),
            content_type=content_type,
            size_bytes=len(data),
            sha256=sha256,
            uploaded_by_user_id=actor.user_id,
        )
        session.add(row)
        await session.flush()
        audit.record(
            session,
            actor=actor,
            action="consult.attach",
            entity_type="consultation",
            entity_id=consult_id,
            after={"attachment": row.id, "type": content_type, "size": len(data)},
        )
    return row


async def list_attachments(
    rt: Runtime, *, actor: Principal, consult_id: int
) -> list[ConsultAttachment]:
    async with rt.db.read() as session:
        await access_consult(session, actor, consult_id, "attachment.read")
        return list(
            await session.scalars(
                select(ConsultAttachment)
                .where(ConsultAttachment.consultation_id == consult_id)
                .order_by(ConsultAttachment.id)
            )
        )


async def read_attachment(
    rt: Runtime, *, actor: Principal, consult_id: int, attachment_id: int
) -> tuple[ConsultAttachment, bytes]:
    """The file, for those who may see the consult; the read is audited."""
    async with transactional(rt.db) as session:
        consult = await access_consult(session, actor, consult_id, "attachment.read")
        row = await session.get(ConsultAttachment, attachment_id)
        if row is None or row.consultation_id != consult_id:
            raise NotFound("Unknown attachment.", code="unknown_attachment")
        audit.record(
            session,
            actor=actor,
            action="attachment.read",
            entity_type="patient",
            entity_id=consult.patient_id,
            after={"attachment": row.id},
        )
    try:
        data = await asyncio.to_thread(_path(rt, row.sha256).read_bytes)
    except FileNotFoundError:
        raise NotFound("The file is missing from storage.", code="attachment_missing") from None
    return row, data
