"""Reading a fragment's pattern from its URL parameters (Hydra's explicit representation) and writing it back."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from spacegraph.web.pattern import DEFAULT_GRAPH, Pattern, PatternError

XSD = "http://www.w3.org/2001/XMLSchema#"
JAXA = ox.NamedNode("https://w3id.org/spacegraph/id/jaxa")


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("https://w3id.org/spacegraph/id/jaxa", JAXA),
        ("<https://w3id.org/spacegraph/id/jaxa>", JAXA),
        ('"JAXA"', ox.Literal("JAXA")),
        ('"JAXA"@EN', ox.Literal("JAXA", language="en")),
        ('"say "hello""@en', ox.Literal('say "hello"', language="en")),  # raw quotes inside: the last one closes
        (f'"2016"^^{XSD}gYear', ox.Literal("2016", datatype=ox.NamedNode(XSD + "gYear"))),
        (f'"2016"^^<{XSD}gYear>', ox.Literal("2016", datatype=ox.NamedNode(XSD + "gYear"))),
        ('"東京"@ja', ox.Literal("東京", language="ja")),
        ("", None),
        ("?o", None),
    ],
)
def test_objects_in_the_explicit_representation(text: str, term: ox.NamedNode | ox.Literal | None) -> None:
    pattern = Pattern.read({"object": text})
    assert pattern.object == term
    if term is not None:  # written back the way it was read
        assert Pattern.read(dict(pattern.parameters())) == pattern


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"subject": '"JAXA"'}, "subject: '\"JAXA\"' is a literal; only an object can be a literal"),
        ({"graph": '"g"'}, "graph: '\"g\"' is a literal"),
        ({"subject": "_:b0"}, "subject: _:b0 is a blank node; a blank node cannot be selected"),
        ({"predicate": "label"}, "predicate: not an absolute IRI: 'label'"),
        ({"object": "http://ex.org/a b"}, "object: not an absolute IRI: 'http://ex.org/a b'"),
        ({"object": '"JAXA'}, "object: the literal '\"JAXA' has no closing quote"),
        ({"object": '"JAXA"en'}, "object: after the literal's closing quote comes 'en', not @language or ^^datatype"),
        ({"object": '"JAXA"@e n'}, "object: cannot read the literal '\"JAXA\"@e n'"),
        ({"object": '"1"^^integer'}, "object: cannot read the literal '\"1\"^^integer'"),
    ],
)
def test_a_term_that_cannot_be_read_is_refused_with_its_parameter_and_why(values: dict[str, str], message: str) -> None:
    with pytest.raises(PatternError) as raised:
        Pattern.read(values)
    assert str(raised.value).startswith(message)


def test_the_default_graph_and_the_sparql_of_each_kind_of_pattern() -> None:
    assert Pattern.read({}).where() == "GRAPH ?g { ?s ?p ?o }"
    default = Pattern.read({"graph": DEFAULT_GRAPH, "predicate": "http://ex.org/p"})
    assert default.graph == ox.DefaultGraph() and default.where() == "?s <http://ex.org/p> ?o"
    named = Pattern.read({"graph": "http://ex.org/g", "object": '"a\\b"'})
    assert named.where() == 'GRAPH <http://ex.org/g> { ?s ?p "a\\\\b" }'  # escaped as SPARQL wants
    assert named.variables == ["s", "p"]


def test_parameters_are_encoded_as_the_search_template_expands_them() -> None:
    """RFC 6570 form-style expansion, what Comunica's uritemplate sends: only unreserved characters stay."""
    pattern = Pattern.read({"subject": "https://w3id.org/spacegraph/id/jaxa", "object": '"Tokyo Bay"@en'})
    assert (
        pattern.query_string()
        == "subject=https%3A%2F%2Fw3id.org%2Fspacegraph%2Fid%2Fjaxa&object=%22Tokyo%20Bay%22%40en"
    )
    assert Pattern.read({"graph": DEFAULT_GRAPH}).query_string() == "graph=urn%3Aldf%3AdefaultGraph"
