"""Every quote is the press release's own words at its offsets, and added knowledge stays apart."""

from __future__ import annotations

import hashlib
import re

import pyoxigraph as ox

from spacegraph.namespaces import DATA_GRAPH, ENRICHMENT_GRAPH, ID
from spacegraph.publish.graph import LoadedGraph

OA = "http://www.w3.org/ns/oa#"
SG = "https://w3id.org/spacegraph/def/"
SPDX = "http://spdx.org/rdf/terms#"
QUOTES = f"""
PREFIX oa: <{OA}>
SELECT ?quote ?exact ?start ?end WHERE {{
  ?quote a oa:SpecificResource ; oa:hasSelector ?t , ?p .
  ?t a oa:TextQuoteSelector ; oa:exact ?exact .
  ?p a oa:TextPositionSelector ; oa:start ?start ; oa:end ?end .
}}"""


def test_every_quote_matches_the_source_text_at_its_offsets(loaded: LoadedGraph, source_bytes: bytes) -> None:
    text = source_bytes.decode("utf-8")
    rows = list(loaded.store.query(QUOTES, use_default_graph_as_union=True))  # type: ignore[union-attr]
    assert len(rows) >= 25
    for row in rows:
        start, end = int(row["start"].value), int(row["end"].value)
        assert text[start:end] == row["exact"].value, (
            f"{row['quote'].value} does not match the text at [{start}, {end})"
        )


def test_the_source_text_is_the_one_the_offsets_count_into(loaded: LoadedGraph, source_bytes: bytes) -> None:
    query = f"""PREFIX spdx: <{SPDX}> PREFIX schema: <https://schema.org/>
        SELECT ?value ?size WHERE {{ <{ID}press-release-text> spdx:checksum/spdx:checksumValue ?value ;
                                     schema:contentSize ?size }}"""
    (row,) = list(loaded.store.query(query, use_default_graph_as_union=True))  # type: ignore[arg-type]
    assert row["value"].value == hashlib.sha256(source_bytes).hexdigest()
    assert row["size"].value == f"{len(source_bytes)} bytes"


def test_the_statement_is_the_quoted_words(loaded: LoadedGraph, source_bytes: bytes) -> None:
    text = source_bytes.decode("utf-8")
    quoted = text[text.index("\u201c") + 1 : text.index("\u201d")]
    (statement,) = loaded.store.quads_for_pattern(
        ox.NamedNode(ID + "le-gall-statement-2016-07-22"), ox.NamedNode("https://schema.org/text"), None
    )
    assert statement.object.value == re.sub(r"\s+", " ", quoted).strip()


def test_evidence_quotes_come_only_from_the_data_graph(loaded: LoadedGraph) -> None:
    evidence = ox.NamedNode(SG + "evidence")
    assert list(loaded.store.quads_for_pattern(None, evidence, None, ENRICHMENT_GRAPH)) == []
    assert len(list(loaded.store.quads_for_pattern(None, evidence, None, DATA_GRAPH))) > 100


def test_every_added_statement_names_its_source(loaded: LoadedGraph) -> None:
    source = ox.NamedNode("http://purl.org/dc/terms/source")
    same_as = ox.NamedNode("http://www.w3.org/2002/07/owl#sameAs")
    subjects = {q.subject for q in loaded.quads(ENRICHMENT_GRAPH) if q.predicate != same_as}
    unsourced = [s for s in subjects if not list(loaded.store.quads_for_pattern(s, source, None, ENRICHMENT_GRAPH))]
    assert unsourced == []
