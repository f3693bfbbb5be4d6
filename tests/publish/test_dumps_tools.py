"""The dumps as tools nobody here wrote read them: pyoxigraph, raptor's ``rapper``, N3.js in strict mode,
jsonld.js, and a real Oxigraph server, loaded over HTTP, that must hold as many triples and give the same
answer to every competency query as pyoxigraph does over our own dump.
"""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest

from spacegraph import PROJECT_ROOT
from spacegraph.publish import dumps
from spacegraph.publish.graph import Sources
from tests.publish.test_dumps import rdflib_graph, same_graph
from tests.servers import oxigraph_server

NODE_SCRIPTS = PROJECT_ROOT / "tests" / "node"
QUERIES = sorted((PROJECT_ROOT / "queries").glob("*.rq"))
FORMATS = {
    "ttl": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "jsonld": ox.RdfFormat.JSON_LD,
    "rdf": ox.RdfFormat.RDF_XML,
    "trig": ox.RdfFormat.TRIG,
    "nq": ox.RdfFormat.N_QUADS,
}
DATASETS = {"trig", "nq"}
RAPPER = {"ttl": "turtle", "nt": "ntriples", "rdf": "rdfxml", "trig": "trig", "nq": "nquads"}
N3JS = {"ttl": "Turtle", "nt": "N-Triples", "trig": "TriG", "nq": "N-Quads"}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tools") / "dist"
    dumps.build(Sources.in_project(), out)
    return out


def canonical(quads: object) -> ox.Dataset:
    dataset = ox.Dataset(quads)  # type: ignore[arg-type]
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return dataset


def expected(dist: Path, extension: str) -> ox.Dataset:
    """What a dump holds: the named graphs for TriG and N-Quads, their union for the others."""
    if extension in DATASETS:
        return canonical(ox.parse(path=dist / "spacegraph.nq", format=ox.RdfFormat.N_QUADS))
    return canonical(ox.parse(path=dist / "spacegraph.nt", format=ox.RdfFormat.N_TRIPLES))


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is needed (make test installs it)")
    return found


@pytest.mark.parametrize("extension", sorted(FORMATS))
def test_pyoxigraph_reads_every_dump_and_its_gzip_copy(dist: Path, extension: str) -> None:
    name = f"spacegraph.{extension}"
    for data in ((dist / name).read_bytes(), gzip.decompress((dist / f"{name}.gz").read_bytes())):
        assert canonical(ox.parse(data, format=FORMATS[extension])) == expected(dist, extension)


@pytest.mark.parametrize("extension", sorted(RAPPER))
def test_rapper_reads_every_dump_without_a_warning(dist: Path, extension: str) -> None:
    output = "nquads" if extension in DATASETS else "ntriples"
    path = dist / f"spacegraph.{extension}"
    result = subprocess.run(
        [tool("rapper"), "-i", RAPPER[extension], "-o", output, str(path)], capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr.decode()
    messages = result.stderr.decode().splitlines()
    assert not [m for m in messages if re.search(r"warning|error", m, re.IGNORECASE)], messages
    count = len(expected(dist, extension))
    assert f"rapper: Parsing returned {count} triples" in messages
    parsed = canonical(ox.parse(result.stdout, format=ox.RdfFormat.N_QUADS))
    assert parsed == expected(dist, extension)


def test_rapper_reads_void_without_a_warning(dist: Path) -> None:
    result = subprocess.run(
        [tool("rapper"), "-i", "turtle", "-o", "ntriples", str(dist / "void.ttl")], capture_output=True, timeout=60
    )
    assert result.returncode == 0
    assert not re.search(r"warning|error", result.stderr.decode(), re.IGNORECASE)
    assert canonical(ox.parse(result.stdout, format=ox.RdfFormat.N_TRIPLES)) == canonical(
        ox.parse(path=dist / "void.ttl", format=ox.RdfFormat.TURTLE)
    )


def node(script: str, *args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [tool("node"), str(NODE_SCRIPTS / script), *map(str, args)], capture_output=True, timeout=60, cwd=PROJECT_ROOT
    )


@pytest.mark.parametrize("extension", sorted(N3JS))
def test_n3js_reads_every_dump_in_strict_mode(dist: Path, extension: str) -> None:
    result = node("parse-strict.mjs", N3JS[extension], dist / f"spacegraph.{extension}")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
    assert canonical(ox.parse(result.stdout, format=ox.RdfFormat.N_QUADS)) == expected(dist, extension)


def test_n3js_strict_mode_rejects_what_its_format_does_not_allow(dist: Path) -> None:
    """The check above can fail: Turtle is not N-Triples."""
    result = node("parse-strict.mjs", "N-Triples", dist / "spacegraph.ttl")
    assert result.returncode == 1
    assert b"Unexpected" in result.stderr


def test_n3js_reads_void_in_strict_mode(dist: Path) -> None:
    result = node("parse-strict.mjs", "Turtle", dist / "void.ttl")
    assert result.returncode == 0, result.stderr.decode()
    assert canonical(ox.parse(result.stdout, format=ox.RdfFormat.N_QUADS)) == canonical(
        ox.parse(path=dist / "void.ttl", format=ox.RdfFormat.TURTLE)
    )


def test_jsonld_js_expands_the_json_ld_to_the_same_graph(dist: Path) -> None:
    result = node("jsonld-to-nquads.mjs", dist / "spacegraph.jsonld")
    assert result.returncode == 0, result.stderr.decode()
    union = rdflib_graph((dist / "spacegraph.nt").read_bytes(), "nt")
    assert same_graph(rdflib_graph(result.stdout, "nquads"), union)


# --- A real Oxigraph server ---------------------------------------------------------------------

# Besides the competency queries: counts per graph, a graph result, a boolean.
OWN_QUERIES = {
    "quads per graph": "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
    "triples": "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }",
    "classes": "SELECT ?c (COUNT(?s) AS ?n) { ?s a ?c } GROUP BY ?c",
    "shapes": "CONSTRUCT { ?s ?p ?o } { GRAPH <https://w3id.org/spacegraph/graph/shapes> { ?s ?p ?o } }",
    "dataset": "ASK { <https://w3id.org/spacegraph/id/dataset> a <http://rdfs.org/ns/void#Dataset> }",
}

Answer = Counter[tuple[str, ...]] | bool | ox.Dataset


def term_text(term: object) -> str:
    return "_:" if isinstance(term, ox.BlankNode) else str(term)


def answer(results: ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples) -> Answer:
    """A result as a multiset of rows (blank nodes made equal: each engine names its own), a boolean,
    or a canonical graph."""
    if isinstance(results, ox.QueryBoolean):
        return bool(results)
    if isinstance(results, ox.QuerySolutions):
        variables = results.variables
        return Counter(tuple(term_text(row[v]) for v in variables) for row in results)
    return canonical(ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in results)


def remote(client: httpx.Client, base: str, query: str, local: Answer) -> Answer:
    graph = isinstance(local, ox.Dataset)
    accept = "application/n-triples" if graph else "application/sparql-results+json"
    response = client.get(base + "/query", params={"query": query}, headers={"Accept": accept})
    assert response.status_code == 200, response.text
    if graph:
        return canonical(ox.parse(response.content, format=ox.RdfFormat.N_TRIPLES))
    return answer(ox.parse_query_results(response.content, format=ox.QueryResultsFormat.JSON))


def test_oxigraph_server_loads_the_n_quads_and_answers_as_we_do(dist: Path, tmp_path: Path) -> None:
    assert QUERIES, "queries/ holds no competency query"
    nquads = (dist / "spacegraph.nq").read_bytes()
    ours = ox.Store()
    ours.load(nquads, format=ox.RdfFormat.N_QUADS)
    quads = nquads.count(b"\n")
    count = Counter({(f'"{quads}"^^<http://www.w3.org/2001/XMLSchema#integer>',): 1})
    queries = {path.name: path.read_text(encoding="utf-8") for path in QUERIES} | OWN_QUERIES
    with oxigraph_server(tmp_path / "store", "--union-default-graph") as base, httpx.Client(timeout=30) as client:
        loaded = client.post(base + "/store", content=nquads, headers={"Content-Type": "application/n-quads"})
        assert loaded.status_code in (200, 201, 204), loaded.text
        for name, query in queries.items():
            local = answer(ours.query(query, use_default_graph_as_union=True))
            assert remote(client, base, query, local) == local, f"{name}: the Oxigraph server answers otherwise"
            if name == "triples":  # no triple is in two graphs: the union has as many triples as quads
                assert local == count
    assert (dist / "spacegraph.nt").read_bytes().count(b"\n") == quads
