"""The SPARQL 1.1 Protocol at ``/sparql`` and the SPARQL 1.1 Graph Store HTTP Protocol, read-only, at
``/store``.

``/sparql`` takes a query by GET (``?query=``), by POST of a form, or by POST of
``application/sparql-query``, with ``default-graph-uri`` and ``named-graph-uri``; without a query, GET
gives the service description. The default graph is the union of the named graphs. Answers are
negotiated by ``Accept`` (q-values) or a ``format`` parameter (``json``, ``xml``, ``csv``, ``tsv``,
``turtle``, ``ntriples``, ``jsonld``, ``rdfxml``, ``trig``, ``nquads``, or a media type).

``/store?default`` and ``/store?graph=IRI`` give one graph, in any RDF format.

Answers of the embedded engine carry a weak ETag computed from the data's hash, the version and the
request (query, dataset, negotiated formats) — so ``If-None-Match`` gets 304 before anything is
evaluated — and are kept in a small in-memory cache. Queries whose answer changes between runs
(``RAND``, ``NOW``, ``UUID``, ``STRUUID``, ``BNODE``, ``SERVICE``) and answers of a remote backend get
``Cache-Control: no-store`` instead.

Errors are one line of plain text. Status codes:

==== =================================================================================================
400  malformed query (with line and column), bad parameter, answer over the row limit
403  any SPARQL Update (``update=``, ``application/sparql-update``, an update as ``query``): read-only;
     a SERVICE call this endpoint will not make
404  ``/store?graph=`` of a graph we do not have
405  PUT, POST, DELETE, PATCH on ``/store`` (read-only), PUT, DELETE, PATCH on ``/sparql``
406  no offered format is acceptable; the body lists the offered media types
413  POST body or query larger than the limit; 414: the same for a GET URI
415  POST of another content type than a form or ``application/sparql-query``
429  the client is past its budget of evaluation time (``Retry-After``: when it may come back)
500  the evaluation failed
502  the remote SPARQL endpoint cannot be reached or gave no usable answer
503  the queues of queries waiting are full, or no worker freed in time (``Retry-After``)
504  the query ran past the time limit (its worker process was killed)
==== =================================================================================================
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pyoxigraph as ox
from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import NoMatchFound
from starlette.types import Scope

from spacegraph import __version__
from spacegraph.config import Config
from spacegraph.engine.analysis import Analysis, analyse
from spacegraph.engine.store import Answer, Backend, Job, QueryError, Summary
from spacegraph.formats import RDF_FORMATS, RESULTS_FORMATS, RdfFormat, ResultsFormat, bare, by_name, media_types
from spacegraph.namespaces import PREFIXES
from spacegraph.web.accesslog import ANALYSIS
from spacegraph.web.caches import LruCache
from spacegraph.web.conneg import negotiate
from spacegraph.web.deref import SERVER_SIDE, BackendDependency, prefers_html, query_ui
from spacegraph.web.limits import too_deep

STATUS = {
    "syntax": 400,
    "too-large": 400,
    "read-only": 403,
    "refused": 403,
    "not-acceptable": 406,
    "throttled": 429,
    "failed": 500,
    "unavailable": 502,
    "busy": 503,
    "queue-full": 503,
    "timeout": 504,
}
log = logging.getLogger("spacegraph.web.sparql")
FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"
READ_ONLY = "this endpoint is read-only: SPARQL Update (INSERT, DELETE, LOAD, CLEAR, DROP, …) is refused"
MAX_FORM_FIELDS = 200

# Short names a ``format`` parameter may use for the other kind of answer (SPARQLWrapper sends ``xml``
# and ``json`` for CONSTRUCT too).
RDF_ALIASES = {"xml": "rdfxml", "rdf+xml": "rdfxml", "json": "jsonld", "json-ld": "jsonld", "n3": "turtle"}
RESULTS_ALIASES = {"sparql-results+json": "json", "sparql-results+xml": "xml"}

SD = "http://www.w3.org/ns/sparql-service-description#"
VOID = "http://rdfs.org/ns/void#"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
RDFS_COMMENT = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#comment")
XSD_INTEGER = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")
FORMATS = "http://www.w3.org/ns/formats/"
FORMAT_IRIS = {  # http://www.w3.org/ns/formats/
    "json": "SPARQL_Results_JSON",
    "xml": "SPARQL_Results_XML",
    "csv": "SPARQL_Results_CSV",
    "tsv": "SPARQL_Results_TSV",
    "turtle": "Turtle",
    "ntriples": "N-Triples",
    "jsonld": "JSON-LD",
    "rdfxml": "RDF_XML",
    "trig": "TriG",
    "nquads": "N-Quads",
}
ALL_FORMATS: tuple[RdfFormat | ResultsFormat, ...] = (*RESULTS_FORMATS, *RDF_FORMATS)
SD_PREFIXES = {"sd": SD, "void": VOID, "formats": FORMATS, **{k: PREFIXES[k] for k in ("id", "rdf", "rdfs", "xsd")}}


# --- small answers --------------------------------------------------------------------------------------


def plain(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(f"{message}\n", status, headers={"Cache-Control": "no-store", **(headers or {})})


def bad_request(message: str) -> Response:
    return plain(400, message)


def the_endpoint_is_read_only() -> Response:
    return plain(403, READ_ONLY)


def method_not_allowed(allow: str, message: str) -> Response:
    return plain(405, message, {"Allow": allow})


def not_acceptable(offers: Sequence[RdfFormat] | Sequence[ResultsFormat], what: str) -> Response:
    return plain(406, f"none of the accepted media types fits; {what} are offered as: {media_types(offers)}")


def too_large(status: int, limit: int) -> Response:
    what = "URI" if status == 414 else "request"
    return plain(status, f"the {what} is larger than this endpoint's limit of {limit} bytes for a query")


def retry_after(error: QueryError, timeout: float) -> dict[str, str] | None:
    """``Retry-After`` for a refusal that says when to come back (the scheduler's), or the time limit for
    a busy endpoint."""
    if error.retry_after is not None:
        return {"Retry-After": str(math.ceil(error.retry_after))}
    return {"Retry-After": str(math.ceil(timeout))} if error.kind == "busy" else None


def query_failed(error: QueryError, timeout: float) -> Response:
    if error.kind in SERVER_SIDE:
        log.warning("a query failed (%s): %s", error.kind, error.message)
    return plain(STATUS.get(error.kind, 500), error.message, retry_after(error, timeout))


# --- caching ------------------------------------------------------------------------------------------------


def matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2) of an If-None-Match header with our ETag."""
    if not if_none_match:
        return False
    ours = etag.removeprefix("W/")
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == ours:
            return True
    return False


# --- requests -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameters:
    """The SPARQL protocol parameters of one request."""

    queries: tuple[str, ...]
    update: bool
    default_graphs: tuple[str, ...] | None
    named_graphs: tuple[str, ...] | None
    format: str | None

    @classmethod
    def of(cls, items: Sequence[tuple[str, str]]) -> Parameters:
        default = tuple(value for key, value in items if key == "default-graph-uri")
        named = tuple(value for key, value in items if key == "named-graph-uri")
        formats = [value for key, value in items if key == "format" and value]
        return cls(
            queries=tuple(value for key, value in items if key == "query"),
            update=any(key == "update" for key, _ in items),
            default_graphs=default or None,
            named_graphs=named or None,
            format=formats[0] if formats else None,
        )


async def read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is longer than ``limit`` (checked on Content-Length first)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def graph_iris(iris: tuple[str, ...] | None) -> str | None:
    """None if every IRI is valid, else a message."""
    for iri in iris or ():
        try:
            ox.NamedNode(iri)
        except ValueError as error:
            return f"not a valid graph IRI: {iri!r} ({error})"
    return None


def parameter(name: str, description: str, many: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": {"type": "string"}} if many else {"type": "string"}
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


DATASET_PARAMETERS = [
    parameter("default-graph-uri", "A graph of the default graph (repeatable); default: the union.", True),
    parameter("named-graph-uri", "A graph GRAPH may address (repeatable); default: all named graphs.", True),
    parameter("format", "Answer format, overriding Accept: json, xml, csv, tsv, turtle, ntriples, jsonld, …"),
]
ANSWER_TYPES = {bare(fmt.media_type): {"schema": {"type": "string"}} for fmt in ALL_FORMATS}
GET_DOC: dict[str, Any] = {
    "parameters": [parameter("query", "A SPARQL 1.1 query; without it, the service description."), *DATASET_PARAMETERS],
    "responses": {"200": {"description": "The answer", "content": ANSWER_TYPES}},
}
POST_DOC: dict[str, Any] = {
    "parameters": DATASET_PARAMETERS,
    "requestBody": {
        "required": True,
        "content": {
            FORM: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "query": {"type": "string"},
                        "default-graph-uri": {"type": "array", "items": {"type": "string"}},
                        "named-graph-uri": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["query"],
                }
            },
            SPARQL_QUERY: {"schema": {"type": "string"}},
        },
    },
    "responses": {"200": {"description": "The answer", "content": ANSWER_TYPES}},
}
STORE_DOC: dict[str, Any] = {
    "parameters": [
        parameter("default", "Ask for the default graph (the union of the named graphs)."),
        parameter("graph", "Ask for this named graph."),
        parameter("format", "RDF format, overriding Accept: turtle, ntriples, jsonld, rdfxml, trig, nquads."),
    ],
    "responses": {"200": {"description": "The graph", "content": {bare(f.media_type): {} for f in RDF_FORMATS}}},
}


class SparqlRouter(APIRouter):
    """The protocol routes. The backend comes from ``request.app.state.backend`` (``get_backend``)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        # answers by ETag, within half of cache_bytes (replay keeps the other half)
        self.cache: LruCache[str, Answer] = LruCache(
            config.cache_bytes // 2, weight=lambda answer: len(answer.body), largest=config.cache_bytes // 16
        )
        self.add_api_route("/sparql", self.sparql_get, methods=["HEAD"], include_in_schema=False)
        self.add_api_route(
            "/sparql",
            self.sparql_get,
            methods=["GET"],
            name="sparql",
            openapi_extra=GET_DOC,
            summary="SPARQL query (GET), or the service description",
        )
        self.add_api_route(
            "/sparql",
            self.sparql_post,
            methods=["POST"],
            openapi_extra=POST_DOC,
            summary="SPARQL query (POST: form or application/sparql-query); updates are refused",
        )
        self.add_api_route("/sparql", self.sparql_write, methods=["PUT", "DELETE", "PATCH"], include_in_schema=False)
        self.add_api_route("/store", self.store_get, methods=["HEAD"], include_in_schema=False)
        self.add_api_route(
            "/store",
            self.store_get,
            methods=["GET"],
            name="store",
            openapi_extra=STORE_DOC,
            summary="Graph Store HTTP Protocol, read-only: one graph",
        )
        self.add_api_route(
            "/store", self.store_write, methods=["PUT", "POST", "DELETE", "PATCH"], include_in_schema=False
        )

    # --- /sparql

    async def sparql_get(self, request: Request, backend: BackendDependency) -> Response:
        if len(request.scope["query_string"]) > 3 * self.config.max_query_bytes + 8192:
            return too_large(414, self.config.max_query_bytes)
        return await self.sparql(request, backend, Parameters.of(request.query_params.multi_items()))

    async def sparql_post(self, request: Request, backend: BackendDependency) -> Response:
        media_type = bare(request.headers.get("content-type", ""))
        if media_type == SPARQL_UPDATE:
            return the_endpoint_is_read_only()
        if media_type not in (FORM, SPARQL_QUERY):
            return plain(415, f"POST a query as {FORM} or {SPARQL_QUERY}, not {media_type or 'without a type'}")
        limit = self.config.max_query_bytes + (16384 if media_type == FORM else 0)
        body = await read_body(request, 3 * limit if media_type == FORM else limit)
        if body is None:
            return too_large(413, self.config.max_query_bytes)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            return bad_request(f"the request body is not UTF-8 (byte {error.start})")
        items = request.query_params.multi_items()
        if media_type == FORM:
            try:
                items += parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict")
            except (ValueError, UnicodeDecodeError) as error:
                return bad_request(f"cannot read the form: {error}")
        elif any(key in ("query", "update") for key, _ in items):
            return bad_request(f"with {SPARQL_QUERY}, the query is the body, not a parameter")
        else:
            items.append(("query", text))
        return await self.sparql(request, backend, Parameters.of(items))

    async def sparql_write(self) -> Response:
        return method_not_allowed("GET, HEAD, POST, OPTIONS", READ_ONLY)

    async def sparql(self, request: Request, backend: Backend, params: Parameters) -> Response:
        if params.update:
            return the_endpoint_is_read_only()
        if not params.queries:
            if request.method == "POST":
                return bad_request("no query: send it as the query parameter or as the body")
            if params.format is None and prefers_html(request.headers.get("accept")):
                return await query_ui(request)  # a browser: the query UI
            return await self.description(request, backend, params.format)
        job = self.job_for(params, request.headers.get("accept"), request.method, request.scope)
        if isinstance(job, Response):
            return job
        return await self.answer(request, backend, job, cacheable=not job.analysis.volatile)

    def job_for(self, params: Parameters, accept: str | None, method: str, scope: Scope) -> Job | Response:
        """The job of a request with one query, or the answer refusing it (too large, too deep, a bad
        graph IRI, no format fits). The analysis is left in the scope, for the log."""
        if len(params.queries) > 1:
            return bad_request("more than one query parameter")
        query = params.queries[0]
        if len(query.encode("utf-8")) > self.config.max_query_bytes:
            return too_large(414 if method != "POST" else 413, self.config.max_query_bytes)
        analysis = scope[ANALYSIS] = analyse(query)
        if (deep := too_deep(analysis)) is not None:
            return bad_request(deep)
        for iris in (params.default_graphs, params.named_graphs):
            if (problem := graph_iris(iris)) is not None:
                return bad_request(problem)
        if params.format is not None:
            results = by_name(params.format, RESULTS_FORMATS, RESULTS_ALIASES)
            rdf = by_name(params.format, RDF_FORMATS, RDF_ALIASES)
            if results is None and rdf is None:
                names = ", ".join(f.name for f in ALL_FORMATS)
                return plain(406, f"unknown format {params.format!r}; use one of {names}, or a media type")
            return self.job(analysis, params, results, rdf)
        job = self.negotiated_job(analysis, params, accept)
        if job is None:
            offered = media_types(ALL_FORMATS)
            return plain(406, f"none of the accepted media types fits; this endpoint offers: {offered}")
        return job

    def negotiated_job(self, analysis: Analysis, params: Parameters, accept: str | None) -> Job | None:
        """The job with the formats ``accept`` asks for, or None when none fits."""
        results, rdf = negotiate(accept, RESULTS_FORMATS), negotiate(accept, RDF_FORMATS)
        if results is None and rdf is None:
            return None
        return self.job(analysis, params, results, rdf)

    def job(self, analysis: Analysis, params: Parameters, results: ResultsFormat | None, rdf: RdfFormat | None) -> Job:
        return Job(
            analysis,
            default_graphs=params.default_graphs,
            named_graphs=params.named_graphs,
            results_format=results.name if results else None,
            rdf_format=rdf.name if rdf else None,
            max_rows=self.config.max_rows,
        )

    async def answer(self, request: Request, backend: Backend, job: Job, cacheable: bool) -> Response:
        etag = self.etag_of(backend, job) if cacheable else None
        if (
            etag is not None
            and request.method in ("GET", "HEAD")
            and matches(request.headers.get("if-none-match"), etag)
        ):
            return Response(status_code=304, headers=self.cache_headers(etag))
        answer = self.cache.get(etag) if etag is not None else None
        if answer is None:
            try:
                answer = await backend.query(job)
            except QueryError as error:
                return query_failed(error, self.config.timeout)
            if etag is not None:
                self.cache.put(etag, answer)
        return self.respond(request, answer.media_type, answer.body, etag)

    def etag_of(self, backend: Backend, job: Job) -> str | None:
        identity = (job.query, job.default_graphs, job.named_graphs, job.results_format, job.rdf_format)
        return self.etag(backend, *identity, job.max_rows, job.graph_name)

    def etag(self, backend: Backend, *request: object) -> str | None:
        if backend.fingerprint is None:
            return None
        key = repr((__version__, backend.fingerprint, request)).encode("utf-8", "surrogatepass")
        return f'W/"{hashlib.sha256(key).hexdigest()[:32]}"'

    def cache_headers(self, etag: str | None) -> dict[str, str]:
        headers = {"Vary": "Accept", "X-Content-Type-Options": "nosniff"}
        if etag is None:
            headers["Cache-Control"] = "no-store"
        else:
            headers["ETag"] = etag
            headers["Cache-Control"] = f"public, max-age={self.config.cache_max_age}"
        return headers

    def respond(self, request: Request, media_type: str, body: bytes, etag: str | None) -> Response:
        headers = self.cache_headers(etag)
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(body))
            return Response(b"", media_type=media_type, headers=headers)
        return Response(body, media_type=media_type, headers=headers)

    # --- the service description

    async def description(self, request: Request, backend: Backend, format_name: str | None) -> Response:
        if format_name is not None:
            fmt = by_name(format_name, RDF_FORMATS, RDF_ALIASES)
        else:
            fmt = negotiate(request.headers.get("accept"), RDF_FORMATS)
        if fmt is None:
            return not_acceptable(RDF_FORMATS, "the service description and graphs")
        try:
            summary = await backend.summary()
        except QueryError as error:
            return query_failed(error, self.config.timeout)
        public = self.config.public_url  # behind a proxy, the address the public uses (serve --public-url)
        endpoint = f"{public}sparql" if public else str(request.url_for("sparql"))
        etag = self.etag(backend, "service description", endpoint, fmt.name)
        if etag is not None and matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=self.cache_headers(etag))
        try:
            fragments: str | None = f"{public}fragments" if public else str(request.url_for("fragments"))
            request.url_for("fragments")  # an app without the fragments has no such route
        except NoMatchFound:
            fragments = None
        triples = service_description(endpoint, summary, self.config, fragments)
        body = ox.serialize(triples, format=fmt.rdf_format, prefixes=SD_PREFIXES) or b""
        return self.respond(request, fmt.media_type, body, etag)

    # --- /store

    async def store_get(self, request: Request, backend: BackendDependency) -> Response:
        items = request.query_params.multi_items()
        graphs = [value for key, value in items if key == "graph"]
        default = any(key == "default" for key, _ in items)
        if default == bool(graphs) or len(graphs) > 1:
            return bad_request("ask for one graph: /store?default or /store?graph=IRI")
        formats = [value for key, value in items if key == "format" and value]
        if formats:
            fmt = by_name(formats[0], RDF_FORMATS, RDF_ALIASES)
        else:
            fmt = negotiate(request.headers.get("accept"), RDF_FORMATS)
        if fmt is None:
            return not_acceptable(RDF_FORMATS, "graphs")
        graph: str | None = None
        if graphs:
            graph = graphs[0]
            if (problem := graph_iris((graph,))) is not None:
                return bad_request(problem)
            try:
                summary = await backend.summary()
            except QueryError as error:
                return query_failed(error, self.config.timeout)
            if not summary.has_graph(graph):
                return plain(404, f"no graph named <{graph}> here")
            query = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {ox.NamedNode(graph)} {{ ?s ?p ?o }} }}"
        else:
            query = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
        job = Job(analyse(query), rdf_format=fmt.name, graph_name=graph)
        return await self.answer(request, backend, job, cacheable=True)

    async def store_write(self) -> Response:
        return method_not_allowed("GET, HEAD, OPTIONS", "the graph store is read-only")


def service_description(
    endpoint: str, summary: Summary, config: Config, fragments: str | None = None
) -> list[ox.Triple]:
    """A SPARQL 1.1 Service Description of this endpoint, its dataset linked to the VoID description and,
    when the server has them, to its Triple Pattern Fragments by their subject lookup (not by their
    hydra:search form, which would make Comunica take this endpoint for a fragments server)."""

    def sd(name: str) -> ox.NamedNode:
        return ox.NamedNode(SD + name)

    def void(name: str) -> ox.NamedNode:
        return ox.NamedNode(VOID + name)

    service = ox.NamedNode(endpoint)
    dataset = ox.NamedNode(config.dataset_iri)
    default_graph = ox.BlankNode("defaultGraph")
    triples = [
        ox.Triple(service, RDF_TYPE, sd("Service")),
        ox.Triple(service, sd("endpoint"), service),
        ox.Triple(service, sd("supportedLanguage"), sd("SPARQL11Query")),
        ox.Triple(service, sd("feature"), sd("UnionDefaultGraph")),
        ox.Triple(service, sd("defaultEntailmentRegime"), ox.NamedNode("http://www.w3.org/ns/entailment/Simple")),
        ox.Triple(service, sd("defaultDataset"), dataset),
        ox.Triple(
            service,
            RDFS_COMMENT,
            ox.Literal(
                "Read-only SPARQL 1.1 endpoint of spacegraph. The default graph is the union of the named graphs; "
                "GRAPH addresses each of them. The dataset is described with VoID at its IRI.",
                language="en",
            ),
        ),
        ox.Triple(dataset, RDF_TYPE, sd("Dataset")),
        ox.Triple(dataset, RDF_TYPE, void("Dataset")),
        ox.Triple(dataset, void("sparqlEndpoint"), service),
        ox.Triple(dataset, sd("defaultGraph"), default_graph),
        ox.Triple(default_graph, RDF_TYPE, sd("Graph")),
        ox.Triple(default_graph, void("triples"), ox.Literal(str(summary.default_triples), datatype=XSD_INTEGER)),
        ox.Triple(default_graph, RDFS_COMMENT, ox.Literal("The union of the named graphs.", language="en")),
    ]
    for fmt in ALL_FORMATS:
        triples.append(ox.Triple(service, sd("resultFormat"), ox.NamedNode(FORMATS + FORMAT_IRIS[fmt.name])))
    if fragments is not None:
        triples.append(ox.Triple(dataset, void("uriLookupEndpoint"), ox.NamedNode(fragments + "?subject=")))
    if config.service_allow:
        triples.append(ox.Triple(service, sd("feature"), sd("BasicFederatedQuery")))
    for index, info in enumerate(summary.graphs):
        named, graph = ox.BlankNode(f"namedGraph{index}"), ox.BlankNode(f"graph{index}")
        triples += [
            ox.Triple(dataset, sd("namedGraph"), named),
            ox.Triple(named, RDF_TYPE, sd("NamedGraph")),
            ox.Triple(named, sd("name"), ox.NamedNode(info.name)),
            ox.Triple(named, sd("graph"), graph),
            ox.Triple(graph, RDF_TYPE, sd("Graph")),
            ox.Triple(graph, void("triples"), ox.Literal(str(info.triples), datatype=XSD_INTEGER)),
        ]
    return triples
