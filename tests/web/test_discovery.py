"""What crawlers, data portals, vocabulary catalogues and linked-data tools find, over real HTTP (a real
uvicorn serving a real build), read with their own kinds of parsers: the dataset description at
``/.well-known/void`` (DCAT-AP 3.0.0 with SEMIC's shapes, in every format), ``robots.txt`` as a crawler
reads it (protego, RFC 9309), ``sitemap.xml`` (lxml) with every entry resolving to its page, the pages'
canonical links, schema.org markup as a search engine extracts it (extruct), and the ontology as a
vocabulary catalogue (Linked Open Vocabularies) reads it."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import extruct  # type: ignore[import-untyped]
import httpx
import lxml.etree
import lxml.html
import pyoxigraph as ox
import pytest
import rdflib
from protego import Protego  # type: ignore[import-untyped]
from rdflib.compare import isomorphic

from spacegraph.config import Config
from spacegraph.namespaces import BASE, DEF, ID, ONTOLOGY_IRI
from spacegraph.web.app import create_app
from tests.standards import dcat_ap_results
from tests.support import running

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
XHTML = "{http://www.w3.org/1999/xhtml}"
FORMATS = {"text/turtle": "turtle", "application/ld+json": "json-ld", "application/n-triples": "nt"}
FORMATS |= {"application/rdf+xml": "xml"}


@pytest.fixture(scope="module")
def base(linked_build: Path) -> Iterator[str]:
    with running(create_app(Config(data=(linked_build / "spacegraph.nq",)))) as url:
        yield url


@pytest.fixture(scope="module")
def client(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=30) as client:
        yield client


def local(address: str) -> str:
    """The local path of a public address (the server's own, since no public URL is configured)."""
    assert address.startswith(BASE), address
    return "/" + address[len(BASE) :]


# --- /.well-known/void ------------------------------------------------------------------------------


@pytest.mark.parametrize("media_type", FORMATS)
def test_the_well_known_description_conforms_to_dcat_ap_in_every_format(
    client: httpx.Client, linked_build: Path, media_type: str
) -> None:
    response = client.get("/.well-known/void", headers={"Accept": media_type})
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert "Accept" in response.headers["vary"]
    with warnings.catch_warnings():  # rdflib's JSON-LD parser calls APIs that rdflib 7 deprecates
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="rdflib")
        served = rdflib.Graph().parse(data=response.content, format=FORMATS[media_type])
    published = rdflib.Graph().parse(linked_build / "void.ttl", format="turtle")
    assert isomorphic(served, published)
    assert dcat_ap_results(served) == []


def test_the_well_known_description_is_the_published_void_ttl(client: httpx.Client, linked_build: Path) -> None:
    response = client.get("/.well-known/void")  # no Accept: Turtle, the file itself
    assert response.content == (linked_build / "void.ttl").read_bytes()
    assert client.get("/.well-known/void", headers={"If-None-Match": response.headers["etag"]}).status_code == 304
    browser = client.get("/.well-known/void", headers={"Accept": BROWSER})
    assert (browser.status_code, browser.headers["location"]) == (303, "/")
    assert client.get("/.well-known/void", headers={"Accept": "image/png"}).status_code == 406


# --- robots.txt and sitemap.xml ---------------------------------------------------------------------


def test_robots_welcomes_pages_and_keeps_crawlers_off_query_answers(client: httpx.Client) -> None:
    response = client.get("/robots.txt")
    assert response.headers["content-type"].startswith("text/plain")
    robots = Protego.parse(response.text)
    site = str(client.base_url).rstrip("/")
    for path in ("/", "/id/jaxa", "/id/jaxa.html", "/def.html", "/sparql", "/dumps/spacegraph.ttl.gz", "/void.ttl"):
        assert robots.can_fetch(site + path, "Googlebot"), path
    unwelcome = ("/sparql?query=ASK%20%7B%7D", "/sparql?example=01", "/store?default", "/search?q=x", "/fragments?p=2")
    for path in unwelcome:
        assert not robots.can_fetch(site + path, "Googlebot"), path
    assert list(robots.sitemaps) == [BASE + "sitemap.xml"]


@pytest.fixture(scope="module")
def sitemap(client: httpx.Client) -> lxml.etree._Element:
    response = client.get("/sitemap.xml")
    assert response.headers["content-type"].startswith("application/xml")
    return lxml.etree.fromstring(response.content)


@pytest.fixture(scope="module")
def pages(client: httpx.Client, sitemap: lxml.etree._Element) -> dict[str, str]:
    """Every page the sitemap lists, fetched as a browser does, by its address."""
    found = {}
    for loc in sitemap.iter(SITEMAP + "loc"):
        response = client.get(local(loc.text or ""), headers={"Accept": BROWSER})
        assert response.status_code == 200, loc.text
        assert response.headers["content-type"].startswith("text/html")
        found[loc.text or ""] = response.text
    return found


def test_the_sitemap_lists_the_landing_page_the_ontology_and_every_entity(
    sitemap: lxml.etree._Element, linked_build: Path
) -> None:
    store = ox.Store()
    store.bulk_load(path=linked_build / "spacegraph.nq", format=ox.RdfFormat.N_QUADS)
    query = (
        f'SELECT DISTINCT ?s {{ ?s ?p ?o FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{ID}") && !CONTAINS(STR(?s), "#")) }}'
    )
    entities = {row["s"].value for row in store.query(query, use_default_graph_as_union=True)}  # type: ignore[union-attr]
    assert len(entities) > 100
    locs = [loc.text for loc in sitemap.iter(SITEMAP + "loc")]
    assert locs[:2] == [BASE, BASE + "def.html"]
    assert sorted(locs[2:]) == sorted(iri + ".html" for iri in entities)
    assert {m.text for m in sitemap.iter(SITEMAP + "lastmod")} == {"2026-11-25"}  # the version's date
    first = sitemap.find(SITEMAP + "url")
    assert first is not None
    alternates = {link.get("hreflang"): link.get("href") for link in first.iter(XHTML + "link")}
    assert alternates == {"en": BASE + "?lang=en", "fr": BASE + "?lang=fr", "ja": BASE + "?lang=ja", "x-default": BASE}


def test_every_page_of_the_sitemap_names_its_address_as_canonical(pages: dict[str, str]) -> None:
    assert len(pages) > 100
    for address, page in pages.items():
        tree = lxml.html.fromstring(page)
        assert tree.xpath("//link[@rel='canonical']/@href") == [address]
        languages = dict(
            zip(tree.xpath("//link[@hreflang]/@hreflang"), tree.xpath("//link[@hreflang]/@href"), strict=True)
        )
        assert languages["x-default"] == address
        assert languages["fr"] == address + "?lang=fr"


# --- schema.org, as a search engine extracts it -----------------------------------------------------


def json_ld(page: str, address: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = extruct.extract(page, base_url=address, syntaxes=["json-ld"], uniform=True)[
        "json-ld"
    ]
    return found


def test_the_landing_page_describes_the_dataset_for_dataset_search(pages: dict[str, str]) -> None:
    (dataset,) = json_ld(pages[BASE], BASE)
    assert dataset["@type"] == "Dataset"
    assert dataset["@id"] == ID + "dataset"
    for key in ("name", "description", "license", "creator", "publisher", "dateModified", "version", "keywords"):
        assert dataset.get(key), key
    assert dataset["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert dataset["creator"] == dataset["publisher"]
    assert [agent["name"] for agent in dataset["creator"]] == ["spacegraph contributors"]  # type: ignore[attr-defined,index]
    assert {place["name"] for place in dataset["spatialCoverage"]} == {"France", "Japan"}  # type: ignore[attr-defined,index]
    assert dataset["temporalCoverage"] == "2015-10/2016"
    assert str(dataset["isBasedOn"]).startswith("https://presse.cnes.fr/en/")
    downloads = dataset["distribution"]
    assert isinstance(downloads, list) and len(downloads) == 12
    for download in downloads:
        assert download["@type"] == "DataDownload" and download["contentUrl"].startswith(BASE + "dumps/")
        assert download["encodingFormat"] and download["contentSize"].endswith(" B")


def test_every_entity_page_has_schema_org_markup_a_search_engine_extracts(pages: dict[str, str]) -> None:
    entities = {address: page for address, page in pages.items() if address.startswith(ID)}
    assert len(entities) > 100
    for address, page in entities.items():
        items = json_ld(page, address)
        assert len(items) == 1, address
        item = items[0]
        assert item["@id"] == item["url"] == address.removesuffix(".html"), address
        assert item["@type"] and item.get("name"), address


# --- the ontology, as a vocabulary catalogue reads it ------------------------------------------------

VANN = rdflib.Namespace("http://purl.org/vocab/vann/")
DCTERMS = rdflib.Namespace("http://purl.org/dc/terms/")
FOAF = rdflib.Namespace("http://xmlns.com/foaf/0.1/")


def ontology_over_http(client: httpx.Client, path: str) -> rdflib.Graph:
    response = client.get(path, headers={"Accept": "text/turtle"}, follow_redirects=True)
    assert response.status_code == 200 and response.history[0].status_code == 303
    return rdflib.Graph().parse(data=response.content, format="turtle")


def test_the_ontology_carries_what_vocabulary_catalogues_ask_for(client: httpx.Client) -> None:
    graph = ontology_over_http(client, "/def")
    ontology = rdflib.URIRef(ONTOLOGY_IRI)
    assert str(graph.value(ontology, VANN.preferredNamespacePrefix)) == "sg"
    assert str(graph.value(ontology, VANN.preferredNamespaceUri)) == DEF
    for predicate in (DCTERMS.title, DCTERMS.description, rdflib.RDFS.label, rdflib.RDFS.comment):
        languages = {o.language for o in graph.objects(ontology, predicate) if isinstance(o, rdflib.Literal)}
        assert {"en", "fr"} <= languages, predicate
    for predicate in (DCTERMS.issued, DCTERMS.modified):
        value = graph.value(ontology, predicate)
        assert isinstance(value, rdflib.Literal) and value.datatype == rdflib.XSD.date, predicate
    assert isinstance(graph.value(ontology, DCTERMS.license), rdflib.URIRef)
    version = graph.value(ontology, rdflib.OWL.versionInfo)
    assert graph.value(ontology, rdflib.OWL.versionIRI) == rdflib.URIRef(f"{DEF}{version}")
    creator = graph.value(ontology, DCTERMS.creator)
    assert creator is not None and str(graph.value(creator, FOAF.name)) == "spacegraph contributors"
    terms = {s for s in graph.subjects() if isinstance(s, rdflib.URIRef) and str(s).startswith(DEF)}
    assert len(terms) > 40
    for term in terms:
        assert graph.value(term, rdflib.RDFS.label) and graph.value(term, rdflib.RDFS.comment), term
        assert graph.value(term, rdflib.RDFS.isDefinedBy) == ontology, term


def test_the_version_iri_gives_the_ontology(client: httpx.Client) -> None:
    graph = ontology_over_http(client, "/def")
    version = str(graph.value(rdflib.URIRef(ONTOLOGY_IRI), rdflib.OWL.versionIRI))
    assert isomorphic(ontology_over_http(client, local(version)), graph)
    page = client.get(local(version), headers={"Accept": BROWSER}, follow_redirects=True)
    assert page.status_code == 200 and re.search(r"<h1[^>]*>spacegraph ontology</h1>", page.text)
