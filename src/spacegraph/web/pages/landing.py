"""The landing page: the dataset, its source, counts, the dumps with sizes and checksums, the licence,
the example queries, and schema.org ``Dataset`` JSON-LD."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pyoxigraph as ox

from spacegraph.engine.store import Summary
from spacegraph.namespaces import BASE
from spacegraph.web.describe import Description
from spacegraph.web.pages.chrome import WORDS, Site, json_script, pick
from spacegraph.web.pages.reading import DCTERMS, OWL, SCHEMA, VOID, Labels, Reader, Value
from spacegraph.web.publication import SUMS_FILE, Example, Publication, PublishedFile


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


def landing_page(
    dataset: Description,
    release: Description,
    summary: Summary,
    publication: Publication,
    examples: Sequence[Example],
    site: Site,
    ontology: Sequence[ox.Triple] = (),
) -> LandingPage:
    language = site.language
    triples = list(dict.fromkeys([*dataset.triples, *release.triples]))
    labels = Labels(triples, language, ontology)
    reader = Reader(triples, site, labels)
    iri = dataset.iri
    title = first_literal(reader, iri, DCTERMS + "title", language)
    description = first_literal(reader, iri, DCTERMS + "description", language)
    rights = first_literal(reader, iri, DCTERMS + "rights", language)
    licenses = [o.value for o in reader.objects(iri, DCTERMS + "license") if isinstance(o, ox.NamedNode)]

    def number(subject: str, predicate: str) -> int | None:
        found = [o.value for o in reader.objects(subject, predicate) if isinstance(o, ox.Literal) and o.value.isdigit()]
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
    urls = [o.value for o in reader.objects(release_iri, SCHEMA + "url") if isinstance(o, ox.NamedNode)]
    issued = [o.value for o in reader.objects(release_iri, DCTERMS + "issued") if isinstance(o, ox.Literal)]
    publishers = [o.value for o in reader.objects(release_iri, DCTERMS + "publisher") if isinstance(o, ox.NamedNode)]
    versions = [o.value for o in reader.objects(iri, OWL + "versionInfo") if isinstance(o, ox.Literal)]
    dataset_issued = [o.value for o in reader.objects(iri, DCTERMS + "issued") if isinstance(o, ox.Literal)]
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
    jsonld: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "@id": iri,
        "name": title.value if title else "spacegraph",
        "description": description.value if description else "",
        "license": licenses[0] if licenses else None,
        "isBasedOn": urls[0] if urls else release_iri,
        "inLanguage": ["en", "fr", "ja"],
        "distribution": [
            {"@type": "DataDownload", "encodingFormat": f.media_type, "contentUrl": BASE + "dumps/" + f.name}
            for f in publication.dumps
        ],
    }
    return LandingPage(
        iri=iri,
        title=title.value if title else "spacegraph",
        description=description.value if description else None,
        description_lang=(description.language or None) if description else None,
        rights=rights.value if rights else None,
        license=Value("link", text=licenses[0], href=licenses[0], iri=licenses[0], external=True) if licenses else None,
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
        jsonld=json_script({k: v for k, v in jsonld.items() if v is not None}),
    )
