"""Shared pieces of the endpoint tests (this module holds no test): the N-Quads file the endpoint serves,
a real uvicorn on a free port of 127.0.0.1, a TCP listener that counts the connections it receives, and
the reference answers of the embedded engine (pyoxigraph in this process) in one comparable form."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import rdflib
import uvicorn
from starlette.exceptions import StarletteDeprecationWarning

from spacegraph import PROJECT_ROOT
from spacegraph.publish.graph import Sources, load
from spacegraph.web.server import options as server_options
from tests.servers import free_port

with warnings.catch_warnings():
    # starlette 1.x asks for the httpx2 package and warns once, at import, when it finds httpx instead.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

__all__ = ["TestClient", "free_port"]

QUERIES = sorted((PROJECT_ROOT / "queries").glob("*.rq"))
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
Term = tuple[str, str, str | None, str | None]  # kind (uri, bnode, literal), value, datatype, language
Row = dict[str, Term]


def write_nquads(path: Path) -> Path:
    """The project's graph, as the endpoint serves it (named graphs kept), in N-Quads."""
    loaded = load(Sources.in_project())
    path.write_bytes(ox.serialize(loaded.store, format=ox.RdfFormat.N_QUADS) or b"")
    return path


def reference_store(nquads: Path) -> ox.Store:
    store = ox.Store()
    store.bulk_load(path=nquads, format=ox.RdfFormat.N_QUADS)
    return store


def term(kind: str, value: str, datatype: str | None = None, language: str | None = None) -> Term:
    """Blank node labels are not comparable between engines: every blank node is the same here."""
    if kind == "bnode":
        return ("bnode", "", None, None)
    if kind == "literal":
        if language:
            return ("literal", value, None, language.lower())
        return ("literal", value, None if datatype in (None, XSD_STRING, RDF_LANG_STRING) else datatype, None)
    return ("uri", value, None, None)


def ox_term(node: Any) -> Term:
    if isinstance(node, ox.NamedNode):
        return term("uri", node.value)
    if isinstance(node, ox.BlankNode):
        return term("bnode", node.value)
    assert isinstance(node, ox.Literal), node
    return term("literal", node.value, node.datatype.value, node.language)


def rdflib_term(node: Any) -> Term:
    if isinstance(node, rdflib.URIRef):
        return term("uri", str(node))
    if isinstance(node, rdflib.BNode):
        return term("bnode", str(node))
    assert isinstance(node, rdflib.Literal), node
    return term("literal", str(node), str(node.datatype) if node.datatype else None, node.language)


def json_term(binding: dict[str, str]) -> Term:
    """A term of SPARQL JSON results (``type`` uri, bnode, literal or typed-literal)."""
    kind = {"typed-literal": "literal"}.get(binding["type"], binding["type"])
    return term(kind, binding["value"], binding.get("datatype"), binding.get("xml:lang"))


def comunica_term(value: dict[str, str]) -> Term:
    kind = {"NamedNode": "uri", "BlankNode": "bnode", "Literal": "literal"}[value["termType"]]
    return term(kind, value["value"], value.get("datatype"), value.get("language"))


def reference_rows(store: ox.Store, query: str) -> list[Row]:
    """The answer of the embedded engine, evaluated here, with the default graph as the union."""
    return solution_rows(store.query(query, use_default_graph_as_union=True))


def solution_rows(solutions: Any) -> list[Row]:
    """Rows of pyoxigraph QuerySolutions (evaluated, or parsed from an answer)."""
    assert isinstance(solutions, ox.QuerySolutions)
    names = [variable.value for variable in solutions.variables]
    return [{name: ox_term(row[name]) for name in names if row[name] is not None} for row in solutions]


def json_rows(body: bytes | str | dict[str, Any]) -> list[Row]:
    document = body if isinstance(body, dict) else json.loads(body)
    return [{name: json_term(value) for name, value in row.items()} for row in document["results"]["bindings"]]


def multiset(rows: list[Row]) -> list[str]:
    return sorted(json.dumps(row, sort_keys=True) for row in rows)


def canonical(items: Any, graph: Any = None) -> ox.Dataset:
    """Triples (put in ``graph``, the default graph if None) or quads, blank nodes canonicalised (RDFC-1.0),
    so that two serialisations of one graph compare equal."""
    target = graph if graph is not None else ox.DefaultGraph()
    quads = [i if isinstance(i, ox.Quad) else ox.Quad(i.subject, i.predicate, i.object, target) for i in items]
    dataset = ox.Dataset(quads)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return dataset


@contextlib.contextmanager
def running(app: Any, seconds: float = 30.0) -> Iterator[str]:
    """A real uvicorn serving ``app`` on a free port of 127.0.0.1, in a thread; yields its base URL."""
    # IPPROTO_TCP given explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without it
    # every answer waits for the client's delayed ACK (about 40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", **server_options(log_level="warning")))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + seconds
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(seconds)
        sock.close()


class Listener:
    """A TCP listener on a free port that records every connection it accepts (and sends nothing)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.accept, daemon=True)

    def accept(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            connection.close()

    def __enter__(self) -> Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False
