"""Security headers on every answer: what the browser may load and run, who may frame us, what
leaks in the Referer, and (in production) that this site is HTTPS only.

Pages load scripts, styles and images from this origin only (no inline script or style: the
templates link their files), so an injected ``<script>`` does not run. JSON answers forbid
everything. The fast path's stored answers carry the same headers (``common_headers``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Headers = tuple[tuple[bytes, bytes], ...]

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; media-src 'self' blob:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# A year, and every subdomain: once a phone has seen Seba over HTTPS it never tries plain HTTP.
HSTS = b"max-age=31536000; includeSubDomains"


def common_headers(*, https_only: bool) -> Headers:
    headers: list[tuple[bytes, bytes]] = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
        # The consult call needs the camera and microphone, "near me" the location: here only.
        (b"permissions-policy", b"camera=(self), microphone=(self), geolocation=(self)"),
    ]
    if https_only:
        headers.append((b"strict-transport-security", HSTS))
    return tuple(headers)


def api_headers(*, https_only: bool) -> Headers:
    return (*common_headers(https_only=https_only), (b"content-security-policy", API_CSP.encode()))


def page_headers(*, https_only: bool) -> Headers:
    return (*common_headers(https_only=https_only), (b"content-security-policy", PAGE_CSP.encode()))


class SecurityHeaders:
    """ASGI middleware adding the headers to every HTTP answer that has not set its own CSP
    (the API reference page sets a looser one for its bundled scripts)."""

    def __init__(self, app: ASGIApp, *, https_only: bool) -> None:
        self.app = app
        self.common = common_headers(https_only=https_only)
        self.page_csp = (b"content-security-policy", PAGE_CSP.encode())
        self.api_csp = (b"content-security-policy", API_CSP.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                names = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.common if h[0] not in names)
                if b"content-security-policy" not in names:
                    html = any(
                        n.lower() == b"content-type" and v.startswith(b"text/html")
                        for n, v in headers
                    )
                    headers.append(self.page_csp if html else self.api_csp)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
