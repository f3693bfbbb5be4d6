"""What load balancers, orchestrators and operators ask of a running endpoint.

* ``/health``: liveness. 200 while the process answers HTTP at all.
* ``/ready``: readiness. 200 once the graph is loaded (embedded engine: the query workers have started
  and counted the triples) or the external endpoint answers ``ASK {}`` within ``READY_TIMEOUT`` seconds;
  503 otherwise, with the reason. Both answer JSON.
* ``/metrics``: Prometheus metrics (``metrics.py``).

``Observer``, the outermost middleware, times every request and feeds the metrics and the access log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spacegraph import __version__
from spacegraph.config import Config
from spacegraph.engine.analysis import analyse
from spacegraph.engine.scheduler import Caller
from spacegraph.engine.store import Backend, EmbeddedBackend, Job, QueryError
from spacegraph.web import accesslog
from spacegraph.web.lanes import Given
from spacegraph.web.limits import CALLER, CLIENT, REJECTED, body_limit, client_address
from spacegraph.web.metrics import Metrics
from spacegraph.web.replay import Replay, Replayed

READY_TIMEOUT = 3.0  # seconds the external endpoint has to answer the readiness probe
NO_STORE = {"Cache-Control": "no-store"}
QUERY_TYPES = frozenset({"application/x-www-form-urlencoded", "application/sparql-query", "application/sparql-update"})

STATUS_SCHEMA = {
    "type": "object",
    "properties": {"status": {"type": "string"}, "version": {"type": "string"}, "reason": {"type": "string"}},
    "required": ["status"],
}
JSON_STATUS = {"application/json": {"schema": STATUS_SCHEMA}}


def backend_of(request: Request) -> Backend | None:
    backend: Backend | None = getattr(request.app.state, "backend", None)
    return backend


async def readiness(backend: Backend | None) -> tuple[bool, str, int | None]:
    """Whether queries can be answered now, why not, and the graph's size when known."""
    if backend is None or not backend.started:
        return False, "the backend has not started", None
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            if isinstance(backend, EmbeddedBackend):
                if not backend.pool.workers:
                    return False, "no query worker is running", None
            else:
                await backend.query(Job(analyse("ASK {}"), results_format="json"))
            summary = await backend.summary()
    except TimeoutError:
        return False, f"the backend did not answer within {READY_TIMEOUT:g} s", None
    except QueryError as error:
        return False, error.message, None
    return True, "ready", summary.default_triples


class OperationsRouter(APIRouter):
    def __init__(self, metrics: Metrics) -> None:
        super().__init__(tags=["operations"])
        self.metrics = metrics
        self.add_api_route(
            "/health",
            self.health,
            methods=["GET"],
            summary="Liveness: the process answers",
            responses={200: {"description": "Alive", "content": JSON_STATUS}},
        )
        self.add_api_route(
            "/ready",
            self.ready,
            methods=["GET"],
            summary="Readiness: the graph is loaded, or the external endpoint answers",
            responses={
                200: {"description": "Ready", "content": JSON_STATUS},
                503: {"description": "Not ready, with the reason", "content": JSON_STATUS},
            },
        )
        self.add_api_route(
            "/metrics",
            self.prometheus,
            methods=["GET"],
            summary="Prometheus metrics",
            responses={200: {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}},
        )

        # HEAD after GET: a 405 names the documented method (FastAPI takes the first route of a path)
        for path, endpoint in (("/health", self.health), ("/ready", self.ready), ("/metrics", self.prometheus)):
            self.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False)

    async def health(self) -> Response:
        return JSONResponse({"status": "ok", "version": __version__}, headers=NO_STORE)

    async def ready(self, request: Request) -> Response:
        ready, reason, triples = await readiness(backend_of(request))
        body: dict[str, Any] = {"status": "ready" if ready else "not ready", "version": __version__}
        if triples is not None:
            body["triples"] = triples
        if not ready:
            body["reason"] = reason
        return JSONResponse(body, status_code=200 if ready else 503, headers=NO_STORE)

    async def prometheus(self, request: Request) -> Response:
        backend = backend_of(request)
        if backend is not None and backend.started:
            self.metrics.set_data(backend.fingerprint)
            try:
                async with asyncio.timeout(READY_TIMEOUT):
                    self.metrics.backend.triples = (await backend.summary()).default_triples
            except (TimeoutError, QueryError):
                pass  # unknown for now: the metric is left out
            self.metrics.backend.scheduler = getattr(backend, "scheduler", None)
            if isinstance(backend, EmbeddedBackend):
                self.metrics.backend.pool = backend.pool
        return Response(self.metrics.exposition(), media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)


def templates(routes: Iterable[object]) -> Iterator[str]:
    """The path templates of the routes, those of included routers too."""
    for route in routes:
        path = getattr(route, "path", None)
        if isinstance(path, str):
            yield path
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if inner is not None and inner is not route:
            yield from templates(getattr(inner, "routes", ()))


TEXT = {"text/plain": {"schema": {"type": "string"}}}
LIMIT_ERRORS = {
    "400": "Bad request: a malformed query (with line and column), a bad parameter, too many parameters",
    "408": "The request body did not arrive within the time limit",
    "413": "The request body is larger than the limit",
    "414": "The URI is longer than the limit",
    "429": "This client address is past its budget of evaluation time (Retry-After: when it may come back)",
    "431": "Too many or too large header fields",
}
QUERY_ERRORS = {
    "403": "SPARQL Update (read-only endpoint), or a SERVICE call that is not allowed",
    "404": "No such graph",
    "406": "No offered format is acceptable; the body lists the offered media types",
    "415": "A body of another type than a form or application/sparql-query",
    "502": "The external SPARQL endpoint cannot be reached or gave no usable answer",
    "503": "The queues of queries waiting for their turn are full (Retry-After)",
    "504": "The query ran past the time limit",
}


def document_errors(app: FastAPI) -> None:
    """Add the error answers to the app's OpenAPI document: the limits' to every operation, the query
    errors to the query routes'. Call once every route is in place."""
    from spacegraph.web.limits import QUERY_PATHS

    schema = app.openapi()
    for path, operations in schema.get("paths", {}).items():
        errors = {**LIMIT_ERRORS, **(QUERY_ERRORS if path in QUERY_PATHS else {})}
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in errors.items():
                responses.setdefault(status, {"description": description, "content": TEXT})


def allowed_methods(routes: Iterable[object], path: str) -> set[str]:
    """The methods the documented routes of ``path`` answer (HEAD with GET), with OPTIONS."""
    methods: set[str] = set()
    for route in routes:
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if inner is not None and inner is not route:
            methods |= allowed_methods(getattr(inner, "routes", ()), path)
        if getattr(route, "path", None) == path and getattr(route, "include_in_schema", False):
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return methods | {"OPTIONS"} if methods else set()


class Options:
    """ASGI middleware answering a plain ``OPTIONS`` (not a CORS preflight, which CORSMiddleware answers
    first) with 204 and the ``Allow`` header of the path's documented methods."""

    def __init__(self, app: ASGIApp, routes: FastAPI) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            methods = allowed_methods(self.routes.router.routes, scope["path"])
            if methods:
                allow = ", ".join(sorted(methods))
                await Response(status_code=204, headers={"Allow": allow})(scope, receive, send)
                return
        await self.app(scope, receive, send)


def route_label(app: FastAPI, scope: Scope) -> str:
    """The template of the route that took the request (the router records it in the scope); for a
    request refused before routing, the route whose template is its path; else ``unmatched``."""
    route = scope.get("route")
    if route is not None and isinstance(getattr(route, "path", None), str):
        return str(route.path)
    path = scope.get("path", "")
    for template in templates(app.router.routes):
        if "{" not in template and (path == template or (template != "/" and path.startswith(template + "/"))):
            return template
    return "unmatched"


class Observer:
    """ASGI middleware: times each request and records it in the metrics and the access log."""

    def __init__(self, app: ASGIApp, config: Config, metrics: Metrics, routes: FastAPI) -> None:
        self.app = app
        self.config = config
        self.metrics = metrics
        self.routes = routes
        self.body_cap = body_limit(config)
        self.sink = accesslog.install(config.access_log)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        begin = time.perf_counter()
        logged = self.sink is not None or accesslog.log.isEnabledFor(logging.INFO)
        content_type = ""
        for name, value in scope.get("headers", []):
            if name == b"content-type":
                content_type = value.decode("latin-1").split(";")[0].strip().lower()
        keep_body = logged and scope["method"] == "POST" and content_type in QUERY_TYPES
        body = bytearray()
        status = 500  # unless an answer starts: an exception inside becomes uvicorn's or Starlette's 500
        size = 0

        async def observed_receive() -> Message:
            message = await receive()
            if keep_body and message["type"] == "http.request" and len(body) <= self.body_cap:
                body.extend(message.get("body", b"")[: self.body_cap + 1 - len(body)])
            return message

        async def observed_send(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, observed_receive, observed_send)
        finally:
            self.metrics.in_flight.dec()
            self.record(scope, status, size, time.perf_counter() - begin, logged, content_type, bytes(body))

    def record(
        self, scope: Scope, status: int, size: int, seconds: float, logged: bool, content_type: str, body: bytes
    ) -> None:
        """The request in the metrics and, if ``logged``, in the access log."""
        route = route_label(self.routes, scope)
        caller: Caller | None = scope.get(CALLER)
        rejected = scope.get(REJECTED) or (caller.refused if caller is not None else None)
        self.metrics.observe(route, scope["method"], status, seconds, rejected)
        if logged:
            line = accesslog.line(
                method=scope["method"],
                route=route,
                path=scope["path"],
                status=status,
                seconds=seconds,
                size=size,
                client=scope.get(CLIENT) or client_address(scope),
                query=accesslog.request_query(scope, content_type, body),
                rejected=rejected,
                waited=caller.waited if caller is not None else 0.0,
                with_text=self.config.log_queries,
            )
            accesslog.write(self.sink, line)


class Lane:
    """The server's fast lane (``server.Protocol``): a request ``replay`` has kept the answer to, or a new
    cheap query ``at_once`` can answer (``lanes.AtOnce``), answered as soon as its head has arrived — its
    header fields and body as bytes — or a new query ``relay`` takes (``lanes.Relay``), answered when a
    worker or the external endpoint has; counted and logged as the observer would. None: the request
    takes the ASGI path."""

    def __init__(
        self,
        observer: Observer,
        replay: Replay,
        at_once: Callable[[Scope], Replayed | None] | None = None,
        relay: Callable[[Scope], Coroutine[Any, Any, Given] | None] | None = None,
    ) -> None:
        self.observer = observer
        self.replay = replay
        self.at_once = at_once
        self.relay = relay

    def __call__(self, scope: Scope) -> bytes | Coroutine[Any, Any, tuple[int, bytes, bool]] | None:
        begin = time.perf_counter()
        replayed = self.replay.hit(scope)
        observer = self.observer
        if replayed is None:
            answered = self.at_once(scope) if self.at_once is not None else None
            if answered is None:
                relayed = self.relay(scope) if self.relay is not None else None
                return self.relayed(scope, relayed, begin) if relayed is not None else None
            logged = observer.sink is not None or accesslog.log.isEnabledFor(logging.INFO)
            observer.record(scope, 200, answered.size, time.perf_counter() - begin, logged, "", b"")
            return answered.raw
        seconds = time.perf_counter() - begin
        scope["route"] = replayed.route  # what routing set the first time: its label without a search
        if observer.sink is None:  # no log of its own: counted, and logged only for a listener
            logged = accesslog.log.isEnabledFor(logging.INFO)
            observer.record(scope, 200, replayed.size, seconds, logged, "", b"")
            return replayed.raw
        route = route_label(observer.routes, scope)
        observer.metrics.observe(route, scope["method"], 200, seconds, None)
        if not replayed.logged:  # what stays the same in its lines, made once
            whole = accesslog.line(
                method=scope["method"],
                route=route,
                path=scope["path"],
                status=200,
                seconds=0.0,
                size=replayed.size,
                client="",
                query=accesslog.request_query(scope, "", b""),
                rejected=None,
                waited=0.0,
                with_text=observer.config.log_queries,
            )
            before, _, after = whole.partition('"duration_ms": 0.0')
            between, _, tail = after.partition(', "client": ""')
            replayed.logged[:] = [before.partition(", ")[2] + '"duration_ms": ', between + ', "client": ', tail]
        observer.sink.add_replayed((time.time(), seconds, scope.get("client"), replayed.logged))
        return replayed.raw

    async def relayed(self, scope: Scope, answer: Coroutine[Any, Any, Given], begin: float) -> tuple[int, bytes, bool]:
        observer = self.observer
        logged = observer.sink is not None or accesslog.log.isEnabledFor(logging.INFO)
        status, size = 500, 0  # unless it is given: an exception becomes uvicorn's 500 (``server.Protocol``)
        observer.metrics.in_flight.inc()
        try:
            given = await answer
            status, size = given.status, given.size
            return given.status, given.raw, given.keep_alive
        finally:
            observer.metrics.in_flight.dec()
            observer.record(scope, status, size, time.perf_counter() - begin, logged, "", b"")
