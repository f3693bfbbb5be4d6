"""docs/deploy/w3id.org/spacegraph/, run as w3id.org runs it: Debian's Apache with mod_rewrite on
127.0.0.1, a virtual host like w3id.org's own (its document root holding our folder, ``AllowOverride
All``, ``MultiViews`` on, ``DirectorySlash``), its one setting pointed at a real spacegraph server. A
client starts from each kind of public IRI with each ``Accept`` we serve, follows the redirects and must
end where going to the server directly ends, on the same document; a broken rule fails the check."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from spacegraph import PROJECT_ROOT
from spacegraph.config import Config
from spacegraph.web.app import create_app
from tests.servers import free_port, wait_until_answers
from tests.support import running

APACHE = shutil.which("apache2") or "/usr/sbin/apache2"
MODULES = Path("/usr/lib/apache2/modules")
W3ID = PROJECT_ROOT / "docs" / "deploy" / "w3id.org" / "spacegraph"
SETTING = "[E=SPACEGRAPH:https://spacegraph.example.org]"

# The modules a w3id.org-like host needs (its configuration, tools/server/conf/w3id.conf, in the
# perma-id/w3id.org repository): rewriting, directory handling, content negotiation (MultiViews),
# headers, access control and MIME types.
LOADED = ("mpm_event", "authz_core", "authz_host", "access_compat", "dir", "mime", "negotiation", "rewrite",
          "headers", "alias", "autoindex", "env", "setenvif")  # fmt: skip
CONFIG = """\
ServerRoot {root}
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {root}/apache2.pid
DefaultRuntimeDir {root}
Mutex file:{root} default
ErrorLog {root}/error.log
LogLevel warn
{user}
{modules}
TypesConfig /etc/mime.types

<VirtualHost 127.0.0.1:{port}>
  DocumentRoot "{root}/ids"
  Header always set Access-Control-Allow-Origin "*"
  <Directory />
    Options FollowSymLinks
    AllowOverride None
    Require all denied
  </Directory>
  <Directory "{root}/ids">
    Options Indexes FollowSymLinks MultiViews
    AllowOverride All
    Require all granted
  </Directory>
  AccessFileName .htaccess
  <Files ~ "^\\.ht">
    Require all denied
  </Files>
  DirectoryIndex index.html index.htm
</VirtualHost>
"""

ACCEPTS = {
    "html": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "turtle": "text/turtle",
    "json-ld": "application/ld+json",
    "n-triples": "application/n-triples",
    "rdf/xml": "application/rdf+xml",
    "none": None,
}
# Every kind of IRI we mint, and the addresses the pages and the description publish under the base.
IRIS = [
    "",  # the landing page
    "id/jaxa",
    "id/dataset",
    "id/quote/title",
    "id/jaxa.html?lang=fr",
    "def",
    "def/",
    "def/Meeting",
    "def/1.0.0",
    "def.html",
    "graph/data",
    "shapes",
    "dumps/spacegraph.ttl.gz",
    "void.ttl",
    "context.jsonld",
    "sitemap.xml",
    "sparql?query=ASK%20%7B%20%3Fs%20%3Fp%20%3Fo%20%7D",
    "fragments?predicate=http%3A%2F%2Fwww.w3.org%2F2000%2F01%2Frdf-schema%23label&page=2",
]


@contextmanager
def apache(htaccess: str, target: str) -> Iterator[str]:
    """Apache serving a w3id-like tree that holds ``spacegraph/`` with ``htaccess`` pointed at ``target``;
    yields the tree's base URL (``http://127.0.0.1:PORT``)."""
    with tempfile.TemporaryDirectory(prefix="w3id-") as scratch:  # not pytest's: Apache's user must read it
        root = Path(scratch)
        folder = root / "ids" / "spacegraph"
        shutil.copytree(W3ID, folder)
        assert htaccess.count(SETTING) == 1, "the target host is one setting, written once"
        (folder / ".htaccess").write_text(htaccess.replace(SETTING, f"[E=SPACEGRAPH:{target}]"))
        for path in (root, root / "ids", folder, *folder.iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)
        port = free_port()
        modules = "\n".join(f"LoadModule {name}_module {MODULES}/mod_{name}.so" for name in LOADED)
        user = "User nobody\nGroup nogroup" if os.geteuid() == 0 else ""
        (root / "apache2.conf").write_text(CONFIG.format(root=root, port=port, modules=modules, user=user))
        process = subprocess.Popen(
            [APACHE, "-f", str(root / "apache2.conf"), "-DFOREGROUND"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "APACHE_LOG_DIR": str(root)},
        )
        try:
            wait_until_answers(f"http://127.0.0.1:{port}/", process)  # type: ignore[arg-type]
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            errors = (root / "error.log").read_text() if (root / "error.log").exists() else ""
            assert "AH00526" not in errors and ".htaccess:" not in errors, errors  # no syntax error in our file


@pytest.fixture(scope="module")
def server(linked_build: Path) -> Iterator[str]:
    with running(create_app(Config(data=(linked_build / "spacegraph.nq",)))) as url:
        yield url


def fetch(url: str, accept: str | None, method: str = "GET", **more: object) -> httpx.Response:
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        if accept is None:
            del client.headers["accept"]  # no Accept header at all
        else:
            client.headers["accept"] = accept
        return client.request(method, url, **more)  # type: ignore[arg-type]


def problems(w3id: str, server: str, iris: list[str]) -> list[str]:
    """What differs between starting from each public IRI at the w3id-like host and going to the server
    directly, for each Accept: where the redirects end, the status, the media type and the bytes."""
    found = []
    for iri in iris:
        for name, accept in ACCEPTS.items():
            direct = fetch(f"{server}/{iri}", accept)
            via = fetch(f"{w3id}/spacegraph/{iri}", accept)
            first = via.history[0] if via.history else via
            hops = [(r.status_code, r.headers.get("location")) for r in via.history]
            temporary = 307 if iri.startswith("sparql") else 302
            if first.status_code != temporary or not first.headers.get("location", "").startswith(server + "/"):
                found.append(
                    f"{iri} ({name}): w3id answered {first.status_code}, not {temporary} to the server: {hops}"
                )
            elif (via.url, via.status_code, via.headers.get("content-type")) != (
                direct.url, direct.status_code, direct.headers.get("content-type")
            ) or via.content != direct.content:  # fmt: skip
                found.append(f"{iri} ({name}): ended on {via.url} {via.status_code}, not {direct.url}: {hops}")
    return found


def test_every_public_iri_resolves_through_w3id_to_the_right_document(server: str) -> None:
    with apache((W3ID / ".htaccess").read_text(), server) as w3id:
        assert problems(w3id, server, IRIS) == []
        # The chain itself, for a thing asked for in Turtle: w3id's 302, then our 303, then the document.
        chain = fetch(f"{w3id}/spacegraph/id/jaxa", "text/turtle")
        assert [r.status_code for r in chain.history] == [302, 303]
        assert chain.history[0].headers["location"] == f"{server}/id/jaxa"
        assert str(chain.url) == f"{server}/id/jaxa.ttl" and chain.headers["content-type"].startswith("text/turtle")
        # Without the trailing slash, Apache adds it (w3id.org's DirectorySlash), then our rule applies.
        bare = fetch(f"{w3id}/spacegraph", ACCEPTS["html"])
        assert [r.status_code for r in bare.history] == [301, 302] and str(bare.url) == f"{server}/"
        # A query sent by POST is still a POST, with its body, at the endpoint: 307.
        posted = fetch(f"{w3id}/spacegraph/sparql", "application/sparql-results+json", "POST", data={"query": "ASK {}"})
        assert [r.status_code for r in posted.history] == [307]
        assert posted.status_code == 200 and posted.json() == {"head": {}, "boolean": True}
        # What we do not mint is not forwarded: w3id's own 404.
        assert fetch(f"{w3id}/spacegraph/nothing-of-ours", None).status_code == 404


@pytest.mark.parametrize(
    ("broken", "iri"),
    [
        ("RewriteRule ^(id/.+)$ %{ENV:SPACEGRAPH}/$1", "id/jaxa"),  # things no longer forwarded
        ("%{ENV:SPACEGRAPH}/sparql [R=307,L]", "sparql?query=ASK%20%7B%7D"),  # the endpoint lost
        ("^(def|def\\.[a-z]+|def/.*)$ %{ENV:SPACEGRAPH}/$1", "def/Meeting"),  # the ontology's terms lost
    ],
)
def test_a_broken_rule_fails_the_check(server: str, broken: str, iri: str) -> None:
    htaccess = (W3ID / ".htaccess").read_text()
    assert broken in htaccess
    mangled = {
        "id/jaxa": htaccess.replace(broken, "RewriteRule ^(ids/.+)$ %{ENV:SPACEGRAPH}/$1"),
        "def/Meeting": htaccess.replace(broken, "^(def|def\\.[a-z]+)$ %{ENV:SPACEGRAPH}/$1"),
    }.get(iri, htaccess.replace(broken, "%{ENV:SPACEGRAPH}/ [R=307,L]"))
    with apache(mangled, server) as w3id:
        found = problems(w3id, server, [iri])
    assert found and all(f.startswith(iri) for f in found)
