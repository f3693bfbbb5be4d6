"""The one reading of a query text: form, nesting, SERVICE calls, volatility, and where it cannot be read.

The SERVICE cases are also run end to end, with a listener, in ``test_security.py``; here each fact the
request path takes from the analysis is pinned on its own, including the places where strings, IRIs and
comments hide what would otherwise count."""

from __future__ import annotations

import subprocess
import sys

import pytest

from spacegraph.engine.analysis import SHALLOW, analyse, read_simple, tokens
from spacegraph.web.limits import MAX_NESTING, too_deep

WIKIDATA = "https://query.wikidata.org/sparql"


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("SELECT * { ?s ?p ?o }", "select"),
        ("ask {}", "ask"),
        ("PREFIX ex: <http://example.org/> CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", "construct"),
        ("BASE <http://example.org/> DESCRIBE <a>", "describe"),
        ("# a comment first\nSELECT * {}", "select"),
        ("INSERT DATA { <x:a> <x:b> <x:c> }", "update"),
        ("PREFIX a: <http://x/#> # comment\n BASE <http://y/> delete where { ?s ?p ?o }", "update"),
        ("WITH <http://g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }", "update"),
        ("LOAD <http://example.org/data.ttl>", "update"),
        ("PREFIX insert: <http://x/> SELECT * { insert:a ?p ?o }", "select"),
        ("", None),
        ("{ ?s ?p ?o }", None),
        ("SELECT * { ?s ?p 'unterminated", "select"),  # the prologue and keyword were read
    ],
)
def test_form(text: str, form: str | None) -> None:
    assert analyse(text).form == form


def test_kind_is_what_the_access_log_writes() -> None:
    assert analyse("select * {}").kind == "SELECT"
    assert analyse("CLEAR ALL").kind == "UPDATE"
    assert analyse("nonsense").kind == "unknown"


DEEP = "{ " * SHALLOW + "?s ?p ?o " + "} " * SHALLOW  # enough groups to be read whole


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (f"SELECT * {{ {DEEP} }}", SHALLOW + 1),
        (f"SELECT * {{ {DEEP} {{ ?s ?p [ ?q ( 1 2 ) ] }} }}", SHALLOW + 1),
        ('SELECT * { ?s ?p "' + "{" * 20 + '" }', 1),  # in a string
        ("SELECT * { ?s ?p ?o } # " + "{" * 20, 1),  # in a comment
        ("SELECT * { ?s <http://x/" + "(" * 20 + "> ?o }", 1),  # in an IRI
        ("SELECT * { ?s ?p '''" + "{\n" * 20 + "''' }", 1),  # in a long string
        (f"SELECT * }} }} }} {DEEP}", SHALLOW),  # closing more than opened counts nothing
    ],
)
def test_depth_counts_only_what_the_parser_nests(text: str, depth: int) -> None:
    assert analyse(text).depth == depth


def test_a_shallow_text_is_not_read_whole_and_its_groups_bound_its_depth() -> None:
    analysis = analyse("SELECT * { ?s ?p [ ?q ( 1 2 ) ] } # \\ not read")
    assert (analysis.form, analysis.depth, analysis.unreadable) == ("select", 3, None)


def test_an_unreadable_text_is_counted_on_its_raw_characters() -> None:
    text = f"SELECT * {{ \\u0020 {DEEP} }}"
    analysis = analyse(text)
    assert analysis.unreadable is not None and "1:12" in analysis.unreadable
    assert analysis.depth == SHALLOW + 1


def test_the_nesting_limit_takes_the_depth() -> None:
    assert too_deep(analyse("SELECT * " + "{" * MAX_NESTING + "}" * MAX_NESTING)) is None
    message = too_deep(analyse("SELECT * " + "{" * (MAX_NESTING + 1) + "}" * (MAX_NESTING + 1)))
    assert message is not None and str(MAX_NESTING) in message
    # a string full of braces is no nesting at all
    assert too_deep(analyse("SELECT * { ?s ?p '" + "{" * 1000 + "' }")) is None


@pytest.mark.parametrize(
    ("text", "volatile"),
    [
        ("SELECT (RAND() AS ?r) {}", True),
        ("SELECT (now ( ) AS ?t) {}", True),
        ("SELECT ?s { ?s ?p ?o BIND(STRUUID() AS ?u) }", True),
        ("SELECT ?s { BIND(UUID() AS ?u) BIND(BNODE() AS ?b) }", True),
        ("SELECT ?s { BIND(\\u0052AND() AS ?r) }", True),  # unreadable: looked for with escapes applied
        (f"SELECT * {{ SERVICE <{WIKIDATA}> {{ ?s ?p ?o }} }}", True),
        ("SELECT * { ?s ?p ?o }", False),
        ("SELECT * { ?s ?p 'rand()' }", False),  # in a string
        ("SELECT * { ?s ?p ?o } # now()", False),  # in a comment
        ("PREFIX ex: <http://example.org/> SELECT (ex:now() AS ?n) {}", False),  # a function of its own
        ("SELECT ?random { ?random ?p ?o }", False),
    ],
)
def test_volatile(text: str, volatile: bool) -> None:
    assert analyse(text).volatile is volatile


def test_service_calls_are_resolved_and_placed() -> None:
    text = "PREFIX wd: <https://query.wikidata.org/>\nSELECT *\nWHERE {\n  SERVICE SILENT wd:sparql { SERVICE ?x {} } }"
    analysis = analyse(text)
    assert analysis.mentions_service and analysis.unreadable is None
    assert [(c.target, c.silent, c.nested, c.line, c.column) for c in analysis.services] == [
        (WIKIDATA, True, False, 4, 3),
        ("?x", False, True, 4, 30),
    ]


@pytest.mark.parametrize(
    "text",
    [
        f"SELECT * {{ SERVICE<{WIKIDATA}>{{}} }}",
        f"SELECT * {{ SERVICESILENT<{WIKIDATA}>{{}} }}",
        "PREFIX wd: <https://query.wikidata.org/> SELECT * { SERVICEwd:sparql {} }",
        "PREFIX wd: <https://query.wikidata.org/> SELECT * { SERVICE SILENTwd:sparql {} }",
        "BASE <https://query.wikidata.org/x/> SELECT * { SERVICE <../sparql> {} }",
        "SELECT * { SERVICE <https://query.wikidata.org/\\u0073parql> {} }",
        f"select * {{ sErViCe <{WIKIDATA}> {{}} }}",
    ],
)
def test_every_spelling_of_service_is_found(text: str) -> None:
    assert [call.target for call in analyse(text).services] == [WIKIDATA]


@pytest.mark.parametrize(
    "text",
    [
        'SELECT * { ?s ?p "customer service" }',
        "SELECT * { ?s <http://example.org/service> ?o }",
        "SELECT * { ?service ?p ?o }",
        "SELECT * { ?s ?p ?o } # SERVICE <http://127.0.0.1/> {}",
    ],
)
def test_service_in_strings_iris_variables_and_comments_is_no_call(text: str) -> None:
    analysis = analyse(text)
    assert analysis.mentions_service and analysis.unreadable is None and analysis.services == ()


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("SELECT * { ?s ?p 'unterminated service }", "1:18"),
        (f"SELECT * {{ FILTER(?a<?b#>\n) SERVICE <{WIKIDATA}> {{}} }}", "1:21"),  # "<…#>": IRI or operator?
        ("PREFIX service: <http://example.org/> SELECT * { service:x ?p ?o }", "1:8"),  # read as SERVICE :
    ],
)
def test_what_cannot_be_read_surely_is_marked_with_its_place(text: str, where: str) -> None:
    analysis = analyse(text)
    assert analysis.unreadable is not None and where in analysis.unreadable
    assert analysis.services == ()


def test_tokens_drop_whitespace_and_comments_and_keep_offsets() -> None:
    text = "SELECT ?s # what\nWHERE { ?s <x:p> 'a' }"
    assert tokens(text) == [
        ("word", "SELECT", 0),
        ("var", "?s", 7),
        ("word", "WHERE", 17),
        ("punct", "{", 23),
        ("var", "?s", 25),
        ("iri", "<x:p>", 28),
        ("string1", "'a'", 34),
        ("punct", "}", 38),
    ]


def test_hash_iris_are_marked_for_the_rdflib_cross_check() -> None:
    text = f"PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> SELECT * {{ SERVICE <{WIKIDATA}> {{}} }}"
    assert analyse(text).hash_iri_ends == (text.index("#>") + 2,)


def test_unterminated_iris_and_strings_are_read_in_linear_time() -> None:
    """No pattern of the lexer backtracks: an unterminated 64 KiB IRI or string is rejected at once
    (a nested quantifier here once made the fuzz tests hang). Bounded by a subprocess's timeout."""
    code = (
        "from spacegraph.engine.analysis import analyse\n"
        "for opener in ('<', \"'\", '\"', \"'''\", '\"\"\"'):\n"
        "    for body in ('a' * 65000, 'a\\\\u0041' * 10000):\n"
        "        analyse('SELECT * { ?s ?p ' + opener + body)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


# --- the simplest queries (read_simple): what may be evaluated at once ---------------------------------

EX = "http://example.org/"
SIMPLE = [
    (f"SELECT ?p ?o WHERE {{ <{EX}s> ?p ?o }}", "select", [(f"{EX}s", None, None)], False),
    (
        f"PREFIX ex: <{EX}> SELECT DISTINCT ?p WHERE {{ ex:s ?p ?o ; a ?c , ex:C . ex:t ex:p 'a'@en, \"b\"^^ex:T, 3 }}",
        "select",
        [
            (f"{EX}s", None, None),
            (f"{EX}s", "http://www.w3.org/1999/02/22-rdf-syntax-ns#type", None),
            (f"{EX}s", "http://www.w3.org/1999/02/22-rdf-syntax-ns#type", f"{EX}C"),
            (f"{EX}t", f"{EX}p", None),
            (f"{EX}t", f"{EX}p", None),
            (f"{EX}t", f"{EX}p", None),
        ],
        True,
    ),
    (f"ask {{ <{EX}s> <{EX}p> true }}", "ask", [(f"{EX}s", f"{EX}p", None)], False),
    (f"SELECT * {{ <{EX}s> ?p ?o ; }} LIMIT 10", "select", [(f"{EX}s", None, None)], False),
    (f"SELECT * {{ <{EX}s> ?p ?o }} LIMIT 10 OFFSET 5 # a comment\n", "select", [(f"{EX}s", None, None)], True),
    (f"PREFIX : <{EX}> SELECT ?o {{ :s :p ?o . }}", "select", [(f"{EX}s", f"{EX}p", None)], False),
]


@pytest.mark.parametrize(("text", "form", "patterns", "dropping"), SIMPLE)
def test_the_simplest_queries_are_read_with_their_patterns(
    text: str, form: str, patterns: list[tuple[str, str | None, str | None]], dropping: bool
) -> None:
    """What ``read_simple`` says agrees with ``analyse`` (form, no SERVICE, nothing volatile, readable),
    and pyoxigraph reads the text too."""
    import pyoxigraph as ox

    simple = read_simple(text)
    assert simple is not None and simple.simple is not None
    assert (simple.simple.form, list(simple.simple.patterns), simple.simple.dropping) == (form, patterns, dropping)
    general = analyse(text)
    assert (simple.form, simple.volatile, simple.services, simple.unreadable, simple.mentions_service) == (
        general.form,
        general.volatile,
        general.services,
        general.unreadable,
        general.mentions_service,
    )
    assert simple.depth == 1 and not too_deep(simple)
    ox.Store().query(text)  # no syntax error


@pytest.mark.parametrize(
    "text",
    [
        "SELECT ?p ?o WHERE { ?s ?p ?o }",  # a variable subject
        f"SELECT ?p ?o WHERE {{ <{EX}s> ?p ?o FILTER(?o) }}",
        f"SELECT ?p ?o WHERE {{ <{EX}s> ?p ?o OPTIONAL {{ ?o ?q ?r }} }}",
        f"SELECT ?p ?o WHERE {{ GRAPH ?g {{ <{EX}s> ?p ?o }} }}",
        f"SELECT ?p ?o WHERE {{ <{EX}s> ?p ?o }} ORDER BY ?o",
        f"SELECT ?p ?o FROM <{EX}g> WHERE {{ <{EX}s> ?p ?o }}",
        f"SELECT (COUNT(*) AS ?n) WHERE {{ <{EX}s> ?p ?o }}",
        f"SELECT ?o WHERE {{ <{EX}s> <{EX}p>/<{EX}q> ?o }}",  # a path
        f"SELECT ?o WHERE {{ <{EX}s> <{EX}p>* ?o }}",
        f"SELECT ?p WHERE {{ <{EX}s> ?p [ ?q ?r ] }}",  # a blank node
        "SELECT ?p WHERE { _:b ?p ?o }",
        f"CONSTRUCT {{ <{EX}s> ?p ?o }} WHERE {{ <{EX}s> ?p ?o }}",
        f"DESCRIBE <{EX}s>",
        "SELECT ?p ?o WHERE { <s> ?p ?o }",  # a relative IRI
        f"BASE <{EX}> SELECT ?p ?o WHERE {{ <s> ?p ?o }}",
        "SELECT ?p ?o WHERE { ex:s ?p ?o }",  # a prefix not declared
        f"PREFIX ex: <{EX}> SELECT ?p ?o WHERE {{ ex:s\\-t ?p ?o }}",  # an escape
        f"SELECT ?p ?o WHERE {{ <{EX}service> ?p ?o }}",  # the word SERVICE, anywhere
        f"SELECT ?p ?o WHERE {{ <{EX}s> ?p ?o",  # unfinished
        f"SELECT ?p ?o WHERE {{ <{EX}s> ?p ?o <{EX}t> ?q ?r }}",  # no dot between triples
        f"SELECT ?p ?o WHERE {{ <{EX}s> ?p ?o }} LIMIT",
        f"SELECT ?p ?o WHERE {{ <{EX}s> ?p ?o }} VALUES ?p {{ <{EX}p> }}",
        f"SELECT ?p ?o WHERE {{ <{EX}s> ?p ?o }} ~",  # a character no terminal starts with
        f"INSERT DATA {{ <{EX}s> <{EX}p> <{EX}o> }}",
    ],
)
def test_anything_else_is_not_read_as_simple(text: str) -> None:
    assert read_simple(text) is None
