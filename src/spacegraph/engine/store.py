"""Query backends behind one small interface: the embedded pyoxigraph engine (evaluating in killable
worker processes, see ``workers.py`` and ``pool.py``) or a remote SPARQL 1.1 endpoint reached over HTTP
(``endpoint.py``).

Both take a ``Job`` (query text, protocol dataset, the formats negotiated for each kind of answer) and
give an ``Answer`` (media type and bytes) or raise ``QueryError``, whose ``kind`` the HTTP layer turns
into a status. Both refuse forbidden ``SERVICE`` calls before anything is evaluated or forwarded.

``Backend.query`` is the one door: every job passes the backend's ``Scheduler`` (``scheduler.py``: fair
turns between clients, a budget of evaluation time per client, one evaluation for identical jobs in
flight) before the backend's own ``evaluate`` runs it. Whoever calls ``query`` is scheduled as the client
of the request it serves, without passing anything.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pyoxigraph as ox

from spacegraph.config import Config
from spacegraph.engine.analysis import analyse
from spacegraph.engine.endpoint import Client, EndpointError, TooLarge
from spacegraph.engine.inline import Inline
from spacegraph.engine.pool import WorkerPool
from spacegraph.engine.scheduler import Policy, Scheduler
from spacegraph.engine.workers import (
    NEEDS_NETWORK,
    Answer,
    Checked,
    Failure,
    Job,
    QueryError,
    Settings,
    data_files,
    fingerprint,
)
from spacegraph.formats import RESULTS_FORMATS, bare, rdf_format, results_format

__all__ = [
    "Answer",
    "Backend",
    "EmbeddedBackend",
    "GraphInfo",
    "Job",
    "QueryError",
    "RemoteBackend",
    "Summary",
    "make_backend",
]

INLINE_CHECK_BYTES = 64 * 1024  # remote answers up to this size are checked on the event loop
JSON_RESULTS = RESULTS_FORMATS[0]  # what a remote endpoint is asked for SELECT and ASK
log = logging.getLogger("spacegraph.engine.store")

GRAPHS_QUERY = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g"
DEFAULT_GRAPH_QUERY = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
MAX_REMOTE_BYTES = 256 * 1024 * 1024
TOTAL_QUEUE = 1024  # evaluations waiting, all clients together


@dataclass(frozen=True)
class GraphInfo:
    name: str
    triples: int


@dataclass(frozen=True)
class Summary:
    """What the service description says about the dataset."""

    default_triples: int
    graphs: tuple[GraphInfo, ...]

    def has_graph(self, iri: str) -> bool:
        return any(graph.name == iri for graph in self.graphs)


def policy(config: Config) -> Policy:
    return Policy(
        capacity=config.worker_cap,
        per_client=config.client_queries,
        queue=config.client_queue,
        total_queue=TOTAL_QUEUE,
        budget=config.client_budget,
    )


class Backend(ABC):
    """Where queries are evaluated."""

    config: Config
    scheduler: Scheduler
    started: bool = False
    fingerprint: str | None = None  # a hash of the data when it is known to be immutable; None: no ETags
    sandboxed: bool = False
    _summary: Summary | None = None

    def __init__(self, config: Config) -> None:
        self.config = config
        self.scheduler = Scheduler(policy(config))

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    async def query(self, job: Job) -> Answer:
        """The answer, or QueryError, when the scheduler gives the caller's client its turn."""
        return await self.scheduler.run(job, job.analysis.volatile, lambda: self.evaluate(job))

    async def evaluate(self, job: Job) -> Answer:
        """The answer, or QueryError: the backend's own evaluation, once the job's turn has come."""
        raise NotImplementedError

    def at_once(self, job: Job, client: str) -> Answer | None:
        """The answer of a cheap query evaluated at once in this process (``inline.py``), charged to
        ``client``; None when the query must take ``query``'s way (not cheap, no budget left, refused)."""
        return None

    async def summary(self) -> Summary:
        """The named graphs and their sizes, asked once and kept."""
        if self._summary is None:
            graphs = await self.query(Job(analyse(GRAPHS_QUERY), results_format="json"))
            default = await self.query(Job(analyse(DEFAULT_GRAPH_QUERY), results_format="json"))
            rows = list(solutions(graphs.body))
            total = next(solutions(default.body), {}).get("n", "0")
            self._summary = Summary(int(total), tuple(GraphInfo(row["g"], int(row["n"])) for row in rows))
            if self._summary.graphs and not self._summary.default_triples:
                log.warning("the default graph is empty: the backend should use the union of its named graphs")
        return self._summary


def solutions(json_body: bytes) -> Iterator[dict[str, str]]:
    results = ox.parse_query_results(json_body, format=ox.QueryResultsFormat.JSON)
    assert isinstance(results, ox.QuerySolutions)
    names = [variable.value for variable in results.variables]
    for solution in results:
        yield {name: solution[name].value for name in names if solution[name] is not None}


def raise_failure(reply: object) -> Answer | Checked:
    if isinstance(reply, Failure):
        raise QueryError(reply.kind, reply.message, reply.line, reply.column)
    if isinstance(reply, Answer | Checked):
        return reply
    raise QueryError("failed", "the query worker gave an answer this server cannot read")


class EmbeddedBackend(Backend):
    """pyoxigraph in worker processes, each holding the graph loaded from ``config.data``."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.files = data_files(config.data)
        self.fingerprint = fingerprint(self.files)
        settings = Settings(
            data=tuple(str(path) for path in self.files),
            allow_service=config.service_allow,
            sandbox=config.sandbox,
            memory_mb=config.worker_memory_mb,
        )
        self.inline: Inline | None = None  # the graph in this process too, when small (inline.py)
        cap, idle = config.worker_cap, config.worker_idle
        self.pool = WorkerPool(settings, config.query_workers, config.startup_timeout, most=cap, idle_seconds=idle)
        networked = replace(settings, network=True, cross_check=True)
        self.federation = (
            WorkerPool(networked, 1, config.startup_timeout, "federation", most=cap, idle_seconds=idle)
            if config.service_allow
            else None
        )

    async def start(self) -> None:
        await self.pool.start()
        assert self.pool.zygote is not None  # started
        quads = self.pool.zygote.ready.quads
        self.inline = await asyncio.to_thread(Inline.load, self.files, self.pool.settings, quads)
        if self.federation is not None:
            try:
                await self.federation.start()
            except BaseException:
                await self.pool.close()
                raise
        self.sandboxed = all(worker.ready.sandboxed for worker in self.pool.workers)
        self.started = True
        await self.summary()

    async def close(self) -> None:
        await self.pool.close()
        if self.federation is not None:
            await self.federation.close()

    def at_once(self, job: Job, client: str) -> Answer | None:
        if self.inline is None or job.default_graphs is not None or job.named_graphs is not None:
            return None
        cheap = job.analysis.simple
        if cheap is None or not self.scheduler.may_run_at_once(client):
            return None
        evaluated = self.inline.answer(job, cheap)
        if evaluated is None:
            return None
        answer, seconds = evaluated
        self.scheduler.charge(client, seconds)
        return answer

    async def evaluate(self, job: Job) -> Answer:
        reply = await self.pool.run(job, self.config.timeout)
        if isinstance(reply, Failure) and reply.kind == NEEDS_NETWORK:
            if self.federation is None:
                raise QueryError("refused", "SERVICE (federated query) is disabled on this endpoint")
            reply = await self.federation.run(job, self.config.timeout)
        answer = raise_failure(reply)
        if not isinstance(answer, Answer):
            raise QueryError("failed", "the query worker gave an answer this server cannot read")
        return answer


class RemoteBackend(Backend):
    """An external SPARQL 1.1 endpoint (Oxigraph server, Fuseki, QLever…), queried over HTTP. Its
    default graph should be the union of its named graphs (``oxigraph serve --union-default-graph``).
    SERVICE calls are checked here, in a sandboxed worker process, before the query is forwarded."""

    def __init__(self, config: Config) -> None:
        assert config.endpoint is not None
        super().__init__(config)
        self.endpoint = config.endpoint
        if config.endpoint_version is not None:  # the operator vouches that the store's data is fixed
            self.fingerprint = f"endpoint {config.endpoint} {config.endpoint_version}"
        self.checker = WorkerPool(
            Settings(
                (), config.service_allow, sandbox=config.sandbox, memory_mb=config.worker_memory_mb, cross_check=True
            ),
            1,
            config.startup_timeout,
            name="checker",
            most=config.worker_cap,
            idle_seconds=config.worker_idle,
        )
        self.client = Client(config.endpoint, connect_timeout=min(5.0, config.timeout))

    async def start(self) -> None:
        await self.checker.start()
        self.sandboxed = all(worker.ready.sandboxed for worker in self.checker.workers)
        self.started = True

    async def close(self) -> None:
        await self.client.close()
        await self.checker.close()

    async def evaluate(self, job: Job) -> Answer:
        if job.analysis.mentions_service:
            raise_failure(await self.checker.run(replace(job, check_only=True), self.config.timeout))
        rdf = rdf_format(job.rdf_format) if job.rdf_format else None
        quads = rdf is not None and job.graph_name is not None and rdf.keeps_graphs
        accept = []
        if asked := results_format(job.results_format) if job.results_format else None:
            # The client's format, passed on as it comes when its rows can be bounded without reading it
            # (``within``), else SPARQL JSON: it can be read (to count the rows) and written again in any
            # results format, where CSV cannot be read back at all (nor is a boolean written in TSV).
            if asked.results_format in BOUNDS and (asked is JSON_RESULTS or job.analysis.form == "select"):
                accept.append(bare(asked.media_type))
            accept.append(bare(JSON_RESULTS.media_type) + (";q=0.9" if accept else ""))
        if rdf is not None:
            accept.append("application/n-triples;q=0.9" if quads else f"{rdf.media_type};q=0.9")
        form = [("query", job.query)]
        form += [("default-graph-uri", iri) for iri in job.default_graphs or ()]
        form += [("named-graph-uri", iri) for iri in job.named_graphs or ()]
        try:
            async with asyncio.timeout(self.config.timeout):
                status, media_type, body = await self.client.post(form, ", ".join(accept) or "*/*", MAX_REMOTE_BYTES)
        except TimeoutError:
            raise QueryError(
                "timeout", f"the SPARQL endpoint {self.endpoint} did not answer within {self.config.timeout:g} s"
            ) from None
        except EndpointError as error:
            raise QueryError("unavailable", f"cannot reach the SPARQL endpoint {self.endpoint}: {error}") from None
        except TooLarge:
            raise QueryError(
                "too-large", "the SPARQL endpoint's answer is larger than this endpoint passes on"
            ) from None
        media_type = bare(media_type)
        if status != 200:
            raise self.refusal(status, body, job)
        if len(body) <= INLINE_CHECK_BYTES:  # a thread hop costs more than reading a small answer
            return self.check_answer(media_type, body, job, quads)
        return await asyncio.to_thread(self.check_answer, media_type, body, job, quads)

    def refusal(self, status: int, body: bytes, job: Job) -> QueryError:
        text = body.decode("utf-8", "replace").strip().replace("\n", " ")[:1000]
        if status == 400:
            if job.analysis.form == "update":
                return QueryError("read-only", "this endpoint is read-only: SPARQL Update is refused")
            return QueryError("syntax", text or "the SPARQL endpoint found the query malformed")
        if status == 406:
            return QueryError("not-acceptable", text or "the SPARQL endpoint offers none of the accepted types")
        return QueryError("unavailable", f"the SPARQL endpoint {self.endpoint} answered {status}: {text}")

    def check_answer(self, media_type: str, body: bytes, job: Job, quads: bool) -> Answer:
        """Keep to the row limit: an answer in the format asked whose rows are bounded within the limit by
        the markers of its format is passed on as it came; any other is read (pyoxigraph), its rows
        counted, and written again in the format asked if it came in another."""
        limit = job.max_rows
        fmt = results_format(media_type)
        asked = results_format(job.results_format) if job.results_format else None
        if fmt is not None and fmt == asked and within(body, fmt.results_format, limit):
            return Answer(fmt.media_type, body)
        rdf = rdf_format(media_type)
        if rdf is not None and rdf.name == "ntriples" and not quads and within(body, None, limit):
            return Answer(rdf.media_type, body)
        if fmt is not None:
            rows = count_solutions(body, fmt.results_format)
            if isinstance(rows, str):
                raise QueryError("unavailable", f"the SPARQL endpoint's answer is not valid: {rows}")
            if limit is not None and rows > limit:
                raise QueryError("too-large", f"the answer has more than {limit} rows, this endpoint's limit")
            asked = results_format(job.results_format) if job.results_format else None
            if asked is not None and asked != fmt:
                results = ox.parse_query_results(body, format=fmt.results_format)
                return Answer(asked.media_type, results.serialize(format=asked.results_format) or b"", rows)
            return Answer(fmt.media_type, body, rows)
        if rdf is not None:
            try:
                parsed = list(ox.parse(body, format=rdf.rdf_format))
            except SyntaxError as error:
                raise QueryError("unavailable", f"the SPARQL endpoint's answer is not valid: {error}") from None
            if limit is not None and len(parsed) > limit:
                raise QueryError("too-large", f"the answer has more than {limit} triples, this endpoint's limit")
            wanted = rdf_format(job.rdf_format) if job.rdf_format else None
            if quads and wanted is not None and job.graph_name is not None:
                graph = ox.NamedNode(job.graph_name)
                items = [ox.Quad(q.subject, q.predicate, q.object, graph) for q in parsed]
                return Answer(wanted.media_type, ox.serialize(items, format=wanted.rdf_format) or b"", len(items))
            return Answer(rdf.media_type, body, len(parsed))
        raise QueryError("unavailable", f"the SPARQL endpoint answered in {media_type or 'no media type'}")


# Bounds on the rows of any store's answer, from bytes every row is written with: in SPARQL JSON a
# binding is an object (beside the document's, the head's and the results'), in TSV a row a line (beside
# the header, the last maybe without its line break), in N-Triples a triple a line (idem).
BOUNDS = {ox.QueryResultsFormat.JSON: (b"{", -3), ox.QueryResultsFormat.TSV: (b"\n", 0)}
TRIPLES_BOUND = (b"\n", 1)


def within(body: bytes, fmt: ox.QueryResultsFormat | None, limit: int | None) -> bool:
    """Whether an answer surely holds at most ``limit`` rows (``fmt``: a results format in ``BOUNDS``) or
    triples (``fmt`` None: N-Triples), without reading it."""
    if limit is None:
        return True
    if fmt is not None and fmt not in BOUNDS:
        return False
    marker, more = BOUNDS[fmt] if fmt is not None else TRIPLES_BOUND
    return body.count(marker) + more <= limit


def count_solutions(body: bytes, fmt: ox.QueryResultsFormat) -> int | str:
    """The number of solutions, or why they cannot be read. pyoxigraph's results cannot leave the thread
    that made them, so none is kept (not even in a traceback) past this function."""
    try:
        results = ox.parse_query_results(body, format=fmt)
        return 1 if isinstance(results, ox.QueryBoolean) else sum(1 for _ in results)
    except SyntaxError as error:
        return str(error)


def make_backend(config: Config) -> Backend:
    return RemoteBackend(config) if config.remote else EmbeddedBackend(config)
