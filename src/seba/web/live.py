"""Server-sent events for live pages: one helper for every stream.

A live page opens one stream and, on each event, fetches its changed part again; the stream
itself carries no history and no patient data, only "this changed". The helper:

- subscribes to the event bus topics first, then sends ``retry:`` (so nothing published after
  the client's preamble is lost);
- with a data ``version`` name, gives every event the version as its id; a client reconnecting
  with an older ``Last-Event-ID`` gets one catch-up event at once (it missed something);
- sends a comment line every ``settings.sse_heartbeat_s`` so proxies keep the connection open,
  and at each heartbeat asks ``still_allowed`` (e.g. "is the session still open?"): a logout
  ends the stream within one heartbeat;
- passes on only the ``keep`` keys of each event's data, when given;
- with ``only``, passes on only the events ``only(topic, data)`` accepts (e.g. a district
  user's stream skips other districts' events), judged on the full data before ``keep``;
- with an ``event_key``, names each event by that key of its data (a topic may carry events of
  several kinds, e.g. a doctor's ``offer`` and ``consult``), else by its topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from seba.core.runtime import Runtime

RETRY_MS = 3000
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _event(topic: str, data: dict[str, Any], event_id: int | None) -> bytes:
    id_line = f"id: {event_id}\n" if event_id is not None else ""
    return f"event: {topic}\n{id_line}data: {json.dumps(data)}\n\n".encode()


def event_stream(
    request: Request,
    rt: Runtime,
    *,
    topics: Sequence[str],
    version: str | None = None,
    keep: Sequence[str] | None = None,
    still_allowed: Callable[[], Awaitable[bool]] | None = None,
    event_key: str | None = None,
    only: Callable[[str, dict[str, Any]], bool] | None = None,
) -> StreamingResponse:
    """An SSE response forwarding ``topics`` from ``rt.bus`` (see the module docstring).

    ``version`` names the data version used for event ids and the ``Last-Event-ID`` catch-up
    (sent as an event of that name with ``{"resync": true}``); ``keep`` lists the data keys
    passed on (all when None); ``still_allowed`` is checked at every heartbeat; ``event_key``
    names the data key that names the event (never passed on); ``only`` says which events this
    listener gets (all when None).
    """
    last_id = request.headers.get("last-event-id", "")
    heartbeat = rt.settings.sse_heartbeat_s

    async def current() -> int | None:
        return await rt.versions.current(version) if version else None

    async def stream() -> AsyncIterator[bytes]:
        async with contextlib.AsyncExitStack() as stack:
            queues = {
                topic: await stack.enter_async_context(rt.bus.subscribe(topic)) for topic in topics
            }
            pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
            try:
                seen = await current()
                yield (
                    f"retry: {RETRY_MS}\n".encode()
                    + (f"id: {seen}\n\n" if seen is not None else "\n").encode()
                )
                if version and seen is not None and last_id.isdigit() and int(last_id) != seen:
                    yield _event(version, {"resync": True}, seen)
                while True:
                    for topic, queue in queues.items():
                        if topic not in pending:
                            pending[topic] = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait(
                        pending.values(), timeout=heartbeat, return_when=asyncio.FIRST_COMPLETED
                    )
                    if not done:
                        if still_allowed is not None and not await still_allowed():
                            return
                        yield b": ping\n\n"
                        continue
                    for topic in [t for t, f in pending.items() if f in done]:
                        data = pending.pop(topic).result()
                        if only is not None and not only(topic, data):
                            continue
                        name = str(data.get(event_key, topic)) if event_key else topic
                        if keep is not None:
                            data = {k: data[k] for k in keep if k in data}
                        elif event_key:
                            data = {k: v for k, v in data.items() if k != event_key}
                        yield _event(name, data, await current())
            finally:
                for future in pending.values():
                    future.cancel()

    return StreamingResponse(stream(), media_type="text/event-stream", headers=HEADERS)
