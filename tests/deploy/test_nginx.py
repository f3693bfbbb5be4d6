"""docs/deploy/spacegraph.nginx.conf, run by a real nginx with a throw-away certificate (openssl) in front
of a real ``spacegraph serve --public-url`` (the command, in its own process), as a publisher deploys
them: a page, a query, the 303s, the cache, HTTP/2 and TLS come through, and the client's own address
reaches spacegraph's access log (clients on 127.0.0.2 and 127.0.0.3, a forged header not believed)."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import lxml.html
import pytest
import rdflib

from spacegraph import PROJECT_ROOT
from tests.servers import free_port, wait_until_answers

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
CURL = shutil.which("curl") or "/usr/bin/curl"
SPACEGRAPH = Path(sys.executable).parent / "spacegraph"
SITE = PROJECT_ROOT / "docs" / "deploy" / "spacegraph.nginx.conf"
MAIN = """\
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  include {folder}/site.conf;
}}
"""


@dataclass(frozen=True)
class Deployment:
    public: str  # https://127.0.0.1:PORT
    plain: str  # http://127.0.0.1:PORT (redirects to HTTPS)
    certificate: Path
    access_log: Path

    def client(self, address: str) -> httpx.Client:
        """A client whose connections come from ``address`` (a loopback address of its own)."""
        context = ssl.create_default_context(cafile=str(self.certificate))
        transport = httpx.HTTPTransport(local_address=address, verify=context)
        return httpx.Client(base_url=self.public, transport=transport, timeout=30)

    def logged(self, path: str) -> list[dict[str, object]]:
        """spacegraph's access-log entries for ``path``, waiting a little for them to be written."""
        deadline = time.monotonic() + 5
        while True:
            lines = self.access_log.read_text().splitlines() if self.access_log.exists() else []
            entries = [json.loads(line) for line in lines if line.startswith("{")]
            found = [entry for entry in entries if entry.get("path") == path]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def deployment(linked_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    folder = tmp_path_factory.mktemp("deploy")
    certificate, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    tls, plain, upstream = free_port(), free_port(), free_port()
    public = f"https://127.0.0.1:{tls}"
    access_log = folder / "access.log"
    server = subprocess.Popen(
        [str(SPACEGRAPH), "serve", "--data", str(linked_build / "spacegraph.nq"), "--port", str(upstream),
         "--public-url", public + "/", "--access-log", str(access_log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=PROJECT_ROOT,
    )  # fmt: skip
    site = SITE.read_text()
    for old, new in (
        ("/var/cache/nginx/spacegraph", str(folder / "cache")),
        ("127.0.0.1:8000", f"127.0.0.1:{upstream}"),
        ("listen 80;", f"listen 127.0.0.1:{plain};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{tls} ssl http2;"),
        ("listen [::]:80;", ""),
        ("listen [::]:443 ssl http2;", ""),
        ("/etc/letsencrypt/live/spacegraph.example.org/fullchain.pem", str(certificate)),
        ("/etc/letsencrypt/live/spacegraph.example.org/privkey.pem", str(key)),
    ):
        assert old in site, old
        site = site.replace(old, new)
    (folder / "site.conf").write_text(site)
    (folder / "nginx.conf").write_text(MAIN.format(folder=folder))
    # as root, nginx's workers would run as nobody, who cannot enter pytest's private folders
    user = " user root;" if os.geteuid() == 0 else ""
    nginx = subprocess.Popen(
        [NGINX, "-c", str(folder / "nginx.conf"), "-g", "daemon off;" + user],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_answers(f"http://127.0.0.1:{upstream}/ready", server, seconds=60)  # type: ignore[arg-type]
        wait_until_answers(f"http://127.0.0.1:{plain}/", nginx)  # type: ignore[arg-type]
        yield Deployment(public, f"http://127.0.0.1:{plain}", certificate, access_log)
    finally:
        stop(nginx)
        stop(server)


def test_a_page_comes_through_with_public_links(deployment: Deployment) -> None:
    with deployment.client("127.0.0.2") as client:
        response = client.get("/id/jaxa.html", headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.http_version == "HTTP/1.1"
    assert response.headers["strict-transport-security"] == "max-age=63072000"
    tree = lxml.html.fromstring(response.text)
    assert tree.xpath("//link[@rel='canonical']/@href") == [deployment.public + "/id/jaxa.html"]
    ours = [h for h in tree.xpath("//a/@href") if "127.0.0.1" in h]
    assert deployment.public + "/id/japan" in ours and deployment.public + "/sparql" in ours
    assert all(href.startswith(deployment.public + "/") for href in tree.xpath("//link[@rel='stylesheet']/@href"))


def test_the_303s_name_the_public_address(deployment: Deployment) -> None:
    with deployment.client("127.0.0.2") as client:
        see_other = client.get("/id/jaxa", headers={"Accept": "text/turtle"})
        assert see_other.status_code == 303
        assert see_other.headers["location"] == deployment.public + "/id/jaxa.ttl"
        document = client.get(see_other.headers["location"].removeprefix(deployment.public))
        browser = client.get("/", headers={"Accept": "application/ld+json"})
    graph = rdflib.Graph().parse(data=document.content, format="turtle")
    assert (rdflib.URIRef("https://w3id.org/spacegraph/id/jaxa"), None, None) in graph  # names stay as they are
    assert (browser.status_code, browser.headers["location"]) == (303, deployment.public + "/id/dataset")


def test_a_query_comes_through_and_its_repeat_from_the_cache(deployment: Deployment) -> None:
    query = "ASK { <https://w3id.org/spacegraph/id/jaxa> ?p ?o }"
    json_results = {"Accept": "application/sparql-results+json"}
    with deployment.client("127.0.0.2") as client:
        first = client.get("/sparql", params={"query": query}, headers=json_results)
        again = client.get("/sparql", params={"query": query}, headers=json_results)
        posted = client.post("/sparql", data={"query": query}, headers=json_results)
    assert first.json() == again.json() == posted.json() == {"head": {}, "boolean": True}
    assert (first.headers["x-cache-status"], again.headers["x-cache-status"]) == ("MISS", "HIT")


def test_the_client_address_reaches_spacegraph(deployment: Deployment) -> None:
    with deployment.client("127.0.0.2") as client:
        assert client.get("/id/cnes.html", headers={"Accept": "text/html"}).status_code == 200
    with deployment.client("127.0.0.3") as client:  # and a client that lies about its address
        forged = {"Accept": "text/html", "X-Forwarded-For": "203.0.113.9"}
        assert client.get("/id/hayabusa2.html", headers=forged).status_code == 200
        assert client.get("/metrics").status_code == 403  # the operator's, not the public's
    assert {entry["client"] for entry in deployment.logged("/id/cnes.html")} == {"127.0.0.2"}
    assert {entry["client"] for entry in deployment.logged("/id/hayabusa2.html")} == {"127.0.0.3"}


def test_http2_over_tls_and_plain_http_sent_to_https(deployment: Deployment) -> None:
    version = subprocess.run(
        [CURL, "--http2", "--silent", "--cacert", str(deployment.certificate), "--interface", "127.0.0.4",
         "--output", "/dev/null", "--write-out", "%{http_version} %{http_code}", deployment.public + "/id/jaxa"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert version.stdout == "2 303"
    redirect = httpx.get(deployment.plain + "/id/jaxa?x=1", follow_redirects=False, timeout=10)
    assert (redirect.status_code, redirect.headers["location"]) == (301, "https://127.0.0.1/id/jaxa?x=1")
