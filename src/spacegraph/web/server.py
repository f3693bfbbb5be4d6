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

import asyncio
import logging
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

import httptools
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

MAX_URL = 65_535  # bytes in a request target: httptools.parse_url's limit
HEAD_LIMIT = 64 * 1024  # bytes of header names and values, all fields together


class HeadTooLarge(Exception):
    """Raised inside the parser's callbacks; the parser turns it into an error, answered below."""


class Corked:
    """A transport that holds what is written during one turn of the event loop and writes it at once:
    uvicorn writes an answer's head and its body apart, which costs two system calls and two packets
    where one does (on loopback the send is most of a replayed answer's cost)."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.loop = loop
        self.held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self.held:
            self.loop.call_soon(self.flush)
        self.held.append(data)

    def flush(self) -> None:
        held, self.held = self.held, []
        if held and not self.transport.is_closing():
            self.transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


# What the app's lane makes of a request's scope: the answer's header fields and body (a ``200``), or, for an
# answer that takes a while, what becomes its status, header fields and body and whether the connection
# stays open; None: the request takes the ASGI path.
Relayed = tuple[int, bytes, bool]
Lane = Callable[[dict[str, Any]], bytes | Awaitable[Relayed] | None]
log = logging.getLogger("uvicorn.error")
BUG = (  # uvicorn's own answer to an exception in the app
    b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: 21\r\n\r\nInternal Server Error"
)


class Answered:
    """uvicorn's current request cycle once the lane has answered: complete."""

    response_complete = True
    keep_alive = True
    disconnected = False
    message_event = asyncio.Event()


ANSWERED = Answered()


class Pending:
    """uvicorn's current request cycle while the lane's answer is on its way: a request pipelined behind it
    waits, a lost connection or a shutdown is noted here."""

    def __init__(self) -> None:
        self.response_complete = False
        self.keep_alive = True
        self.disconnected = False
        self.more_body = True
        self.message_event = asyncio.Event()


def lane_of(app: object) -> tuple[Lane | None, ProxyHeadersMiddleware | None]:
    """The app's fast lane (an attribute ``lane``: the scope of a request whose head has arrived → the
    answer's header fields and body, or None), and uvicorn's proxy-headers middleware in front of it."""
    proxies = None
    for _ in range(8):  # uvicorn's wrappers, then the app
        if isinstance(app, ProxyHeadersMiddleware):
            proxies = app
        lane = getattr(app, "lane", None)
        if lane is not None:
            return lane, proxies
        app = getattr(app, "app", None)
        if app is None:
            break
    return None, proxies


class Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering 414 and 431 (not 400) to request heads it will not hold,
    writing each answer in one piece (``Corked``), and answering what the app's lane can (a replayed
    answer, a new cheap query) as soon as the request's head has arrived, without an ASGI task — or, for
    a query the lane passes on to an external store, as soon as the store has answered, in a task of its
    own that uvicorn's pipeline, disconnection and shutdown handling see as the connection's cycle."""

    refusal: tuple[int, str] | None = None
    head_bytes = 0
    lane: Lane | None = None
    proxies: ProxyHeadersMiddleware | None = None
    dated: tuple[object, bytes] = (None, b"")  # uvicorn's default header fields (the date), encoded

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(Corked(transport, self.loop))  # type: ignore[arg-type]
        self.lane, self.proxies = lane_of(self.app)

    def on_headers_complete(self) -> None:
        if self.lane is None or not self.answered():
            super().on_headers_complete()

    def answered(self) -> bool:
        """Whether the lane answered the request whose head has arrived (HTTP/1.1 GET or HEAD, kept alive,
        nothing else in progress on the connection)."""
        parser = self.parser
        method = parser.get_method()
        if (
            method not in (b"GET", b"HEAD")
            or (self.cycle is not None and not self.cycle.response_complete)
            or parser.get_http_version() != "1.1"
            or not parser.should_keep_alive()
            or parser.should_upgrade()
            or self.expect_100_continue
        ):
            return False
        url = httptools.parse_url(self.url)
        path = url.path.decode("ascii")
        scope: Any = self.scope
        scope["method"] = method.decode("ascii")
        scope["path"] = self.root_path + (urllib.parse.unquote(path) if "%" in path else path)
        scope["raw_path"] = self.root_path.encode("ascii") + url.path
        scope["query_string"] = url.query or b""
        peer = scope["client"]
        if self.proxies is not None and peer and peer[0] in self.proxies.trusted_hosts:
            forwarded = [value for name, value in self.headers if name == b"x-forwarded-for"]
            if forwarded:
                host, port = self.proxies.trusted_hosts.get_trusted_client_address(
                    b", ".join(forwarded).decode("latin1")
                )
                if host:
                    scope["client"] = (host, port)
        assert self.lane is not None
        answer = self.lane(scope)
        if answer is None:
            scope["client"] = peer  # as uvicorn made it: the ASGI path resolves proxies itself
            return False
        if isinstance(answer, bytes):
            self.write(200, answer)
            self.cycle = ANSWERED  # type: ignore[assignment]
            self.on_response_complete()
            return True
        pending = self.cycle = Pending()  # type: ignore[assignment]
        task = self.loop.create_task(self.relay(pending, answer))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)  # a graceful shutdown waits for it
        return True

    def write(self, status: int, answer: bytes) -> None:
        defaults = self.server_state.default_headers
        if self.dated[0] is not defaults:
            self.dated = (defaults, b"".join(name + b": " + value + b"\r\n" for name, value in defaults))
        self.transport.write(STATUS_LINE[status] + self.dated[1] + answer)

    async def relay(self, pending: Pending, answer: Awaitable[Relayed]) -> None:
        """Write the lane's answer when it is made, then go on with the connection as uvicorn would."""
        try:
            status, raw, keep_alive = await answer
        except Exception as error:
            log.error("Exception in ASGI application\n", exc_info=error)
            status, raw, keep_alive = 500, BUG, False
        pending.response_complete = True
        if pending.disconnected or self.transport.is_closing():
            return
        self.write(status, raw)
        if not (keep_alive and pending.keep_alive):
            self.transport.close()
            return
        self.on_response_complete()

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
