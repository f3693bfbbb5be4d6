"""The access log: one JSON object per request.

A line holds the time (UTC, ISO 8601), method, route (the route's template, as in the metrics), path
(without the query string), status, duration in milliseconds, the part of it its evaluations waited for
their turn (``wait_ms``, see ``engine/scheduler.py``), response bytes, client address, the query's kind
(SELECT, ASK, CONSTRUCT, DESCRIBE, UPDATE or unknown) and hash (the first 16 hex digits of the SHA-256 of
its UTF-8 text), and why the request was refused if it was. The query's text is added only with
``log_queries``. Never logged: a body, a header (cookies, authorization), the query string.

``spacegraph serve`` sends it to stderr (``--access-log -``, the default) or appends it to a file, in
place of uvicorn's access log, which prints whole URLs. A line costs about what answering a replayed
request costs, so it is made cheaply and written in batches: each line is formatted by hand (strings
through the C JSON escaper, the time's seconds formatted once a second), the query's kind and hash of a
repeated query string are remembered, and a ``Sink`` writes what has gathered with one system call every
``FLUSH_SECONDS`` (or ``FLUSH_BYTES``), and at shutdown. Without a sink (``--access-log off``, or an app
made in a test), lines go to the ``spacegraph.access`` logger when something listens to it.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any
from urllib.parse import parse_qsl

from spacegraph.engine.analysis import Analysis, analyse

log = logging.getLogger("spacegraph.access")
ANALYSIS = "spacegraph.analysis"  # scope key: the query as the SPARQL route analysed it
FORM = "application/x-www-form-urlencoded"
FLUSH_SECONDS = 0.2  # a line waits at most this long to be written
FLUSH_BYTES = 64 * 1024  # or until this many have gathered
REMEMBERED = 4096  # query strings whose query's kind and hash are kept
quoted = encode_basestring_ascii  # a JSON string, ASCII only


# A replayed answer's line, made when its batch is written: (time, duration in seconds, the client as
# the ASGI scope gives it, the line's fixed parts: what precedes the duration, what goes between it and
# the client, and the rest). The fast lane answers in about 50 µs of CPU: making its line then, as a
# string, cost another 10-15 µs (a quarter of the throughput); kept as a tuple, about 0.5 µs, and the
# lines are made together, at a fifth of the cost, by ``Sink.flush``.
Replayed = tuple[float, float, tuple[str, int] | None, list[str]]
REPLAYED_SIZE = 320  # bytes counted towards ``FLUSH_BYTES`` for a replayed line (most are 250-400)


class Sink:
    """A file (or stderr) the lines are appended to, in batches."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.own = target != "-"
        self.fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if self.own else 2
        self.pending: list[str | Replayed] = []
        self.size = 0
        self.lock = threading.Lock()  # an app may run in another thread than the one that closes it
        self.timer: asyncio.TimerHandle | None = None

    def add_replayed(self, entry: Replayed) -> None:
        """A replayed answer's line (``Replayed``), made when it is written."""
        self.add(entry, REPLAYED_SIZE)

    def add(self, line: str | Replayed, size: int = 0) -> None:
        with self.lock:
            self.pending.append(line)
            self.size += size or len(line)
            full = self.size >= FLUSH_BYTES
            if not full and self.timer is None:
                try:
                    self.timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)
                except RuntimeError:  # no event loop: at once
                    full = True
        if full:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if not self.pending:
                return
            data = "".join(made(self.pending)).encode("ascii")
            self.pending, self.size = [], 0
            try:
                while data:
                    data = data[os.write(self.fd, data) :]
            except OSError as error:  # a full disk or a closed stderr must not stop the server
                log.warning("the access log could not be written to %s: %s", self.target, error)

    def close(self) -> None:
        self.flush()
        if self.own:
            os.close(self.fd)


_installed: dict[str, Sink] = {}


def install(target: str | None) -> Sink | None:
    """The sink writing to ``target`` ("-": stderr, else a file, appended to), made once per target."""
    if target is None:
        return None
    if target not in _installed:
        _installed[target] = Sink(target)
    return _installed[target]


def uninstall(target: str) -> None:
    """Stop writing to ``target``: what is pending is written, and the file closed."""
    sink = _installed.pop(target, None)
    if sink is not None:
        sink.close()


@atexit.register
def flush_all() -> None:
    for sink in list(_installed.values()):
        sink.flush()


def query_kind(text: str) -> str:
    """SELECT, ASK, CONSTRUCT, DESCRIBE, UPDATE (the first keyword after the prologue), or unknown."""
    return analyse(text).kind


def query_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True)
class Query:
    text: str
    update: bool  # sent as ``update=`` or application/sparql-update
    analysis: Analysis | None = None  # the route's reading of it, when the request got that far

    @property
    def kind(self) -> str:
        if self.update:
            return "UPDATE"
        return (self.analysis or analyse(self.text)).kind


@dataclass(frozen=True)
class Logged:
    """What the log says of a request's query."""

    kind: str
    hash: str
    text: str


_remembered: OrderedDict[bytes, Logged | None] = OrderedDict()


def request_query(scope: Mapping[str, Any], content_type: str, body: bytes) -> Logged | None:
    """The query the request carried: as the route read it (``ANALYSIS`` in the scope), or, for a
    request answered or refused before that, as its URI or body hold it (remembered for a repeated
    query string without a body: a replayed answer's request)."""
    analysis = scope.get(ANALYSIS)
    if isinstance(analysis, Analysis):
        return Logged(analysis.kind, query_hash(analysis.text), analysis.text)
    query_string: bytes = scope.get("query_string", b"")
    if body or content_type:
        query = find_query(query_string, content_type, body)
        return Logged(query.kind, query_hash(query.text), query.text) if query is not None else None
    if query_string in _remembered:
        _remembered.move_to_end(query_string)
        return _remembered[query_string]
    query = find_query(query_string, content_type, body)
    logged = Logged(query.kind, query_hash(query.text), query.text) if query is not None else None
    _remembered[query_string] = logged
    if len(_remembered) > REMEMBERED:
        _remembered.popitem(last=False)
    return logged


def find_query(query_string: bytes, content_type: str, body: bytes) -> Query | None:
    """The query (or update) a request carries, in its URI or its body, if it can be read."""
    try:
        items = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, max_num_fields=1000)
        if content_type == FORM:
            items += parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=1000, errors="strict")
        elif content_type in ("application/sparql-query", "application/sparql-update"):
            return Query(body.decode("utf-8"), content_type == "application/sparql-update")
    except (ValueError, UnicodeDecodeError):
        return None
    for key, value in items:
        if key in ("query", "update"):
            return Query(value, key == "update")
    return None


_second: list[Any] = [-1, ""]  # the last second formatted, and its text
_milli: list[Any] = [-1, ""]  # the last millisecond formatted, and its text


def stamp(now: float) -> str:
    """``now`` as ISO 8601 in UTC, to the millisecond."""
    milli = int(now * 1000)
    if milli != _milli[0]:
        second, fraction = divmod(milli, 1000)
        if second != _second[0]:
            _second[0], _second[1] = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _milli[0], _milli[1] = milli, f"{_second[1]}.{fraction:03d}Z"
    return str(_milli[1])


def made(pending: list[str | Replayed]) -> list[str]:
    """The parts of the lines of ``pending``, in order: lines as they are, replayed ones made here."""
    parts: list[str] = []
    add = parts.extend
    for item in pending:
        if isinstance(item, str):
            parts.append(item)
            continue
        now, seconds, client, (before, between, tail) = item
        who = quoted(client[0] if client else "unknown")
        add(('{"time": "', stamp(now), '", ', before, str(round(seconds * 1000, 3)), between, who, tail, "\n"))
    return parts


def line(
    *,
    method: str,
    route: str,
    path: str,
    status: int,
    seconds: float,
    size: int,
    client: str,
    query: Logged | None,
    rejected: str | None,
    waited: float,
    with_text: bool,
) -> str:
    """The request's line, as ``json.dumps`` would write its object (ASCII only: a line is never broken
    by an odd code point)."""
    text = (
        f'{{"time": "{stamp(time.time())}", "method": {quoted(method)}, "route": {quoted(route)}, '
        f'"path": {quoted(path)}, "status": {status}, "duration_ms": {round(seconds * 1000, 3)}, '
        f'"wait_ms": {round(waited * 1000, 3)}, "bytes": {size}, "client": {quoted(client)}'
    )
    if query is not None:
        text += f', "query_kind": "{query.kind}", "query_hash": "{query.hash}"'
        if with_text:
            text += f', "query": {quoted(query.text)}'
    if rejected is not None:
        text += f', "rejected": {quoted(rejected)}'
    return text + "}"


def write(sink: Sink | None, text: str) -> None:
    if sink is not None:
        sink.add(text + "\n")
    else:
        log.info(text)
