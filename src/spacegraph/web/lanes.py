"""The SPARQL protocol's fast lanes beside the app's whole stack.

``Direct`` takes the protocol's requests straight to the router's handlers, through the app's own
middlewares but without FastAPI's routing and dependency solving.

``AtOnce`` answers new cheap queries as soon as their request's head has arrived, like a replayed
answer. Replay (``replay.py``) makes a repeated query cost what uvicorn costs; a query never seen before
still took the whole way: an ASGI task, the middleware stack, the scheduler, a worker process and back —
~0.5 ms of the server's time for a point lookup whose evaluation takes ~40 µs. ``AtOnce`` answers the
cheapest of them from the server's protocol (``server.py``, through ``operations.Lane``), with no task:
a ``GET /sparql`` with one ``query`` parameter, which the embedded backend can evaluate at once
(``engine/inline.py``: triple patterns with IRI subjects, bounded before they run), on an immutable graph.

The answer is the one the stack would give, byte for byte (``tests/web/test_lanes.py`` compares them):
the router's job, ETag, answer cache and header fields, passed once per media type and size through
the app's own middlewares (``AtOnce.shape``); an answer to be compressed is passed through them itself.
Replay keeps an answer given at once when the same request comes a second time (a stream of one-off
queries would otherwise push out the answers asked again, and hold memory for nothing). Everything else
takes the ordinary way: another method, path or parameter, a request the limits refuse, a conditional
request, an ``Origin`` (CORS), a query that is not cheap, a client out of budget, an evaluation that
fails (its error is the worker's to give).

``Relay`` takes the other new queries of that plain shape from the protocol too, without the ASGI stack:
evaluated by a worker, or passed on to an external endpoint (``--endpoint``), their answers are written
when they have come.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, NamedTuple, cast
from urllib.parse import unquote_plus

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spacegraph.config import Config
from spacegraph.engine.analysis import Analysis, analyse, read_simple
from spacegraph.engine.scheduler import calling
from spacegraph.engine.store import Backend, Job, QueryError
from spacegraph.web.accesslog import ANALYSIS
from spacegraph.web.caches import LruCache
from spacegraph.web.limits import CALLER, CLIENT, client_address, head_refusal, too_deep
from spacegraph.web.replay import Replay, Replayed, key, raw_answer, replayable
from spacegraph.web.sparql import Parameters, SparqlRouter, query_failed


class Direct:
    """The protocol's requests (GET, HEAD and POST of ``/sparql``, GET and HEAD of ``/store``) taken straight
    to their handlers: through the app's own middlewares (security headers, CORS, request limits,
    compression: ``app.user_middleware``, built the same way), but without FastAPI's error, telemetry and
    body-limit layers, route matching or dependency solving, which cost a third of a new query's time in
    the server. The scope gets what routing would have set (the app, its router, the route). Every other
    request goes to ``stack``, the app's whole middleware stack."""

    def __init__(self, stack: ASGIApp, router: SparqlRouter, app: FastAPI) -> None:
        self.stack = stack
        self.app = app
        self.handlers: dict[tuple[str, str], Callable[[Request, Backend], Awaitable[Response]]] = {
            ("/sparql", "GET"): router.sparql_get,
            ("/sparql", "HEAD"): router.sparql_get,
            ("/sparql", "POST"): router.sparql_post,
            ("/store", "GET"): router.store_get,
            ("/store", "HEAD"): router.store_get,
        }
        self.routes = {
            (route.path, method): route
            for route in router.routes
            if isinstance(route, APIRoute)
            for method in route.methods or ()
            if (route.path, method) in self.handlers
        }
        self.chain = self.wrapped(self.endpoint)

    def wrapped(self, endpoint: ASGIApp) -> ASGIApp:
        """``endpoint`` inside the app's own middlewares, as the protocol's handlers are."""
        chain = endpoint
        for cls, args, kwargs in reversed(self.app.user_middleware):
            chain = cls(chain, *args, **kwargs)
        return chain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (scope["path"], scope["method"]) in self.handlers:
            await self.chain(scope, receive, send)
        else:
            await self.stack(scope, receive, send)

    async def endpoint(self, scope: Scope, receive: Receive, send: Send) -> None:
        which = (scope["path"], scope["method"])
        scope["app"], scope["router"], scope["route"] = self.app, self.app.router, self.routes[which]
        response = await self.handlers[which](Request(scope, receive), self.app.state.backend)
        await response(scope, receive, send)


PATH = "/sparql"
# Header fields that change the way an answer is given: its conditions (304), CORS, a body.
ORDINARY_WAY = frozenset({b"origin", b"if-none-match", b"if-modified-since", b"content-length", b"transfer-encoding"})
ONLY_QUERY = Parameters(queries=("",), update=False, default_graphs=None, named_graphs=None, format=None)
PLACEHOLDER = "placeholder"  # the ETag in the header fields made once per media type (``shape``)


def plain_get(scope: Scope, config: Config) -> tuple[bytes, str | None, bool] | None:
    """The query string, the ``Accept`` field and whether the client takes gzip, of a ``GET /sparql`` whose
    one parameter is ``query``, within the request limits, with no header field that changes the way it
    is answered; None for any other request."""
    if scope["method"] != "GET" or scope["path"] != PATH:
        return None
    accept: str | None = None
    compressing = False
    for name, value in scope["headers"]:
        if name in ORDINARY_WAY:
            return None
        if name == b"accept" and accept is None:
            accept = value.decode("latin-1")
        elif name == b"accept-encoding":
            compressing = compressing or b"gzip" in value
    query_string: bytes = scope["query_string"]
    if not query_string.startswith(b"query=") or b"&" in query_string or head_refusal(scope, config):
        return None
    return query_string, accept, compressing


def query_of(query_string: bytes, config: Config) -> str | None:
    """The query of a query string ``plain_get`` took, decoded as Starlette decodes it (``parse_qsl`` on the
    string read as Latin-1); None when it is larger than the limit (the ordinary way refuses it)."""
    query = unquote_plus(query_string[6:].decode("latin-1"))
    return None if len(query.encode("utf-8")) > config.max_query_bytes else query


class Collected:
    """What an ASGI app sends to a request without a body: its start and its body's parts."""

    def __init__(self) -> None:
        self.started: list[Message] = []
        self.sent: list[bytes] = []

    async def receive(self) -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started.append(message)
        elif message["type"] == "http.response.body":
            self.sent.append(message.get("body", b""))

    @property
    def body(self) -> bytes:
        return b"".join(self.sent)


class Made:
    """What both lanes share: answers made as the router and the app's own middlewares would make them."""

    def __init__(
        self,
        router: SparqlRouter,
        replay: Replay,
        direct: Direct,
        config: Config,
        gzip_minimum: int,
        gzip_in_thread: int,
    ) -> None:
        self.router = router
        self.replay = replay
        self.direct = direct
        self.app = direct.app
        self.config = config
        self.route = direct.routes[(PATH, "GET")]
        self.gzip_minimum = gzip_minimum  # bytes from which answers are compressed, when the client asks
        self.gzip_in_thread = gzip_in_thread  # ... and compressed in a thread, which ``AtOnce`` cannot wait for
        # the header fields of answers by media type, size and whether they have an ETag (``shape``)
        self.shapes: dict[tuple[str, bool, bool], list[tuple[bytes, bytes]]] = {}

    def fields(self, media_type: str, etag: str | None, body: bytes) -> list[tuple[bytes, bytes]]:
        """The header fields of a ``200`` answer to a request that does not ask for compression."""
        large = len(body) >= self.gzip_minimum
        shape = self.shapes.get((media_type, large, etag is not None))
        if shape is None:
            shape = self.shapes[(media_type, large, etag is not None)] = self.shape(media_type, large, etag is not None)
        tag, length = (etag or "").encode(), b"%d" % len(body)
        return [
            (name, tag if name == b"etag" else length if name == b"content-length" else value) for name, value in shape
        ]

    def shape(self, media_type: str, large: bool, tagged: bool) -> list[tuple[bytes, bytes]]:
        """The header fields the router and the middlewares give an answer of this media type, small or
        large (``GZIP_MINIMUM`` bytes or more: compression then adds to ``Vary``), with an ETag or not, to
        a request that does not ask for compression; with a placeholder ETag and length, filled in for each
        answer."""
        body = b" " * (self.gzip_minimum if large else 0)
        return self.through_middlewares([], media_type, PLACEHOLDER if tagged else None, body)[0]

    def through_middlewares(
        self, headers: list[tuple[bytes, bytes]], media_type: str, etag: str | None, body: bytes
    ) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """The header fields and body the router's answer leaves the app's own middlewares with (CORS's
        ``Vary``, compression, the security headers…), for a request with these header fields. They wait
        for nothing but the response (GZip compresses a body past ``gzip_in_thread`` in a thread: never
        given here), so the coroutine is driven to its end here, without the event loop."""
        collected = Collected()

        async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
            answer = Response(body, media_type=media_type, headers=self.router.cache_headers(etag))
            await answer(scope, receive, send)

        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": PATH,
            "raw_path": PATH.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 0),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        running = cast(
            Coroutine[object, object, None], self.direct.wrapped(endpoint)(scope, collected.receive, collected.send)
        )
        try:
            running.send(None)
        except StopIteration:
            pass
        else:
            running.close()
            raise RuntimeError("the middlewares waited for something while sending a made answer")
        started = collected.started
        if len(started) != 1 or started[0]["status"] != 200:
            raise RuntimeError(f"the middlewares changed a made answer: {started}")
        return list(started[0]["headers"]), collected.body


class AtOnce(Made):
    """The server's lane for new cheap queries: the request's scope → the answer, or None."""

    def __call__(self, scope: Scope) -> Replayed | None:
        state = self.app.state
        if not getattr(state, "immutable", False):
            return None
        asked = plain_get(scope, self.config)
        if asked is None:
            return None
        query_string, accept, compressing = asked
        query = query_of(query_string, self.config)
        if query is None:
            return None
        analysis = read_simple(query)
        if analysis is None:
            return None
        router = self.router
        job = router.negotiated_job(analysis, ONLY_QUERY, accept)
        if job is None:
            return None
        backend = state.backend
        etag = router.etag_of(backend, job)
        if etag is None:
            return None
        answer = router.cache.get(etag)
        if answer is None:
            answer = backend.at_once(job, client_address(scope))
            if answer is None:
                return None
        identity = key(scope)
        if identity is None:
            return None
        scope[ANALYSIS] = analysis
        scope["route"] = self.route
        body = answer.body
        large = len(body) >= self.gzip_minimum
        if large and compressing:  # compressed by the middlewares themselves, for this request
            if len(body) >= self.gzip_in_thread:
                router.cache.put(etag, answer)
                return None  # the ordinary way, from the answer cache
            fields, body = self.through_middlewares(scope["headers"], answer.media_type, etag, body)
        else:
            fields = self.fields(answer.media_type, etag, body)
        start = {"type": "http.response.start", "status": 200, "headers": fields}
        return self.replay.keep(identity, start, body, self.route, again=True)


class Given(NamedTuple):
    """A relayed answer as the server's protocol writes it (``server.Relayed``), and its body's size."""

    status: int
    raw: bytes  # the header fields, the blank line and the body
    keep_alive: bool
    size: int


QUERY_FORMS = frozenset({"select", "ask", "construct", "describe"})
READ = 512  # query strings whose reading the relay keeps (a client repeats its texts; ~5 MB at most)
READ_LARGEST = 4096  # bytes of the longest query string kept


class Relay(Made):
    """The server's lane for the new queries that take a while — evaluated by a query worker, or passed on
    to an external endpoint (``--endpoint``): the request's scope → the answer to come, or None.

    The whole ASGI way — a task, the middleware stack, Starlette's request and response — cost ~0.45 ms
    of the server's time per query, more than an external store takes to answer a cheap one. A ``GET
    /sparql`` whose one parameter is a query without SERVICE (whose calls are checked or federated in a
    worker first) is taken from the protocol instead: its answer comes from the answer cache, or through
    the scheduler as any other (the client's turn, budget and time limit); a ``200`` answer gets the
    header fields the middlewares give it (``Made.fields``) and is kept for replay as the ordinary way
    keeps it; any other answer — an error, a refusal, an answer to compress — is passed through the
    middlewares themselves. The reading of a query string (decoded, ``analyse``) is kept for its next
    coming (``READ``): a client repeats its texts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read: LruCache[bytes, Analysis] = LruCache(READ)

    def __call__(self, scope: Scope) -> Coroutine[Any, Any, Given] | None:
        backend = getattr(self.app.state, "backend", None)
        if backend is None:
            return None
        asked = plain_get(scope, self.config)
        if asked is None:
            return None
        query_string, accept, compressing = asked
        analysis = self.read.get(query_string)
        if analysis is None:
            query = query_of(query_string, self.config)
            if query is None:
                return None
            analysis = analyse(query)
            if len(query_string) <= READ_LARGEST:
                self.read.put(query_string, analysis)
        if analysis.form not in QUERY_FORMS or analysis.mentions_service or too_deep(analysis) is not None:
            return None
        router = self.router
        job = router.negotiated_job(analysis, ONLY_QUERY, accept)
        if job is None:
            return None
        etag = None if analysis.volatile else router.etag_of(backend, job)
        scope[ANALYSIS] = analysis
        scope["route"] = self.route
        return self.given(scope, backend, job, etag, compressing)

    async def given(self, scope: Scope, backend: Backend, job: Job, etag: str | None, compressing: bool) -> Given:
        router = self.router
        answer = router.cache.get(etag) if etag is not None else None
        if answer is None:
            client = scope[CLIENT] = client_address(scope)
            with calling(client) as caller:
                scope[CALLER] = caller
                try:
                    answer = await backend.query(job)
                except QueryError as error:
                    start, body = await self.passed(scope, query_failed(error, self.config.timeout))
                    return self.give(scope, start, body)
                except Exception as error:  # a bug: answered as the middlewares answer one (a page, or uvicorn's 500)
                    start, body = await self.passed(scope, error)
                    return self.give(scope, start, body)
            if etag is not None:
                router.cache.put(etag, answer)
        body = answer.body
        if compressing and len(body) >= self.gzip_minimum:
            cache = router.cache_headers(etag)
            start, body = await self.passed(scope, Response(body, media_type=answer.media_type, headers=cache))
        else:
            start = {
                "type": "http.response.start",
                "status": 200,
                "headers": self.fields(answer.media_type, etag, body),
            }
        return self.give(scope, start, body)

    def give(self, scope: Scope, start: Message, body: bytes) -> Given:
        """The answer as the protocol writes it, kept for replay when the ordinary way would keep it."""
        if replayable(start) and getattr(self.app.state, "immutable", False) and (identity := key(scope)) is not None:
            return Given(200, self.replay.keep(identity, start, body, self.route).raw, True, len(body))
        closing = any(name.lower() == b"connection" and value.lower() == b"close" for name, value in start["headers"])
        return Given(start["status"], raw_answer(start, body), not closing, len(body))

    async def passed(self, scope: Scope, response: Response | Exception) -> tuple[Message, bytes]:
        """The start and body ``response`` leaves the app's own middlewares with, for this request; an
        exception is raised inside them (and out of them, unless they answer it)."""
        collected = Collected()

        async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
            if isinstance(response, Exception):
                raise response
            await response(scope, receive, send)

        inner = {**scope, "app": self.app, "router": self.app.router}  # the middlewares' own keys stay theirs
        await self.direct.wrapped(endpoint)(inner, collected.receive, collected.send)
        return collected.started[0], collected.body
