"""Triple and Quad Pattern Fragments at ``/fragments``, over real HTTP (a real uvicorn on 127.0.0.1 with its
two query workers), read by real clients: Comunica (Node.js) evaluating the competency queries from the
fragments alone, pyoxigraph and rdflib parsing every format, and a crawler following ``hydra:next`` that
must meet every triple exactly once. Then what a fragment costs, at a hundred thousand quads."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pyoxigraph as ox
import pytest
import rdflib

from spacegraph import PROJECT_ROOT
from spacegraph.config import Config
from spacegraph.web import accesslog, fragments
from spacegraph.web.accesslog import FLUSH_SECONDS
from spacegraph.web.app import create_app
from spacegraph.web.fragments import COUNT_LIMIT, MAX_DEPTH, nquad, page_query
from spacegraph.web.pattern import DEFAULT_GRAPH, Pattern
from tests.publish.test_dumps import rdflib_graphs
from tests.support import QUERIES, comunica_term, json_rows, multiset, running

NODE = shutil.which("node")
COMUNICA = PROJECT_ROOT / "tests" / "node" / "comunica-select.mjs"
HYDRA = "http://www.w3.org/ns/hydra/core#"
VOID = "http://rdfs.org/ns/void#"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
ALT_LABEL = "http://www.w3.org/2004/02/skos/core#altLabel"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
DATA_GRAPH = "https://w3id.org/spacegraph/graph/data"
NQUADS = {"accept": "application/n-quads"}


def fragment(base: str, **pattern: str) -> str:
    query = urlencode(pattern, quote_via=quote, safe="")
    return f"{base}/fragments" + (f"?{query}" if query else "")


def served_quads(nquads: Path) -> set[ox.Quad]:
    """The served file's quads, with its own blank node labels (the server keeps them)."""
    return set(ox.parse(path=nquads, format=ox.RdfFormat.N_QUADS, rename_blank_nodes=False))


def read_page(body: bytes) -> tuple[list[ox.Quad], dict[str, list[ox.NamedNode | ox.BlankNode | ox.Literal]]]:
    """An N-Quads page: its data quads, and the metadata graph's statements as {predicate: [objects]}."""
    data, metadata = [], {}
    for quad in ox.parse(body, format=ox.RdfFormat.N_QUADS):
        if isinstance(quad.graph_name, ox.NamedNode) and quad.graph_name.value.endswith("#metadata"):
            metadata.setdefault(quad.predicate.value, []).append(quad.object)
        else:
            data.append(quad)
    return data, metadata


def one(metadata: dict[str, list[ox.NamedNode | ox.BlankNode | ox.Literal]], predicate: str) -> str | None:
    values = metadata.get(predicate, [])
    assert len(values) <= 1, (predicate, values)
    return values[0].value if values else None


def crawl(client: httpx.Client, url: str) -> tuple[list[ox.Quad], list[dict[str, object]]]:
    """Every page from ``url`` on, following ``hydra:next``: the data in page order, and each page's controls."""
    quads: list[ox.Quad] = []
    pages: list[dict[str, object]] = []
    while url:
        response = client.get(url, headers=NQUADS)
        assert response.status_code == 200, response.text
        data, metadata = read_page(response.content)
        pages.append({"url": url, "size": len(data), **{p.split("#")[-1]: one(metadata, p) for p in (
            HYDRA + "next", HYDRA + "previous", HYDRA + "first", HYDRA + "last", HYDRA + "totalItems",
            VOID + "triples", HYDRA + "itemsPerPage")}})  # fmt: skip
        quads += data
        url = str(pages[-1]["next"] or "")
        assert len(pages) < 500
    return quads, pages


# --- a page, from the worker's answer to N-Quads


def test_a_page_answer_becomes_n_quads_without_parsing_a_term() -> None:
    """The worker's TSV, written as N-Quads by text: pyoxigraph must read back every kind of term the way
    it reads the same answer as SPARQL results (TSV abbreviates numbers and booleans)."""
    store = ox.Store()
    xsd = "http://www.w3.org/2001/XMLSchema#"
    graph, subject = ox.NamedNode("http://ex.org/g"), ox.NamedNode("http://ex.org/s")
    objects = [
        ox.Literal("-5", datatype=ox.NamedNode(xsd + "integer")),
        ox.Literal("5.5", datatype=ox.NamedNode(xsd + "decimal")),
        ox.Literal("-0.25", datatype=ox.NamedNode(xsd + "decimal")),
        ox.Literal("1.5e3", datatype=ox.NamedNode(xsd + "double")),
        ox.Literal("INF", datatype=ox.NamedNode(xsd + "double")),
        ox.Literal("true", datatype=ox.NamedNode(xsd + "boolean")),
        ox.Literal("2016-07", datatype=ox.NamedNode(xsd + "gYearMonth")),
        ox.Literal('tab\there, a new\nline, "quotes" and \\ é 東京'),
        ox.Literal("Tokyo", language="en"),
        ox.BlankNode("c14n7"),
        ox.NamedNode("http://ex.org/o?x=1#y"),
    ]
    for position, obj in enumerate(objects):
        store.add(ox.Quad(subject, ox.NamedNode(f"http://ex.org/p{position}"), obj, graph))
    store.add(ox.Quad(ox.BlankNode("c14n8"), ox.NamedNode("http://ex.org/p"), ox.Literal("x"), graph))
    for values in ({}, {"graph": "http://ex.org/g"}, {"subject": "http://ex.org/s", "graph": DEFAULT_GRAPH}):
        pattern = Pattern.read(values)
        query = page_query(pattern, 0, 100, 50)
        body = store.query(query, use_default_graph_as_union=True).serialize(format=ox.QueryResultsFormat.TSV)
        matches, counted = fragments.read_page(pattern, body)
        text = "".join(nquad(match) for match in matches).encode()
        got = set(ox.parse(text, format=ox.RdfFormat.N_QUADS, rename_blank_nodes=False))
        expected = {q for q in store if isinstance(pattern.graph, ox.DefaultGraph) is False or q.subject == subject}
        if isinstance(pattern.graph, ox.DefaultGraph):
            expected = {ox.Quad(q.subject, q.predicate, q.object) for q in expected}
        assert got == expected and counted == len(expected) and len(matches) == len(expected)


# --- Comunica, given only the fragments' address ------------------------------------------------------


@pytest.fixture(scope="module")
def server(nquads: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    log = tmp_path_factory.mktemp("fragments") / "access.log"
    with running(create_app(Config(data=(nquads,), access_log=str(log)))) as base:
        yield base, log
    accesslog.uninstall(str(log))


def comunica(source: str, queries: list[Path], *options: str) -> list[dict[str, object]]:
    assert NODE is not None, "Node.js is needed (make test installs the npm packages it runs)"
    command = [NODE, str(COMUNICA), "--type", "auto", *options, source, *map(str, queries)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [answer["file"] for answer in answers] == list(map(str, queries))
    return answers


def sparql_answer(base: str, query: Path) -> list[str]:
    response = httpx.post(
        f"{base}/sparql", data={"query": query.read_text()}, headers={"accept": "application/sparql-results+json"}
    )
    assert response.status_code == 200, response.text
    return multiset(json_rows(response.content))


def test_comunica_answers_every_competency_query_from_the_fragments_alone(server: tuple[str, Path]) -> None:
    base, log = server
    time.sleep(2 * FLUSH_SECONDS)  # earlier requests' lines are written
    before = len(log.read_text().splitlines())
    answers = comunica(f"{base}/fragments", QUERIES)
    requests = sum(int(str(answer["requests"])) for answer in answers)
    routes = Counter(json.loads(line)["route"] for line in log_lines(log, before + requests)[before:])
    assert set(routes) == {"/fragments"}, routes  # Comunica never asked /sparql: it used the fragments
    assert routes["/fragments"] == requests > len(QUERIES)
    for query, answer in zip(QUERIES, answers, strict=True):
        rows = [{name: comunica_term(value) for name, value in row.items()} for row in answer["rows"]]  # type: ignore[attr-defined]
        expected = sparql_answer(base, query)
        assert expected, query.name  # every competency query has an answer
        assert multiset(rows) == expected, query.name


@pytest.mark.parametrize("media_type", ["application/trig", "application/ld+json"])
def test_comunica_reads_the_metadata_graph_in_trig_and_json_ld(server: tuple[str, Path], media_type: str) -> None:
    """Comunica asks for N-Quads first; the other formats that keep graphs must serve it as well. Query 02
    names its graphs (GRAPH ?statedIn), so it needs the Quad Pattern Fragments."""
    base, _ = server
    queries = [q for q in QUERIES if q.name.startswith(("01-", "02-"))]
    for query, answer in zip(queries, comunica(f"{base}/fragments", queries, "--accept", media_type), strict=True):
        rows = [{name: comunica_term(value) for name, value in row.items()} for row in answer["rows"]]  # type: ignore[attr-defined]
        assert multiset(rows) == sparql_answer(base, query), (query.name, media_type)


def test_the_entry_fragment_carries_the_controls_comunica_needs(server: tuple[str, Path], nquads: Path) -> None:
    base, _ = server
    response = httpx.get(f"{base}/fragments", headers=NQUADS)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/n-quads"
    data, metadata = read_page(response.content)
    assert one(metadata, HYDRA + "template") == base + "/fragments{?subject,predicate,object,graph}"
    assert one(metadata, "http://www.w3.org/ns/sparql-service-description#defaultGraph") == DEFAULT_GRAPH
    assert {str(value) for value in metadata[HYDRA + "property"]} == {
        "<http://www.w3.org/1999/02/22-rdf-syntax-ns#subject>", "<http://www.w3.org/1999/02/22-rdf-syntax-ns#predicate>",
        "<http://www.w3.org/1999/02/22-rdf-syntax-ns#object>", "<http://www.w3.org/ns/sparql-service-description#graph>",
    }  # fmt: skip
    total = len(served_quads(nquads))
    assert one(metadata, VOID + "triples") == one(metadata, HYDRA + "totalItems") == str(total)
    assert one(metadata, HYDRA + "itemsPerPage") == "100" and len(data) == 100
    assert one(metadata, HYDRA + "next") == f"{base}/fragments?page=2"
    assert one(metadata, HYDRA + "last") == f"{base}/fragments?page={-(-total // 100)}"
    assert "http://www.w3.org/ns/sparql-service-description#endpoint" not in metadata  # else: a SPARQL source


# --- paging --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_pages(nquads: Path) -> Iterator[str]:
    """Pages of 64, so that every fragment below spans many; two query workers answer them in turn."""
    with running(create_app(Config(data=(nquads,), fragment_page_size=64, query_workers=2))) as base:
        yield base


@pytest.mark.parametrize(
    "pattern",
    [
        {},
        {"graph": DEFAULT_GRAPH},
        {"graph": DATA_GRAPH},
        {"predicate": RDFS_LABEL},
        {"predicate": RDF_TYPE, "graph": DEFAULT_GRAPH},
    ],
    ids=["all quads", "default graph", "data graph", "labels", "types in the default graph"],
)
def test_paging_reaches_every_match_exactly_once(small_pages: str, nquads: Path, pattern: dict[str, str]) -> None:
    quads = served_quads(nquads)
    if pattern.get("graph") == DEFAULT_GRAPH:  # the union, as triples of the default graph
        expected = {ox.Quad(q.subject, q.predicate, q.object) for q in quads}
    else:
        expected = {q for q in quads if pattern.get("graph") in (None, q.graph_name.value)}
    expected = {q for q in expected if pattern.get("predicate") in (None, q.predicate.value)}
    with httpx.Client() as client:
        got, pages = crawl(client, fragment(small_pages, **pattern))
        assert len(got) == len(set(got)) == len(expected) > 64  # each once, and several pages
        assert set(got) == expected
        total = str(len(expected))
        assert all(page["triples"] == page["totalItems"] == total for page in pages)  # exact, on every page
        assert [page["size"] for page in pages[:-1]] == [64] * (len(pages) - 1) and 0 < int(
            str(pages[-1]["size"])
        ) <= 64
        assert all(page["itemsPerPage"] == "64" and page["first"] == pages[0]["url"] for page in pages)
        assert all(page["last"] == pages[-1]["url"] for page in pages)
        assert [page["previous"] for page in pages] == [None] + [page["url"] for page in pages[:-1]]
        # backwards, page by page, the same matches in the same places
        back = [read_page(client.get(str(page["url"]), headers=NQUADS).content)[0] for page in reversed(pages)]
        assert [q for page in reversed(back) for q in page] == got


def test_past_the_last_page_a_fragment_is_empty_and_deep_pages_are_refused(small_pages: str) -> None:
    with httpx.Client() as client:
        _, pages = crawl(client, fragment(small_pages, predicate=RDFS_LABEL))
        after = client.get(fragment(small_pages, predicate=RDFS_LABEL, page=str(len(pages) + 1)), headers=NQUADS)
        data, metadata = read_page(after.content)
        assert after.status_code == 200 and data == [] and HYDRA + "next" not in metadata
        deep = MAX_DEPTH // 64 + 2
        refused = client.get(fragment(small_pages, page=str(deep)), headers=NQUADS)
        assert refused.status_code == 400
        assert f"page: {deep} starts past the first {MAX_DEPTH:,} matches" in refused.text


# --- the protocol: formats, caching, errors --------------------------------------------------------------

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "media_type", "rdflib_format"),
    [
        ("application/n-quads", "application/n-quads", "nquads"),
        ("application/trig", "application/trig", "trig"),
        ("application/ld+json", "application/ld+json", "json-ld"),
        ("text/turtle", "text/turtle", "turtle"),
        ("application/n-triples", "application/n-triples", "nt"),
        ("application/rdf+xml", "application/rdf+xml", "xml"),
        ("*/*", "text/turtle", "turtle"),
    ],
)
def test_every_format_holds_the_same_matches_and_the_count(
    server: tuple[str, Path], accept: str, media_type: str, rdflib_format: str
) -> None:
    base, _ = server
    url = fragment(base, predicate=ALT_LABEL, object='"JAXA"@en')
    response = httpx.get(url, headers={"accept": accept})
    assert response.status_code == 200 and response.headers["content-type"].split(";")[0] == media_type
    assert "Accept" in response.headers["vary"].split(", ") and response.headers["etag"].startswith('W/"')
    fmt = ox.RdfFormat.from_media_type(media_type)
    assert fmt is not None
    quads = list(ox.parse(response.content, format=fmt))
    match = (
        ox.NamedNode("https://w3id.org/spacegraph/id/jaxa"),
        ox.NamedNode(ALT_LABEL),
        ox.Literal("JAXA", language="en"),
    )
    data = [q for q in quads if (q.subject, q.predicate, q.object) == match]
    assert len(data) == 1
    if fmt.supports_datasets:  # the match in its named graph, the metadata in its own
        assert data[0].graph_name == ox.NamedNode(DATA_GRAPH)
        assert {q.graph_name.value for q in quads if q.predicate.value == VOID + "triples"} == {url + "#metadata"}
    counts = [q.object.value for q in quads if q.predicate.value in (VOID + "triples", HYDRA + "totalItems")]
    assert counts == ["1", "1"]
    graphs = rdflib_graphs(response.content, rdflib_format)
    triple = (rdflib.URIRef(match[0].value), rdflib.URIRef(ALT_LABEL), rdflib.Literal("JAXA", lang="en"))
    assert any(triple in graph for graph in graphs.values())


def test_a_browser_gets_the_page_with_the_form_and_the_matches(server: tuple[str, Path]) -> None:
    base, _ = server
    response = httpx.get(fragment(base, predicate=ALT_LABEL, object='"JAXA"@en'), headers={"accept": BROWSER})
    assert response.status_code == 200 and response.headers["content-type"] == "text/html; charset=utf-8"
    assert {"Accept", "Accept-Language"} <= set(response.headers["vary"].split(", "))
    page = response.text
    assert (
        '<input id="predicate" name="predicate" type="text" value="http://www.w3.org/2004/02/skos/core#altLabel"'
        in page
    )
    assert "1 matches" in page and "/id/jaxa" in page
    assert f'href="/fragments?subject={quote("https://w3id.org/spacegraph/id/jaxa", safe="")}"' in page
    french = httpx.get(f"{base}/fragments?lang=fr", headers={"accept": BROWSER})
    assert "Fragments de motifs de triplets" in french.text and "tous les graphes nommés" in french.text
    refused = httpx.get(f"{base}/fragments", headers={"accept": "image/png"})
    assert refused.status_code == 406 and "application/n-quads" in refused.text


def test_fragments_are_cached_and_revalidated_like_every_answer(server: tuple[str, Path]) -> None:
    base, _ = server
    url = fragment(base, subject="https://w3id.org/spacegraph/id/jaxa")
    first = httpx.get(url, headers=NQUADS)
    assert first.headers["cache-control"] == "public, max-age=3600"
    again = httpx.get(url, headers={**NQUADS, "if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    head = httpx.head(url, headers=NQUADS)
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == first.headers["etag"]
    other = httpx.get(url, headers={"accept": "text/turtle"})
    assert other.headers["etag"] != first.headers["etag"]  # one entity per format


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("subject=%22JAXA%22", 400, "subject: '\"JAXA\"' is a literal"),
        ("object=_%3Ab0", 400, "object: _:b0 is a blank node"),
        ("predicate=label", 400, "predicate: not an absolute IRI"),
        ("page=0", 400, "page: '0' is not a page number"),
        ("page=two", 400, "page: 'two' is not a page number"),
        ("subject=http%3A%2F%2Fex.org%2Fa&subject=http%3A%2F%2Fex.org%2Fb", 400, "more than one subject parameter"),
        ("format=yaml", 406, "unknown format 'yaml'"),
    ],
)
def test_a_request_that_cannot_be_read_gets_a_clear_error(
    server: tuple[str, Path], query: str, status: int, message: str
) -> None:
    base, _ = server
    response = httpx.get(f"{base}/fragments?{query}", headers=NQUADS)
    assert response.status_code == status and message in response.text
    assert response.headers["cache-control"] == "no-store"


def test_a_graph_we_do_not_have_is_an_empty_fragment(server: tuple[str, Path]) -> None:
    base, _ = server
    data, metadata = read_page(httpx.get(fragment(base, graph="http://ex.org/none"), headers=NQUADS).content)
    assert data == [] and one(metadata, HYDRA + "totalItems") == "0" and HYDRA + "next" not in metadata


# --- counts past COUNT_LIMIT ------------------------------------------------------------------------------


def test_counts_past_the_limit_are_exact_from_the_statistics_or_an_estimate_that_says_so(
    nquads: Path, reference: ox.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count stops at COUNT_LIMIT matches (10,000); with it at 40 here, this graph has patterns past it."""
    monkeypatch.setattr("spacegraph.web.fragments.COUNT_LIMIT", 40)
    labels = sum(1 for _ in reference.quads_for_pattern(None, ox.NamedNode(RDFS_LABEL), None, None))
    in_data = sum(
        1 for _ in reference.quads_for_pattern(None, ox.NamedNode(RDFS_LABEL), None, ox.NamedNode(DATA_GRAPH))
    )
    with running(create_app(Config(data=(nquads,), fragment_page_size=30))) as base, httpx.Client() as client:
        for pattern, total in (
            ({"predicate": RDFS_LABEL}, labels),
            ({"predicate": RDFS_LABEL, "graph": DATA_GRAPH}, in_data),
        ):
            _, metadata = read_page(client.get(fragment(base, **pattern), headers=NQUADS).content)
            assert one(metadata, HYDRA + "totalItems") == one(metadata, VOID + "triples") == str(total) and total > 40
        estimated = {"predicate": RDFS_LABEL, "graph": DEFAULT_GRAPH}  # the union: a triple in two graphs is there once
        _, metadata = read_page(client.get(fragment(base, **estimated), headers=NQUADS).content)
        assert HYDRA + "totalItems" not in metadata and HYDRA + "last" not in metadata
        assert one(metadata, VOID + "triples") == str(labels)  # the predicate's triples in every graph: a bound
        assert "is an estimate" in str(one(metadata, "http://www.w3.org/2000/01/rdf-schema#comment"))
        got, pages = crawl(client, fragment(base, **estimated))  # paging needs no exact count
        expected = {
            (q.subject, q.object) for q in reference.quads_for_pattern(None, ox.NamedNode(RDFS_LABEL), None, None)
        }
        assert len(got) == len(set(got)) and {(q.subject, q.object) for q in got} == expected and len(pages) > 2


# --- what a fragment costs ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def large(linked_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A hundred thousand quads of the real graph's shape (bench.generate), the queries it evaluates logged."""
    from bench.generate import generate

    folder = tmp_path_factory.mktemp("large")
    generate(100_000, folder / "g.nq", real=linked_build / "spacegraph.nq")
    log = folder / "access.log"
    with running(create_app(Config(data=(folder / "g.nq",), access_log=str(log), log_queries=True)), 120) as base:
        yield base, log
    accesslog.uninstall(str(log))


def median_ms(client: httpx.Client, url: str, runs: int = 25) -> float:
    times = []
    for run in range(runs):  # an ignored parameter: a new URL each time, so nothing is replayed or cached
        started = time.perf_counter()
        response = client.get(f"{url}{'&' if '?' in url else '?'}run={run}", headers=NQUADS)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return statistics.median(times) * 1000


def test_the_largest_pattern_answers_one_page_at_the_cost_of_a_lookup(large: tuple[str, Path]) -> None:
    """Every quad of a hundred thousand matches the entry fragment; it still costs one page. Measured beside
    a point lookup (one subject's labels) and beside what a query over every quad costs at /sparql, in
    the same run: the page is within a few times the lookup, and far below the scan."""
    base, log = large
    with httpx.Client(timeout=30) as client:
        data, metadata = read_page(client.get(f"{base}/fragments", headers=NQUADS).content)
        assert len(data) == 100 and one(metadata, HYDRA + "totalItems") == "100000"
        largest = median_ms(client, f"{base}/fragments")
        lookup = median_ms(client, fragment(base, subject="https://w3id.org/spacegraph/id/jaxa", predicate=RDFS_LABEL))
        scans = []
        for run in range(5):
            query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }} # {run}"
            started = time.perf_counter()
            assert client.post(f"{base}/sparql", data={"query": query}).status_code == 200
            scans.append(time.perf_counter() - started)
        scan = statistics.median(scans) * 1000
    print(f"\nlargest fragment's page {largest:.2f} ms, point lookup {lookup:.2f} ms, whole scan {scan:.2f} ms")
    assert largest < 4 * lookup + 2 and largest * 5 < scan
    # what it evaluated: one pattern, one page; its count came from the graph's size, not from a count
    logged = [json.loads(line) for line in log_lines(log, 51) if '"/fragments"' in line]
    queries = {entry["query"] for entry in logged if "query" in entry}
    assert "SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } } OFFSET 0 LIMIT 101" in queries
    assert not any("COUNT" in query for query in queries if "GRAPH ?g { ?s ?p ?o }" in query)


def log_lines(log: Path, at_least: int) -> list[str]:
    """The access log's lines, once it has ``at_least`` (lines are written in batches, at most
    ``FLUSH_SECONDS`` after their answers are sent)."""
    deadline = time.monotonic() + 10
    while len(lines := log.read_text().splitlines()) < at_least and time.monotonic() < deadline:
        time.sleep(0.01)
    return lines


def logged_query(log: Path, part: str) -> str:
    """The query of the last logged fragment request whose query has ``part`` in it, once it is logged."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        entries = [json.loads(line) for line in log.read_text().splitlines() if '"/fragments"' in line]
        found = [entry["query"] for entry in entries if part in entry.get("query", "")]
        if found:
            return str(found[-1])
        time.sleep(0.01)
    raise AssertionError(f"no fragment request with {part!r} in its query was logged")


def test_a_new_pattern_counts_at_most_count_limit_matches(large: tuple[str, Path]) -> None:
    base, log = large
    response = httpx.get(fragment(base, predicate=RDF_TYPE, graph=DEFAULT_GRAPH), headers=NQUADS)
    data, metadata = read_page(response.content)
    assert len(data) == 100 and int(str(one(metadata, VOID + "triples"))) > COUNT_LIMIT
    pattern = f"?s <{RDF_TYPE}> ?o"
    assert logged_query(log, pattern) == (
        f"SELECT * WHERE {{ {{ SELECT ?s ?o WHERE {{ {pattern} }} OFFSET 0 LIMIT 101 }} UNION "
        f"{{ SELECT (COUNT(*) AS ?count) WHERE {{ SELECT * WHERE {{ {pattern} }} LIMIT {COUNT_LIMIT + 1} }} }} }}"
    )


# --- where clients find them ---------------------------------------------------------------------------------


def test_the_fragments_are_advertised_where_clients_look(server: tuple[str, Path], nquads: Path) -> None:
    """The landing page links them; the service description gives their subject lookup
    (void:uriLookupEndpoint), and following it with an IRI gives the triples about it."""
    base, _ = server
    landing = httpx.get(f"{base}/", headers={"accept": BROWSER})
    assert 'href="/fragments"' in landing.text and "Triple Pattern Fragments" in landing.text
    description = httpx.get(f"{base}/sparql", headers={"accept": "application/n-triples"})
    lookups = [
        t.object.value
        for t in ox.parse(description.content, format=ox.RdfFormat.N_TRIPLES)
        if t.predicate.value == VOID + "uriLookupEndpoint"
    ]
    assert lookups == [f"{base}/fragments?subject="]
    jaxa = "https://w3id.org/spacegraph/id/jaxa"
    data, _ = read_page(httpx.get(lookups[0] + quote(jaxa, safe=""), headers=NQUADS).content)
    assert set(data) == {q for q in served_quads(nquads) if q.subject.value == jaxa} and len(data) > 5


# --- in front of an external store ------------------------------------------------------------------------


def test_fragments_of_an_external_store(nquads: Path, tmp_path: Path) -> None:
    """``serve --endpoint``: the fragments go to the store like every query; paging meets every quad once,
    and Comunica answers a query that names its graphs (GRAPH ?statedIn) as /sparql does."""
    from tests.servers import oxigraph_server

    with oxigraph_server(tmp_path / "oxigraph", "--union-default-graph") as store:
        loaded = httpx.post(
            f"{store}/store", content=nquads.read_bytes(), headers={"Content-Type": "application/n-quads"}
        )
        assert loaded.status_code in (200, 201, 204), loaded.text
        config = Config(endpoint=f"{store}/query", fragment_page_size=250)
        with running(create_app(config)) as base, httpx.Client() as client:
            got, pages = crawl(client, f"{base}/fragments")
            assert len(got) == len(set(got)) and len(pages) > 5
            named = [q for q in served_quads(nquads) if not isinstance(q.subject, ox.BlankNode | ox.Triple)]
            named = [q for q in named if not isinstance(q.object, ox.BlankNode)]  # the store gave new labels
            assert set(named) <= set(got)
            assert len(got) == len(served_quads(nquads)) == int(str(pages[0]["totalItems"]))
            query = next(q for q in QUERIES if q.name.startswith("02-"))
            [answer] = comunica(f"{base}/fragments", [query])
            rows = [{name: comunica_term(value) for name, value in row.items()} for row in answer["rows"]]  # type: ignore[attr-defined]
            assert multiset(rows) == sparql_answer(base, query) and rows
