"""The pieces of the pages, one at a time: the reader's language, local links, labels, the pictures
Graphviz draws (and that no label can inject markup into them), the SHACL constraints in words, and the
README's copy of the ontology diagram."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest

from spacegraph import PROJECT_ROOT
from spacegraph.config import Config
from spacegraph.errors import SpacegraphError
from spacegraph.namespaces import BASE, ONTOLOGY_GRAPH, SHAPES_GRAPH
from spacegraph.publish.diagram import Edge, Node, neighbourhood_svg, ontology_relations
from spacegraph.publish.graph import Sources, load
from spacegraph.web.app import create_app
from spacegraph.web.conneg import negotiate_language
from spacegraph.web.pages.chrome import LANGUAGES, Site
from spacegraph.web.pages.ontology import ontology_page
from spacegraph.web.pages.reading import Labels
from tests.support import TestClient

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("fr", "fr"),
        ("fr-CA", "fr"),
        ("ja-JP,ja;q=0.9,en;q=0.8", "ja"),
        ("de-DE,de;q=0.9", "en"),
        ("de, fr;q=0.5, ja;q=0.6", "ja"),
        ("en;q=0.5, fr;q=0.5", "en"),  # a tie: the earlier in the header
        ("fr;q=0.5, en;q=0.5", "fr"),
        ("fr;q=0, ja", "ja"),
        ("*", "en"),
        ("fr;q=abc, ja;q=0.1", "ja"),
    ],
)
def test_the_language_from_accept_language(header: str | None, expected: str) -> None:
    assert negotiate_language(header, LANGUAGES) == expected


def test_links_to_our_iris_stay_local() -> None:
    site = Site(root="/mirror", language="fr", explicit=True)
    assert site.href(BASE + "id/jaxa") == "/mirror/id/jaxa?lang=fr"
    assert site.href(BASE + "id/quote/okumura#text") == "/mirror/id/quote/okumura?lang=fr#text"
    assert site.href(BASE + "dumps/spacegraph.ttl") == "/mirror/dumps/spacegraph.ttl"
    assert Site().href(BASE + "def/Meeting") == "/def/Meeting"
    assert Site().href("http://www.wikidata.org/entity/Q179103") == "https://www.wikidata.org/wiki/Q179103"
    assert Site().href("https://schema.org/Person") == "https://schema.org/Person"


def test_labels_in_the_reader_language_with_fallbacks() -> None:
    jaxa, quote = ox.NamedNode(BASE + "id/jaxa"), ox.NamedNode(BASE + "id/quote/q")
    label = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
    triples = [
        ox.Triple(jaxa, label, ox.Literal("JAXA", language="en")),
        ox.Triple(jaxa, label, ox.Literal("宇宙航空研究開発機構", language="ja")),
        ox.Triple(quote, ox.NamedNode("http://www.w3.org/ns/oa#hasSelector"), ox.NamedNode(quote.value + "#text")),
        ox.Triple(
            ox.NamedNode(quote.value + "#text"), ox.NamedNode("http://www.w3.org/ns/oa#exact"), ox.Literal("a b")
        ),
    ]
    assert Labels(triples, "ja").text(jaxa.value) == "宇宙航空研究開発機構"
    french = Labels(triples, "fr")
    assert french.text(jaxa.value) == "JAXA" and french.lang(jaxa.value) == "en"  # fallback, marked
    assert french.text(quote.value) == "“a b”"
    assert french.text("http://www.w3.org/ns/org#postIn") == "poste au sein de"  # the table of reused terms
    assert french.text("http://www.wikidata.org/entity/Q5") == "Q5"
    assert french.text("http://purl.org/dc/terms/alternative") == "dcterms:alternative"


def test_a_neighbourhood_picture_links_its_nodes_and_escapes_every_label() -> None:
    hostile = 'Evil "quoted" \\ <script>alert(1)</script> & more\nline'
    nodes = [
        Node(BASE + "id/a", hostile, "/id/a", "self"),
        Node(BASE + "id/b", "B", '/id/b?x="1"&y=<2>', "person"),
    ]
    svg = neighbourhood_svg(nodes, [Edge(BASE + "id/a", BASE + "id/b", 'knows "<b>"')], "title")
    root = ET.fromstring(svg)  # well-formed, alone
    assert root.tag == SVG + "svg"
    assert not [element for element in root.iter() if element.tag in (SVG + "script", "script")]
    texts = " ".join(element.text or "" for element in root.iter(SVG + "text"))
    assert "<script>alert(1)</script>" in texts and 'knows "<b>"' in texts
    links = [element.get(XLINK + "href") for element in root.iter(SVG + "a")]
    assert "/id/b?x=%221%22%26y=%3C2%3E" in links and "/id/a" in links


def test_without_graphviz_a_page_still_renders(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, linked_build: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot here
    with pytest.raises(SpacegraphError, match="Graphviz is not installed"):
        neighbourhood_svg([Node("a", "a", "/a", "self")], [], "t")
    with TestClient(create_app(Config(data=(linked_build / "spacegraph.nq",)))) as client:
        page = client.get("/id/jaxa.html")
    assert page.status_code == 200
    assert "Japan Aerospace Exploration Agency" in page.text and "<svg" not in page.text


@pytest.fixture(scope="module")
def graphs() -> tuple[list[ox.Triple], list[ox.Triple]]:
    loaded = load(Sources.in_project())
    return [q.triple for q in loaded.quads(ONTOLOGY_GRAPH)], [q.triple for q in loaded.quads(SHAPES_GRAPH)]


def test_the_class_diagram_relates_the_classes(graphs: tuple[list[ox.Triple], list[ox.Triple]]) -> None:
    diagram = ontology_relations(*graphs)
    sg = BASE + "def/"
    assert len(diagram.ours) == 21
    assert (sg + "Lander", sg + "Spacecraft") in diagram.subclasses
    assert (sg + "SpaceMission", sg + "target", sg + "CelestialBody") in diagram.relations  # from the shapes
    assert (sg + "Agreement", sg + "signedAt", "https://schema.org/Event") in diagram.relations  # domain, range
    assert ("https://schema.org/Person", "http://www.w3.org/ns/org#holds", "http://www.w3.org/ns/org#Post") in (
        diagram.relations
    )


def test_the_readme_diagram_is_the_build_diagram(linked_build: Path) -> None:
    """docs/ontology.svg is refreshed with ``python -m spacegraph.publish.diagram docs/ontology.svg``."""
    built = (linked_build / "ontology.svg").read_bytes()
    assert (PROJECT_ROOT / "docs" / "ontology.svg").read_bytes() == built
    root = ET.fromstring(built)
    titles = {element.text for element in root.iter(SVG + "title")}
    assert {"c0", "c1"} <= titles


def test_shacl_constraints_in_words(graphs: tuple[list[ox.Triple], list[ox.Triple]]) -> None:
    page = ontology_page(*graphs, Site())
    meeting = next(term for term in page.classes if term.anchor == "Meeting")
    rules = {(c.path.text if c.path else None, "; ".join(c.rules)) for c in meeting.constraints}
    assert ("participant", "at least 2 value(s)") in rules
    assert ("participant", "one of: (not (each value is a schema:Person)) or (org:holds: at least 1 value(s))") in rules
    partner = next(term for term in page.properties if term.anchor == "partner")
    assert any("at least 2 value(s)" in c.rules for c in partner.constraints)
    assert [m.id for m in meeting.mappings] == ["Q2761147"]
    assert [v.text for v in meeting.disjoint] == ["presentation"]
    counterpart = next(term for term in page.properties if term.anchor == "counterpart")
    assert counterpart.symmetric and counterpart.kind == "object_property"


@pytest.fixture
def no_build(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "graph.nq"
    loaded = load(Sources.in_project())
    data.write_bytes(ox.serialize(loaded.store, format=ox.RdfFormat.N_QUADS) or b"")
    yield data


def test_a_server_without_a_build_says_so(no_build: Path) -> None:
    """Data that is not a build (no SHA256SUMS beside it): no dumps to list or serve, pages still work."""
    with TestClient(create_app(Config(data=(no_build,)))) as client:
        assert client.get("/dumps/spacegraph.nq").status_code == 404
        assert client.get("/void.ttl").status_code == 404
        landing = client.get("/", headers={"Accept": "text/html"})
        assert landing.status_code == 200 and "No build is published" in landing.text
        ontology = client.get("/def.html")
        assert ontology.status_code == 200 and "ontology.svg" not in ontology.text
