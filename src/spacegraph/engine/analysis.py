"""One reading of a query text: everything the request path needs to know about it before evaluation.

``analyse(text)`` lexes the text once, following the SPARQL 1.1 terminals (§19.8), and gives an
``Analysis``: the query's form (``select``, ``ask``, ``construct``, ``describe``, or ``update`` for any
SPARQL Update operation: the first keyword after the ``PREFIX`` and ``BASE`` declarations), how deep
``{ }``, ``[ ]`` and ``( )`` nest in it, every place a ``SERVICE`` keyword can start with its target
resolved against ``PREFIX`` and ``BASE``, and whether it calls a function whose answer changes between
runs (``RAND``, ``NOW``, ``UUID``, ``STRUUID``, ``BNODE``) or names a ``SERVICE``. Strings, IRIs and
comments are read once, here, by one idea of where each ends; the request limits (nesting), the SERVICE
policy (``security.check_services``), caching (volatile answers), the backends and the access log (the
form) all take this result.

The lexer is conservative where pyoxigraph could read the text differently:

- a keyword glued to what follows it (``SERVICEex:x``, ``SERVICESILENT``) is split the way pyoxigraph
  reads it (it matches keywords without a word boundary);
- ``<`` is ambiguous inside an expression: after an operand within parentheses it may be "less than",
  and what a lexer takes for an IRI (``<?b)#>``) a parser may read as an operator, a variable and a
  comment. There, a would-be IRI holding ``#``, ``'`` or "service" makes the text *unreadable*;
- so does any character no terminal can start with (a ``\\u`` escape outside an IRI or a string, say).

An unreadable text still gets a form (when its prologue could be read), a nesting depth (counted on the
raw characters, which can only count more) and a volatility (looked for in the raw text, escapes
applied, which can only find more); only its SERVICE calls are unknown, and the policy refuses it if it
mentions SERVICE at all.

Most queries need only their first keyword read: a text is lexed whole only when something can depend
on it — it mentions SERVICE, the name of a volatile function followed by ``(`` appears in it, or it opens
more than ``SHALLOW`` groups (then its nesting must be counted). These tests on the raw text can only
say "read it whole"; every answer comes from the tokens. Measured here (``timeit``, medians of 7): a
point lookup 7 µs, competency query 01 (719 characters) 54 µs, a federated query 149 µs.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import urljoin

FORMS = frozenset({"select", "ask", "construct", "describe"})
UPDATE_KEYWORDS = frozenset({"insert", "delete", "load", "clear", "drop", "create", "add", "move", "copy", "with"})
VOLATILE_FUNCTIONS = frozenset({"rand", "now", "uuid", "struuid", "bnode"})
OPENING, CLOSING = frozenset("{[("), frozenset("}])")
SERVICE, SILENT = "service", "silent"
SHALLOW = 16  # a text that opens at most this many groups need not be lexed whole for its nesting


@dataclass(frozen=True)
class ServiceCall:
    target: str  # resolved IRI, or "?var"
    silent: bool
    nested: bool
    line: int
    column: int


RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
LITERALS = frozenset({"string1", "string2", "long1", "long2", "number"})
Pattern = tuple[str, str | None, str | None]  # subject IRI; predicate and object IRIs, None where not an IRI


@dataclass(frozen=True)
class Simple:
    """A query of the simplest shape (``read_simple``): its triple patterns, and whether rows may be dropped
    after being made (DISTINCT, REDUCED, OFFSET), so that fewer come out than are made."""

    form: str  # select or ask
    patterns: tuple[Pattern, ...]
    dropping: bool


@dataclass(frozen=True)
class Analysis:
    """What one reading of a query text found (see the module's docstring)."""

    text: str
    form: str | None  # select, ask, construct, describe, update; None: no query keyword could be read
    depth: int  # how deep { [ ( nest; for a text opening at most SHALLOW of them, that number (see analyse)
    mentions_service: bool  # some reading of the text (escapes applied or not) holds the word "service"
    services: tuple[ServiceCall, ...]  # every SERVICE call, when the text mentions SERVICE and is readable
    unreadable: str | None  # why the text cannot be read with certainty, with the line and column; or None
    volatile: bool  # two runs can give different answers: a volatile function or a SERVICE call
    hash_iri_ends: tuple[int, ...] = ()  # where IRIs holding "#" end, when the text mentions SERVICE
    simple: Simple | None = None  # a query of the simplest shape, as ``read_simple`` reads it

    @property
    def kind(self) -> str:
        """The form as the access log writes it: SELECT, ASK, CONSTRUCT, DESCRIBE, UPDATE, or unknown."""
        return self.form.upper() if self.form else "unknown"


# --- the lexer ----------------------------------------------------------------------------------------

_PN_CHARS_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_PN_CHARS_U = _PN_CHARS_BASE + "_"
_PN_CHARS = _PN_CHARS_U + r"\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_PN_PREFIX = rf"[{_PN_CHARS_BASE}](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"
_PN_LOCAL = rf"(?:[{_PN_CHARS_U}:0-9]|{_PLX})(?:(?:[{_PN_CHARS}.:]|{_PLX})*(?:[{_PN_CHARS}:]|{_PLX}))?"
_ECHAR = r"\\[tbnrf\\\"']"
_UCHAR = r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"

# Each terminal, in the order they are tried when several can start with the same character.
_TERMINALS = (
    ("ws", r"[\x20\t\r\n]+"),
    ("comment", r"\#[^\r\n]*"),
    ("iri", rf"<(?:[^<>\"{{}}|^`\\\x00-\x20]++|{_UCHAR})*+>"),
    ("long1", rf"'''(?:(?:'|'')?(?:[^'\\]|{_ECHAR}))*'''"),
    ("long2", rf"\"\"\"(?:(?:\"|\"\")?(?:[^\"\\]|{_ECHAR}))*\"\"\""),
    ("string1", rf"'(?:[^'\\\n\r]++|{_ECHAR})*+'"),
    ("string2", rf"\"(?:[^\"\\\n\r]++|{_ECHAR})*+\""),
    ("var", rf"[?$][{_PN_CHARS_U}0-9][{_PN_CHARS_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*"),
    ("bnode", rf"_:[{_PN_CHARS_U}0-9](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"),
    # a prefixed name; the look-ahead (a run of name characters, then a colon) spares the backtracking
    # of a full attempt on every plain word
    ("pname", rf"(?=[{_PN_CHARS}.]*+:)(?:{_PN_PREFIX})?:(?:{_PN_LOCAL})?"),
    ("langtag", r"@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*"),
    ("number", r"[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?"),
    ("word", rf"[{_PN_CHARS_BASE}][{_PN_CHARS}]*"),
    ("punct", r"\^\^|&&|\|\||!=|<=|>=|[{}()\[\].,;=<>!+\-*/^|?$@]"),
)


@functools.cache
def token_pattern() -> re.Pattern[str]:
    """The terminals as one expression, compiled when first needed: its Unicode classes take tens of
    milliseconds to compile, which a process that never reads a query need not spend."""
    return re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _TERMINALS))


_OPERAND_ENDS = frozenset(
    {"var", "iri", "pname", "bnode", "long1", "long2", "string1", "string2", "number", "langtag", "word"}
)
# Characters that, read outside an IRI, could start a comment or a string and shift everything after.
_AMBIGUOUS_INSIDE = re.compile(r"[#']|service", re.IGNORECASE)
_UCHAR_RE = re.compile(_UCHAR)
_PLX_ESCAPE = re.compile(r"\\(.)")
_CODEPOINT_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_VOLATILE_CALL = re.compile(r"\b(?:rand|now|uuid|struuid|bnode)\s*\(")

Token = tuple[str, str, int]  # kind, text, offset


class Unreadable(Exception):
    def __init__(self, message: str, tokens: list[Token]) -> None:
        super().__init__(message)
        self.tokens = tokens  # what was read before


def place(text: str, offset: int) -> tuple[int, int]:
    """Line and column (from 1) of an offset."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def tokens(text: str, whole: bool = True) -> list[Token]:
    """The text's tokens, whitespace and comments dropped; Unreadable where it cannot be read surely.
    With ``whole`` false, only the prologue and the first keyword after it."""
    pattern = token_pattern()
    prologue = 0 if whole else 1  # tokens still to read before the next keyword (0: read on to the end)
    found: list[Token] = []
    parens = [0]  # open parentheses, per brace level
    previous = ""
    position = 0
    end = len(text)
    while position < end:
        glued = False
        for match in pattern.finditer(text, position):
            if match.start() != position:
                break  # a character no terminal starts with
            kind = match.lastgroup or ""
            token = match.group()
            if kind == "ws" or kind == "comment":
                position = match.end()
                continue
            if kind == "iri":
                if parens[-1] > 0 and previous in _OPERAND_ENDS and _AMBIGUOUS_INSIDE.search(token):
                    line, column = place(text, position)
                    raise Unreadable(f"the text at {line}:{column} could be read as an IRI or as an operator", found)
            elif (kind == "word" or kind == "pname") and len(token) > 7 and token[:7].casefold() == SERVICE:
                found.append(("word", token[:7], position))  # SERVICEex:x, SERVICESILENT: split as pyoxigraph reads it
                previous = "word"
                position += 7
                glued = True
                break  # read on from just after the keyword
            found.append((kind, token, position))
            if prologue == 1:  # at a keyword's place: a declaration, or the query's first keyword
                word = token.casefold() if kind == "word" else ""
                if word != "prefix" and word != "base":
                    return found
                prologue = 3 if word == "prefix" else 2
            elif prologue:
                prologue -= 1
            previous = "var" if token == ")" or token == "]" else kind
            if token == "(":
                parens[-1] += 1
            elif token == ")":
                parens[-1] = max(parens[-1] - 1, 0)
            elif token == "{":
                parens.append(0)
            elif token == "}" and len(parens) > 1:
                parens.pop()
            position = match.end()
        if not glued and position < end:
            line, column = place(text, position)
            raise Unreadable(f"no SPARQL token starts with {text[position]!r} at {line}:{column}", found)
    return found


# --- what the tokens say ------------------------------------------------------------------------------


def unescape_codepoints(text: str) -> str:
    """Apply ``\\uXXXX`` and ``\\UXXXXXXXX`` escapes (SPARQL 1.1 §19.2 processes them before parsing)."""

    def replace(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else match.group(0)

    return _CODEPOINT_ESCAPE.sub(replace, text) if "\\" in text else text


def form_of(stream: list[Token]) -> str | None:
    index = 0
    while index < len(stream):
        kind, token, _ = stream[index]
        word = token.casefold() if kind == "word" else ""
        if word == "prefix":
            index += 3
        elif word == "base":
            index += 2
        elif word in FORMS:
            return word
        elif word in UPDATE_KEYWORDS:
            return "update"
        else:
            return None
    return None


def depth_of(symbols: list[str]) -> int:
    depth = deepest = 0
    for symbol in symbols:
        depth = depth + 1 if symbol in OPENING else max(depth - 1, 0)
        deepest = max(deepest, depth)
    return deepest


def calls_volatile(stream: list[Token]) -> bool:
    for index, (kind, token, _) in enumerate(stream):
        if kind == "word" and token.casefold() in VOLATILE_FUNCTIONS:
            following = stream[index + 1][1] if index + 1 < len(stream) else ""
            if following == "(":
                return True
    return False


def iri_value(token: str) -> str:
    return _UCHAR_RE.sub(lambda m: chr(int(m.group()[2:], 16)), token[1:-1])


def resolve(token: Token, prefixes: dict[str, str], base: str | None) -> str | None:
    kind, text, _ = token
    if kind == "var":
        return text
    if kind == "iri":
        value = iri_value(text)
        return urljoin(base, value) if base else value
    if kind == "pname":
        prefix, _, local = text.partition(":")
        if prefix not in prefixes:
            return None
        return prefixes[prefix] + _PLX_ESCAPE.sub(r"\1", local)
    return None


class UnresolvedService(Exception):
    pass


def service_calls(text: str, stream: list[Token]) -> tuple[ServiceCall, ...]:
    """Every SERVICE call in the token stream, its target resolved; UnresolvedService when a target
    cannot be read."""
    stream = list(stream)
    prefixes: dict[str, str] = {}
    base: str | None = None
    calls: list[ServiceCall] = []
    depth = 0
    open_services: list[int] = []  # brace depth at which each enclosing SERVICE group opened
    index = 0
    while index < len(stream):
        kind, token, start = stream[index]
        word = token.casefold() if kind == "word" else ""
        if word == "prefix" and index + 2 < len(stream) and stream[index + 2][0] == "iri":
            namespace = iri_value(stream[index + 2][1])
            prefixes[stream[index + 1][1][:-1]] = urljoin(base, namespace) if base else namespace
            index += 3
            continue
        if word == "base" and index + 1 < len(stream) and stream[index + 1][0] == "iri":
            value = iri_value(stream[index + 1][1])
            base = urljoin(base, value) if base else value
            index += 2
            continue
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            while open_services and open_services[-1] > depth:
                open_services.pop()
        if word == SERVICE:
            line, column = place(text, start)
            index += 1
            silent = index < len(stream) and stream[index][0] in ("word", "pname")
            silent = silent and stream[index][1][:6].casefold() == SILENT
            if silent:
                rest = stream[index][1][6:]
                if rest:  # SILENTex:x — the target glued to the keyword
                    stream[index] = ("pname" if ":" in rest else "word", rest, stream[index][2] + 6)
                else:
                    index += 1
            target_token = stream[index] if index < len(stream) else ("end", "", len(text))
            target = resolve(target_token, prefixes, base)
            if target is None:
                raise UnresolvedService(f"SERVICE at {line}:{column} has a target this endpoint cannot read")
            calls.append(ServiceCall(target, silent, bool(open_services), line, column))
            if index + 1 < len(stream) and stream[index + 1][1] == "{":
                open_services.append(depth + 1)
            continue
        index += 1
    return tuple(calls)


def analyse(text: str) -> Analysis:
    """Read the query text (see the module's docstring). The text is lexed whole when anything can depend
    on it: when it mentions SERVICE, when a volatile function's name followed by ``(`` appears anywhere
    in it (escapes applied), or when it opens more than ``SHALLOW`` groups; otherwise only its prologue
    and first keyword are lexed, and the number of groups it opens stands for its depth, which it bounds.
    These tests only decide how far to read: every answer comes from the lexer's tokens."""
    unescaped = unescape_codepoints(text)
    folded = unescaped.casefold()
    mentions = SERVICE in folded or (unescaped is not text and SERVICE in text.casefold())
    openers = text.count("{") + text.count("[") + text.count("(")
    whole = mentions or openers > SHALLOW or _VOLATILE_CALL.search(folded) is not None
    unreadable: str | None = None
    try:
        stream = tokens(text, whole=whole)
    except Unreadable as error:
        unreadable, stream = str(error), error.tokens
    form = form_of(stream)
    services: tuple[ServiceCall, ...] = ()
    hash_iri_ends: tuple[int, ...] = ()
    if not whole:
        depth, volatile = openers, False
    elif unreadable is None:
        depth = depth_of([token for kind, token, _ in stream if token in OPENING or token in CLOSING])
        volatile = calls_volatile(stream)
    else:
        depth = depth_of([char for char in text if char in OPENING or char in CLOSING])
        volatile = _VOLATILE_CALL.search(folded) is not None
    if mentions and unreadable is None:
        try:
            services = service_calls(text, stream)
        except UnresolvedService as error:
            unreadable = str(error)
        hash_iri_ends = tuple(start + len(token) for kind, token, start in stream if kind == "iri" and "#" in token)
    return Analysis(
        text=text,
        form=form,
        depth=depth,
        mentions_service=mentions,
        services=services,
        unreadable=unreadable,
        volatile=volatile or mentions,
        hash_iri_ends=hash_iri_ends,
    )


# --- simple queries -----------------------------------------------------------------------------------


def read_simple(text: str) -> Analysis | None:
    """The analysis of a SELECT or ASK whose WHERE clause is one block of triple patterns, each with an IRI
    for its subject, and nothing else (no FILTER, OPTIONAL, UNION, GRAPH, paths, subqueries, dataset
    clauses, expressions, GROUP BY, ORDER BY); the modifiers allowed are DISTINCT, REDUCED, LIMIT and
    OFFSET. Its patterns are in ``Analysis.simple``. None for any other text, and wherever it does not
    read plainly (an escape, the word SERVICE anywhere, a BASE, a relative IRI, a prefix not declared):
    ``analyse`` reads those. Such a query makes at most as many rows as the counts of its patterns'
    matches multiply to: how ``engine.inline`` knows it is cheap before it runs.

    The text is lexed with ``tokens``' terminals but without its guards, which this grammar makes
    needless: it has no parentheses (where ``<`` is ambiguous) and no SERVICE. What ``analyse`` would
    find in such a text is known from the grammar: one group (depth 1), no SERVICE, nothing volatile
    (no function is called)."""
    if "\\" in text or SERVICE in text.casefold():
        return None
    found = [(match.lastgroup or "", match.group()) for match in token_pattern().finditer(text)]
    if sum(len(token) for _, token in found) != len(text):
        return None  # the matches, in order and apart, leave a gap: a character no terminal starts with
    stream = [token for token in found if token[0] != "ws" and token[0] != "comment"]
    stream.append(("end", ""))
    try:
        simple = _read_simple(stream)
    except (_NotSimple, IndexError):
        return None
    return Analysis(text, simple.form, 1, False, (), None, False, simple=simple)


class _NotSimple(Exception):
    pass


def _read_simple(stream: list[tuple[str, str]]) -> Simple:
    """``simple``'s grammar over the tokens (the last one ``("end", "")``); _NotSimple at anything else."""
    prefixes: dict[str, str] = {}

    def iri(kind: str, text: str) -> str:
        if kind == "iri":
            value = iri_value(text)
        elif kind == "pname":
            prefix, _, local = text.partition(":")
            if prefix not in prefixes:
                raise _NotSimple
            value = prefixes[prefix] + local  # no escapes: read_simple leaves texts with a backslash
        else:
            raise _NotSimple
        if ":" not in value:  # relative: its resolution is the parser's business
            raise _NotSimple
        return value

    at = 0
    kind, text = stream[0]
    while kind == "word" and text.casefold() == "prefix":
        name_kind, name = stream[at + 1]
        if name_kind != "pname" or not name.endswith(":"):
            raise _NotSimple
        prefixes[name[:-1]] = iri(*stream[at + 2])
        at += 3
        kind, text = stream[at]
    form = text.casefold() if kind == "word" else ""
    dropping = False
    at += 1
    if form == "select":
        kind, text = stream[at]
        if kind == "word" and text.casefold() in ("distinct", "reduced"):
            dropping = True
            at += 1
        if stream[at][1] == "*":
            at += 1
        elif stream[at][0] != "var":
            raise _NotSimple
        while stream[at][0] == "var":
            at += 1
    elif form != "ask":
        raise _NotSimple
    kind, text = stream[at]
    if kind == "word" and text.casefold() == "where":
        at += 1
    if stream[at][1] != "{":
        raise _NotSimple
    at += 1
    patterns: list[Pattern] = []
    while stream[at][1] != "}":  # triples: a subject, then verbs and their objects, with ; and ,
        subject = iri(*stream[at])
        at += 1
        while True:
            kind, text = stream[at]
            at += 1
            verb = None if kind == "var" else RDF_TYPE if kind == "word" and text == "a" else iri(kind, text)
            while True:
                kind, text = stream[at]
                at += 1
                obj: str | None = None
                if kind == "iri" or kind == "pname":
                    obj = iri(kind, text)
                elif kind in LITERALS:
                    if kind != "number":
                        following = stream[at]
                        if following[0] == "langtag":
                            at += 1
                        elif following[1] == "^^":
                            iri(*stream[at + 1])
                            at += 2
                elif kind != "var" and not (kind == "word" and text in ("true", "false")):
                    raise _NotSimple
                patterns.append((subject, verb, obj))
                if stream[at][1] != ",":
                    break
                at += 1
            if stream[at][1] != ";":
                break
            while stream[at][1] == ";":
                at += 1
            if stream[at][1] in (".", "}"):
                break
        if stream[at][1] == ".":
            at += 1
        elif stream[at][1] != "}":
            raise _NotSimple
    at += 1
    kind, text = stream[at]
    while kind == "word" and text.casefold() in ("limit", "offset"):
        dropping = dropping or text.casefold() == "offset"
        if stream[at + 1][0] != "number":
            raise _NotSimple
        at += 2
        kind, text = stream[at]
    if kind != "end" or not patterns:
        raise _NotSimple
    return Simple(form, tuple(patterns), dropping)
