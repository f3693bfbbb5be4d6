"""`spacegraph build`: what it publishes, that two builds are byte-identical, that the description is
true of the files, that the switch is atomic even under SIGKILL, and that bad input is refused with the
previous build left exactly as it was.

Each file in tests/data/broken/build-*.ttl adds a few statements to the real data that a build must
refuse; its header gives the exit code, the message and, for syntax errors, the line and column.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from click.testing import CliRunner
from pyld import jsonld  # type: ignore[import-untyped]
from rdflib.compare import isomorphic, to_isomorphic
from rdflib.term import Node

from spacegraph import PROJECT_ROOT, __version__
from spacegraph.cli import main
from spacegraph.errors import SpacegraphError
from spacegraph.namespaces import DATA_GRAPH, ENRICHMENT_GRAPH, ONTOLOGY_GRAPH, PREFIXES, SHAPES_GRAPH
from spacegraph.publish import dumps, folders
from spacegraph.publish.graph import LoadedGraph, Sources
from spacegraph.publish.metadata import DATASET, DUMPS, METADATA_GRAPH
from tests.support import Listener

SPACEGRAPH = str(Path(sys.executable).parent / "spacegraph")
BROKEN = PROJECT_ROOT / "tests" / "data" / "broken"
DATA_FIXTURES = sorted(BROKEN.glob("build-*.ttl"))
DESCRIPTION_FIXTURES = sorted(BROKEN.glob("build-dataset-*.ttl"))
INPUT_FIXTURES = [f for f in DATA_FIXTURES if f not in DESCRIPTION_FIXTURES]
DUMP_NAMES = [f"spacegraph.{ext}" for ext in ("ttl", "jsonld", "nt", "rdf", "trig", "nq")]
ALL_FILES = {*DUMP_NAMES, *(n + ".gz" for n in DUMP_NAMES), "void.ttl", "ontology.svg", "SHA256SUMS"}
UNION_FORMATS = {"ttl": "turtle", "nt": "nt", "rdf": "xml", "jsonld": "json-ld"}
DATASET_FORMATS = {"trig": "trig", "nq": "nquads"}

VOID = "http://rdfs.org/ns/void#"
DCAT = "http://www.w3.org/ns/dcat#"
SPDX = "http://spdx.org/rdf/terms#"
PREFIX = "\n".join(f"PREFIX {p}: <{n}>" for p, n in {**PREFIXES, "void": VOID, "dcat": DCAT, "spdx": SPDX}.items())

Snapshot = tuple[str, dict[str, bytes]]  # where the link points, and every file's bytes


@dataclass(frozen=True)
class Published:
    out: Path
    stdout: str
    files: dict[str, bytes]


def snapshot(out: Path) -> Snapshot:
    return os.readlink(out), {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def spacegraph_build(out: Path, *args: str, seed: str = "random") -> subprocess.Popen[str]:
    """The installed console script, in its own process."""
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.Popen(
        [SPACEGRAPH, "build", "--out", str(out), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
    )


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    out = tmp_path_factory.mktemp("published") / "dist"
    stdout, stderr = spacegraph_build(out).communicate(timeout=120)
    assert stderr == ""
    return Published(out, stdout, snapshot(out)[1])


def run(*args: str | Path) -> tuple[int, str, str]:
    """The CLI in-process (CliRunner), from the project folder."""
    with contextlib.chdir(PROJECT_ROOT):
        result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def store_of(data: bytes, fmt: ox.RdfFormat) -> ox.Store:
    store = ox.Store()
    store.load(data, format=fmt)
    return store


def select(store: ox.Store, query: str, union: bool = False) -> list[tuple[str, ...]]:
    results = store.query(PREFIX + "\n" + query, use_default_graph_as_union=union)
    assert isinstance(results, ox.QuerySolutions)
    variables = results.variables
    return [tuple("" if row[v] is None else str(row[v].value) for v in variables) for row in results]


@contextlib.contextmanager
def rdflib_quietly() -> Iterator[None]:
    """rdflib's own parsers (JSON-LD, N-Quads, TriG) call APIs that rdflib 7 deprecates."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="rdflib")
        yield


def rdflib_graph(data: bytes, fmt: str) -> rdflib.Graph:
    with rdflib_quietly():
        return rdflib.Graph().parse(data=data, format=fmt)


def rdflib_graphs(data: bytes, fmt: str) -> dict[str, rdflib.Graph]:
    dataset = rdflib.Dataset()
    with rdflib_quietly():
        dataset.parse(data=data, format=fmt)
        return {str(g.identifier): g for g in dataset.graphs() if len(g)}


def same_graph(first: rdflib.Graph, second: rdflib.Graph) -> bool:
    """rdflib's isomorphism test, applied to each group of connected blank nodes on its own.

    Two graphs are isomorphic exactly when their triples without blank nodes are the same and their
    groups of connected blank nodes match one to one, isomorphic pair by pair (a mapping of blank nodes
    never crosses from one group to another). rdflib's ``isomorphic`` on a whole dump takes seconds;
    on its few hundred small groups it takes milliseconds, with the same verdict."""
    return len(first) == len(second) and parts(first) == parts(second)


def parts(graph: rdflib.Graph) -> tuple[set[tuple[Node, Node, Node]], Counter[int]]:
    parent: dict[Node, Node] = {}

    def root(node: Node) -> Node:  # union-find over the blank nodes
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    ground: set[tuple[Node, Node, Node]] = set()
    with_blanks: list[tuple[tuple[Node, Node, Node], Node]] = []
    for triple in graph:
        blanks = [term for term in triple if isinstance(term, rdflib.BNode)]
        if not blanks:
            ground.add(triple)
            continue
        with_blanks.append((triple, blanks[0]))
        for other in blanks[1:]:
            parent[root(other)] = root(blanks[0])
    groups: dict[Node, rdflib.Graph] = defaultdict(rdflib.Graph)
    for triple, blank in with_blanks:
        groups[root(blank)].add(triple)
    return ground, Counter(to_isomorphic(group).internal_hash() for group in groups.values())  # type: ignore[no-untyped-call]


def test_same_graph_agrees_with_rdflib_isomorphic() -> None:
    """The comparison the tests below rely on tells graphs apart, and as rdflib's ``isomorphic`` does."""
    prefix = "@prefix ex: <http://example.org/> .\n"
    shape = prefix + "ex:s ex:p [ ex:q 1 ; ex:r [ ex:q 2 ] ] ; ex:t ( ex:a ex:b ) ."
    graphs = {
        "same": shape,
        "renamed": prefix + "ex:s ex:p _:x ; ex:t ( ex:a ex:b ) . _:x ex:q 1 ; ex:r _:y . _:y ex:q 2 .",
        "values swapped between blank nodes": shape.replace("ex:q 1 ; ex:r [ ex:q 2 ]", "ex:q 2 ; ex:r [ ex:q 1 ]"),
        "list reordered": shape.replace("( ex:a ex:b )", "( ex:b ex:a )"),
        "a ground triple changed": shape.replace("ex:s ex:p", "ex:s ex:u"),
    }
    parsed = {name: rdflib.Graph().parse(data=text, format="turtle") for name, text in graphs.items()}
    for name, graph in parsed.items():
        assert same_graph(graph, parsed["same"]) == isomorphic(graph, parsed["same"]) == (name in ("same", "renamed"))


def nquads_graph(quads: list[ox.Quad]) -> rdflib.Graph:
    """A graph as rdflib reads it (literals included), from pyoxigraph quads."""
    triples = ox.serialize([q.triple for q in quads], format=ox.RdfFormat.N_TRIPLES)
    assert triples is not None
    return rdflib_graph(triples, "nt")


# --- What a build writes --------------------------------------------------------------------------


def test_build_prints_each_file_with_its_size_and_triples(published: Published) -> None:
    lines = published.stdout.splitlines()
    nt_lines = published.files["spacegraph.nt"].count(b"\n")
    for name, data in published.files.items():
        line = next(line for line in lines if line.split()[:1] == [name])
        assert f"{len(data):,} bytes" in line
        if name.startswith("spacegraph."):
            unit = "quads" if name.split(".")[1] in DATASET_FORMATS else "triples"
            assert f"{nt_lines:,} {unit}" in line
    assert lines[-1].startswith(f"Built {published.out} -> .dist.")
    assert f"{nt_lines:,} triples in 5 named graphs" in lines[-1]
    assert f"{len(published.files)} files, {sum(map(len, published.files.values())):,} bytes" in lines[-1]


def test_out_is_a_link_to_a_complete_build_beside_it(published: Published) -> None:
    assert published.out.is_symlink()
    target = os.readlink(published.out)
    assert re.fullmatch(r"\.dist\.[0-9a-f]{12}\.\w+", target)
    assert set(published.files) == ALL_FILES
    # The folder is named after the build's SHA256SUMS.
    assert target.split(".")[2] == hashlib.sha256(published.files["SHA256SUMS"]).hexdigest()[:12]
    leftovers = [p.name for p in published.out.parent.iterdir() if p.name not in {"dist", target, ".dist.lock"}]
    assert leftovers == []


def test_sha256sums_checks_with_coreutils(published: Published) -> None:
    result = subprocess.run(
        ["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=published.out, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(result.stdout.splitlines()) == sorted(f"{name}: OK" for name in ALL_FILES - {"SHA256SUMS"})


def test_gzip_copies_hold_the_same_bytes_with_no_name_and_no_time(published: Published) -> None:
    for name in DUMP_NAMES:
        packed = published.files[name + ".gz"]
        assert gzip.decompress(packed) == published.files[name]
        assert packed[:3] == b"\x1f\x8b\x08"
        assert packed[3] & 0x08 == 0, f"{name}.gz carries a file name"
        assert packed[4:8] == b"\0\0\0\0", f"{name}.gz carries a modification time"


def test_two_builds_are_byte_identical(published: Published, tmp_path: Path) -> None:
    """Two more builds, in their own processes with different hash seeds, against the first one."""
    builds = [spacegraph_build(tmp_path / name / "dist", seed=seed) for name, seed in (("a", "1"), ("b", "2"))]
    for process in builds:
        process.communicate(timeout=120)
        assert process.returncode == 0
    for name in ("a", "b"):
        _target, files = snapshot(tmp_path / name / "dist")
        assert files.keys() == published.files.keys()
        for file_name, data in files.items():
            assert data == published.files[file_name], f"{file_name} differs between two builds"


def test_line_formats_are_sorted_and_turtle_is_grouped_by_sorted_subject(published: Published) -> None:
    for name in ("spacegraph.nt", "spacegraph.nq"):
        lines = published.files[name].decode("utf-8").splitlines()
        assert lines == sorted(lines)
        assert len(set(lines)) == len(lines)
    for name in ("spacegraph.ttl", "void.ttl"):
        text = published.files[name].decode("utf-8")
        declared = re.findall(r"^@prefix (\w*): <([^>]*)> \.$", text, re.MULTILINE)
        assert declared and all(PREFIXES.get(prefix, namespace) == namespace for prefix, namespace in declared)
        assert not any(re.fullmatch(r"ns\d+", prefix) for prefix, _ in declared)
        body = text[text.rindex("@prefix") :].split("\n", 1)[1]
        subjects = [block.split()[0] for block in body.strip().split("\n\n")]
        named = [s for s in subjects if s != "[]"]
        assert named == sorted(named), f"{name}: subjects out of order"
        assert len(named) == len(set(named)), f"{name}: a subject is written twice"
        assert subjects[len(named) :] == ["[]"] * (len(subjects) - len(named)), "blank nodes come last"


def test_blank_nodes_have_canonical_labels(published: Published) -> None:
    labels = set(re.findall(rb"_:(\S+)", published.files["spacegraph.nq"]))
    assert labels and all(re.fullmatch(rb"c14n\d+", label) for label in labels)


# --- The graph in every format ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def expected(published: Published, loaded: LoadedGraph) -> dict[str, rdflib.Graph]:
    """What the dumps must hold, graph by graph, as rdflib reads it: the sources as loaded, and the
    metadata graph (checked against void.ttl below); "" is their union."""
    graphs = {
        g.value: nquads_graph(list(loaded.quads(g)))
        for g in (DATA_GRAPH, ENRICHMENT_GRAPH, ONTOLOGY_GRAPH, SHAPES_GRAPH)
    }
    dumped = store_of(published.files["spacegraph.nq"], ox.RdfFormat.N_QUADS)
    graphs[METADATA_GRAPH.value] = nquads_graph(list(dumped.quads_for_pattern(None, None, None, METADATA_GRAPH)))
    union = rdflib.Graph()
    for graph in graphs.values():
        union += graph
    graphs[""] = union
    return graphs


@pytest.mark.parametrize("extension", sorted(UNION_FORMATS))
def test_single_graph_dumps_hold_the_union_of_the_graphs(
    published: Published, expected: dict[str, rdflib.Graph], extension: str
) -> None:
    graph = rdflib_graph(published.files[f"spacegraph.{extension}"], UNION_FORMATS[extension])
    assert same_graph(graph, expected[""])


@pytest.mark.parametrize("extension", sorted(DATASET_FORMATS))
def test_dataset_dumps_keep_each_named_graph(
    published: Published, expected: dict[str, rdflib.Graph], extension: str
) -> None:
    graphs = rdflib_graphs(published.files[f"spacegraph.{extension}"], DATASET_FORMATS[extension])
    assert set(graphs) == set(expected) - {""}
    for name, graph in graphs.items():
        assert same_graph(graph, expected[name]), f"{name} differs in spacegraph.{extension}"


def test_json_ld_expands_with_pyld_to_the_same_graph(published: Published, expected: dict[str, rdflib.Graph]) -> None:
    document = json.loads(published.files["spacegraph.jsonld"])
    expanded = jsonld.expand(document)
    nquads = jsonld.to_rdf(expanded, {"format": "application/n-quads"})
    assert same_graph(rdflib_graph(nquads.encode("utf-8"), "nquads"), expected[""])


def test_json_ld_carries_our_context_and_reads_naturally(published: Published) -> None:
    document = json.loads(published.files["spacegraph.jsonld"])
    context = json.loads((PROJECT_ROOT / "ontology" / "context.jsonld").read_text(encoding="utf-8"))
    assert document["@context"] == context["@context"]
    nodes = {node["@id"]: node for node in document["@graph"]}
    jaxa = nodes["id:jaxa"]
    assert set(jaxa["label"]) >= {"en", "fr", "ja"}  # a language map
    assert jaxa["sameAs"].startswith("wd:Q")  # a compact IRI, not {"@id": …}
    assert "FormalOrganization" in json.dumps(jaxa["@type"])
    assert all(not key.startswith("http") for node in document["@graph"] for key in node)


def test_context_knows_our_prefixes_and_every_ontology_property() -> None:
    context = json.loads((PROJECT_ROOT / "ontology" / "context.jsonld").read_text(encoding="utf-8"))["@context"]
    for prefix, namespace in PREFIXES.items():
        assert context.get(prefix) == namespace, f"the context lacks the prefix {prefix}:"
    ontology = ox.Store()
    ontology.load(path=PROJECT_ROOT / "ontology" / "spacegraph.ttl", format=ox.RdfFormat.TURTLE)
    object_properties = select(ontology, "SELECT ?p { ?p a owl:ObjectProperty FILTER STRSTARTS(STR(?p), STR(sg:)) }")
    assert object_properties
    for (iri,) in object_properties:
        term = context.get(iri.removeprefix(PREFIXES["sg"]))
        assert isinstance(term, dict) and term.get("@type") == "@id", f"{iri} is not coerced to an IRI in the context"


# --- The description -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def void(published: Published) -> ox.Store:
    return store_of(published.files["void.ttl"], ox.RdfFormat.TURTLE)


@pytest.fixture(scope="module")
def union(published: Published) -> ox.Store:
    return store_of(published.files["spacegraph.nt"], ox.RdfFormat.N_TRIPLES)


def one(store: ox.Store, query: str) -> str:
    rows = select(store, query)
    assert len(rows) == 1, rows
    return rows[0][0]


def test_void_counts_are_those_of_the_dumps(published: Published, void: ox.Store, union: ox.Store) -> None:
    dataset = f"<{DATASET.value}>"
    lines = published.files["spacegraph.nt"].count(b"\n")
    assert int(one(void, f"SELECT ?n {{ {dataset} void:triples ?n }}")) == lines
    space = one(void, f"SELECT ?s {{ {dataset} void:uriSpace ?s }}")
    entities = f'SELECT (COUNT(DISTINCT ?s) AS ?n) {{ ?s ?p ?o FILTER (isIRI(?s) && STRSTARTS(STR(?s), "{space}")) }}'
    assert one(void, f"SELECT ?n {{ {dataset} void:entities ?n }}") == one(union, entities)
    subjects = "SELECT (COUNT(DISTINCT ?s) AS ?n) { ?s ?p ?o }"
    assert one(void, f"SELECT ?n {{ {dataset} void:distinctSubjects ?n }}") == one(union, subjects)

    classes = select(union, "SELECT ?c (COUNT(DISTINCT ?s) AS ?n) { ?s a ?c FILTER isIRI(?c) } GROUP BY ?c")
    described = select(void, f"SELECT ?c ?n {{ {dataset} void:classPartition [ void:class ?c ; void:entities ?n ] }}")
    assert sorted(described) == sorted(classes)
    assert one(void, f"SELECT ?n {{ {dataset} void:classes ?n }}") == str(len(classes))

    properties = select(union, "SELECT ?p (COUNT(*) AS ?n) (COUNT(DISTINCT ?s) AS ?d) { ?s ?p ?o } GROUP BY ?p")
    described = select(
        void,
        f"""SELECT ?p ?n ?d {{ {dataset} void:propertyPartition
            [ void:property ?p ; void:triples ?n ; void:distinctSubjects ?d ] }}""",
    )
    assert sorted(described) == sorted(properties)
    assert one(void, f"SELECT ?n {{ {dataset} void:properties ?n }}") == str(len(properties))


def test_void_vocabularies_are_those_the_dumps_use(void: ox.Store, union: ox.Store) -> None:
    vocabularies = {v for (v,) in select(void, f"SELECT ?v {{ <{DATASET.value}> void:vocabulary ?v }}")}
    terms = {t for (t,) in select(union, "SELECT DISTINCT ?t { { ?s ?t ?o } UNION { ?s a ?t FILTER isIRI(?t) } }")}
    for term in terms:
        assert any(term.startswith(v) and "/" not in term[len(v) :] and "#" not in term[len(v) :] for v in vocabularies)
    for vocabulary in vocabularies:
        assert any(term.startswith(vocabulary) for term in terms), f"{vocabulary} is not used"
    assert {PREFIXES["sg"], PREFIXES["schema"], PREFIXES["org"], VOID, DCAT} <= vocabularies


def test_void_counts_each_named_graph_and_the_wikidata_links(published: Published, void: ox.Store) -> None:
    dataset = store_of(published.files["spacegraph.nq"], ox.RdfFormat.N_QUADS)
    graphs = select(dataset, "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")
    described = select(
        void,
        f"""SELECT ?g ?n {{ <{DATASET.value}> void:subset ?g . ?g void:triples ?n
            FILTER NOT EXISTS {{ ?g a void:Linkset }} }}""",
    )
    assert sorted(described) == sorted(graphs)
    assert len(graphs) == 5

    links = one(
        dataset, "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s owl:sameAs ?o FILTER STRSTARTS(STR(?o), STR(wd:)) } }"
    )
    assert int(links) > 0
    linkset = select(
        void,
        f"""SELECT ?n ?p {{ <{DATASET.value}> void:subset ?l .
            ?l a void:Linkset ; void:triples ?n ; void:linkPredicate ?p ; void:target <{DATASET.value}>, wd:Q2013 ;
                void:subjectsTarget <{DATASET.value}> ; void:objectsTarget wd:Q2013 }}""",
    )
    assert linkset == [(links, PREFIXES["owl"] + "sameAs")]


def test_void_describes_the_dataset(void: ox.Store) -> None:
    static = ox.Store()
    static.load(path=PROJECT_ROOT / "metadata" / "dataset.ttl", format=ox.RdfFormat.TURTLE)
    rows = select(
        void,
        f"""SELECT ?version ?issued ?license ?publisher ?endpoint ?lookup {{
            <{DATASET.value}> a void:Dataset, dcat:Dataset ; dcat:version ?version ; dcterms:issued ?issued ;
                dcterms:license ?license ; dcterms:publisher ?publisher ; void:sparqlEndpoint ?endpoint ;
                void:uriLookupEndpoint ?lookup ; dcterms:title ?title ; dcterms:description ?description }} LIMIT 1""",
    )
    assert rows == [
        (
            __version__,
            one(static, f"SELECT ?d {{ <{DATASET.value}> dcterms:issued ?d }}"),
            "http://publications.europa.eu/resource/authority/licence/CC_BY_4_0",
            PREFIXES["id"] + "spacegraph-contributors",
            "https://w3id.org/spacegraph/sparql",
            "https://w3id.org/spacegraph/fragments?subject=",  # Triple Pattern Fragments, by subject
        )
    ]


def test_void_lists_every_dump_with_its_media_type_size_and_checksum(published: Published, void: ox.Store) -> None:
    rows = select(
        void,
        f"""SELECT ?url ?media ?size ?sum ?algorithm ?compress {{
            <{DATASET.value}> dcat:distribution ?d ; void:dataDump ?url .
            ?d a dcat:Distribution ; dcat:downloadURL ?url ; dcat:mediaType ?media ; dcat:byteSize ?size ;
               spdx:checksum [ a spdx:Checksum ; spdx:algorithm ?algorithm ; spdx:checksumValue ?sum ] .
            OPTIONAL {{ ?d dcat:compressFormat ?compress }} }}""",
    )
    # A store keeps xsd:nonNegativeInteger as xsd:integer: read the datatype from the parser.
    sizes = [q.object for q in ox.parse(published.files["void.ttl"], format=ox.RdfFormat.TURTLE)]
    sizes = [o for o in sizes if isinstance(o, ox.Literal) and o.datatype.value.endswith("#nonNegativeInteger")]
    assert len(sizes) == 2 * len(DUMP_NAMES)
    media_types = {
        "ttl": "text/turtle",
        "jsonld": "application/ld+json",
        "nt": "application/n-triples",
        "rdf": "application/rdf+xml",
        "trig": "application/trig",
        "nq": "application/n-quads",
    }
    file_types = {"ttl": "RDF_TURTLE", "jsonld": "JSON_LD", "nt": "RDF_N_TRIPLES", "rdf": "RDF_XML"}
    file_types |= {"trig": "RDF_TRIG", "nq": "RDF_N_QUADS"}
    iana = "http://www.iana.org/assignments/media-types/"
    assert len(rows) == 2 * len(DUMP_NAMES)
    for url, media, size, checksum, algorithm, compress in rows:
        name = url.removeprefix(DUMPS)
        data = published.files[name]
        assert media == iana + media_types[name.split(".")[1]]
        file_type = one(void, f"SELECT ?f {{ ?d dcat:downloadURL <{url}> ; dcterms:format ?f }}")
        eu_file_types = "http://publications.europa.eu/resource/authority/file-type/"
        assert file_type == eu_file_types + file_types[name.split(".")[1]]
        assert int(size) == len(data)
        assert (checksum, algorithm) == (hashlib.sha256(data).hexdigest(), SPDX + "checksumAlgorithm_sha256")
        assert compress == (iana + "application/gzip" if name.endswith(".gz") else "")
    assert {url.removeprefix(DUMPS) for url, *_ in rows} == ALL_FILES - {"void.ttl", "ontology.svg", "SHA256SUMS"}


def test_metadata_graph_is_void_without_the_file_sizes_and_checksums(published: Published) -> None:
    described = rdflib_graph(published.files["void.ttl"], "turtle")
    for checksum in list(described.objects(None, rdflib.URIRef(SPDX + "checksum"))):
        described.remove((checksum, None, None))
    described.remove((None, rdflib.URIRef(SPDX + "checksum"), None))
    described.remove((None, rdflib.URIRef(DCAT + "byteSize"), None))
    described.remove((None, rdflib.RDF.type, rdflib.URIRef(SPDX + "ChecksumAlgorithm")))  # what the checksums use
    inside = rdflib_graphs(published.files["spacegraph.trig"], "trig")[METADATA_GRAPH.value]
    assert same_graph(inside, described)


# --- Atomic and safe --------------------------------------------------------------------------------


def other_build(files: dict[str, bytes]) -> dict[str, bytes]:
    """A second, different build to switch between."""
    changed = {name: data + b"\n" if name.endswith(".nt") else data for name, data in files.items()}
    changed["SHA256SUMS"] = dumps.checksums({n: d for n, d in changed.items() if n != "SHA256SUMS"})
    return changed


def assert_complete(out: Path, *builds: dict[str, bytes]) -> None:
    _target, files = snapshot(out)
    assert any(files == build for build in builds), "dist is not one complete build"
    result = subprocess.run(["sha256sum", "--check", "--quiet", "SHA256SUMS"], cwd=out, capture_output=True)
    assert result.returncode == 0


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if re.match(rf"\.{out.name}\.(tmp|link)\.", p.name))


def test_a_build_failing_while_writing_leaves_the_previous_one(
    published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dist"
    folders.publish(published.files, out)
    before = snapshot(out)
    written: list[Path] = []

    def failing(path: Path, data: bytes) -> None:
        if len(written) == 5:
            raise OSError(28, "No space left on device")
        written.append(path)
        path.write_bytes(data)

    monkeypatch.setattr(folders, "write_synced", failing)
    with pytest.raises(OSError, match="No space left"):
        folders.publish(other_build(published.files), out)
    assert snapshot(out) == before
    assert leftovers(out) == []


# Runs publish() in a child process and SIGKILLs it at one point: before the Nth file is written,
# before the new folder is renamed into place, before or after the link is replaced, before clean-up.
KILLER = """
import os, signal, sys
from pathlib import Path
from spacegraph.publish import folders

source, out, point = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
names = [line.split()[1] for line in (source / "SHA256SUMS").read_text().splitlines()] + ["SHA256SUMS"]
files = {name: (source / name).read_bytes() for name in names}
writes = []


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def killing(original, before=False, after=False):
    def wrapper(*args, **kwargs):
        if before:
            die()
        result = original(*args, **kwargs)
        if after:
            die()
        return result
    return wrapper


def counting(path, data):
    writes.append(path)
    if len(writes) > int(point.removeprefix("write-")):
        die()
    original_write(path, data)


if point.startswith("write-"):
    original_write = folders.write_synced
    folders.write_synced = counting
elif point == "rename":
    os.rename = killing(os.rename, before=True)
elif point == "replace":
    os.replace = killing(os.replace, before=True)
elif point == "after-replace":
    os.replace = killing(os.replace, after=True)
elif point == "cleanup":
    folders.remove_leftovers = killing(folders.remove_leftovers, before=True)
folders.publish(files, out)
"""
KILL_POINTS = ["write-0", "write-7", "write-13", "rename", "replace", "after-replace", "cleanup"]


def test_a_build_killed_at_any_point_leaves_a_complete_build(published: Published, tmp_path: Path) -> None:
    old, new = published.files, other_build(published.files)
    source = tmp_path / "new"
    source.mkdir()
    for name, data in new.items():
        (source / name).write_bytes(data)
    children = {}
    for point in KILL_POINTS:
        out = tmp_path / point / "dist"
        folders.publish(old, out)
        children[point] = subprocess.Popen([sys.executable, "-c", KILLER, str(source), str(out), point])
    for point, child in children.items():
        assert child.wait(timeout=60) == -signal.SIGKILL, f"the build was not killed at {point}"
        out = tmp_path / point / "dist"
        assert_complete(out, old, new)
        if point in ("after-replace", "cleanup"):
            assert snapshot(out)[1] == new
        # The next build removes what the killed one left, and keeps one previous build only.
        folders.publish(old, out)
        assert snapshot(out)[1] == old
        assert leftovers(out) == []
        assert len([p for p in out.parent.iterdir() if re.fullmatch(r"\.dist\.[0-9a-f]{12}\.\w+", p.name)]) <= 2


def test_the_command_killed_while_publishing_leaves_a_complete_build(published: Published, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    previous = other_build(published.files)
    folders.publish(previous, out)
    process = spacegraph_build(out)
    deadline = time.monotonic() + 60
    while process.poll() is None and not leftovers(out) and time.monotonic() < deadline:
        time.sleep(0.002)
    process.kill()
    process.communicate(timeout=30)
    assert_complete(out, previous, published.files)


def test_refuses_to_replace_a_folder_that_is_not_a_build(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _stdout, stderr = run("build", "--out", out)
    assert code == 2
    assert stderr == f"error: {out}: exists and is not a spacegraph build; remove it or choose another --out\n"
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("swap", ["renameat2", "two renames"])
def test_replaces_a_real_folder_of_an_earlier_build(
    published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swap: str
) -> None:
    if swap == "two renames":  # a system without an atomic swap

        def unsupported(first: Path, second: Path) -> None:
            raise OSError(38, "Function not implemented")

        monkeypatch.setattr(folders, "exchange", unsupported)
    out = tmp_path / "dist"
    out.mkdir()
    for name, data in other_build(published.files).items():
        (out / name).write_bytes(data)
    folders.publish(published.files, out)
    assert out.is_symlink()
    assert snapshot(out)[1] == published.files
    assert leftovers(out) == []


# --- Bad input --------------------------------------------------------------------------------------


def expectations(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^# expect-([\w-]+): (.*)$", path.read_text(encoding="utf-8"), re.MULTILINE))


@pytest.fixture
def previous(published: Published, tmp_path: Path) -> Iterator[tuple[Path, Snapshot]]:
    out = tmp_path / "dist"
    folders.publish(published.files, out)
    before = snapshot(out)
    yield out, before
    assert snapshot(out) == before, "the previous build was touched"
    assert leftovers(out) == []


@pytest.mark.parametrize("fixture", INPUT_FIXTURES, ids=lambda p: p.name)
def test_bad_input_is_refused_and_the_previous_build_kept(fixture: Path, previous: tuple[Path, Snapshot]) -> None:
    expect = expectations(fixture)
    out, _before = previous
    code, stdout, stderr = run("build", "--out", out, PROJECT_ROOT / "data", fixture)
    assert code == int(expect["exit"]), stdout + stderr
    if "at" in expect:  # a syntax error: one line on stderr, with the place
        assert stderr == f"error: {fixture}:{expect['at']}: {expect['message']}\n"
        assert stdout == ""
    else:  # does not conform: the report, and what it means
        assert f"Violation: {expect['message']}\n" in stdout
        assert re.search(rf"^  at:     {re.escape(str(fixture))}:\d+$", stdout, re.MULTILINE)
        assert stderr.startswith("error: the data does not conform (")
        assert stderr.endswith("violation(s)); nothing was published\n")


@pytest.mark.parametrize("fixture", DESCRIPTION_FIXTURES, ids=lambda p: p.name)
def test_a_bad_dataset_description_is_refused(fixture: Path, previous: tuple[Path, Snapshot]) -> None:
    expect = expectations(fixture)
    out, _before = previous
    with pytest.raises(SpacegraphError) as raised:
        dumps.build(Sources.in_project(), out, description=fixture)
    place = f"{fixture}:{expect['at']}" if "at" in expect else str(fixture)
    assert str(raised.value) == f"{place}: {expect['message']}"


def test_a_context_that_is_not_json_is_refused_with_its_place(previous: tuple[Path, Snapshot]) -> None:
    out, _before = previous
    with pytest.raises(SpacegraphError) as raised:
        dumps.build(Sources.in_project(), out, context=BROKEN / "build-context-syntax-error.jsonld")
    assert str(raised.value) == f"{BROKEN / 'build-context-syntax-error.jsonld'}:4:36: Expecting ',' delimiter"


@pytest.mark.parametrize("where", ["@import", "scoped @context"])
def test_a_context_that_refers_to_a_remote_document_is_refused_without_a_connection(
    where: str, tmp_path: Path, previous: tuple[Path, Snapshot]
) -> None:
    out, before = previous
    with Listener() as listener:
        remote = f"http://127.0.0.1:{listener.port}/context.jsonld"
        ours = json.loads(dumps.CONTEXT.read_text(encoding="utf-8"))
        if where == "@import":
            ours["@context"]["@import"] = remote
        else:
            ours["@context"]["label"] = {"@id": "http://www.w3.org/2000/01/rdf-schema#label", "@context": remote}
        context = tmp_path / "context.jsonld"
        context.write_text(json.dumps(ours), encoding="utf-8")
        with pytest.raises(SpacegraphError) as raised:
            dumps.build(Sources.in_project(), out, context=context)
    assert str(raised.value) == (
        f"{context}: the context refers to a remote document ({remote}); spacegraph never fetches one"
    )
    assert listener.connections == 0
    assert snapshot(out) == before


def test_pyld_never_fetches_while_writing_json_ld() -> None:
    """Behind the check of the context file, pyld's own document loader refuses too (defence in depth)."""
    x = ox.NamedNode("https://w3id.org/spacegraph/id/x")
    triple = ox.Triple(x, ox.NamedNode("http://example.org/p"), ox.Literal("x"))
    with Listener() as listener:
        context = {"@context": f"http://127.0.0.1:{listener.port}/context.jsonld"}
        with pytest.raises(Exception) as raised:  # pyld wraps our refusal in its own error
            dumps.json_ld([triple], context)
    causes, error = [], raised.value
    while error is not None:
        causes.append(str(error))
        error = getattr(error, "cause", None) or error.__cause__
    assert any("refusing to fetch the remote JSON-LD document" in cause for cause in causes), causes
    assert listener.connections == 0


def test_json_ld_keeps_every_term_as_it_is() -> None:
    """The writer hands pyld the terms themselves: pyld's N-Quads parser undoes only some escapes, and in
    an order that would turn a backslash written before an n into a line break."""
    x, p = ox.NamedNode("https://w3id.org/spacegraph/id/x"), ox.NamedNode("http://example.org/p")
    texts = ["back\\n slash \\", 'tab\t "quote"', "bell\b feed\f \x01", "line\nbreak\r"]
    values: list[ox.NamedNode | ox.BlankNode | ox.Literal] = [ox.Literal(text) for text in texts]
    values += [
        ox.Literal("été", language="fr"),
        ox.Literal("01", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
        ox.BlankNode("b0"),
    ]
    triples = [ox.Triple(x, p, value) for value in values] + [ox.Triple(ox.BlankNode("b0"), p, x)]
    written = dumps.json_ld(triples, dumps.read_context(dumps.CONTEXT))
    expected = dumps.canonical(ox.Quad(t.subject, t.predicate, t.object) for t in triples)
    assert dumps.canonical(ox.parse(written, format=ox.RdfFormat.JSON_LD)) == expected


def test_every_fault_has_a_fixture() -> None:
    names = {p.name for p in BROKEN.glob("build-*")}
    assert {
        "build-syntax-error.ttl",
        "build-unknown-prefix.ttl",
        "build-invalid-date.ttl",
        "build-duplicate-iri.ttl",
    } <= names


def test_the_writer_run_beside_gives_its_bytes_or_its_error() -> None:
    """JSON-LD is written in a forked process while the other dumps are written (``dumps.beside``): its bytes
    are the writer's own, and a writer's failure reaches the build instead of a file being left out."""
    triples = [ox.Triple(ox.NamedNode("https://example.org/a"), ox.NamedNode("https://example.org/p"), ox.Literal("x"))]
    with dumps.beside(dumps.ntriples, triples, {}) as written:
        assert written() == dumps.ntriples(triples)
    with pytest.raises(AssertionError), dumps.beside(dumps.json_ld, triples, None) as failing:  # type: ignore[arg-type]
        failing()
