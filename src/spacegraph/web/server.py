"""How ``spacegraph serve`` runs uvicorn: on uvloop with the httptools parser (both C; asyncio's own loop
and h11, in pure Python, cost several times more per request), without uvicorn's access log (ours is
``accesslog``) or ``server`` header, and with a bound on what a request's head may hold before the app
sees it.

httptools's URL parser holds offsets in 16 bits: a request line whose target is longer than 65,535 bytes
cannot be parsed, and uvicorn would answer it with a bare 400. ``Protocol`` answers 414 instead, and
431 once the header fields pass ``HEAD_LIMIT`` bytes (h11 had a limit of its own; httptools has none, so
a client could otherwise send header bytes without end). Smaller excesses get the app's own 414 and 431
(``limits``), which name the configured limits.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

MAX_URL = 65_535  # bytes in a request target: httptools.parse_url's limit
HEAD_LIMIT = 64 * 1024  # bytes of header names and values, all fields together


class HeadTooLarge(Exception):
    """Raised inside the parser's callbacks; the parser turns it into an error, answered below."""


class Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering 414 and 431 (not 400) to request heads it will not hold."""

    refusal: tuple[int, str] | None = None
    head_bytes = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.refusal = None
        self.head_bytes = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_URL:
            self.refusal = (
                414,
                f"the URI is longer than this server's limit of {MAX_URL} bytes: send long queries by POST",
            )
            raise HeadTooLarge

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_bytes += len(name) + len(value)
        if self.head_bytes > HEAD_LIMIT:
            self.refusal = (431, f"the header fields are larger than this server's limit of {HEAD_LIMIT} bytes")
            raise HeadTooLarge
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        if self.refusal is None:
            super().send_400_response(msg)
            return
        status, text = self.refusal
        body = f"{text}\n".encode("ascii")
        head = [
            STATUS_LINE[status],
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(body),
            b"cache-control: no-store\r\n",
            b"x-content-type-options: nosniff\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def options(**more: Any) -> dict[str, Any]:
    """Keyword arguments of ``uvicorn.Config`` (and ``uvicorn.run``) for our server."""
    return {"loop": "uvloop", "http": Protocol, "access_log": False, "server_header": False, **more}
