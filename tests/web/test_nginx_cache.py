"""docs/nginx-cache.conf, run by a real nginx in front of a real spacegraph: repeated answers come from
nginx's cache, byte for byte; what spacegraph marks no-store (errors, volatile queries) never does."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from spacegraph import PROJECT_ROOT
from spacegraph.config import Config
from spacegraph.web.app import create_app
from tests.servers import free_port, wait_until_answers
from tests.support import running

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is installed by make test (Debian)")
POINT = "SELECT ?p ?o WHERE { <https://w3id.org/spacegraph/id/jaxa> ?p ?o }"
JSON = {"Accept": "application/sparql-results+json"}


@pytest.fixture(scope="module")
def cached(nquads: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("nginx")
    (folder / "logs").mkdir()
    port = free_port()
    with running(create_app(Config(data=(nquads,)))) as upstream:
        config = (PROJECT_ROOT / "docs" / "nginx-cache.conf").read_text()
        config = config.replace("/var/cache/spacegraph-nginx/", f"{folder}/")
        config = config.replace("127.0.0.1:7002", upstream.removeprefix("http://"))
        config = config.replace("127.0.0.1:7080", f"127.0.0.1:{port}")
        (folder / "nginx.conf").write_text(config)
        process = subprocess.Popen(
            # as root, nginx's workers would run as nobody, who cannot enter pytest's private folders
            [
                NGINX,
                "-c",
                str(folder / "nginx.conf"),
                "-g",
                "daemon off;" + (" user root;" if os.geteuid() == 0 else ""),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_answers(f"http://127.0.0.1:{port}/health", process)  # type: ignore[arg-type]
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)


def get(base: str, query: str, headers: dict[str, str] = JSON) -> httpx.Response:
    return httpx.get(f"{base}/sparql", params={"query": query}, headers=headers, timeout=10)


def test_a_repeated_answer_comes_from_the_cache(cached: str) -> None:
    first, second = get(cached, POINT), get(cached, POINT)
    assert first.status_code == second.status_code == 200
    assert (first.headers["x-cache-status"], second.headers["x-cache-status"]) == ("MISS", "HIT")
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
    xml = get(cached, POINT, {"Accept": "application/sparql-results+xml"})  # another variant, its own entry
    assert xml.headers["x-cache-status"] == "MISS" and "xml" in xml.headers["content-type"]


@pytest.mark.parametrize("query", ["SELECT (RAND() AS ?r) WHERE {}", "SELECT * WHERE {"], ids=["volatile", "error"])
def test_no_store_answers_are_never_cached(cached: str, query: str) -> None:
    answers = [get(cached, query) for _ in range(2)]
    assert all(answer.headers["cache-control"] == "no-store" for answer in answers)
    assert all(answer.headers["x-cache-status"] != "HIT" for answer in answers)
