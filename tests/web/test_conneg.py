"""Content negotiation as a table: Accept header → the results format (SELECT, ASK) and the RDF format
(CONSTRUCT, DESCRIBE, graphs) chosen; ``format`` parameter → format."""

from __future__ import annotations

import pytest

from spacegraph.formats import RDF_FORMATS, RESULTS_FORMATS, by_name
from spacegraph.web.conneg import negotiate, parse_accept, quality
from spacegraph.web.sparql import RDF_ALIASES, RESULTS_ALIASES

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"

ACCEPT = [
    # header, results format, RDF format
    (None, "json", "turtle"),
    ("", "json", "turtle"),
    ("*/*", "json", "turtle"),
    ("application/sparql-results+json", "json", None),
    ("application/sparql-results+xml", "xml", None),
    ("text/csv", "csv", None),
    ("text/tab-separated-values", "tsv", None),
    ("application/sparql-results+json;q=0.5, application/sparql-results+xml", "xml", None),
    ("application/sparql-results+json; charset=utf-8", "json", None),
    ("text/*", "xml", "turtle"),  # text/xml is an alias of SPARQL XML results
    ("application/json", "json", "jsonld"),
    ("application/xml", "xml", "rdfxml"),
    ("text/xml", "xml", "rdfxml"),
    ("text/turtle", None, "turtle"),
    ("TEXT/TURTLE", None, "turtle"),
    ("application/x-turtle", None, "turtle"),
    ("text/turtle;q=0.9, application/ld+json", None, "jsonld"),
    ("application/n-triples", None, "ntriples"),
    ("text/plain", None, "ntriples"),
    ("application/rdf+xml", None, "rdfxml"),
    ("application/trig", None, "trig"),
    ("application/n-quads", None, "nquads"),
    ("application/ld+json;q=0, */*", "json", "turtle"),
    ("*/*;q=0.1, text/turtle;q=0", "json", "jsonld"),
    ("text/turtle;q=0.2, application/*;q=0.5", "json", "jsonld"),
    ("application/sparql-results+json;q=0.2, text/csv;q=0.9, */*;q=0.1", "csv", "turtle"),
    (BROWSER, "xml", "rdfxml"),
    ("image/png", None, None),
    ("text/html", None, None),
    ("application/sparql-results+json;q=0", None, None),
    ("garbage", "json", "turtle"),  # unreadable: as if absent
    ("text/turtle;q=abc", "json", "turtle"),
    ("text/turtle;q=2", "json", "turtle"),  # q out of range: entry skipped, nothing readable left
    ("*/turtle", "json", "turtle"),
]


@pytest.mark.parametrize(("accept", "results", "rdf"), ACCEPT)
def test_accept_header_chooses(accept: str | None, results: str | None, rdf: str | None) -> None:
    chosen_results = negotiate(accept, RESULTS_FORMATS)
    chosen_rdf = negotiate(accept, RDF_FORMATS)
    assert (chosen_results.name if chosen_results else None) == results
    assert (chosen_rdf.name if chosen_rdf else None) == rdf


FORMAT_PARAMETER = [
    # format=…, results format, RDF format
    ("json", "json", "jsonld"),
    ("xml", "xml", "rdfxml"),
    ("csv", "csv", None),
    ("tsv", "tsv", None),
    ("srj", "json", None),
    ("turtle", None, "turtle"),
    ("ttl", None, "turtle"),
    ("n3", None, "turtle"),
    ("nt", None, "ntriples"),
    ("ntriples", None, "ntriples"),
    ("json-ld", None, "jsonld"),
    ("jsonld", None, "jsonld"),
    ("rdf", None, "rdfxml"),
    ("rdf+xml", None, "rdfxml"),
    ("trig", None, "trig"),
    ("nq", None, "nquads"),
    ("application/n-quads", None, "nquads"),
    ("application/sparql-results+json", "json", None),
    ("text/csv", "csv", None),
    (" JSON ", "json", "jsonld"),
    ("html", None, None),
]


@pytest.mark.parametrize(("name", "results", "rdf"), FORMAT_PARAMETER)
def test_format_parameter_chooses(name: str, results: str | None, rdf: str | None) -> None:
    chosen_results = by_name(name, RESULTS_FORMATS, RESULTS_ALIASES)
    chosen_rdf = by_name(name, RDF_FORMATS, RDF_ALIASES)
    assert (chosen_results.name if chosen_results else None) == results
    assert (chosen_rdf.name if chosen_rdf else None) == rdf


def test_most_specific_range_gives_the_quality() -> None:
    ranges = parse_accept("text/*;q=0.3, text/turtle;q=0.7, */*;q=0.1")
    assert quality(ranges, "text/turtle") == 0.7
    assert quality(ranges, "text/csv") == 0.3
    assert quality(ranges, "application/json") == 0.1
    assert quality(parse_accept("text/csv"), "application/json") == 0.0
    assert quality(parse_accept("text/turtle;q=0, */*"), "text/turtle", "application/x-turtle") == 0.0


def test_unreadable_entries_are_skipped() -> None:
    ranges = parse_accept("nonsense, text/turtle;q=x, application/ld+json;q=0.4, */json, ;q=1")
    assert [(r.type, r.subtype, r.q) for r in ranges] == [("application", "ld+json", 0.4)]
