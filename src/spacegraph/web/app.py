"""The web application: ``create_app(config)`` builds it, ``spacegraph serve`` runs it with uvicorn.

Start-up (the lifespan) starts the backend — for the embedded engine, the worker processes that load the
graph — and shutdown stops it. The backend lives in ``app.state.backend``; tests may pass their own.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp

from spacegraph import __version__
from spacegraph.config import Config
from spacegraph.engine.store import Backend, make_backend
from spacegraph.web import accesslog, error_pages
from spacegraph.web.deref import LinkedDataRouter, immutable
from spacegraph.web.discovery import DiscoveryRouter
from spacegraph.web.fragments import FragmentsRouter
from spacegraph.web.headers import SecurityHeaders
from spacegraph.web.lanes import AtOnce, Direct, Relay
from spacegraph.web.limits import RequestLimits
from spacegraph.web.metrics import Metrics
from spacegraph.web.operations import Lane, Observer, OperationsRouter, Options, document_errors
from spacegraph.web.reconcile import ReconciliationRouter
from spacegraph.web.replay import Replay
from spacegraph.web.sparql import SparqlRouter

DESCRIPTION = """\
A CNES press release of July 2016 on France-Japan space cooperation, published as a knowledge graph.

* `/sparql`: SPARQL 1.1 Protocol, read-only. The default graph is the union of the named graphs.
  Without a query, the SPARQL 1.1 Service Description.
* `/store?default`, `/store?graph=IRI`: SPARQL 1.1 Graph Store HTTP Protocol, read-only.
* `/reconcile`: Reconciliation Service API 0.2 over our entities (OpenRefine and other clients).
* `/fragments`: Triple Pattern Fragments, and Quad Pattern Fragments for the named graphs (Hydra controls),
  for Comunica and other Linked Data Fragments clients.
* `/health`, `/ready`: liveness and readiness; `/metrics`: Prometheus metrics.
"""

GZIP_MINIMUM = 1024  # bytes: smaller answers are sent as they are
GZIP_IN_THREAD = 128 * 1024  # bytes: larger answers are compressed in a thread (Starlette's default)


def create_app(config: Config, backend: Backend | None = None) -> FastAPI:
    """The application. Its backend (``make_backend(config)`` if not given) starts with the app's lifespan,
    unless it has been started already, and is closed at shutdown."""
    chosen = backend if backend is not None else make_backend(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not chosen.started:
            await chosen.start()
        app.state.backend = chosen
        app.state.immutable = immutable(chosen)  # an embedded graph: its answers may be replayed
        try:
            yield
        finally:
            await chosen.close()
            accesslog.flush_all()

    # FastAPI's OpenTelemetry bridge is off: our metrics are Prometheus's, and asking whether a tracer is
    # configured cost a fifth of a replayed answer's time.
    app = App(
        title="spacegraph",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.config = config
    sparql = SparqlRouter(config)
    app.include_router(sparql)
    app.include_router(FragmentsRouter(config, sparql))  # shares the SPARQL router's answer cache
    metrics = Metrics()
    app.state.metrics = metrics
    app.include_router(OperationsRouter(metrics))
    app.include_router(ReconciliationRouter(config))  # /reconcile: the Reconciliation Service API 0.2
    linked = LinkedDataRouter(config)
    app.include_router(linked)  # our IRIs, the pages, the published files
    app.include_router(DiscoveryRouter(linked))  # /.well-known/void, /robots.txt, /sitemap.xml
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM, thread_minimum_size=GZIP_IN_THREAD)
    app.add_middleware(Options, routes=app)  # a plain OPTIONS: 204 with Allow
    app.add_middleware(RequestLimits, config=config)  # inside CORS: a 413 or 429 is readable by a browser
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(config.cors_origins),
        allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
        allow_headers=["Accept", "Content-Type", "If-None-Match"],
        expose_headers=["ETag", "Content-Length", "Retry-After"],
        max_age=86400,
    )
    error_pages.install(app)  # errors as pages for browsers, plain text for the rest
    app.add_middleware(SecurityHeaders)

    def front(stack: ASGIApp) -> ASGIApp:
        """In front of everything, FastAPI's own middlewares included: the observer (the metrics and the
        log see every answer) and, just inside it, replay (a replayed answer is counted and logged like
        any other, and costs nothing else)."""
        direct = Direct(stack, sparql, app)  # the protocol's requests: no routing, no dependency solving
        replay = Replay(
            direct, config=config, metrics=metrics, immutable=lambda: getattr(app.state, "immutable", False)
        )
        observer = Observer(replay, config=config, metrics=metrics, routes=app)
        made = (sparql, replay, direct, config, GZIP_MINIMUM, GZIP_IN_THREAD)
        at_once = AtOnce(*made) if config.endpoint is None else None
        app.lane = Lane(observer, replay, at_once, Relay(*made))  # the server's protocol answers these (server.py)
        return observer

    app.wrap = front
    document_errors(app)  # last: every route is in place
    return app


class App(FastAPI):
    """FastAPI with a front (``create_app``'s) wrapped around its whole middleware stack."""

    wrap: Callable[[ASGIApp], ASGIApp] | None = None
    lane: Lane | None = None  # set when the stack is built

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return self.wrap(stack) if self.wrap is not None else stack


CONFIG_VARIABLE = "SPACEGRAPH_SERVE_CONFIG"


def app_from_environment() -> FastAPI:
    """The app of one of several server processes (``spacegraph serve --workers N``): uvicorn imports
    this factory in each process, and the settings come as JSON in ``SPACEGRAPH_SERVE_CONFIG``."""
    return create_app(Config.from_json(os.environ[CONFIG_VARIABLE]))
