"""A WebSocket client for an ASGI app in the test's own event loop (httpx's ASGI transport has
none, and Starlette's TestClient runs the app on another loop than the test's database)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import urlencode


class Closed(Exception):
    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"closed {code} {reason}")
        self.code = code
        self.reason = reason


class AsgiSocket:
    def __init__(self, app, path: str, **query: str) -> None:
        self.app = app
        self.path = path
        self.query = urlencode({k: v for k, v in query.items() if v is not None})
        self.to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AsgiSocket:
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "path": self.path,
            "raw_path": self.path.encode(),
            "root_path": "",
            "query_string": self.query.encode(),
            "headers": [(b"host", b"testserver")],
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 50000),
            "subprotocols": [],
        }
        self.task = asyncio.create_task(self.app(scope, self.to_app.get, self.from_app.put))
        await self.to_app.put({"type": "websocket.connect"})
        first = await self._next()
        assert first["type"] == "websocket.accept", first
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _next(self, wait_s: float = 5.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.from_app.get(), wait_s)

    async def send(self, data: dict[str, Any] | str) -> None:
        text = data if isinstance(data, str) else json.dumps(data)
        await self.to_app.put({"type": "websocket.receive", "text": text})

    async def receive(self, wait_s: float = 5.0) -> dict[str, Any]:
        message = await self._next(wait_s)
        if message["type"] == "websocket.close":
            raise Closed(message.get("code", 1000), message.get("reason") or "")
        return json.loads(message["text"])

    async def receive_type(self, kind: str, wait_s: float = 5.0) -> dict[str, Any]:
        """The next message of ``kind``, skipping others (heartbeats, peers…)."""
        while True:
            message = await self.receive(wait_s)
            if message.get("type") == kind:
                return message

    async def close(self) -> None:
        if self.task is None:
            return
        await self.to_app.put({"type": "websocket.disconnect", "code": 1000})
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.task, 5)
        self.task = None


async def closed_with(app, path: str, **query: str) -> int:
    """Connect and return the close code the server answers with at once."""
    async with AsgiSocket(app, path, **query) as ws:
        try:
            message = await ws.receive()
        except Closed as closed:
            return closed.code
        raise AssertionError(f"not closed, got {message}")
