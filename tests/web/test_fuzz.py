"""Bad input, tried systematically (Hypothesis) on the query path, in process against the real embedded
backend: random and mutated SPARQL, random bytes, invalid UTF-8, huge literals, deep nesting, every HTTP
method on every route. Every answer is a clean status with a plain-text or JSON body, never a traceback
(the test client re-raises any exception the app lets out), and the server keeps answering. Then: no
route, method or parameter changes the graph."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from urllib.parse import quote_from_bytes

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacegraph.config import Config
from spacegraph.formats import bare
from spacegraph.web.app import create_app
from tests.support import QUERIES, TestClient, write_nquads
from tests.web.test_sparql import UPDATES

MAX_QUERY_BYTES = 16 * 1024
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "BREW"]
CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/sparql-query",
    "application/sparql-update",
    "text/plain",
    "application/json",
    "multipart/form-data; boundary=x",
    "",
]
KEYWORDS = [
    *("SELECT", "ASK", "CONSTRUCT", "DESCRIBE", "WHERE", "{", "}", "(", ")", "?x", "<x:y>", "'", '"', "\\u0000"),
    *("SERVICE", "FILTER", "OPTIONAL", "UNION", "GRAPH", "*", "/", "|", "^", "LIMIT", "OFFSET", "#", "INSERT"),
    *("DELETE", "LOAD", "PREFIX", ":", ".", ";", ",", "@en", "^^", "123", "-", "é", "\n", "\ud800", "\x00"),
]
FUZZ = settings(
    max_examples=120, deadline=5000, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SEEDS = [path.read_text() for path in QUERIES]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    nquads = write_nquads(tmp_path_factory.mktemp("graph") / "spacegraph.nq")
    config = Config(data=(nquads,), timeout=1, max_query_bytes=MAX_QUERY_BYTES, max_rows=2000, client_queries=64)
    with TestClient(create_app(config)) as client:
        yield client


def clean(response: httpx.Response) -> None:
    """A status from our table and, for an error, a short body in plain text or JSON with no traceback."""
    status = response.status_code
    assert status in (200, 204, 303, 304, 400, 403, 404, 405, 406, 408, 413, 414, 415, 429, 431, 503, 504), (
        status,
        response.text[:300],
    )
    if status >= 400 and response.request.method != "HEAD":
        kinds = ("text/plain", "application/json")
        if re.search(
            r"(text/html|application/xhtml\+xml)(?!\s*;\s*q=0(\.0*)?\s*(,|$))",
            response.request.headers.get("accept", ""),
        ):
            kinds += ("text/html",)  # a client that asks for HTML gets the error as a page (error_pages.py)
        assert bare(response.headers.get("content-type", "")) in kinds, response.headers
        assert "Traceback" not in response.text and 'File "' not in response.text
        assert response.text.strip()
    assert response.headers["x-content-type-options"] == "nosniff"


def still_up(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    answer = client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"})
    assert answer.status_code == 200 and answer.json()["boolean"] is True


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A competency query with a few characters inserted, deleted or replaced, or tokens spliced in."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "token"]))
        if action == "insert":
            text = text[:at] + draw(st.text(max_size=3)) + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        elif action == "replace":
            text = text[:at] + draw(st.characters()) + text[at + 1 :]
        else:
            text = text[:at] + " " + draw(st.sampled_from(KEYWORDS)) + " " + text[at:]
    return text


def nested(depth: int, kind: str) -> str:
    if kind == "groups":
        return "SELECT * WHERE " + "{ " * depth + "?s ?p ?o" + " }" * depth
    if kind == "brackets":
        return "SELECT * WHERE { ?s ?p " + "[ ?p " * depth + "1" + " ]" * depth + " }"
    if kind == "collections":
        return "SELECT * WHERE { ?s ?p " + "( " * depth + "1" + " )" * depth + " }"
    return "SELECT * WHERE { ?s ?p ?o FILTER(" + "(" * depth + "1" + ")" * depth + ") }"


queries = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(KEYWORDS), max_size=40).map(" ".join),
    mutated(),
    st.builds(nested, st.integers(1, 3000), st.sampled_from(["groups", "brackets", "collections", "filters"])),
    st.builds(
        lambda size, char: f'SELECT * WHERE {{ ?s ?p "{char * size}" }}',
        st.integers(1000, MAX_QUERY_BYTES + 100),
        st.sampled_from(["a", "é", "\\n", "\U0001f680"]),
    ),
)


@FUZZ
@given(query=queries, how=st.sampled_from(["get", "form", "body"]))
def test_queries(client: TestClient, query: str, how: str) -> None:
    encoded = query.encode("utf-8", "surrogatepass")  # a lone surrogate is sent as the bytes it would be
    if how == "get":
        response = client.get("/sparql?query=" + quote_from_bytes(encoded, safe=""))
    elif how == "form":
        form = b"query=" + quote_from_bytes(encoded, safe="").encode()
        response = client.post("/sparql", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
    else:
        response = client.post("/sparql", content=encoded, headers={"Content-Type": "application/sparql-query"})
    clean(response)


@FUZZ
@given(
    body=st.binary(max_size=2000),
    content_type=st.sampled_from(CONTENT_TYPES),
    path=st.sampled_from(["/sparql", "/store"]),
)
def test_random_bytes(client: TestClient, body: bytes, content_type: str, path: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    clean(client.post(path, content=body, headers=headers))


@FUZZ
@given(
    prefix=st.sampled_from([b"query=", b"", b"query=ASK%20", b"update="]),
    broken=st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"%FF", b"%C3", b"%ED%A0%80"]),
    suffix=st.binary(max_size=50),
    content_type=st.sampled_from(CONTENT_TYPES[:3]),
)
def test_invalid_utf8(client: TestClient, prefix: bytes, broken: bytes, suffix: bytes, content_type: str) -> None:
    clean(client.post("/sparql", content=prefix + broken + suffix, headers={"Content-Type": content_type}))
    clean(client.get("/sparql?" + quote_from_bytes(prefix + broken + suffix, safe="=%&")))


@FUZZ
@given(
    method=st.sampled_from(METHODS),
    path=st.sampled_from(["/sparql", "/store", "/health", "/ready", "/metrics", "/docs", "/openapi.json", "/x", "/"]),
    params=st.lists(
        st.tuples(
            st.sampled_from(["query", "update", "format", "default", "graph", "default-graph-uri", "x"]),
            st.text(max_size=40),
        ),
        max_size=5,
    ),
    accept=st.sampled_from(["*/*", "text/html", "application/json", "image/png", "text/turtle;q=0", "", "x/y;q=abc"]),
)
def test_every_method_on_every_route(
    client: TestClient, method: str, path: str, params: list[tuple[str, str]], accept: str
) -> None:
    clean(client.request(method, path, params=params, headers={"Accept": accept}, content=b"ASK {}"))


def test_the_server_is_still_up_after_the_fuzzing(client: TestClient) -> None:
    still_up(client)


# --- read-only by construction


def dump(client: TestClient) -> str:
    response = client.get("/store?default&format=nquads")
    assert response.status_code == 200
    named = client.get("/sparql", params={"query": "SELECT ?g ?s ?p ?o { GRAPH ?g { ?s ?p ?o } }", "format": "tsv"})
    assert named.status_code == 200
    return hashlib.sha256(response.content + b"".join(sorted(named.content.splitlines()))).hexdigest()


def test_no_update_form_on_any_route_changes_the_graph(client: TestClient) -> None:
    before = dump(client)
    routes = [*sorted(client.get("/openapi.json").json()["paths"]), "/", "/x"]
    statuses: set[int] = set()
    for update in UPDATES:
        for path in routes:
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                attempts = [
                    client.request(method, path, params={"update": update}),
                    client.request(method, path, params={"query": update}),
                    client.request(method, path, data={"update": update}),
                    client.request(method, path, data={"query": update}),
                    client.request(method, path, content=update, headers={"Content-Type": "application/sparql-update"}),
                    client.request(method, path, content=update, headers={"Content-Type": "application/sparql-query"}),
                    client.request(
                        method,
                        path,
                        content=b"<x:s> <x:p> <x:o> <x:g> .",
                        headers={"Content-Type": "application/n-quads"},
                    ),
                ]
                for index, response in enumerate(attempts):
                    clean(response)
                    statuses.add(response.status_code)
                    read = method == "POST" or (method == "GET" and index < 2)  # GET ignores a body
                    if path == "/sparql" and read and response.status_code != 415:
                        assert response.status_code in (400, 403), (method, update, response.text)
    assert dump(client) == before
    assert 403 in statuses and 405 in statuses
