"""A stand-in for Wikidata on 127.0.0.1: its Action API (``/w/api.php``: ``wbsearchentities``,
``wbgetentities``) and its query service (``/sparql``), answering in the real JSON shapes (see
``tests/wikidata_items.py`` for where each comes from) from items the tests give it. It can be told to
answer the next requests with faults (429, 503, a maxlag error), and it logs every request (time, path,
parameters, User-Agent) for the tests to read. This module holds no test.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyoxigraph as ox

from spacegraph.names import normalise
from tests.wikidata_items import Json

WD = "http://www.wikidata.org/entity/"
WDT = "http://www.wikidata.org/prop/direct/"


@dataclass
class Logged:
    at: float
    method: str
    path: str
    params: dict[str, str]
    user_agent: str


@dataclass
class Fault:
    status: int  # 200 with kind "maxlag" for a maxlag error
    headers: dict[str, str] = field(default_factory=dict)
    kind: str = ""


class StandIn:
    """The items (``wbgetentities`` JSON, keyed by id), stale search entries, redirects and deletions."""

    def __init__(
        self,
        items: Iterable[Json],
        stale: dict[str, tuple[str, str]] | None = None,
        redirects: dict[str, str] | None = None,
        deleted: Iterable[str] = (),
    ) -> None:
        self.items = {i["id"]: i for i in items}
        self.stale = stale or {}
        self.redirects = redirects or {}
        self.deleted = set(deleted)
        self.faults: list[Fault] = []
        self.log: list[Logged] = []
        self.lock = threading.Lock()
        self.store = ox.Store()
        quads = []
        for qid, entity in self.items.items():
            for pid, statements in entity["claims"].items():
                for s in statements:
                    value = s["mainsnak"]["datavalue"]
                    if value["type"] == "wikibase-entityid":
                        target = ox.NamedNode(WD + value["value"]["id"])
                        quads.append(ox.Quad(ox.NamedNode(WD + qid), ox.NamedNode(WDT + pid), target))
        self.store.extend(quads)

    # --- the answers

    def search(self, params: dict[str, str]) -> Json:
        text, language = params.get("search", ""), params.get("language", "en")
        limit = int(params.get("limit", "7"))
        wanted = normalise(text)
        exact: list[Json] = []
        prefix: list[Json] = []
        entries = [(qid, e) for qid, e in self.items.items()] + [
            (qid, stale_entity(qid, *entry)) for qid, entry in self.stale.items()
        ]
        for qid, entity in entries:
            names = [("label", entity["labels"][language]["value"])] if language in entity["labels"] else []
            names += [("alias", a["value"]) for a in entity.get("aliases", {}).get(language, [])]
            for kind, name in names:
                if normalise(name).startswith(wanted) and wanted:
                    hit = search_hit(qid, entity, language, kind, name)
                    (exact if normalise(name) == wanted else prefix).append(hit)
                    break
        hits = (exact + prefix)[:limit]
        return {"searchinfo": {"search": text}, "search": hits, "success": 1}

    def entities(self, params: dict[str, str]) -> Json:
        ids = [i for i in params.get("ids", "").split("|") if i]
        if len(ids) > 50:
            return {"error": {"code": "toomanyvalues", "info": 'Too many values supplied for parameter "ids".'}}
        languages = params.get("languages", "").split("|") if params.get("languages") else None
        answer: dict[str, Json] = {}
        for asked in ids:
            target = self.redirects.get(asked, asked)
            entity = self.items.get(target)
            if asked in self.deleted or entity is None:
                answer[asked] = {"id": asked, "missing": ""}
                continue
            entity = dict(entity)
            if languages:
                for key in ("labels", "descriptions", "aliases"):
                    entity[key] = {lang: v for lang, v in entity[key].items() if lang in languages}
            if target != asked:
                entity["redirects"] = {"from": asked, "to": target}
            answer[asked] = entity
        return {"entities": answer, "success": 1}

    def sparql(self, query: str) -> bytes:
        results = self.store.query(query)
        return results.serialize(format=ox.QueryResultsFormat.JSON) or b""


def stale_entity(qid: str, language: str, label: str) -> Json:
    return {"id": qid, "labels": {language: {"language": language, "value": label}}, "descriptions": {}}


def search_hit(qid: str, entity: Json, language: str, kind: str, name: str) -> Json:
    label = entity["labels"].get(language, {}).get("value") or name
    description = entity.get("descriptions", {}).get(language, {}).get("value", "")
    hit: Json = {
        "id": qid,
        "title": qid,
        "pageid": int(qid[1:]) % 100_000_000,
        "repository": "wikidata",
        "url": f"//www.wikidata.org/wiki/{qid}",
        "concepturi": f"http://www.wikidata.org/entity/{qid}",
        "display": {"label": {"value": label, "language": language}},
        "label": label,
        "match": {"type": kind, "language": language, "text": name},
    }
    if description:
        hit["description"] = description
        hit["display"]["description"] = {"value": description, "language": language}
    if kind == "alias":
        hit["aliases"] = [name]
    return hit


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self.answer(dict((k, v[0]) for k, v in parse_qs(urlsplit(self.path).query).items()))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8")
        self.answer(dict((k, v[0]) for k, v in parse_qs(body).items()))

    def answer(self, params: dict[str, str]) -> None:
        stand_in = self.server.stand_in
        path = urlsplit(self.path).path
        with stand_in.lock:
            stand_in.log.append(
                Logged(time.monotonic(), self.command, path, params, self.headers.get("User-Agent", ""))
            )
            fault = stand_in.faults.pop(0) if stand_in.faults else None
        if fault is not None and fault.kind == "maxlag":
            body = {
                "error": {
                    "code": "maxlag",
                    "info": "Waiting for 10.64.48.35: 6.2 seconds lagged",
                    "host": "10.64.48.35",
                    "lag": 6.2,
                    "type": "db",
                    "*": "See https://www.wikidata.org/w/api.php for API usage.",
                },
                "servedby": "mw-api-int.stand-in",
            }
            return self.send(200, json.dumps(body).encode(), "application/json; charset=utf-8", fault.headers)
        if fault is not None:
            return self.send(fault.status, b"<html><body>Too many requests</body></html>", "text/html", fault.headers)
        if path == "/w/api.php":
            action = params.get("action")
            if action == "wbsearchentities":
                answer = stand_in.search(params)
            elif action == "wbgetentities":
                answer = stand_in.entities(params)
            else:
                answer = {
                    "error": {"code": "badvalue", "info": f'Unrecognized value for parameter "action": {action}.'}
                }
            return self.send(200, json.dumps(answer).encode(), "application/json; charset=utf-8")
        if path == "/sparql":
            try:
                body = stand_in.sparql(params.get("query", ""))
            except SyntaxError as error:
                return self.send(400, str(error).encode(), "text/plain")
            return self.send(200, body, "application/sparql-results+json")
        return self.send(404, b"not found", "text/plain")

    def send(self, status: int, body: bytes, media_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, stand_in: StandIn) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.stand_in = stand_in


@contextlib.contextmanager
def serving(stand_in: StandIn) -> Iterator[str]:
    """The stand-in on a free port of 127.0.0.1; yields its base URL (``…/w/api.php``, ``…/sparql``)."""
    server = Server(stand_in)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
