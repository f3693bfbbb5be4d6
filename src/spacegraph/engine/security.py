"""What keeps the endpoint from reaching out: the ``SERVICE`` policy, applied to the query's analysis
before any evaluation, and the network sandbox of the evaluation processes.

pyoxigraph 0.5 follows ``SERVICE`` to any address by itself (127.0.0.1, ``localhost``,
``0x7f000001``…), matches keywords without a word boundary (``SERVICESILENT<…>`` is a silent
SERVICE call), and resolves ``\\u`` escapes inside IRIs. So the check works in two independent ways,
and refuses a query unless both agree that every ``SERVICE`` in it is allowed:

1. the query's ``Analysis`` (``analysis.py``): its lexer follows the SPARQL 1.1 terminals and reports
   every place a ``SERVICE`` keyword can start, with its target resolved against ``PREFIX`` and
   ``BASE``, and calls a text unreadable where a parser could read it two ways;
2. ``rdflib_services``: rdflib's SPARQL parser (``parseQuery``), whose parse tree holds every
   ``ServiceGraphPattern``. It only runs when federation is on or the sandbox is unavailable, and
   when the text mentions "service" at all: it costs milliseconds and rdflib cannot parse every
   query (nested ``SERVICE`` overflows its stack), in which case the query is refused.

Refused, always: a variable as target, a nested ``SERVICE``, any target that is not exactly one of
the allow-listed IRIs (after prefix, base and escape resolution), and a text that mentions SERVICE but
cannot be read with certainty. ``SILENT`` changes nothing.

Beneath the check, ``forbid_network`` installs a seccomp filter in each evaluation process that has
no business with the network, so that ``socket(AF_INET/AF_INET6)`` fails with EACCES: even a query
that fooled both checks could not open a connection (nor resolve a name).
"""

from __future__ import annotations

import ctypes
import platform
import struct
from urllib.parse import urljoin

from spacegraph.engine.analysis import Analysis, ServiceCall
from spacegraph.errors import SpacegraphError


class ServiceRefused(SpacegraphError):
    """A query whose SERVICE calls this endpoint will not make."""


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


def rdflib_friendly(analysis: Analysis) -> str:
    """The query with a line break after every IRI that holds a ``#``: rdflib (7.6) finds the text of
    each SERVICE pattern by scanning the whole query with comments ignored, and from inside
    ``<http://www.w3.org/2000/01/rdf-schema#>`` it takes the rest of the line for a comment, loses the
    pattern and fails. Whitespace between tokens changes nothing else."""
    text, parts, last = analysis.text, [], 0
    for end in analysis.hash_iri_ends:
        parts.append(text[last:end] + "\n")
        last = end
    parts.append(text[last:])
    return "".join(parts)


def check_services(analysis: Analysis, allow: tuple[str, ...], cross_check: bool) -> tuple[ServiceCall, ...]:
    """The query's SERVICE calls if every one is allowed; otherwise ServiceRefused, before anything runs.

    ``cross_check`` also asks rdflib's parser, and refuses unless it finds the same targets."""
    if not analysis.mentions_service:
        return ()
    if analysis.unreadable is not None:
        raise ServiceRefused(f"cannot check the query's SERVICE calls: {analysis.unreadable}; write it differently")
    calls = analysis.services
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
        found = rdflib_services(rdflib_friendly(analysis))
        if sorted(found) != sorted(call.target for call in calls):
            raise ServiceRefused("the query's SERVICE calls could not be checked with certainty")
    return calls


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
