"""The signaling WebSocket of a consult's call: ``/ws/consults/{id}/call?ticket=…``.

Seba carries no media: the two browsers send it to each other (or through TURN). This relays
what they need to find each other — SDP offers and answers, ICE candidates — and the call's
own messages: chat (kept with the consult), mode changes (video, audio, text) and heartbeats.

- **Who.** The ticket (``tickets``) is checked on connect, then the policy again
  (``service.join_call``, which also starts the call and reads its chat, in one
  transaction). A refusal accepts the socket and closes it at once with a code the
  page understands: 4401 no valid ticket (missing, forged, expired, another consult's), 4403
  not a party to this consult, 4409 the consult is no longer held (or this tab was replaced by
  a newer one of the same party).
- **Across workers.** Each socket subscribes to the event bus topic ``call:<consult id>`` and
  publishes what its browser sends there: Redis pub/sub carries it to the other party's
  worker; without Redis the bus delivers in-process. A socket ignores its own messages.
- **The record.** The browser's heartbeat carries its received-bytes counters; ``flows``
  turns them into stretches of each mode, written through ``service.record_flow``.
- **Liveness.** A socket silent for six heartbeats is closed (a dead link the TCP stack has not
  noticed); the other party is told ``peer left`` and shows "reconnecting".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from typing import Any

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from seba.core.errors import Conflict, DomainError, NotAuthenticated
from seba.core.i18n import gettext
from seba.core.runtime import Runtime
from seba.core.types import utcnow
from seba.telemedicine.calls import service
from seba.telemedicine.calls.flows import FlowTracker
from seba.telemedicine.calls.models import CALL_MODES

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_CONFLICT = 4409
# An SDP with many candidates runs to a few kilobytes; nothing a page sends needs more.
MAX_MESSAGE_CHARS = 32_000
MAX_SDP_CHARS = 20_000
MAX_SID_CHARS = 40
# Relayed as they are (after a shape check); chat and heartbeats are handled here.
RELAYED = ("offer", "answer", "ice", "hello", "here", "mode")
MODE_REASONS = ("weak_link", "link_better")
ERROR_MESSAGES = {
    "bad_message": "The call could not understand a message from this page. Reload the page.",
}


def topic(consult_id: int) -> str:
    return f"call:{consult_id}"


def _close_code(exc: DomainError) -> int:
    if isinstance(exc, NotAuthenticated):
        return CLOSE_UNAUTHENTICATED
    if isinstance(exc, Conflict):
        return CLOSE_CONFLICT
    return CLOSE_FORBIDDEN  # NotFound or PermissionDenied: not a party to this call


def _shape(message: Any) -> dict[str, Any] | None:
    """The message as relayed, or None when it is not one a call page sends."""
    if not isinstance(message, dict):
        return None
    kind = message.get("type")
    sid = message.get("sid")
    if sid is not None and not (isinstance(sid, str) and len(sid) <= MAX_SID_CHARS):
        return None
    out: dict[str, Any] = {"type": kind, "sid": sid}
    if kind in ("offer", "answer"):
        sdp = message.get("sdp")
        if not isinstance(sdp, str) or not 0 < len(sdp) <= MAX_SDP_CHARS:
            return None
        out["sdp"] = sdp
    elif kind == "ice":
        candidate = message.get("candidate")
        if candidate is not None and not isinstance(candidate, dict):
            return None
        out["candidate"] = candidate
    elif kind == "mode":
        if message.get("mode") not in CALL_MODES:
            return None
        out["mode"] = message["mode"]
        # Why the page changed it by itself (a weak link, or the link recovered), so the other
        # side can say so too; absent when a person chose.
        if message.get("reason") in MODE_REASONS:
            out["reason"] = message["reason"]
    elif kind not in ("hello", "here"):
        return None
    return out


def _counters(message: dict[str, Any], key: str = "received") -> dict[str, int] | None:
    """A heartbeat's byte counters under ``key`` (``received``, or ``sent``: optional, empty
    when absent), or None when they are malformed."""
    counts = message.get(key, {} if key == "sent" else None)
    if not isinstance(counts, dict):
        return None
    counters = {}
    for kind in ("video", "audio"):
        value = counts.get(kind, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return None
        counters[kind] = value
    return counters


async def serve_call(websocket: WebSocket, rt: Runtime, consult_id: int) -> None:
    """Run one party's signaling socket until it closes (see the module docstring)."""
    lang = websocket.query_params.get("lang", rt.settings.default_language)
    lang = lang if lang in ("bn", "en") else rt.settings.default_language
    await websocket.accept()
    channel = topic(consult_id)
    # Subscribed before joining, so nothing the other party sends once we have joined is lost;
    # nothing is forwarded until the ticket and the policy let us in.
    async with rt.bus.subscribe(channel) as queue:
        try:
            who, history = await service.join_call(
                rt, ticket=websocket.query_params.get("ticket"), consult_id=consult_id
            )
        except DomainError as exc:
            await websocket.close(code=_close_code(exc), reason=exc.code)
            return
        await _serve(websocket, rt, who, history, queue, lang)


async def _serve(
    websocket: WebSocket,
    rt: Runtime,
    who: service.Party,
    history: list[Any],
    queue: asyncio.Queue[dict[str, Any]],
    lang: str,
) -> None:
    """The joined party's socket: relay, record, and leave."""
    consult_id = who.consult_id
    channel = topic(consult_id)
    conn = secrets.token_hex(8)
    heartbeat = rt.settings.call_heartbeat_s
    # The CHO's video counts only while it also sends its own (record.py cross-checks the
    # doctor's video against it).
    tracker = FlowTracker(gap_s=heartbeat * 3, two_way_video=who.party == "cho")
    replaced = asyncio.Event()

    async def record(stretches) -> None:
        for mode, start, end in stretches:
            try:
                await service.record_flow(rt, who=who, mode=mode, started_at=start, ended_at=end)
            except DomainError as exc:
                log.info("call %s: media report not recorded (%s)", consult_id, exc.code)

    async def publish(data: dict[str, Any]) -> None:
        await rt.bus.publish(channel, {**data, "from": who.party, "conn": conn})

    async def send_error(code: str) -> None:
        await websocket.send_json(
            {"type": "error", "code": code, "message": gettext(lang, ERROR_MESSAGES[code])}
        )

    async def receive() -> None:
        while True:
            text = await asyncio.wait_for(websocket.receive_text(), timeout=heartbeat * 6)
            if len(text) > MAX_MESSAGE_CHARS:
                await send_error("bad_message")
                continue
            try:
                message = json.loads(text)
            except ValueError:
                await send_error("bad_message")
                continue
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "heartbeat":
                counters, sent = _counters(message), _counters(message, "sent")
                if counters is None or sent is None:
                    await send_error("bad_message")
                    continue
                await record(tracker.observe(utcnow(), counters, sent))
                await publish({"type": "heartbeat"})
            elif kind == "chat":
                try:
                    line = await service.post_chat(rt, who=who, body=message.get("body"))
                except DomainError as exc:
                    await websocket.send_json(
                        {
                            "type": "error",
                            "code": exc.code,
                            "message": gettext(lang, exc.message, **exc.params),
                        }
                    )
                    continue
                # To both sides, the sender's too: it confirms the line is on record.
                await publish({"type": "chat", "echo": True, **service.chat_out(line)})
            else:
                shaped = _shape(message)
                if shaped is None:
                    await send_error("bad_message")
                    continue
                if kind == "mode":
                    tracker.declared = shaped["mode"]
                await publish(shaped)

    async def forward(queue: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            data = await queue.get()
            if data.get("conn") == conn and not data.get("echo"):
                continue
            if (
                data.get("type") == "peer"
                and data.get("state") == "joined"
                and data.get("from") == who.party
                and data.get("conn") != conn
            ):
                # A newer tab of the same party took the call over: two peers on one side
                # would break the connection for both.
                replaced.set()
                return
            if data.get("type") == "mode" and data.get("from") != who.party:
                # Both sides change together: the record follows the mode the call is in.
                tracker.declared = data.get("mode", tracker.declared)
            await websocket.send_json({k: v for k, v in data.items() if k not in ("conn", "echo")})

    tasks: list[asyncio.Task[None]] = []
    try:
        welcome = {
            "type": "welcome",
            "party": who.party,
            "heartbeat_s": heartbeat,
            "chat": [service.chat_out(m) for m in history],
        }
        if rt.settings.call_test_hooks:
            # Which server process holds this socket: the two-worker browser test puts the
            # two parties on different ones.
            welcome["worker"] = os.getpid()
        await websocket.send_json(welcome)
        await publish({"type": "peer", "state": "joined"})
        tasks = [
            asyncio.create_task(receive()),
            asyncio.create_task(forward(queue)),
            asyncio.create_task(replaced.wait()),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except (WebSocketDisconnect, TimeoutError, RuntimeError):
        pass
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        if websocket.client_state == WebSocketState.CONNECTED:
            code = CLOSE_CONFLICT if replaced.is_set() else 1000
            with contextlib.suppress(Exception):
                await websocket.close(code=code, reason="replaced" if replaced.is_set() else "")
        await record(tracker.close_all())
        if not replaced.is_set():
            await publish({"type": "peer", "state": "left"})
        with contextlib.suppress(DomainError):
            await service.call_left(rt, who=who)
