"""Query evaluation in worker processes that can be killed.

pyoxigraph's ``Store.query`` cannot be cancelled, and one step of an evaluation can run unbounded, so a
thread with a timeout would only stop *waiting*. Each query is instead evaluated — and serialised — in
one of a pool of processes (the pool that starts and kills them is in ``pool.py``).

The workers are forked from one process per pool, the zygote (``serve_forever``), which loads the graph
once: every worker shares its memory, copy-on-write (the graph is never written to), and a new worker is
ready in milliseconds whatever the graph's size. The zygote starts by reading its ``Settings`` on its
control socket, forbids itself network sockets (``security.forbid_network``) unless it needs them, caps
its address space, loads the graph and answers ``Ready`` (or a ``Failure``); its workers inherit all of
it. Then, for each ``FORK`` request, which carries a socket (SCM_RIGHTS), it forks a worker on that
socket and answers ``Forked`` with its pid; when a worker ends, it answers ``Exited`` with how. Frames
are an 8-byte length and a pickle. A worker answers one ``Job`` at a time with an ``Answer`` or a
``Failure``; each process dies with its parent.

The default graph a worker evaluates against is the union of the named graphs, materialised: every
triple of every named graph is also put in the store's default graph. That costs memory, but unlike
pyoxigraph's ``use_default_graph_as_union`` it is a set (no duplicate solutions when a triple is in two
graphs) and it leaves ``FROM`` working (the flag makes pyoxigraph ignore ``FROM``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

import pyoxigraph as ox

from spacegraph.engine.analysis import Analysis
from spacegraph.errors import SpacegraphError, syntax_error
from spacegraph.formats import RDF_FORMATS, RESULTS_FORMATS, rdf_format, results_format
from spacegraph.namespaces import PREFIXES

if TYPE_CHECKING:
    import socket

HEADER = struct.Struct("!Q")
MAX_FRAME = 1 << 34


class QueryError(SpacegraphError):
    """A query that did not give an answer. ``kind`` says why, and decides the HTTP status:
    syntax, read-only, refused, too-large, not-acceptable, timeout, busy, unavailable, failed, and the
    scheduler's refusals, throttled (the client is past its budget) and queue-full. ``retry_after``:
    seconds after which asking again may succeed, when that is known."""

    def __init__(
        self,
        kind: str,
        message: str,
        line: int | None = None,
        column: int | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, line=line, column=column)
        self.kind = kind
        self.retry_after = retry_after


@dataclass(frozen=True)
class Settings:
    """What a worker is told when it starts."""

    data: tuple[str, ...]  # RDF files to load; empty for a worker that only checks queries
    allow_service: tuple[str, ...] = ()
    network: bool = False  # False: no network sockets at all (when the sandbox can be installed)
    sandbox: bool = True
    memory_mb: int | None = None
    cross_check: bool = False  # also check SERVICE with rdflib's parser


@dataclass(frozen=True)
class Job:
    analysis: Analysis  # the query, read once (analysis.py)
    default_graphs: tuple[str, ...] | None = None  # protocol dataset: default-graph-uri
    named_graphs: tuple[str, ...] | None = None  # protocol dataset: named-graph-uri
    results_format: str | None = None  # short names from formats.py; None: not acceptable
    rdf_format: str | None = None
    max_rows: int | None = None
    graph_name: str | None = None  # put CONSTRUCT triples in this graph for TriG, N-Quads, JSON-LD
    check_only: bool = False  # only check SERVICE calls: the remote backend evaluates elsewhere

    @property
    def query(self) -> str:
        return self.analysis.text


@dataclass(frozen=True)
class Answer:
    media_type: str
    body: bytes
    rows: int | None = None


@dataclass(frozen=True)
class Failure:
    kind: str
    message: str
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True)
class Ready:
    sandboxed: bool
    note: str | None
    quads: int


@dataclass(frozen=True)
class Checked:
    services: int  # allowed SERVICE calls in the query


NEEDS_NETWORK = "needs-network"  # Failure kind: the query calls allowed SERVICEs; run it in a networked worker


# --- data ------------------------------------------------------------------------------------------


def data_files(paths: Iterable[Path]) -> list[Path]:
    """The RDF files to serve: the given files, and every RDF file under the given folders, sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(p for p in sorted(path.rglob("*")) if p.is_file() and file_format(p) is not None)
        elif path.is_file():
            if file_format(path) is None:
                raise SpacegraphError("not a file extension of an RDF format we read", path=path)
            files.append(path)
        else:
            raise SpacegraphError("no such file or folder", path=path)
    if not files:
        raise SpacegraphError("no RDF file to serve")
    return files


def file_format(path: Path) -> ox.RdfFormat | None:
    fmt = rdf_format(path.suffix.lstrip("."))
    return fmt.rdf_format if fmt is not None else None


def fingerprint(files: Iterable[Path]) -> str:
    """A hash of the served files' names and bytes: with the version, it makes our ETags."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def load_store(files: Iterable[str]) -> ox.Store:
    """An in-memory store of the files, each triple of a named graph also in the default graph (their union).

    Blank nodes keep the labels the file gives them (``_:c14n12`` in our dumps), where pyoxigraph's
    loaders draw new random ones: every worker, and every start, then holds the same graph down to its
    labels, so an answer, and the order a scan returns triples in (which paging fragments relies on), do
    not depend on which worker evaluated it. With several files, each file's labels get its position as a
    prefix (``_:f1c14n12``), so that two files' ``_:b0`` stay two blank nodes.

    Each quad's copy in the default graph is inserted right after it. pyoxigraph's in-memory store keeps,
    for every subject, predicate, object and graph, a list of its quads, newest first, and a scan walks
    one: copies added after the whole load (``INSERT … WHERE { GRAPH ?g … }``) would sit in front of every
    named graph's quads, and the first page of ``GRAPH ?g { ?s ?p ?o }`` would walk past all of them (110 ms
    at a million triples instead of 0.4). Interleaved, a scan of either kind finds a match every other step."""
    store = ox.Store()
    names = list(files)
    for position, name in enumerate(names):
        path = Path(name)
        fmt = file_format(path)
        try:
            quads = ox.parse(path=path, format=fmt, rename_blank_nodes=False)
            store.extend(with_union(quads if len(names) == 1 else apart(quads, f"f{position}")))
        except SyntaxError as error:
            raise syntax_error(error, path) from None
        except OSError as error:
            raise SpacegraphError(f"cannot read: {error.strerror or error}", path=path) from None
    return store


def with_union(quads: Iterable[ox.Quad]) -> Iterator[ox.Quad]:
    """Each quad, then its triple in the default graph (a set: a triple in two graphs is there once)."""
    quad_in_default = ox.Quad  # three terms: the default graph
    for quad in quads:
        yield quad
        subject, predicate, obj, graph = quad
        if not isinstance(graph, ox.DefaultGraph):
            yield quad_in_default(subject, predicate, obj)


def apart(quads: Iterable[ox.Quad], prefix: str) -> Iterator[ox.Quad]:
    """The quads with ``prefix`` before every blank node label."""
    for subject, predicate, obj, graph in quads:
        if isinstance(subject, ox.BlankNode):
            subject = ox.BlankNode(prefix + subject.value)
        if isinstance(obj, ox.BlankNode):
            obj = ox.BlankNode(prefix + obj.value)
        if isinstance(graph, ox.BlankNode):
            graph = ox.BlankNode(prefix + graph.value)
        yield ox.Quad(subject, predicate, obj, graph)


# --- evaluation (in the worker) ----------------------------------------------------------------------


class TooManyRows(Exception):
    pass


class Unsure(Exception):
    """More markers than rows allowed, where markers only bound the rows: count them exactly instead."""


class Counted:
    """A binary writer that keeps what it is given and counts ``marker`` in it (across writes); past
    ``limit`` it stops the serialiser: with ``TooManyRows`` where each marker is a row, ``Unsure`` where
    the markers only bound the rows."""

    def __init__(self, marker: bytes, limit: int | None, exact: bool = True) -> None:
        self.marker = marker
        self.limit = limit
        self.exact = exact
        self.count = 0
        self.tail = b""  # the last bytes written, too few to hold a marker
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        seen = self.tail + bytes(data)
        self.count += seen.count(self.marker)
        self.tail = seen[len(seen) - len(self.marker) + 1 :] if len(self.marker) > 1 else b""
        if self.limit is not None and self.count > self.limit:
            raise TooManyRows if self.exact else Unsure
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


def limited(triples: Iterable[ox.Triple], limit: int | None) -> Iterator[ox.Triple]:
    for count, triple in enumerate(triples, start=1):
        if limit is not None and count > limit:
            raise TooManyRows
        yield triple


SYNTAX = re.compile(r"^error at (\d+):(\d+): (.*)$", re.DOTALL)


def syntax_failure(error: SyntaxError, analysis: Analysis) -> Failure:
    if analysis.form == "update":
        return Failure("read-only", "this endpoint is read-only: SPARQL Update (INSERT, DELETE, LOAD, …) is refused")
    message = " ".join((error.msg or str(error)).split())  # one line
    match = SYNTAX.match(message)
    if match:
        line, column = int(match.group(1)), int(match.group(2))
        return Failure("syntax", f"syntax error at line {line}, column {column}: {match.group(3)}", line, column)
    return Failure("syntax", f"syntax error: {message}")


def not_acceptable(kind: str) -> Failure:
    offered = RESULTS_FORMATS if kind == "results" else RDF_FORMATS
    what = "SELECT and ASK results" if kind == "results" else "CONSTRUCT and DESCRIBE results"
    types = ", ".join(fmt.media_type.split(";")[0] for fmt in offered)
    return Failure("not-acceptable", f"none of the accepted media types fits; {what} are offered as: {types}")


def evaluate(store: ox.Store, job: Job, settings: Settings, rows: int | None = None) -> Answer | Failure | Checked:
    """Check the query's SERVICE calls, then evaluate it and serialise the answer (pyoxigraph does both),
    of at most ``job.max_rows`` rows (or ``rows``, fewer, when given)."""
    max_rows = job.max_rows if rows is None else rows
    from spacegraph.engine.security import ServiceRefused, check_services

    try:
        calls = check_services(job.analysis, settings.allow_service, cross_check=settings.cross_check)
    except ServiceRefused as refused:
        return Failure("refused", refused.message)
    if job.check_only:
        return Checked(len(calls))
    if calls and not settings.network:
        return Failure(NEEDS_NETWORK, "")
    default: list[ox.NamedNode | ox.BlankNode | ox.DefaultGraph] | None = None
    named: list[ox.NamedNode | ox.BlankNode] | None = None
    if job.default_graphs is not None or job.named_graphs is not None:
        default = [ox.NamedNode(iri) for iri in job.default_graphs or ()]
        named = [ox.NamedNode(iri) for iri in job.named_graphs or ()]
    try:
        result = store.query(job.query, default_graph=default, named_graphs=named)
        if isinstance(result, ox.QueryBoolean):
            fmt = results_format(job.results_format) if job.results_format else None
            if fmt is None:
                return not_acceptable("results")
            return Answer(fmt.media_type, result.serialize(format=fmt.results_format) or b"", 1)
        if isinstance(result, ox.QuerySolutions):
            fmt = results_format(job.results_format) if job.results_format else None
            if fmt is None:
                return not_acceptable("results")

            def again() -> ox.QuerySolutions:
                rerun = store.query(job.query, default_graph=default, named_graphs=named)
                assert isinstance(rerun, ox.QuerySolutions)
                return rerun

            return solutions_answer(result, fmt.results_format, fmt.media_type, max_rows, again)
        rdf = rdf_format(job.rdf_format) if job.rdf_format else None
        if rdf is None:
            return not_acceptable("graph")
        triples: Iterable[ox.Triple] = limited(result, max_rows)
        items: Iterable[ox.Triple] | Iterable[ox.Quad] = triples
        if job.graph_name is not None and rdf.keeps_graphs:
            graph = ox.NamedNode(job.graph_name)
            items = (ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples)
        body = ox.serialize(items, format=rdf.rdf_format, prefixes=PREFIXES) or b""
        return Answer(rdf.media_type, body)
    except SyntaxError as error:
        return syntax_failure(error, job.analysis)
    except TooManyRows:
        return Failure(
            "too-large",
            f"the answer has more than {max_rows} rows, this endpoint's limit: add a LIMIT, or download the dumps",
        )
    except (OSError, RuntimeError, ValueError, TypeError) as error:
        return Failure("failed", f"the query failed: {error}")


# How rows are counted as a results format is written: each marker is a row (exact), or each row holds at
# least one, beside a few of the document's own (a bound: past it, the rows are counted exactly).
ROW_MARKERS = {
    ox.QueryResultsFormat.TSV: (b"\n", True, 1),  # a line per row, after the header's
    ox.QueryResultsFormat.XML: (b"<result>", True, 0),  # "<" in a value is written "&lt;"
    ox.QueryResultsFormat.JSON: (b"{", False, 3),  # a binding is an object; the document, head, results
}


def solutions_answer(
    solutions: ox.QuerySolutions,
    fmt: ox.QueryResultsFormat,
    media_type: str,
    max_rows: int | None,
    again: Callable[[], ox.QuerySolutions],
) -> Answer:
    """Serialise solutions, stopping after ``max_rows``. Rows are counted as the answer is written, from
    markers of the format; where those only bound the rows (JSON) and the bound is passed, or cannot be
    had (CSV, whose values may hold line breaks), the query is evaluated ``again`` and its rows counted on
    TSV, which is then read back and written in the requested format, all by pyoxigraph."""
    if fmt in ROW_MARKERS:
        marker, exact, overhead = ROW_MARKERS[fmt]
        written = Counted(marker, None if max_rows is None else max_rows + overhead, exact)
        try:
            solutions.serialize(cast(BinaryIO, written), format=fmt)
            return Answer(media_type, b"".join(written.parts), written.count - overhead if exact else None)
        except Unsure:
            solutions = again()
    lines = Counted(b"\n", None if max_rows is None else max_rows + 1)  # + the header line
    solutions.serialize(cast(BinaryIO, lines), format=ox.QueryResultsFormat.TSV)
    tsv = b"".join(lines.parts)
    parsed = ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV)
    return Answer(media_type, parsed.serialize(format=fmt) or b"", lines.count - 1)


# --- the zygote and its workers ------------------------------------------------------------------------


def write_frame(stream: BinaryIO, message: object) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(payload)) + payload)
    stream.flush()


def read_frame(stream: BinaryIO) -> object | None:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        return None
    message: object = pickle.loads(payload)
    return message


@dataclass(frozen=True)
class Forked:
    pid: int  # a worker the zygote has forked, on the socket sent with the request


@dataclass(frozen=True)
class Exited:
    pid: int
    code: int  # as asyncio's returncode: the exit status, or minus the signal that killed it


FORK = b"fork"  # the request for a worker; its socket travels with it (SCM_RIGHTS)


def serve_forever(control_fd: int) -> None:
    """The zygote (``pool.ZYGOTE_COMMAND``): reads its ``Settings`` on the control socket, forbids itself
    the network, caps its memory, loads the graph and answers ``Ready``; then, for every ``FORK`` request
    (with a socket), forks a worker that evaluates jobs on that socket, answers ``Forked``, and reports
    each worker's end (``Exited``). The workers share the graph's memory with it, copy-on-write."""
    import gc
    import select
    import signal
    import socket

    from spacegraph.engine.security import die_with_parent, forbid_network

    die_with_parent()
    os.dup2(2, 1)  # a stray print goes to the log
    control = socket.socket(fileno=control_fd)
    requests = control.makefile("rb")
    settings = read_frame(requests)
    if not isinstance(settings, Settings):
        return
    note = None
    sandboxed = False
    if settings.sandbox and not settings.network:
        note = forbid_network()
        sandboxed = note is None
    if not sandboxed:  # without the sandbox, rdflib's parser double-checks every SERVICE
        settings = replace(settings, cross_check=True)
    if settings.memory_mb is not None:
        import resource

        limit = settings.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        store = load_store(settings.data)
    except SpacegraphError as error:
        send_frame(control, Failure("failed", str(error)))
        return
    except MemoryError:
        send_frame(control, Failure("failed", f"the graph does not fit in {settings.memory_mb} MB"))
        return
    send_frame(control, Ready(sandboxed, note, len(store)))
    gc.freeze()  # what is loaded stays shared: the collector of a worker never writes to these pages
    wake_up, woken = socket.socketpair()
    wake_up.setblocking(False)
    woken.setblocking(False)
    signal.set_wakeup_fd(wake_up.fileno())
    signal.signal(signal.SIGCHLD, lambda *_: None)
    zygote = os.getpid()
    while True:
        readable, _, _ = select.select([control, woken], [], [])
        if woken in readable:
            with contextlib.suppress(BlockingIOError):
                while woken.recv(4096):
                    pass
            for pid, code in reaped():
                send_frame(control, Exited(pid, code))
        if control in readable:
            message, fds, _, _ = socket.recv_fds(control, len(FORK), 1)
            if not message:
                return  # the server has gone
            if message != FORK or len(fds) != 1:
                for fd in fds:
                    os.close(fd)
                continue
            pid = os.fork()
            if pid == 0:  # the worker: it never returns into this loop
                try:
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    for held in (control, wake_up, woken):
                        held.close()
                    die_with_parent()
                    if os.getppid() == zygote:
                        serve_jobs(store, settings, fds[0])
                finally:
                    os._exit(0)
            os.close(fds[0])
            send_frame(control, Forked(pid))


def reaped() -> Iterator[tuple[int, int]]:
    """The workers that have ended, and how."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, os.waitstatus_to_exitcode(status)


def serve_jobs(store: ox.Store, settings: Settings, fd: int) -> None:
    """A worker: one ``Job`` at a time on its socket, each answered with an ``Answer`` or a ``Failure``."""
    import socket

    channel = socket.socket(fileno=fd)
    requests, replies = channel.makefile("rb"), channel.makefile("wb")
    while (job := read_frame(requests)) is not None:
        if isinstance(job, Job):
            try:
                reply: Answer | Failure | Checked = evaluate(store, job, settings)
            except MemoryError:
                reply = Failure("failed", f"the query needed more than {settings.memory_mb} MB")
            write_frame(replies, reply)


def send_frame(control: socket.socket, message: object) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    control.sendall(HEADER.pack(len(payload)) + payload)
