"""The settings of the SPARQL endpoint, as one frozen dataclass that is passed in (never read from the
environment at import time). ``spacegraph serve`` builds one from its options; tests build their own."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

from spacegraph import PROJECT_ROOT
from spacegraph.errors import SpacegraphError
from spacegraph.namespaces import ID

DIST = PROJECT_ROOT / "dist"
DEFAULT_DATA = DIST / "spacegraph.nq"
DATASET_IRI = ID + "dataset"  # the VoID description of the whole dataset (see dumps.py, dist/void.ttl)


@dataclass(frozen=True)
class Config:
    """Where the graph comes from and how hard the endpoint protects itself.

    Exactly one of ``data`` (RDF files or folders, evaluated by the embedded pyoxigraph engine) and
    ``endpoint`` (an external SPARQL 1.1 endpoint that the app fronts) is set.
    """

    data: tuple[Path, ...] = ()
    endpoint: str | None = None
    # The endpoint's data does not change while we serve it; this names it (e.g. the SHA-256 of the dump
    # loaded into the store). Turns on ETags, the answer cache and replay, as for embedded data.
    endpoint_version: str | None = None
    timeout: float = 10.0  # seconds a query may run; the worker evaluating it is killed at the limit
    max_rows: int = 10_000  # solutions (SELECT) or triples (CONSTRUCT, DESCRIBE) in one answer
    fragment_page_size: int = 100  # triples or quads in one page of a Linked Data Fragment (fragments.py)
    max_query_bytes: int = 64 * 1024  # UTF-8 size of a query (GET parameter or POST body)
    query_workers: int = 2  # evaluation processes kept started; a runaway query occupies one until it is killed
    # evaluation processes at most, started on demand; None: query_workers + client_queries, so that one
    # client running its share still leaves query_workers for the others
    max_query_workers: int | None = None
    worker_idle: float = 30.0  # seconds a worker started on demand may stay idle before it is stopped
    service_allow: tuple[str, ...] = ()  # SERVICE targets allowed, exact IRIs; empty: no federation
    cache_bytes: int = 32 * 1024 * 1024  # answers kept in memory, in all: half replayed whole, half by ETag
    cache_max_age: int = 3600  # seconds, in Cache-Control; answers carry an ETag for revalidation
    worker_memory_mb: int | None = 2048  # address-space limit of each evaluation process
    sandbox: bool = True  # forbid network sockets in evaluation processes (Linux seccomp) when possible
    startup_timeout: float = 120.0  # seconds to wait for the evaluation processes to load the graph
    dataset_iri: str = DATASET_IRI
    cors_origins: tuple[str, ...] = field(default=("*",))
    # Request limits (limits.py); the URI and body limits follow max_query_bytes.
    # Fair evaluation (engine/scheduler.py), per client address:
    client_queries: int = 2  # evaluations running at once; more wait their turn in the client's queue
    client_queue: int = 32  # evaluations waiting; more get 503 with Retry-After
    client_budget: float = 60.0  # seconds of evaluation time a minute; past it, 429 with Retry-After
    max_parameters: int = 100  # query-string parameters; more get 400
    max_headers: int = 100  # request header fields; more, or more than max_header_bytes in all, get 431
    max_header_bytes: int = 16 * 1024
    body_timeout: float = 30.0  # seconds a client may take to send its body; slower gets 408
    # Operations (accesslog.py): one JSON line per request to this file, "-" for stderr, None for nowhere
    access_log: str | None = None
    log_queries: bool = False  # also log each query's text (never a body or a header)
    # Where the public reaches this server when it listens behind a proxy (https://data.example.org/sg/):
    # the links of the pages, the sitemap, the description's access URLs and the canonical links name
    # addresses under it. None: links are local paths, public addresses are under our IRIs' base.
    public_url: str | None = None

    def __post_init__(self) -> None:
        if bool(self.data) == bool(self.endpoint):
            raise SpacegraphError("give either data files or a SPARQL endpoint URL, not both or neither")
        if self.endpoint is not None and not is_http_url(self.endpoint):
            raise SpacegraphError(f"not an http(s) URL: {self.endpoint}")
        if self.endpoint_version is not None and (self.endpoint is None or not self.endpoint_version.strip()):
            raise SpacegraphError("an endpoint version names the data of an external endpoint: give it with one")
        for name in ("timeout", "startup_timeout", "body_timeout", "client_budget", "worker_idle"):
            if not getattr(self, name) > 0:
                raise SpacegraphError(f"{name} must be positive")
        limits = ("max_rows", "fragment_page_size", "max_query_bytes", "query_workers", "client_queries")
        for name in (*limits, "max_parameters", "max_headers"):
            if getattr(self, name) < 1:
                raise SpacegraphError(f"{name} must be at least 1")
        if self.client_queue < 0:
            raise SpacegraphError("client_queue cannot be negative")
        if self.max_query_workers is not None and self.max_query_workers < self.query_workers:
            raise SpacegraphError("max_query_workers cannot be fewer than query_workers")
        if self.max_header_bytes < 1024:
            raise SpacegraphError("max_header_bytes must be at least 1024")
        if self.cache_bytes < 0 or self.cache_max_age < 0:
            raise SpacegraphError("cache_bytes and cache_max_age cannot be negative")
        if self.worker_memory_mb is not None and self.worker_memory_mb < 256:
            raise SpacegraphError("worker_memory_mb must be at least 256")
        if self.public_url is not None:
            parts = urlsplit(self.public_url)
            if not is_http_url(self.public_url) or parts.query or parts.fragment:
                raise SpacegraphError(
                    f"the public URL must be an http(s) URL without query or fragment: {self.public_url}"
                )
            if not self.public_url.endswith("/"):  # a base: every address is a path under it
                object.__setattr__(self, "public_url", self.public_url + "/")
        for iri in self.service_allow:
            if not is_http_url(iri):
                raise SpacegraphError(f"SERVICE allow-list entries must be http(s) IRIs: {iri}")

    @property
    def remote(self) -> bool:
        return self.endpoint is not None

    @property
    def worker_cap(self) -> int:
        """Evaluations at once, and evaluation processes at most."""
        if self.max_query_workers is not None:
            return self.max_query_workers
        return self.query_workers + self.client_queries

    def to_json(self) -> str:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["data"] = [str(path) for path in self.data]
        return json.dumps(values)

    @classmethod
    def from_json(cls, text: str) -> Config:
        values = json.loads(text)
        values["data"] = tuple(Path(path) for path in values["data"])
        for name in ("service_allow", "cors_origins"):
            values[name] = tuple(values[name])
        return cls(**values)


def is_http_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
