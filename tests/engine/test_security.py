"""The endpoint makes no outbound connection it was not told to make.

Each refused form is sent to a running app while a TCP listener waits on 127.0.0.1 (and ::1); the
listener must receive nothing. A control shows that pyoxigraph, left alone, does connect to it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest

from spacegraph.config import Config
from spacegraph.engine.analysis import analyse
from spacegraph.engine.security import ServiceRefused, check_services
from spacegraph.web.app import create_app
from tests.servers import oxigraph_server
from tests.support import Listener, TestClient, ipv6_available

ALLOWED = "https://query.wikidata.org/sparql"


def refused_forms(port: int) -> list[str]:
    """SERVICE and other ways to reach 127.0.0.1:port, every one of which must be refused unevaluated."""
    here = f"http://127.0.0.1:{port}/sparql"
    return [
        f"SELECT * WHERE {{ SERVICE <{here}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE SILENT <{here}> {{ ?s ?p ?o }} }}",
        f"select * where {{ sErViCe <{here}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE<{here}>{{}} }}",
        f"PREFIX ex: <http://127.0.0.1:{port}/> SELECT * WHERE {{ SERVICE ex:sparql {{ ?s ?p ?o }} }}",
        f"PREFIX ex: <http://127.0.0.1:{port}/> SELECT * WHERE {{ SERVICEex:sparql {{}} }}",
        f"SELECT * WHERE {{ SERVICESILENT<{here}>{{}} }}",
        f"BASE <http://127.0.0.1:{port}/a/> SELECT * WHERE {{ SERVICE <../sparql> {{}} }}",
        f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{port}/\\u0073parql> {{}} }}",
        f"SELECT * WHERE {{ SERVICE <http://localhost:{port}/sparql> {{}} }}",
        f"ASK {{ SERVICE <http://0x7f000001:{port}/sparql> {{}} }}",
        f"SELECT * WHERE {{ SERVICE <http://[::1]:{port}/sparql> {{}} }}",
        f"SELECT * WHERE {{ SERVICE <http://10.0.0.1:{port}/sparql> {{}} }}",
        "SELECT * WHERE { SERVICE <http://169.254.169.254/latest/meta-data> {} }",
        "SELECT * WHERE { SERVICE <file:///etc/passwd> {} }",
        f"SELECT * WHERE {{ VALUES ?e {{ <{here}> }} SERVICE ?e {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ BIND(<{here}> AS ?e) SERVICE SILENT ?e {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ ?a ?b ?c OPTIONAL {{ SERVICE <{here}> {{ ?s ?p ?o }} }} }}",
        f"SELECT * WHERE {{ {{ SELECT * WHERE {{ SERVICE <{here}> {{ ?s ?p ?o }} }} }} }}",
        f"SELECT * WHERE {{ FILTER EXISTS {{ SERVICE <{here}> {{ ?s ?p ?o }} }} }}",
        f"SELECT * WHERE {{ {{ ?s ?p ?o }} UNION {{ GRAPH ?g {{ SERVICE <{here}> {{}} }} }} }}",
        f"SELECT * WHERE {{ ?s ?p ?o MINUS {{ SERVICE <{here}> {{ ?s ?p ?o }} }} }}",
        f"SELECT * WHERE {{ SERVICE <{ALLOWED}> {{ SERVICE <{here}> {{ ?s ?p ?o }} }} }}",
        f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ SERVICE <{here}> {{ ?s ?p ?o }} }}",
        f"DESCRIBE ?s WHERE {{ SERVICE <{here}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ BIND(1 AS ?a) FILTER(?a<?b)SERVICE#>\n<{here}>{{}} }}",
    ]


def reaching_forms(port: int) -> list[str]:
    """Not SERVICE, and harmless: pyoxigraph treats FROM IRIs as graph names and fetches nothing."""
    here = f"http://127.0.0.1:{port}/data.ttl"
    return [
        f"SELECT * FROM <{here}> WHERE {{ ?s ?p ?o }}",
        f"SELECT * FROM NAMED <{here}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
        f"DESCRIBE <{here}>",
        f'SELECT * WHERE {{ ?s ?p "SERVICE <{here}> {{}}" }}',
        f"SELECT * WHERE {{ ?s ?p ?o }} # SERVICE <{here}> {{}}",
    ]


@pytest.fixture(scope="module", params=["no federation", "federation on"])
def client(request: pytest.FixtureRequest, nquads: Path) -> Iterator[TestClient]:
    allow = (ALLOWED,) if request.param == "federation on" else ()
    with TestClient(create_app(Config(data=(nquads,), timeout=5, service_allow=allow))) as client:
        yield client


def wait_for_connection(listener: Listener, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while listener.connections == 0 and time.monotonic() < deadline:
        time.sleep(0.01)


def test_the_listener_sees_what_pyoxigraph_does_alone() -> None:
    """The control: evaluated by pyoxigraph without our check, the first form does connect."""
    with Listener() as listener:
        results = ox.Store().query(refused_forms(listener.port)[1])  # SILENT: no error when the peer hangs up
        assert isinstance(results, ox.QuerySolutions)
        list(results)
        wait_for_connection(listener)
        assert listener.connections >= 1


def test_service_and_tricks_are_refused_without_a_connection(client: TestClient) -> None:
    with Listener() as listener:
        for query in refused_forms(listener.port):
            for response in (
                client.get("/sparql", params={"query": query}),
                client.post("/sparql", content=query, headers={"Content-Type": "application/sparql-query"}),
            ):
                assert response.status_code == 403, (query, response.text)
                assert "SERVICE" in response.text
        assert listener.connections == 0


@pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback on this machine")
def test_ipv6_loopback_is_refused_without_a_connection(client: TestClient) -> None:
    with Listener("::1") as listener:
        query = f"SELECT * WHERE {{ SERVICE SILENT <http://[::1]:{listener.port}/sparql> {{ ?s ?p ?o }} }}"
        assert client.get("/sparql", params={"query": query}).status_code == 403
        assert listener.connections == 0


def test_from_and_other_iris_fetch_nothing(client: TestClient) -> None:
    with Listener() as listener:
        for query in reaching_forms(listener.port):
            response = client.get("/sparql", params={"query": query})
            assert response.status_code == 200, (query, response.text)
        load = f"LOAD <http://127.0.0.1:{listener.port}/data.ttl>"
        assert client.post("/sparql", data={"update": load}).status_code == 403
        assert client.post("/sparql", data={"query": load}).status_code == 403
        assert listener.connections == 0


def test_the_worker_sandbox_stops_connections_by_itself() -> None:
    """The second wall: in a process that called forbid_network, pyoxigraph cannot even open a socket."""
    with Listener() as listener:
        script = (
            "import pyoxigraph as ox\n"
            "from spacegraph.engine.security import forbid_network\n"
            "assert forbid_network() is None\n"
            f"query = 'SELECT * WHERE {{ SERVICE <http://127.0.0.1:{listener.port}/sparql> {{ ?s ?p ?o }} }}'\n"
            "try:\n"
            "    list(ox.Store().query(query))\n"
            "except OSError as error:\n"
            "    print(error)\n"
        )
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
        assert "Permission denied" in result.stdout
        assert listener.connections == 0


CHECKS = [
    # query, allowed SERVICE targets (None: refused)
    (f"SELECT * {{ SERVICE <{ALLOWED}> {{ ?s ?p ?o }} }}", [ALLOWED]),
    (f"SELECT * {{ SERVICE SILENT <{ALLOWED}> {{ ?s ?p ?o }} }}", [ALLOWED]),
    ("PREFIX wd: <https://query.wikidata.org/> SELECT * { SERVICE wd:sparql { ?s ?p ?o } }", [ALLOWED]),
    (
        "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\nSELECT ?l WHERE {\n"
        f"  SERVICE <{ALLOWED}> {{ ?s rdfs:label ?l FILTER(?s = <http://www.wikidata.org/entity/Q90#x>) }}\n}}",
        [ALLOWED],
    ),
    (f"SELECT * {{ SERVICE <{ALLOWED}> {{}} SERVICE <{ALLOWED}> {{}} }}", [ALLOWED, ALLOWED]),
    ('SELECT * { ?s ?p "customer service" }', []),
    ("SELECT * { ?s <http://example.org/service> ?o }", []),
    ("SELECT * { ?service ?p ?o }", []),
    (f"SELECT * {{ SERVICE <{ALLOWED}/> {{}} }}", None),  # not exactly the allowed IRI
    (f"SELECT * {{ SERVICE <{ALLOWED.upper()}> {{}} }}", None),
    (f"SELECT * {{ SERVICE <{ALLOWED}> {{ SERVICE <{ALLOWED}> {{}} }} }}", None),  # nested
    ("SELECT * { SERVICE ?x {} }", None),
    ("PREFIX service: <http://example.org/> SELECT * { service:x ?p ?o }", None),  # reads like SERVICE :x
    ("SELECT * { ?s ?p 'unterminated service }", None),
    (f"SELECT * {{ FILTER(?a<?b#>\n) SERVICE <{ALLOWED}> {{}} }}", None),  # ambiguous "<…#>"
]


@pytest.mark.parametrize(("query", "expected"), CHECKS)
@pytest.mark.parametrize("cross_check", [False, True], ids=["lexer", "lexer+rdflib"])
def test_service_check(query: str, expected: list[str] | None, cross_check: bool) -> None:
    if expected is None:
        with pytest.raises(ServiceRefused):
            check_services(analyse(query), (ALLOWED,), cross_check=cross_check)
    else:
        assert [call.target for call in check_services(analyse(query), (ALLOWED,), cross_check=cross_check)] == expected


def test_service_is_refused_altogether_without_an_allow_list() -> None:
    with pytest.raises(ServiceRefused, match="disabled"):
        check_services(analyse(CHECKS[0][0]), (), cross_check=False)
    assert check_services(analyse("SELECT * { ?s ?p ?o }"), (), cross_check=True) == ()


def test_scan_reports_place_silent_and_nesting() -> None:
    calls = analyse(f"SELECT *\nWHERE {{\n  SERVICE SILENT <{ALLOWED}> {{ SERVICE ?x {{}} }} }}").services
    assert [(c.target, c.silent, c.nested, c.line, c.column) for c in calls] == [
        (ALLOWED, True, False, 3, 3),
        ("?x", False, True, 3, 56),
    ]


@pytest.mark.parametrize(
    ("text", "update"),
    [
        ("INSERT DATA { <x:a> <x:b> <x:c> }", True),
        ("PREFIX a: <http://x/#> # comment\n BASE <http://y/> delete where { ?s ?p ?o }", True),
        ("SELECT * { ?s ?p ?o }", False),
        ("PREFIX insert: <http://x/> SELECT * { insert:a ?p ?o }", False),
        ("", False),
    ],
)
def test_updates_are_recognised_for_the_message(text: str, update: bool) -> None:
    assert (analyse(text).form == "update") is update


def test_allowed_federation_reaches_only_the_allowed_endpoint(nquads: Path, tmp_path: Path) -> None:
    """With a real Oxigraph server on the allow-list: SERVICE to it answers; anything else is refused."""
    with oxigraph_server(tmp_path / "remote") as base:
        remote = f"{base}/query"
        triple = "<https://example.org/remote> <https://example.org/says> 'hello from the remote' ."
        httpx.post(f"{base}/store?default", content=triple, headers={"Content-Type": "text/turtle"}, timeout=10)
        config = Config(data=(nquads,), timeout=5, service_allow=(remote,))
        with TestClient(create_app(config)) as client, Listener() as listener:
            query = f"SELECT ?o WHERE {{ SERVICE <{remote}> {{ ?s <https://example.org/says> ?o }} }}"
            response = client.get("/sparql", params={"query": query})
            assert response.status_code == 200, response.text
            assert response.json()["results"]["bindings"] == [
                {"o": {"type": "literal", "value": "hello from the remote"}}
            ]
            assert "no-store" in response.headers["cache-control"]
            for forbidden in refused_forms(listener.port):
                assert client.get("/sparql", params={"query": forbidden}).status_code == 403, forbidden
            nested = f"SELECT * {{ SERVICE <{remote}> {{ SERVICE <http://127.0.0.1:{listener.port}/> {{}} }} }}"
            assert client.get("/sparql", params={"query": nested}).status_code == 403
            assert listener.connections == 0


def test_serving_json_ld_with_a_remote_context_fetches_nothing(tmp_path: Path) -> None:
    """`spacegraph serve --data x.jsonld`: a remote @context is refused with the file named, and the
    address it names receives no connection."""
    with Listener() as listener:
        data = tmp_path / "remote-context.jsonld"
        data.write_text(
            f'{{"@context": "http://127.0.0.1:{listener.port}/context.jsonld", "@id": "urn:x", "name": "x"}}',
            encoding="utf-8",
        )
        result = subprocess.run(
            [str(Path(sys.executable).parent / "spacegraph"), "serve", "--data", str(data), "--port", "0"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {data}:"), result.stderr
    assert "remote context" in result.stderr.lower() or "loaddocumentcallback" in result.stderr.lower()
    assert listener.connections == 0
