"""What keeps the endpoint from reaching out: the ``SERVICE`` check, done on the query text before any
evaluation, and the network sandbox of the evaluation processes.

pyoxigraph 0.5 follows ``SERVICE`` to any address by itself (127.0.0.1, ``localhost``,
``0x7f000001``…), matches keywords without a word boundary (``SERVICESILENT<…>`` is a silent
SERVICE call), and resolves ``\\u`` escapes inside IRIs. So the check works in two independent ways,
and refuses a query unless both agree that every ``SERVICE`` in it is allowed:

1. ``scan_services``: a lexer that follows the SPARQL 1.1 terminals (§19.8) and reports every place a
   ``SERVICE`` keyword can start, with its target resolved against ``PREFIX`` and ``BASE``. It is
   conservative where a parser could read the text two ways (``<`` as an operator or as an IRI).
2. ``rdflib_services``: rdflib's SPARQL parser (``parseQuery``), whose parse tree holds every
   ``ServiceGraphPattern``. It only runs when federation is on or the sandbox is unavailable, and
   when the text mentions "service" at all: it costs milliseconds and rdflib cannot parse every
   query (nested ``SERVICE`` overflows its stack), in which case the query is refused.

Refused, always: a variable as target, a nested ``SERVICE``, any target that is not exactly one of
the allow-listed IRIs (after prefix, base and escape resolution). ``SILENT`` changes nothing.

Beneath the check, ``forbid_network`` installs a seccomp filter in each evaluation process that has
no business with the network, so that ``socket(AF_INET/AF_INET6)`` fails with EACCES: even a query
that fooled both checks could not open a connection (nor resolve a name).
"""

from __future__ import annotations

import ctypes
import functools
import platform
import re
import struct
from dataclasses import dataclass
from urllib.parse import urljoin

from spacegraph.errors import SpacegraphError


class ServiceRefused(SpacegraphError):
    """A query whose SERVICE calls this endpoint will not make."""


@dataclass(frozen=True)
class ServiceCall:
    target: str  # resolved IRI, or "?var"
    silent: bool
    nested: bool
    line: int
    column: int


# --- the lexer --------------------------------------------------------------------------------------

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


@functools.cache
def token_pattern() -> re.Pattern[str]:
    """The lexer's expression, compiled when first needed: its Unicode classes take tens of milliseconds
    to compile, which a query worker that never meets a query mentioning SERVICE need not spend."""
    return re.compile(
        rf"""
        (?P<ws>[\x20\t\r\n]+)
      | (?P<comment>\#[^\r\n]*)
      | (?P<iri><(?:[^<>"{{}}|^`\\\x00-\x20]|{_UCHAR})*>)
      | (?P<long1>'''(?:(?:'|'')?(?:[^'\\]|{_ECHAR}))*''')
      | (?P<long2>\"\"\"(?:(?:"|"")?(?:[^"\\]|{_ECHAR}))*\"\"\")
      | (?P<string1>'(?:[^'\\\n\r]|{_ECHAR})*')
      | (?P<string2>"(?:[^"\\\n\r]|{_ECHAR})*")
      | (?P<var>[?$][{_PN_CHARS_U}0-9][{_PN_CHARS_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*)
      | (?P<bnode>_:[{_PN_CHARS_U}0-9](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?)
      | (?P<pname>(?:{_PN_PREFIX})?:(?:{_PN_LOCAL})?)
      | (?P<langtag>@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*)
      | (?P<number>[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)
      | (?P<word>[{_PN_CHARS_BASE}][{_PN_CHARS}]*)
      | (?P<punct>\^\^|&&|\|\||!=|<=|>=|[{{}}()\[\].,;=<>!+\-*/^|?$@])
        """,
        re.VERBOSE,
    )


_SERVICE = "service"
_SILENT = "silent"
_OPERAND_ENDS = {"var", "iri", "pname", "bnode", "long1", "long2", "string1", "string2", "number", "langtag", "word"}
# Characters that, read outside an IRI, could start a comment or a string and shift everything after.
_AMBIGUOUS_INSIDE = re.compile(r"[#']|service", re.IGNORECASE)
_UCHAR_RE = re.compile(_UCHAR)
_PLX_ESCAPE = re.compile(r"\\(.)")
_CODEPOINT_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int


def unescape_codepoints(text: str) -> str:
    """Apply ``\\uXXXX`` and ``\\UXXXXXXXX`` escapes (SPARQL 1.1 §19.2 processes them before parsing)."""

    def replace(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else match.group(0)

    return _CODEPOINT_ESCAPE.sub(replace, text)


def mentions_service(query: str) -> bool:
    """False only when no reading of the text can contain a SERVICE keyword: the cheap first test."""
    return _SERVICE in query.casefold() or _SERVICE in unescape_codepoints(query).casefold()


def tokens(query: str) -> list[Token]:
    """The query's tokens, whitespace and comments dropped. A keyword glued to what follows it
    (``SERVICEex:x``, ``SERVICESILENT``) is split the way pyoxigraph reads it.

    ``<`` is ambiguous inside an expression: after an operand within parentheses it may be "less
    than", and what a lexer takes for an IRI (``<?b)#>``) a parser may read as an operator, a
    variable and a comment. There, a would-be IRI holding ``#``, ``'`` or "service" is refused."""
    pattern = token_pattern()
    found: list[Token] = []
    parens = [0]  # open parentheses, per brace level
    previous = ""
    position = 0
    while position < len(query):
        match = pattern.match(query, position)
        if match is None or match.end() == position:
            line, column = place(query, position)
            raise ServiceRefused(f"cannot read the query at {line}:{column} to check its SERVICE calls")
        kind = match.lastgroup or ""
        text = match.group()
        if kind in ("word", "pname") and text[:7].casefold() == _SERVICE:
            kind, text = "word", text[:7]
        elif kind == "iri" and parens[-1] > 0 and previous in _OPERAND_ENDS and _AMBIGUOUS_INSIDE.search(text):
            line, column = place(query, position)
            raise ServiceRefused(f"the text at {line}:{column} could hide a SERVICE call; write it differently")
        if kind not in ("ws", "comment"):
            found.append(Token(kind, text, position))
            previous = "var" if text in (")", "]") else kind
            if text == "(":
                parens[-1] += 1
            elif text == ")":
                parens[-1] = max(parens[-1] - 1, 0)
            elif text == "{":
                parens.append(0)
            elif text == "}" and len(parens) > 1:
                parens.pop()
        position += len(text)
    return found


def place(query: str, offset: int) -> tuple[int, int]:
    line = query.count("\n", 0, offset) + 1
    return line, offset - (query.rfind("\n", 0, offset) + 1) + 1


def iri_value(token: str) -> str:
    return _UCHAR_RE.sub(lambda m: chr(int(m.group()[2:], 16)), token[1:-1])


def scan_services(query: str) -> list[ServiceCall]:
    """Every SERVICE call the query can make, its target resolved; raises ServiceRefused when the text
    cannot be read with certainty."""
    stream = tokens(query)
    prefixes: dict[str, str] = {}
    base: str | None = None
    calls: list[ServiceCall] = []
    depth = 0
    open_services: list[int] = []  # brace depth at which each enclosing SERVICE group opened
    index = 0
    while index < len(stream):
        token = stream[index]
        word = token.text.casefold() if token.kind == "word" else ""
        if word == "prefix" and index + 2 < len(stream) and stream[index + 2].kind == "iri":
            namespace = iri_value(stream[index + 2].text)
            prefixes[stream[index + 1].text[:-1]] = urljoin(base, namespace) if base else namespace
            index += 3
            continue
        if word == "base" and index + 1 < len(stream) and stream[index + 1].kind == "iri":
            value = iri_value(stream[index + 1].text)
            base = urljoin(base, value) if base else value
            index += 2
            continue
        if token.text == "{":
            depth += 1
        elif token.text == "}":
            depth -= 1
            while open_services and open_services[-1] > depth:
                open_services.pop()
        if word == _SERVICE:
            line, column = place(query, token.start)
            index += 1
            silent = index < len(stream) and stream[index].kind in ("word", "pname")
            silent = silent and stream[index].text[:6].casefold() == _SILENT
            if silent:
                rest = stream[index].text[6:]
                if rest:  # SILENTex:x — the target glued to the keyword
                    stream[index] = Token("pname" if ":" in rest else "word", rest, stream[index].start + 6)
                else:
                    index += 1
            target_token = stream[index] if index < len(stream) else Token("end", "", len(query))
            target = resolve(target_token, prefixes, base)
            if target is None:
                raise ServiceRefused(f"SERVICE at {line}:{column} has a target this endpoint cannot read")
            calls.append(ServiceCall(target, silent, bool(open_services), line, column))
            if index + 1 < len(stream) and stream[index + 1].text == "{":
                open_services.append(depth + 1)
            continue
        index += 1
    return calls


def resolve(token: Token, prefixes: dict[str, str], base: str | None) -> str | None:
    if token.kind == "var":
        return token.text
    if token.kind == "iri":
        value = iri_value(token.text)
        return urljoin(base, value) if base else value
    if token.kind == "pname":
        prefix, _, local = token.text.partition(":")
        if prefix not in prefixes:
            return None
        return prefixes[prefix] + _PLX_ESCAPE.sub(r"\1", local)
    return None


def rdflib_services(query: str) -> list[str]:
    """The SERVICE targets in rdflib's parse tree (``?var`` for variables), or ServiceRefused."""
    from pyparsing import ParseException
    from rdflib import URIRef, Variable
    from rdflib.plugins.sparql import parser
    from rdflib.plugins.sparql.parserutils import CompValue

    try:
        tree = parser.parseQuery(query)
    except (ParseException, RecursionError, ValueError, TypeError) as error:
        reason = "nested SERVICE" if isinstance(error, RecursionError) else "rdflib cannot parse it"
        raise ServiceRefused(f"the query uses SERVICE in a way this endpoint cannot check ({reason})") from None
    prefixes: dict[str, str] = {}
    base: str | None = None
    for declaration in tree[0]:
        if declaration.name == "PrefixDecl":
            prefixes[str(declaration.get("prefix") or "")] = str(declaration["iri"])
        elif declaration.name == "Base":
            base = str(declaration["iri"])

    targets: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, CompValue):
            if node.name == "ServiceGraphPattern":
                term = node.get("term")
                if isinstance(term, Variable):
                    targets.append(f"?{term}")
                elif isinstance(term, CompValue) and term.name == "pname":
                    prefix = str(term.get("prefix") or "")
                    namespace = prefixes.get(prefix)
                    targets.append(namespace + str(term.get("localname") or "") if namespace else "?unresolved")
                elif isinstance(term, URIRef):
                    targets.append(urljoin(base, str(term)) if base else str(term))
                else:
                    targets.append("?unresolved")
            for value in node.values():
                walk(value)
        elif isinstance(node, list | tuple) or hasattr(node, "as_list"):
            for value in node:  # type: ignore[attr-defined]
                walk(value)

    walk(tree)
    return targets


def rdflib_friendly(query: str) -> str:
    """The query with a line break after every IRI that holds a ``#``: rdflib (7.6) finds the text of
    each SERVICE pattern by scanning the whole query with comments ignored, and from inside
    ``<http://www.w3.org/2000/01/rdf-schema#>`` it takes the rest of the line for a comment, loses the
    pattern and fails. Whitespace between tokens changes nothing else."""
    parts: list[str] = []
    last = 0
    for token in tokens(query):
        if token.kind == "iri" and "#" in token.text:
            end = token.start + len(token.text)
            parts.append(query[last:end] + "\n")
            last = end
    parts.append(query[last:])
    return "".join(parts)


def check_services(query: str, allow: tuple[str, ...], cross_check: bool) -> list[ServiceCall]:
    """The query's SERVICE calls if every one is allowed; otherwise ServiceRefused, before anything runs.

    ``cross_check`` also asks rdflib's parser, and refuses unless it finds the same targets."""
    if not mentions_service(query):
        return []
    calls = scan_services(query)
    if calls and not allow:
        raise ServiceRefused("SERVICE (federated query) is disabled on this endpoint")
    for call in calls:
        where = f"SERVICE at {call.line}:{call.column}"
        if call.target.startswith("?"):
            raise ServiceRefused(f"{where}: a variable as SERVICE target is not allowed")
        if call.nested:
            raise ServiceRefused(f"{where}: nested SERVICE is not allowed")
        if call.target not in allow:
            raise ServiceRefused(f"{where}: <{call.target}> is not an allowed SERVICE endpoint")
    if cross_check:
        found = rdflib_services(rdflib_friendly(query))
        if sorted(found) != sorted(call.target for call in calls):
            raise ServiceRefused("the query's SERVICE calls could not be checked with certainty")
    return calls


# --- updates ------------------------------------------------------------------------------------------

UPDATE_KEYWORDS = {"insert", "delete", "load", "clear", "drop", "create", "add", "move", "copy", "with"}


def first_keyword(text: str) -> str | None:
    """The first keyword after the prologue (PREFIX and BASE declarations), lower-cased; None when the
    text cannot be read or has none."""
    try:
        stream = tokens(text)
    except ServiceRefused:
        return None
    index = 0
    while index < len(stream):
        word = stream[index].text.casefold() if stream[index].kind == "word" else ""
        if word == "prefix":
            index += 3
        elif word == "base":
            index += 2
        else:
            return word or None
    return None


def looks_like_update(text: str) -> bool:
    """True when the first keyword after the prologue starts a SPARQL Update operation. Only used to
    word an error: a query string is never given to anything that could run an update."""
    return first_keyword(text) in UPDATE_KEYWORDS


# --- the sandbox --------------------------------------------------------------------------------------

_ARCHES = {  # machine → (AUDIT_ARCH_*, number of the socket syscall)
    "x86_64": (0xC000003E, 41),
    "aarch64": (0xC00000B7, 198),
}
_AF_INET, _AF_INET6, _EACCES = 2, 10, 13
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2
_PR_SET_PDEATHSIG = 1
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000


def _instruction(code: int, jump_true: int, jump_false: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jump_true, jump_false, k)


def forbid_network() -> str | None:
    """Make ``socket(AF_INET)`` and ``socket(AF_INET6)`` fail in this process and its future threads.
    Returns None when done, or why it could not be done (not Linux, unknown CPU, refused by the kernel).
    Call it while the process has a single thread."""
    if platform.system() != "Linux" or platform.machine() not in _ARCHES:
        return f"no seccomp filter for {platform.system()} on {platform.machine()}"
    arch, socket_call = _ARCHES[platform.machine()]
    load, jump_equal, ret, bit_and = 0x20, 0x15, 0x06, 0x54
    program = b"".join(
        [
            _instruction(load, 0, 0, 4),  # A = architecture
            _instruction(jump_equal, 0, 7, arch),  # other architecture → allow
            _instruction(load, 0, 0, 0),  # A = syscall number
            _instruction(bit_and, 0, 0, 0xBFFFFFFF),  # x32 ABI numbers → their x86_64 twin
            _instruction(jump_equal, 0, 4, socket_call),  # not socket() → allow
            _instruction(load, 0, 0, 16),  # A = first argument (address family)
            _instruction(jump_equal, 3, 0, _AF_INET),
            _instruction(jump_equal, 2, 0, _AF_INET6),
            _instruction(ret, 0, 0, _RET_ALLOW),
            _instruction(ret, 0, 0, _RET_ALLOW),
            _instruction(ret, 0, 0, _RET_ERRNO | _EACCES),
        ]
    )

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    buffer = ctypes.create_string_buffer(program)
    fprog = SockFprog(len(program) // 8, ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return f"prctl(NO_NEW_PRIVS) failed: errno {ctypes.get_errno()}"
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        return f"seccomp refused: errno {ctypes.get_errno()}"
    return None


def die_with_parent() -> None:
    """Linux: have the kernel kill this process when the process that started it dies."""
    if platform.system() == "Linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)
