"""The landing page: the dataset, its source, counts, the dumps with sizes and checksums, the licence,
the example queries, and schema.org ``Dataset`` JSON-LD."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pyoxigraph as ox

from spacegraph.engine.store import Summary
from spacegraph.namespaces import PREFIXES
from spacegraph.web.describe import Description
from spacegraph.web.pages.chrome import WORDS, Site, json_script, pick
from spacegraph.web.pages.reading import DCAT, DCTERMS, LABEL, OWL, SCHEMA, VOID, Labels, Reader, Value
from spacegraph.web.publication import SUMS_FILE, Example, Publication, PublishedFile

FOAF = PREFIXES["foaf"]


def example_links(examples: Sequence[Example], site: Site) -> list[dict[str, str]]:
    links = []
    for example in examples:
        links.append(
            {
                "name": example.name,
                "question": example.question,
                "explanation": example.explanation,
                "text": example.text,
                "run": site.path("/sparql", example=example.name),
                "json": site.root + "/sparql?" + urlencode({"query": example.text, "format": "json"}),
                "csv": site.root + "/sparql?" + urlencode({"query": example.text, "format": "csv"}),
            }
        )
    return links


def dumps_rows(files: Sequence[PublishedFile], site: Site) -> list[dict[str, Any]]:
    return [
        {
            "name": f.name,
            "title": f.title or f.name,
            "href": site.root + "/dumps/" + f.name,
            "size": f.size,
            "sha256": f.sha256,
            "media_type": f.media_type,
        }
        for f in files
    ]


@dataclass
class LandingPage:
    iri: str
    title: str
    description: str | None
    description_lang: str | None
    rights: str | None
    license: Value | None
    version: str | None
    issued: str | None
    release: Value  # our resource for the press release
    release_url: str | None  # where CNES publishes it
    release_issued: str | None
    publisher: Value | None
    counts: list[tuple[int, str]]
    graphs: list[tuple[Value, int]]
    dumps: list[dict[str, Any]]
    files: list[dict[str, Any]]  # void.ttl, ontology.svg, SHA256SUMS
    examples: list[dict[str, str]]
    explore: list[Value]
    jsonld: str


def first_literal(reader: Reader, iri: str, predicate: str, language: str) -> ox.Literal | None:
    return pick((o for o in reader.objects(iri, predicate) if isinstance(o, ox.Literal)), language)


def licence_of(dataset: Description) -> str | None:
    """The IRI of the dataset's licence (an entry of the EU licence table, which the page links by its
    ``foaf:page``, the licence's own text)."""
    found = sorted(
        t.object.value
        for t in dataset.triples
        if t.subject == ox.NamedNode(dataset.iri)
        and t.predicate.value == DCTERMS + "license"
        and isinstance(t.object, ox.NamedNode)
    )
    return found[0] if found else None


def landing_page(
    dataset: Description,
    release: Description,
    summary: Summary,
    publication: Publication,
    examples: Sequence[Example],
    site: Site,
    ontology: Sequence[ox.Triple] = (),
    licence: Description | None = None,
) -> LandingPage:
    language = site.language
    triples = list(dict.fromkeys([*dataset.triples, *release.triples, *(licence.triples if licence else ())]))
    labels = Labels(triples, language, ontology)
    reader = Reader(triples, site, labels)
    iri = dataset.iri

    Node = ox.NamedNode | ox.BlankNode

    def objects(subject: Node | str, predicate: str) -> list[object]:
        node = ox.NamedNode(subject) if isinstance(subject, str) else subject
        return [t.object for t in reader.by_subject.get(node, []) if t.predicate.value == predicate]

    def nodes(subject: Node | str, predicate: str) -> list[Node]:
        found = [o for o in objects(subject, predicate) if isinstance(o, ox.NamedNode | ox.BlankNode)]
        return sorted(found, key=str)

    def iris(subject: Node | str, predicate: str) -> list[str]:
        return [o.value for o in nodes(subject, predicate) if isinstance(o, ox.NamedNode)]

    def texts(subject: Node | str, predicate: str) -> list[str]:
        return sorted(o.value for o in objects(subject, predicate) if isinstance(o, ox.Literal))

    def literal(subject: Node, predicate: str) -> ox.Literal | None:
        return pick((o for o in objects(subject, predicate) if isinstance(o, ox.Literal)), language)

    title = first_literal(reader, iri, DCTERMS + "title", language)
    description = first_literal(reader, iri, DCTERMS + "description", language)
    rights = next(
        (r for node in iris(iri, DCTERMS + "rights") if (r := first_literal(reader, node, LABEL, language))), None
    )
    licence_iri = licence_of(dataset)
    licence_page = next(iter(iris(licence_iri, FOAF + "page")), licence_iri) if licence_iri else None

    def number(subject: str, predicate: str) -> int | None:
        found = [value for value in texts(subject, predicate) if value.isdigit()]
        return int(found[0]) if found else None

    words = WORDS[language]
    counts = [
        (value, words[word])
        for value, word in (
            (number(iri, VOID + "triples"), "triples"),
            (number(iri, VOID + "entities"), "entities"),
            (number(iri, VOID + "classes"), "classes"),
            (number(iri, VOID + "properties"), "properties"),
            (number(iri + "#wikidata-links", VOID + "triples"), "links"),
        )
        if value is not None
    ]
    release_iri = release.iri
    urls = iris(release_iri, SCHEMA + "url")
    issued = texts(release_iri, DCTERMS + "issued")
    publishers = iris(release_iri, DCTERMS + "publisher")
    versions = texts(iri, OWL + "versionInfo")
    dataset_issued = texts(iri, DCTERMS + "issued")
    modified = sorted(texts(iri, DCTERMS + "modified") + dataset_issued)
    explore = sorted(
        (reader.link(o.value) for o in reader.objects(iri, VOID + "exampleResource") if isinstance(o, ox.NamedNode)),
        key=lambda v: v.text.casefold(),
    )
    all_files = dumps_rows(list(publication.files.values()), site)
    dump_names = {f.name for f in publication.dumps}
    extra = [row for row in all_files if row["name"] not in dump_names]
    sums = publication.path(SUMS_FILE)
    if sums is not None:
        extra.append({"name": SUMS_FILE, "title": SUMS_FILE, "href": site.root + "/dumps/" + SUMS_FILE,
                      "size": sums.stat().st_size, "sha256": "", "media_type": "text/plain"})  # fmt: skip

    def agent(node: str) -> dict[str, Any]:
        homepage = iris(node, FOAF + "homepage")
        return {
            "@type": "Organization",
            "@id": node,
            "name": labels.text(node),
            "url": homepage[0] if homepage else None,
        }

    period = next(iter(nodes(iri, DCTERMS + "temporal")), None)
    bounds = [texts(period, DCAT + p) for p in ("startDate", "endDate")] if period else [[], []]
    keywords = sorted({k for k in texts(iri, DCAT + "keyword")})
    jsonld: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "@id": iri,
        "url": site.address("/", explicit=False),
        "name": title.value if title else "spacegraph",
        "description": description.value if description else "",
        "identifier": iri,
        "license": licence_page,
        "creator": [agent(a) for a in iris(iri, DCTERMS + "creator")] or None,
        "publisher": [agent(a) for a in iris(iri, DCTERMS + "publisher")] or None,
        "datePublished": dataset_issued[0] if dataset_issued else None,
        "dateModified": modified[-1] if modified else None,
        "version": versions[0] if versions else None,
        "keywords": keywords or None,
        "inLanguage": ["en", "fr", "ja"],
        "spatialCoverage": [
            {"@type": "Place", "@id": p, "name": labels.text(p)} for p in iris(iri, DCTERMS + "spatial")
        ]
        or None,
        "temporalCoverage": f"{bounds[0][0]}/{bounds[1][0]}" if bounds[0] and bounds[1] else None,
        "isBasedOn": urls[0] if urls else release_iri,
        "distribution": [
            {
                "@type": "DataDownload",
                "name": f.title,
                "encodingFormat": f.media_type,
                "contentUrl": site.address("/dumps/" + f.name, explicit=False),
                "contentSize": f"{f.size} B",
            }
            for f in publication.dumps
        ],
    }
    return LandingPage(
        iri=iri,
        title=title.value if title else "spacegraph",
        description=description.value if description else None,
        description_lang=(description.language or None) if description else None,
        rights=rights.value if rights else None,
        license=Value("link", text=labels.text(licence_iri), href=licence_page, iri=licence_iri, external=True)
        if licence_iri and licence_page
        else None,
        version=versions[0] if versions else None,
        issued=dataset_issued[0] if dataset_issued else None,
        release=reader.link(release_iri),
        release_url=urls[0] if urls else None,
        release_issued=issued[0] if issued else None,
        publisher=reader.link(publishers[0]) if publishers else None,
        counts=counts,
        graphs=[(reader.link(g.name), g.triples) for g in summary.graphs],
        dumps=[row for row in all_files if row["name"] in dump_names],
        files=extra,
        examples=example_links(examples, site),
        explore=explore,
        jsonld=json_script(without_empty(jsonld)),
    )


def without_empty(document: dict[str, Any]) -> dict[str, Any]:
    """The JSON-LD without the keys that have no value, at any depth."""
    cleaned: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            value = without_empty(value)
        elif isinstance(value, list):
            value = [without_empty(v) if isinstance(v, dict) else v for v in value]
        if value is not None:
            cleaned[key] = value
    return cleaned
