"""The load generator's own wire clients for the teleconsult benchmark: a keep-alive HTTP/1.1
connection, a server-sent-events stream and a WebSocket, each minimal. The load generator
shares the two cores with the server, and httpx spends several times more CPU per request than
these; ``websockets`` is not a project dependency.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from collections.abc import AsyncIterator

WIRE_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


async def _head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def _chunk(reader: asyncio.StreamReader) -> bytes:
    """One chunk of a chunked body (b"" at its end)."""
    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
    if size == 0:
        await reader.readuntil(b"\r\n")
        return b""
    data = await reader.readexactly(size)
    await reader.readexactly(2)
    return data


class Connection:
    """One keep-alive connection, like one person's browser tab. Not safe for concurrent use."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.prefix = f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\n{self.prefix}"
        payload = b""
        if body is not None:
            payload = json.dumps(body).encode()
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        elif method != "GET":
            head += "Content-Length: 0\r\n"
        try:
            self.writer.write(head.encode() + b"\r\n" + payload)
            status, headers = await _head(self.reader)
            if "content-length" in headers:
                data = await self.reader.readexactly(int(headers["content-length"]))
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                parts = []
                while part := await _chunk(self.reader):
                    parts.append(part)
                data = b"".join(parts)
            elif status == 204 or status == 304:
                data = b""
            else:
                data = await self.reader.read()
                headers["connection"] = "close"
        except WIRE_ERRORS:
            self.close()
            raise
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class EventStream:
    """``GET path`` as server-sent events: ``open`` gives the status; ``events`` yields
    (event, data) until the server ends the stream."""

    def __init__(self, host: str, port: int, token: str, path: str) -> None:
        self.host, self.port, self.token, self.path = host, port, token, path
        self.writer: asyncio.StreamWriter | None = None
        self.reader: asyncio.StreamReader | None = None
        self.chunked = False

    async def open(self) -> tuple[int, bytes]:
        """(status, body if the answer is not a stream)."""
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        status, headers = await _head(self.reader)
        self.chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        if status != 200 or "text/event-stream" not in headers.get("content-type", ""):
            body = b""
            if "content-length" in headers:
                body = await self.reader.readexactly(int(headers["content-length"]))
            self.close()
            return status, body
        return status, b""

    async def events(self) -> AsyncIterator[tuple[str, str]]:
        assert self.reader is not None
        buffer = b""
        while True:
            data = await (_chunk(self.reader) if self.chunked else self.reader.read(65536))
            if not data:
                return
            buffer += data.replace(b"\r\n", b"\n")
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                kind, lines = "message", []
                for line in block.decode().split("\n"):
                    if line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:"):
                        lines.append(line[5:].strip())
                if lines or kind != "message":
                    yield kind, "\n".join(lines)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Closed(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"WebSocket closed {code}")
        self.code = code


class WebSocket:
    """A client WebSocket (RFC 6455): text frames only, masked as a client must."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, host: str, port: int, path: str) -> WebSocket:
        reader, writer = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        status, _ = await _head(reader)
        if status != 101:
            writer.close()
            raise ValueError(f"WebSocket upgrade answered {status}")
        return cls(reader, writer)

    def _frame(self, opcode: int, payload: bytes) -> bytes:
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return head + mask + masked

    async def send(self, message: dict) -> None:
        self.writer.write(self._frame(0x1, json.dumps(message).encode()))
        await self.writer.drain()

    async def receive(self) -> dict:
        """The next text message; Closed when the server closes."""
        while True:
            b1, b2 = await self.reader.readexactly(2)
            opcode, n = b1 & 0x0F, b2 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
            payload = await self.reader.readexactly(n)  # a server's frames are not masked
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                raise Closed(code)
            if opcode == 0x9:  # ping
                self.writer.write(self._frame(0xA, payload))
                continue
            if opcode == 0x1:
                return json.loads(payload)

    async def close(self) -> None:
        try:
            self.writer.write(self._frame(0x8, struct.pack("!H", 1000)))
            await self.writer.drain()
            # Wait for the server's close frame, briefly: the server records the call's end.
            await asyncio.wait_for(self._until_closed(), 5)
        except (*WIRE_ERRORS, TimeoutError, Closed):
            pass
        finally:
            self.writer.close()

    async def _until_closed(self) -> None:
        while True:
            await self.receive()


class AsgiSocket:
    """A WebSocket to an ASGI app in this event loop (the in-process SQL count): httpx's ASGI
    transport has none."""

    def __init__(self, app, path: str) -> None:
        self.app, self.path = app, path
        self.to_app: asyncio.Queue[dict] = asyncio.Queue()
        self.from_app: asyncio.Queue[dict] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> AsgiSocket:
        path, _, query = self.path.partition("?")
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [(b"host", b"bench")],
            "server": ("bench", 80),
            "client": ("127.0.0.1", 50000),
            "subprotocols": [],
        }
        self.task = asyncio.create_task(self.app(scope, self.to_app.get, self.from_app.put))
        await self.to_app.put({"type": "websocket.connect"})
        first = await asyncio.wait_for(self.from_app.get(), 10)
        if first["type"] != "websocket.accept":
            raise ValueError(f"not accepted: {first}")
        return self

    async def send(self, message: dict) -> None:
        await self.to_app.put({"type": "websocket.receive", "text": json.dumps(message)})

    async def receive(self) -> dict:
        message = await asyncio.wait_for(self.from_app.get(), 10)
        if message["type"] == "websocket.close":
            raise Closed(message.get("code", 1000))
        return json.loads(message["text"])

    async def until(self, kind: str, sender: str | None = None) -> dict:
        while True:
            message = await self.receive()
            if message.get("type") == kind and (sender is None or message.get("from") == sender):
                return message

    async def close(self) -> None:
        if self.task is not None:
            await self.to_app.put({"type": "websocket.disconnect", "code": 1000})
            await asyncio.wait_for(self.task, 10)
            self.task = None
