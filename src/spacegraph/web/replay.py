"""Replay: the answers of an immutable graph, kept whole as they left the app and sent again as they are.

The embedded graph does not change while a server runs, so a request the app has answered with ``200`` and
``Cache-Control: public`` will get the same answer again, byte for byte. ``Replay`` sits just inside the
metrics and the access log (every request is still counted and logged) and outside everything else:
security headers, CORS, the request limits, compression, routing, negotiation, evaluation. On a hit none of
that runs; the stored start and body are sent. This is the request path's fast lane: a repeated query or
page costs what uvicorn costs, instead of the whole middleware stack and a worker round trip (figures in
the README, "Speed").

What makes two requests the same (``key``): method, scheme, path, query string and every header field but
those that cannot change an answer (``IGNORED``: the client's software, the connection, the proxy's client
address, caching directives, fetch metadata). An unknown header therefore only costs a miss. Kept: ``200``
answers to GET and HEAD without a request body, whose ``Cache-Control`` says ``public`` and not
``no-store``, ``no-cache`` or ``private`` — errors, volatile queries (``RAND()``, ``NOW()``…), redirects,
health, readiness and metrics never are — within ``budget`` bytes (bodies, headers and keys counted,
``spacegraph_replay_bytes`` in the metrics), least recently used out first.
Not used at all when the backend's data is not known to be immutable (``--endpoint`` without
``--endpoint-version``: no fingerprint).

The request limits still hold on a hit: a head they would refuse goes down the stack to be refused. A
replayed answer never reaches the scheduler (it is sent at once).

Served by ``spacegraph serve``, a hit is answered before even that: the server's protocol (``server.py``)
asks the app's lane (``operations.Lane``: ``Replay.hit``, then the metrics and the log; for a new cheap
query, ``lanes.AtOnce``, whose answers are kept here on their second coming) as soon as a request's head
has arrived, and writes the kept bytes itself — no ASGI task, scope handling or message
dispatch; any other new query (``lanes.Relay``) is answered once it is evaluated, and kept as the ASGI
path keeps it. Requests it cannot answer so (a miss, a pipelined request, HTTP/1.0, ``Connection: close``)
take the ASGI path, where ``Replay`` answers the same hits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spacegraph.config import Config
from spacegraph.web.caches import LruCache
from spacegraph.web.limits import head_refusal
from spacegraph.web.metrics import Metrics

IGNORED = frozenset(
    {
        b"user-agent",
        b"connection",
        b"keep-alive",
        b"x-forwarded-for",
        b"referer",
        b"cache-control",
        b"pragma",
        b"dnt",
        b"priority",
        b"upgrade-insecure-requests",
        b"sec-fetch-site",
        b"sec-fetch-mode",
        b"sec-fetch-dest",
        b"sec-fetch-user",
        b"sec-ch-ua",
        b"sec-ch-ua-mobile",
        b"sec-ch-ua-platform",
    }
)
REFUSING_DIRECTIVES = ("no-store", "no-cache", "private")
METHODS = frozenset({"GET", "HEAD"})
SIGHTINGS = 16384  # requests the doorkeeper remembers having answered once (then it starts anew)
Key = tuple[Any, ...]


@dataclass(frozen=True)
class Replayed:
    start: Message
    raw: bytes  # the header fields, the blank line and the body, as the server's fast lane writes them
    size: int  # the body's length: the end of ``raw``
    route: Any  # the route that answered, for the metrics' and the log's route label
    cost: int  # bytes held: the body, the headers and the key (a long query string is a long key)
    logged: list[str] = field(default_factory=list, compare=False)  # the parts of its log line that stay

    @property
    def body(self) -> bytes:
        """The body, copied out of ``raw`` (kept once: the ASGI path's hits are the rare ones)."""
        return self.raw[len(self.raw) - self.size :]


def raw_answer(start: Message, body: bytes) -> bytes:
    """An answer's header fields (lower-case names, as uvicorn writes them), the blank line and the body."""
    fields = b"".join(name.lower() + b": " + value + b"\r\n" for name, value in start.get("headers", ()))
    return fields + b"\r\n" + body


def cost_of(identity: Key, start: Message, body: bytes) -> int:
    held = len(body) + sum(len(name) + len(value) for name, value in start.get("headers", ()))
    return held + sum(len(part) if isinstance(part, bytes | str) else sum(map(len, part)) for part in identity)


def key(scope: Scope) -> Key | None:
    """What identifies the request's answer, or None if it may not be replayed (not GET or HEAD, a body)."""
    if scope["method"] not in METHODS:
        return None
    fields = []
    for name, value in scope["headers"]:
        if name in IGNORED:
            continue
        if name == b"content-length" or name == b"transfer-encoding":
            return None
        fields.append((name, value))
    fields.sort()
    return (scope["method"], scope["scheme"], scope.get("raw_path") or scope["path"], scope["query_string"], *fields)


def replayable(start: Message) -> bool:
    if start["status"] != 200:
        return False
    for name, value in start.get("headers", ()):
        if name.lower() == b"cache-control":
            directives = value.decode("latin-1").lower()
            return "public" in directives and not any(word in directives for word in REFUSING_DIRECTIVES)
    return False


class Replay:
    """ASGI middleware: answers a request it has seen answered before from what it kept; keeps the rest."""

    def __init__(self, app: ASGIApp, config: Config, metrics: Metrics, immutable: Callable[[], bool]) -> None:
        self.app = app
        self.metrics = metrics
        self.immutable = immutable
        self.config = config
        self.sighted: set[int] = set()  # hashes of the requests answered once (``keep``'s doorkeeper)
        self.kept: LruCache[Key, Replayed] = LruCache(
            config.cache_bytes // 2, weight=lambda replayed: replayed.cost, largest=config.cache_bytes // 16
        )

    def hit(self, scope: Scope) -> Replayed | None:
        """What was kept for this request, if it may be replayed (counted as replayed), else None. Its URI
        and the fields of its key passed the request limits when it was kept; the fields a key ignores
        are counted here (``head_refusal``'s field limits)."""
        identity = key(scope) if self.immutable() else None
        replayed = self.kept.get(identity) if identity is not None else None
        if replayed is None:
            return None
        headers = scope["headers"]
        config = self.config
        if len(headers) > config.max_headers or sum(len(n) + len(v) for n, v in headers) > config.max_header_bytes:
            return None  # refused down the stack
        scope["route"] = replayed.route
        self.metrics.replay()
        return replayed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replayed = self.hit(scope)
        if replayed is not None:
            await send(replayed.start)
            await send({"type": "http.response.body", "body": replayed.body})
            return
        identity = key(scope) if self.immutable() else None
        if identity is None or head_refusal(scope, self.config) is not None:
            await self.app(scope, receive, send)
            return
        await self.answer_and_keep(identity, scope, receive, send)

    async def answer_and_keep(self, identity: Key, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message | None = None
        parts: list[bytes] = []
        size = 0
        keep = True

        async def watched_send(message: Message) -> None:
            nonlocal start, size, keep
            if message["type"] == "http.response.start":
                start = message
                keep = replayable(message)
            elif message["type"] == "http.response.body" and keep:
                body = message.get("body", b"")
                size += len(body)
                keep = size <= self.kept.largest
                parts.append(body)
            await send(message)

        await self.app(scope, receive, watched_send)
        if keep and start is not None:
            self.keep(identity, start, b"".join(parts), scope.get("route"))

    def keep(self, identity: Key, start: Message, body: bytes, route: Any, again: bool = False) -> Replayed:
        """Keep an answer to replay (if it fits the budget), and give it as kept. With ``again``, only if
        the same request was answered before (a doorkeeper: a stream of one-off queries then leaves the
        answers asked again in place, and costs no memory)."""
        if again:
            sighting = hash(identity)
            if sighting not in self.sighted:
                if len(self.sighted) >= SIGHTINGS:
                    self.sighted.clear()
                self.sighted.add(sighting)
                return Replayed(start, raw_answer(start, body), len(body), route, 0)
        replayed = Replayed(start, raw_answer(start, body), len(body), route, cost_of(identity, start, body))
        self.kept.put(identity, replayed)
        self.metrics.replay_bytes.set(self.kept.used)
        return replayed
