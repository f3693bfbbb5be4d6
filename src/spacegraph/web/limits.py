"""Request limits, enforced in front of every route by one ASGI middleware, before the app reads anything.

====================== ======================================================= ===================================
limit                  default (``Config`` field, ``spacegraph serve`` option)  over it
====================== ======================================================= ===================================
URI (path + query)     3 x ``max_query_bytes`` + 8 KiB (``--max-query-bytes``), 414
                       at most 65,535 bytes (``server.MAX_URL``)
query parameters       100 (``max_parameters``, ``--max-parameters``)           400
header fields          100 (``max_headers``, ``--max-headers``)                 431
header bytes           16 KiB (``max_header_bytes``)                            431
body                   3 x (``max_query_bytes`` + 16 KiB): a form's percent-    413, on ``Content-Length`` before
                       encoded query and dataset                                anything is read, else as it streams
nesting in a query     100 levels of ``{ [ (`` (``MAX_NESTING``)                  400
time to send the body  30 s (``body_timeout``, ``--body-timeout``)              408
====================== ======================================================= ===================================

Each rejection is recorded in the scope (``REJECTED``) for the metrics and the access log.

Who asks: the middleware resolves every request's client address — the connection's peer, or the address
a trusted reverse proxy put in ``X-Forwarded-For`` (uvicorn's ``--forwarded-allow-ips``, by default
127.0.0.1 and ::1 only) — and makes the request that client's ``Caller`` (``engine/scheduler.py``) for as
long as it runs. Every evaluation the request asks of the backend, from any route, is then scheduled
fairly as that client's: its turn, its budget of evaluation time, its queue. There is no limit on
requests in flight: a client's burst waits its turn instead of being refused (see the scheduler).
"""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spacegraph.config import Config
from spacegraph.engine.analysis import Analysis
from spacegraph.engine.scheduler import calling
from spacegraph.web.server import MAX_URL

QUERY_PATHS = frozenset({"/sparql", "/store"})
REJECTED = "spacegraph.rejected"  # scope key: why the request was refused, for metrics and the log
CLIENT = "spacegraph.client"  # scope key: the client address
CALLER = "spacegraph.caller"  # scope key: the request's Caller (its evaluations' wait), for the log


MAX_NESTING = 100  # groups, brackets and parentheses inside one another in a query


def too_deep(analysis: Analysis) -> str | None:
    """Why the query is refused before evaluation (pyoxigraph's recursive parser overflows its stack on
    a few thousand nested groups, killing the process), or None."""
    if analysis.depth > MAX_NESTING:
        return f"the query nests groups, brackets or parentheses more than {MAX_NESTING} deep, this endpoint's limit"
    return None


def uri_limit(config: Config) -> int:
    """The longest path and query string: a GET of the longest query, percent-encoded, with its dataset,
    within what the HTTP parser can hold (``server.MAX_URL``); longer queries go by POST."""
    return min(3 * config.max_query_bytes + 8192, MAX_URL)


def body_limit(config: Config) -> int:
    """The largest body: a form holding the longest query, percent-encoded, with its dataset."""
    return 3 * (config.max_query_bytes + 16384)


class BodyTooLarge(Exception):
    pass


class BodyTooSlow(Exception):
    pass


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def body_message(config: Config) -> str:
    return f"the request body is larger than this endpoint's limit of {body_limit(config)} bytes"


def head_refusal(scope: Scope, config: Config) -> tuple[str, int, str] | None:
    """Why the request line or headers are refused (reason, status, message), or None."""
    max_uri = uri_limit(config)
    uri = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
    if uri > max_uri:
        return "uri-too-long", 414, f"the URI is longer than this endpoint's limit of {max_uri} bytes"
    query_string: bytes = scope.get("query_string", b"")
    parameters = query_string.count(b"&") + query_string.count(b";") + 1 if query_string else 0
    if parameters > config.max_parameters:
        limit = config.max_parameters
        return "too-many-parameters", 400, f"more than {limit} parameters in the URI, this endpoint's limit"
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    if len(headers) > config.max_headers:
        return "too-many-headers", 431, f"more than {config.max_headers} header fields, this endpoint's limit"
    size = sum(len(name) + len(value) for name, value in headers)
    if size > config.max_header_bytes:
        limit = config.max_header_bytes
        return "headers-too-large", 431, f"the header fields are larger than this endpoint's limit of {limit} bytes"
    lengths = [value for name, value in headers if name.lower() == b"content-length"]
    if lengths:
        if len(set(lengths)) > 1 or not lengths[0].isdigit():
            return "bad-content-length", 400, "the Content-Length header is not one decimal number"
        if int(lengths[0]) > body_limit(config):
            return "body-too-large", 413, body_message(config)
    return None


class RequestLimits:
    """ASGI middleware enforcing the limits above."""

    def __init__(self, app: ASGIApp, config: Config) -> None:
        self.app = app
        self.config = config
        self.max_body = body_limit(config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope[CLIENT] = client_address(scope)
        refusal = head_refusal(scope, self.config)
        if refusal is not None:
            await self.refuse(scope, receive, send, *refusal)
            return
        with calling(client) as caller:
            scope[CALLER] = caller
            await self.run(scope, receive, send)

    def body_message(self) -> str:
        return body_message(self.config)

    async def run(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, counting the body's bytes as they arrive and bounding the time it takes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.body_timeout
        received = 0
        body_done = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.001))
            except TimeoutError:
                raise BodyTooSlow from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge
                body_done = not message.get("more_body", False)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            if not started:
                await self.refuse(scope, receive, send, "body-too-large", 413, self.body_message())
        except ClientDisconnect:
            return  # the client went away: nobody to answer
        except BodyTooSlow:
            if not started:
                seconds = f"{self.config.body_timeout:g}"
                message = f"the request body did not arrive within {seconds} s, this endpoint's limit"
                await self.refuse(scope, receive, send, "body-too-slow", 408, message)

    async def refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        reason: str,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        scope[REJECTED] = reason
        # The connection is closed after the answer: the rest of the request is never read.
        response = PlainTextResponse(
            f"{message}\n", status, headers={"Cache-Control": "no-store", "Connection": "close", **(headers or {})}
        )
        await response(scope, receive, send)
