"""The access log: one JSON object per request, on the ``spacegraph.access`` logger.

A line holds the time (UTC, ISO 8601), method, route (the route's template, as in the metrics), path
(without the query string), status, duration in milliseconds, the part of it its evaluations waited for
their turn (``wait_ms``, see ``engine/scheduler.py``), response bytes, client address, the query's kind
(SELECT, ASK, CONSTRUCT, DESCRIBE, UPDATE or unknown) and hash (the first 16 hex digits of the SHA-256 of
its UTF-8 text), and why the request was refused if it was. The query's text is added
only with ``log_queries``. Never logged: a body, a header (cookies, authorization), the query string.

``spacegraph serve`` sends it to stderr (``--access-log -``, the default) or appends it to a file, in
place of uvicorn's access log, which prints whole URLs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from spacegraph.engine.analysis import Analysis, analyse

log = logging.getLogger("spacegraph.access")
ANALYSIS = "spacegraph.analysis"  # scope key: the query as the SPARQL route analysed it
FORM = "application/x-www-form-urlencoded"
_installed: dict[str, logging.Handler] = {}


def install(target: str | None) -> None:
    """Send the access log to ``target`` ("-": stderr, else a file, appended to); once per target."""
    if target is None or target in _installed:
        return
    stream = target == "-"
    handler = logging.StreamHandler(sys.stderr) if stream else logging.FileHandler(target, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    _installed[target] = handler


def uninstall(target: str) -> None:
    """Stop sending the access log to ``target`` and close it."""
    handler = _installed.pop(target, None)
    if handler is not None:
        log.removeHandler(handler)
        handler.close()
    if not _installed:
        log.setLevel(logging.NOTSET)
        log.propagate = True


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


def request_query(scope: Mapping[str, Any], content_type: str, body: bytes) -> Query | None:
    """The query the request carried: as the route read it (``ANALYSIS`` in the scope), or, for a
    request refused before that, as its URI or body hold it."""
    analysis = scope.get(ANALYSIS)
    if isinstance(analysis, Analysis):
        return Query(analysis.text, False, analysis)
    return find_query(scope.get("query_string", b""), content_type, body)


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


def record(
    *,
    method: str,
    route: str,
    path: str,
    status: int,
    seconds: float,
    size: int,
    client: str,
    query: Query | None,
    rejected: str | None,
    waited: float,
    with_text: bool,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "method": method,
        "route": route,
        "path": path,
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "wait_ms": round(waited * 1000, 3),
        "bytes": size,
        "client": client,
    }
    if query is not None:
        entry["query_kind"] = query.kind
        entry["query_hash"] = query_hash(query.text)
        if with_text:
            entry["query"] = query.text
    if rejected is not None:
        entry["rejected"] = rejected
    return entry


def write(entry: dict[str, Any]) -> None:
    log.info(json.dumps(entry))  # ASCII: a line is never broken by an odd code point
