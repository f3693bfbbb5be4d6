"""The SPARQL 1.1 Protocol and the Graph Store HTTP Protocol, in process (TestClient), against the real
embedded backend: its worker processes evaluate every query."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest

from spacegraph.config import DATASET_IRI, Config
from spacegraph.formats import RDF_FORMATS, RESULTS_FORMATS, RdfFormat, ResultsFormat, bare
from spacegraph.namespaces import DATA_GRAPH, ONTOLOGY_GRAPH
from spacegraph.web.app import create_app
from tests.support import (
    TestClient,
    canonical,
    json_rows,
    reference_rows,
    solution_rows,
)

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
LABELS = """PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?s ?label WHERE { ?s rdfs:label ?label FILTER(lang(?label) = "en") } ORDER BY ?s ?label"""
CONSTRUCT = """PREFIX org: <http://www.w3.org/ns/org#>
CONSTRUCT { ?unit org:unitOf ?parent } WHERE { ?unit org:unitOf ?parent }"""
MAX_ROWS = 1000
MAX_QUERY_BYTES = 4096
SD = "http://www.w3.org/ns/sparql-service-description#"


@pytest.fixture(scope="module")
def client(nquads: Path) -> Iterator[TestClient]:
    config = Config(data=(nquads,), timeout=5, max_rows=MAX_ROWS, max_query_bytes=MAX_QUERY_BYTES)
    with TestClient(create_app(config)) as client:
        yield client


def count(client: TestClient, query: str = COUNT, dataset: dict[str, str | list[str]] | None = None) -> int:
    response = client.get("/sparql", params={"query": query, **(dataset or {})})
    assert response.status_code == 200, response.text
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


def media(response: httpx.Response) -> str:
    return bare(response.headers["content-type"])


def union_triples(store: ox.Store) -> set[ox.Triple]:
    return {quad.triple for quad in store}


def triples_of(response: httpx.Response, fmt: ox.RdfFormat) -> ox.Dataset:
    return canonical(q.triple for q in ox.parse(response.content, format=fmt))


# --- the three ways to send a query


def test_get_post_form_and_post_query_give_the_same_answer(client: TestClient, reference: ox.Store) -> None:
    by_get = client.get("/sparql", params={"query": LABELS})
    by_form = client.post("/sparql", data={"query": LABELS})
    by_body = client.post("/sparql", content=LABELS, headers={"Content-Type": "application/sparql-query"})
    for response in (by_get, by_form, by_body):
        assert response.status_code == 200, response.text
        assert media(response) == "application/sparql-results+json"
    assert by_get.content == by_form.content == by_body.content
    assert json_rows(by_get.content) == reference_rows(reference, LABELS)


def test_the_default_graph_is_the_union_of_the_named_graphs(client: TestClient, reference: ox.Store) -> None:
    assert count(client) == len(union_triples(reference))
    graphs = client.get("/sparql", params={"query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"})
    assert {row["g"][1] for row in json_rows(graphs.content)} == {g.value for g in reference.named_graphs()}


def test_protocol_dataset_is_honoured(client: TestClient, reference: ox.Store) -> None:
    ontology = len(list(reference.quads_for_pattern(None, None, None, ONTOLOGY_GRAPH)))
    data = len(list(reference.quads_for_pattern(None, None, None, DATA_GRAPH)))
    assert count(client, COUNT, {"default-graph-uri": ONTOLOGY_GRAPH.value}) == ontology
    both = [ONTOLOGY_GRAPH.value, DATA_GRAPH.value]
    assert count(client, COUNT, {"default-graph-uri": both}) == ontology + data
    in_graphs = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
    assert count(client, in_graphs, {"named-graph-uri": DATA_GRAPH.value}) == data
    # default-graph-uri alone: no named graph at all (SPARQL 1.1 Query §13.2)
    assert count(client, in_graphs, {"default-graph-uri": DATA_GRAPH.value}) == 0
    # the same by POST, in the form
    response = client.post("/sparql", data={"query": COUNT, "default-graph-uri": ONTOLOGY_GRAPH.value})
    assert int(response.json()["results"]["bindings"][0]["n"]["value"]) == ontology


def test_from_in_the_query_is_honoured(client: TestClient, reference: ox.Store) -> None:
    ontology = len(list(reference.quads_for_pattern(None, None, None, ONTOLOGY_GRAPH)))
    assert count(client, f"SELECT (COUNT(*) AS ?n) FROM {ONTOLOGY_GRAPH} WHERE {{ ?s ?p ?o }}") == ontology


# --- formats


@pytest.mark.parametrize("fmt", RESULTS_FORMATS, ids=lambda f: f.name)
def test_select_in_every_results_format(client: TestClient, reference: ox.Store, fmt: ResultsFormat) -> None:
    expected = reference_rows(reference, LABELS)
    by_accept = client.get("/sparql", params={"query": LABELS}, headers={"Accept": fmt.media_type})
    by_param = client.get("/sparql", params={"query": LABELS, "format": fmt.name})
    for response in (by_accept, by_param):
        assert response.status_code == 200, response.text
        assert media(response) == bare(fmt.media_type)
        if fmt.name == "csv":  # CSV keeps only lexical forms
            assert response.text.count("\r\n") == 1 + len(expected)
        else:
            assert solution_rows(ox.parse_query_results(response.content, format=fmt.results_format)) == expected


@pytest.mark.parametrize("fmt", RDF_FORMATS, ids=lambda f: f.name)
def test_construct_in_every_rdf_format(client: TestClient, reference: ox.Store, fmt: RdfFormat) -> None:
    response = client.get("/sparql", params={"query": CONSTRUCT}, headers={"Accept": fmt.media_type})
    assert response.status_code == 200, response.text
    assert media(response) == bare(fmt.media_type)
    expected = canonical(reference.query(CONSTRUCT, use_default_graph_as_union=True))
    assert triples_of(response, fmt.rdf_format) == expected and len(expected) > 3


def test_ask_and_describe(client: TestClient) -> None:
    ask = client.get("/sparql", params={"query": "ASK { ?s a <http://www.w3.org/2002/07/owl#Class> }"})
    assert ask.json() == {"head": {}, "boolean": True}
    ask_xml = client.get("/sparql", params={"query": "ASK { <x:nothing> ?p ?o }", "format": "xml"})
    assert "<boolean>false</boolean>" in ask_xml.text
    describe = client.get(
        "/sparql", params={"query": "DESCRIBE <https://w3id.org/spacegraph/id/jaxa>"}, headers={"Accept": "text/turtle"}
    )
    assert media(describe) == "text/turtle"
    assert "id:jaxa" in describe.text


def test_not_acceptable_lists_the_offered_types(client: TestClient) -> None:
    nothing = client.get("/sparql", params={"query": LABELS}, headers={"Accept": "image/png"})
    assert nothing.status_code == 406
    assert "application/sparql-results+json" in nothing.text and "text/turtle" in nothing.text
    graph_as_results = client.get("/sparql", params={"query": CONSTRUCT}, headers={"Accept": "text/csv"})
    assert graph_as_results.status_code == 406
    assert "CONSTRUCT and DESCRIBE results are offered as: text/turtle" in graph_as_results.text
    results_as_graph = client.get("/sparql", params={"query": LABELS}, headers={"Accept": "text/turtle"})
    assert results_as_graph.status_code == 406
    assert "application/sparql-results+xml" in results_as_graph.text
    unknown = client.get("/sparql", params={"query": LABELS, "format": "html"})
    assert unknown.status_code == 406 and "unknown format 'html'" in unknown.text


# --- errors


def test_a_malformed_query_gets_its_position(client: TestClient) -> None:
    query = "SELECT ?s\nWHERE {\n  ?s ?p ?o .\n  FILTER(?o = ) }"
    with pytest.raises(SyntaxError) as parser:  # where pyoxigraph's parser stops
        ox.Store().query(query)
    line, column, message = re.fullmatch(r"error at (\d+):(\d+): (.*)", parser.value.msg, re.S).groups()  # type: ignore[union-attr]
    assert line == "4"
    response = client.get("/sparql", params={"query": query})
    assert response.status_code == 400
    assert media(response) == "text/plain"
    assert response.text == f"syntax error at line 4, column {column}: {message}\n"


UPDATES = [
    "INSERT DATA { <x:s> <x:p> <x:o> }",
    "DELETE WHERE { ?s ?p ?o }",
    "PREFIX ex: <http://example.org/#>\n# a comment\nDELETE { ?s ?p ?o } INSERT { ?s ?p 1 } WHERE { ?s ?p ?o }",
    "WITH <https://w3id.org/spacegraph/graph/data> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "LOAD <http://127.0.0.1:9/data.ttl>",
    "CLEAR ALL",
    "DROP GRAPH <https://w3id.org/spacegraph/graph/data>",
    "CREATE GRAPH <x:new>",
    "ADD DEFAULT TO <x:g>",
    "MOVE <x:a> TO <x:b>",
    "COPY <x:a> TO DEFAULT",
]


@pytest.mark.parametrize("update", UPDATES)
def test_every_update_is_refused(client: TestClient, update: str) -> None:
    before = count(client)
    answers = [
        client.get("/sparql", params={"update": update}),
        client.post("/sparql", data={"update": update}),
        client.post("/sparql", content=update, headers={"Content-Type": "application/sparql-update"}),
        client.get("/sparql", params={"query": update}),
        client.post("/sparql", data={"query": update}),
        client.post("/sparql", content=update, headers={"Content-Type": "application/sparql-query"}),
    ]
    for response in answers:
        assert response.status_code == 403, (response.request.method, response.text)
        assert response.text.startswith("this endpoint is read-only")
    assert count(client) == before


def test_limits_on_query_size_and_rows(client: TestClient) -> None:
    long_query = "SELECT * WHERE { ?s ?p ?o } #" + "x" * MAX_QUERY_BYTES
    by_get = client.get("/sparql", params={"query": long_query})
    assert by_get.status_code == 414 and f"{MAX_QUERY_BYTES} bytes" in by_get.text
    by_body = client.post("/sparql", content=long_query, headers={"Content-Type": "application/sparql-query"})
    assert by_body.status_code == 413
    by_form = client.post("/sparql", data={"query": long_query})
    assert by_form.status_code == 413
    everything = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"})
    assert everything.status_code == 400
    assert f"more than {MAX_ROWS} rows" in everything.text
    in_tsv = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }", "format": "tsv"})
    assert in_tsv.status_code == 400
    as_graph = client.get("/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"})
    assert as_graph.status_code == 400 and f"more than {MAX_ROWS} rows" in as_graph.text
    just_enough = client.get("/sparql", params={"query": f"SELECT * WHERE {{ ?s ?p ?o }} LIMIT {MAX_ROWS}"})
    assert just_enough.status_code == 200 and len(just_enough.json()["results"]["bindings"]) == MAX_ROWS


def test_bad_requests(client: TestClient) -> None:
    assert client.post("/sparql", content=b"SELECT", headers={"Content-Type": "text/plain"}).status_code == 415
    assert client.post("/sparql", data={"format": "json"}).status_code == 400
    two = client.get("/sparql", params=[("query", COUNT), ("query", COUNT)])
    assert two.status_code == 400 and "more than one query" in two.text
    bad_graph = client.get("/sparql", params={"query": COUNT, "default-graph-uri": "not an iri"})
    assert bad_graph.status_code == 400 and "not a valid graph IRI" in bad_graph.text
    latin1 = client.post("/sparql", content="SELECT * { ?s ?p 'é' }".encode("latin-1"),
                         headers={"Content-Type": "application/sparql-query"})  # fmt: skip
    assert latin1.status_code == 400 and "not UTF-8" in latin1.text
    for method in ("PUT", "DELETE", "PATCH"):
        response = client.request(method, "/sparql", content=b"x")
        assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD, POST, OPTIONS"


STATUSES = [
    ("syntax", 400),
    ("too-large", 400),
    ("read-only", 403),
    ("refused", 403),
    ("not-acceptable", 406),
    ("failed", 500),
    ("unavailable", 502),
    ("busy", 503),
    ("timeout", 504),
]


@pytest.mark.parametrize(("kind", "status"), STATUSES)
def test_error_shape(kind: str, status: int, caplog: pytest.LogCaptureFixture) -> None:
    """Every failed query is one line of plain text, with the status of its kind and no caching; a
    failure on the server's side (500, 502) is also logged with its reason, for the operator."""
    from spacegraph.engine.store import QueryError
    from spacegraph.web.sparql import query_failed

    with caplog.at_level(logging.WARNING, logger="spacegraph.web.sparql"):
        response = query_failed(QueryError(kind, f"what went wrong ({kind})"), timeout=2.5)
    logged = [record.getMessage() for record in caplog.records]
    assert logged == ([f"a query failed ({kind}): what went wrong ({kind})"] if status in (500, 502) else [])
    assert response.status_code == status
    assert response.body == f"what went wrong ({kind})\n".encode()
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert ("retry-after" in response.headers) == (status == 503)


# --- Graph Store HTTP Protocol


@pytest.mark.parametrize("fmt", RDF_FORMATS, ids=lambda f: f.name)
def test_graph_store_gives_the_default_graph_in_every_format(
    client: TestClient, reference: ox.Store, fmt: RdfFormat
) -> None:
    response = client.get("/store?default", headers={"Accept": fmt.media_type})
    assert response.status_code == 200, response.text
    assert triples_of(response, fmt.rdf_format) == canonical(union_triples(reference))


def test_graph_store_gives_each_named_graph(client: TestClient, reference: ox.Store) -> None:
    for graph in reference.named_graphs():
        response = client.get("/store", params={"graph": graph.value, "format": "nquads"})
        assert response.status_code == 200
        got = canonical(ox.parse(response.content, format=ox.RdfFormat.N_QUADS))
        assert got == canonical(reference.quads_for_pattern(None, None, None, graph))
    turtle = client.get("/store", params={"graph": DATA_GRAPH.value}, headers={"Accept": "text/turtle"})
    assert media(turtle) == "text/turtle"
    expected = canonical(q.triple for q in reference.quads_for_pattern(None, None, None, DATA_GRAPH))
    assert triples_of(turtle, ox.RdfFormat.TURTLE) == expected


def test_graph_store_errors_and_head(client: TestClient) -> None:
    assert client.get("/store", params={"graph": "https://example.org/none"}).status_code == 404
    assert client.get("/store").status_code == 400
    assert client.get("/store", params={"default": "", "graph": DATA_GRAPH.value}).status_code == 400
    assert client.get("/store?default", headers={"Accept": "text/csv"}).status_code == 406
    full = client.get("/store?default", headers={"Accept": "application/n-triples", "Accept-Encoding": "identity"})
    head = client.head("/store?default", headers={"Accept": "application/n-triples", "Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(full.content)) and head.headers["etag"] == full.headers["etag"]
    for method in ("PUT", "POST", "DELETE", "PATCH"):
        response = client.request(method, "/store?default", content=b"<x:s> <x:p> <x:o> .")
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, HEAD, OPTIONS"
        assert "read-only" in response.text


# --- service description


@pytest.mark.parametrize(
    ("accept", "fmt"), [("text/turtle", ox.RdfFormat.TURTLE), ("application/ld+json", ox.RdfFormat.JSON_LD)]
)
def test_service_description(client: TestClient, reference: ox.Store, accept: str, fmt: ox.RdfFormat) -> None:
    response = client.get("/sparql", headers={"Accept": accept})
    assert response.status_code == 200 and media(response) == accept
    graph = ox.Store()
    graph.load(response.content, format=fmt)

    def values(query: str) -> set[str]:
        prefixed = f"PREFIX sd: <{SD}> PREFIX void: <http://rdfs.org/ns/void#> {query}"
        return {row[0].value for row in graph.query(prefixed)}  # type: ignore[union-attr]

    endpoint = "http://testserver/sparql"
    assert values("SELECT ?s { ?s a sd:Service ; sd:endpoint ?s }") == {endpoint}
    assert values("SELECT ?f { ?s sd:feature ?f }") == {SD + "UnionDefaultGraph"}
    assert values("SELECT ?d { ?s sd:defaultDataset ?d }") == {DATASET_IRI}
    assert values("SELECT ?n { ?d sd:namedGraph/sd:name ?n }") == {g.value for g in reference.named_graphs()}
    assert values("SELECT ?t { ?d sd:defaultGraph/void:triples ?t }") == {str(len(union_triples(reference)))}
    assert len(values("SELECT ?f { ?s sd:resultFormat ?f }")) == 10


# --- HTTP: CORS, caching, compression, documentation


def test_cors(client: TestClient) -> None:
    simple = client.get("/sparql", params={"query": COUNT}, headers={"Origin": "https://example.org"})
    assert simple.headers["access-control-allow-origin"] == "*"
    assert "ETag" in simple.headers["access-control-expose-headers"]
    preflight = client.options(
        "/sparql",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["access-control-allow-methods"]
    refused = client.post("/sparql", data={"update": UPDATES[0]}, headers={"Origin": "https://example.org"})
    assert refused.status_code == 403 and refused.headers["access-control-allow-origin"] == "*"


def test_etag_and_if_none_match(client: TestClient) -> None:
    first = client.get("/sparql", params={"query": LABELS})
    etag = first.headers["etag"]
    assert etag.startswith('W/"') and first.headers["cache-control"].startswith("public, max-age=")
    assert "Accept" in first.headers["vary"]
    again = client.get("/sparql", params={"query": LABELS}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other_list = client.get("/sparql", params={"query": LABELS}, headers={"If-None-Match": f'"x", {etag}'})
    assert other_list.status_code == 304
    as_xml = client.get("/sparql", params={"query": LABELS}, headers={"Accept": "application/sparql-results+xml"})
    assert as_xml.headers["etag"] != etag
    stale = client.get("/sparql", params={"query": LABELS}, headers={"If-None-Match": 'W/"0000"'})
    assert stale.status_code == 200 and stale.content == first.content
    posted = client.post("/sparql", data={"query": LABELS}, headers={"If-None-Match": etag})
    assert posted.status_code == 200
    sd = client.get("/sparql")
    assert client.get("/sparql", headers={"If-None-Match": sd.headers["etag"]}).status_code == 304


def test_answers_that_change_are_not_cached(client: TestClient) -> None:
    response = client.get("/sparql", params={"query": "SELECT (NOW() AS ?t) (RAND() AS ?r) WHERE {}"})
    assert response.status_code == 200
    assert "etag" not in response.headers and response.headers["cache-control"] == "no-store"


def test_large_answers_are_compressed(client: TestClient) -> None:
    large = client.get("/store?default", headers={"Accept-Encoding": "gzip", "Accept": "application/n-triples"})
    assert large.headers["content-encoding"] == "gzip"  # httpx decodes it: the content is the graph
    assert large.content.count(b"\n") > 1000
    small = client.get("/sparql", params={"query": "ASK {}"}, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers


def test_openapi_documentation(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    schema = client.get("/openapi.json").json()
    assert {"/sparql", "/store"} <= set(schema["paths"])
    get = schema["paths"]["/sparql"]["get"]
    assert {p["name"] for p in get["parameters"]} >= {"query", "default-graph-uri", "named-graph-uri", "format"}
    assert "application/sparql-query" in schema["paths"]["/sparql"]["post"]["requestBody"]["content"]
    assert json.dumps(schema)  # serialisable as it is
