"""The HTTP client of an external SPARQL endpoint (``store.RemoteBackend``): HTTP/1.1 POSTs of a form on
kept-alive connections, answers read with httptools' parser (C: lengths and chunks), no redirects, no
proxies from the environment.

We measured httpx here (over anyio and httpcore) at about a millisecond of the server's time per query,
more than Oxigraph server takes to answer a cheap one; this does what the backend needs in about a
tenth. A connection is reused while the store keeps it open; a request that finds a kept connection
closed by the store (before any byte of the answer) is sent again once on a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import httptools

from spacegraph import __version__

KEPT = 16  # idle connections kept
FORMS = 512  # encoded forms kept (a client repeats its queries), each of at most FORM_LARGEST characters
FORM_LARGEST = 4096


@functools.lru_cache(maxsize=FORMS)
def _encoded(form: tuple[tuple[str, str], ...]) -> bytes:
    return urlencode(form).encode("ascii")


def encoded(form: list[tuple[str, str]]) -> bytes:
    """The form, ``application/x-www-form-urlencoded``; a small one is kept for its next coming."""
    if sum(len(name) + len(value) for name, value in form) > FORM_LARGEST:
        return urlencode(form).encode("ascii")
    return _encoded(tuple(form))


class EndpointError(Exception):
    """The endpoint cannot be reached, closed the connection, or answered something that is not HTTP."""


class TooLarge(Exception):
    """The answer is larger than the caller takes."""


@dataclass
class Exchange:
    """What the parser has read of one answer."""

    limit: int
    parser: httptools.HttpResponseParser | None = None
    keep: bool = False  # the store keeps the connection open after this answer
    headers: dict[bytes, bytes] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    done: bool = False
    header: bytes = b""

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_headers_complete(self) -> None:
        assert self.parser is not None
        self.keep = self.parser.should_keep_alive()  # asked now: the parser forgets it once the answer is in

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.limit:
            raise TooLarge
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.done = True


@dataclass(eq=False)
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def close(self) -> None:
        self.writer.close()


class Client:
    """POSTs to one endpoint URL (http or https)."""

    def __init__(self, url: str, connect_timeout: float) -> None:
        parts = urlsplit(url)
        self.secure = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.secure else 80)
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default = 443 if self.secure else 80
        self.authority = (self.host if ":" not in self.host else f"[{self.host}]") + (
            f":{self.port}" if self.port != default else ""
        )
        self.connect_timeout = connect_timeout
        self.idle: list[Connection] = []
        self.context = ssl.create_default_context() if self.secure else None

    async def post(self, form: list[tuple[str, str]], accept: str, limit: int) -> tuple[int, str, bytes]:
        """The status, media type (as sent) and body of the answer to the form; EndpointError or TooLarge."""
        body = encoded(form)
        head = (
            f"POST {self.target} HTTP/1.1\r\nHost: {self.authority}\r\nAccept: {accept}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
            f"User-Agent: spacegraph/{__version__}\r\n\r\n"
        ).encode("latin-1")
        while self.idle:  # a kept connection: the store may have closed it meanwhile
            connection = self.idle.pop()
            try:
                return await self.exchange(connection, head + body, limit, reused=True)
            except ConnectionResetError:
                continue
        return await self.exchange(await self.connect(), head + body, limit, reused=False)

    async def connect(self) -> Connection:
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(
                    self.host, self.port, ssl=self.context, server_hostname=self.host if self.secure else None
                )
        except (OSError, TimeoutError) as error:
            raise EndpointError(f"cannot connect: {error or type(error).__name__}") from None
        return Connection(reader, writer)

    async def exchange(
        self, connection: Connection, request: bytes, limit: int, reused: bool
    ) -> tuple[int, str, bytes]:
        """Send the request and read its answer; ConnectionResetError if a reused connection turned out
        closed before any of the answer came (the caller sends it again on another)."""
        exchange = Exchange(limit)
        parser = exchange.parser = httptools.HttpResponseParser(exchange)
        kept = False
        try:
            connection.writer.write(request)
            await connection.writer.drain()
            received = False
            while not exchange.done:
                data = await connection.reader.read(65536)
                if not data:
                    if reused and not received:
                        raise ConnectionResetError
                    delimited = b"content-length" in exchange.headers or b"transfer-encoding" in exchange.headers
                    if not received or delimited:
                        raise EndpointError("the connection was closed before the answer was complete")
                    break  # an answer that ends with the connection
                received = True
                parser.feed_data(data)
            kept = exchange.done and exchange.keep
        except ConnectionError as error:  # reset, or a broken pipe when writing to a connection reset earlier
            if reused and not exchange.chunks and not exchange.headers:
                raise ConnectionResetError from None
            raise EndpointError(
                f"the connection was {'reset' if isinstance(error, ConnectionResetError) else 'broken'}"
            ) from None
        except httptools.HttpParserCallbackError as error:  # before its base class, HttpParserError
            if isinstance(error.__context__, TooLarge):
                raise TooLarge from None
            raise EndpointError(str(error)) from None
        except (OSError, httptools.HttpParserError) as error:
            raise EndpointError(str(error) or type(error).__name__) from None
        finally:
            if kept and len(self.idle) < KEPT:
                self.idle.append(connection)
            else:
                connection.close()
        media_type = exchange.headers.get(b"content-type", b"").decode("latin-1")
        return parser.get_status_code(), media_type, b"".join(exchange.chunks)

    async def close(self) -> None:
        idle, self.idle = self.idle, []
        for connection in idle:
            connection.close()
            with contextlib.suppress(OSError):
                await connection.writer.wait_closed()
