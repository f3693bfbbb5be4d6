"""What every page shares: the reader's language, how links are written (``Site``), the words of the
interface, the Jinja2 environment and the frame of each page (``Chrome``)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import pyoxigraph as ox

from spacegraph import __version__
from spacegraph.namespaces import BASE, WIKIDATA_ENTITY

if TYPE_CHECKING:
    import jinja2


TEMPLATES = Path(__file__).parents[1] / "templates"
LANGUAGES = ("en", "fr", "ja")
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "ja": "日本語"}
WIKIDATA_PAGE = "https://www.wikidata.org/wiki/"


# --- Words of the interface, in each language we label in -------------------------------------------

WORDS: dict[str, dict[str, str]] = json.loads((TEMPLATES / "words.json").read_text(encoding="utf-8"))


# --- Language ------------------------------------------------------------------------------------------


def choose_language(accept_language: str | None, explicit: str | None) -> tuple[str, bool]:
    """The page's language, and whether the reader chose it explicitly (``?lang=``) — then links keep it."""
    if explicit in LANGUAGES:
        assert explicit is not None
        return explicit, True
    from spacegraph.web.conneg import negotiate_language

    return negotiate_language(accept_language, LANGUAGES), False


def pick(literals: Iterable[ox.Literal], language: str) -> ox.Literal | None:
    """The literal in ``language``, else English, else one without a language, else any."""
    items = list(literals)
    for wanted in (language, "en", None):
        for literal in items:
            if (literal.language or None) == wanted:
                return literal
    return items[0] if items else None


# --- Links ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """How this server writes its links: under ``root`` (the ASGI root path, or the public URL the server
    is configured with) for our IRIs, with ``?lang=`` when the reader chose a language; and the absolute
    public address of a page (``public``: the public URL, else the base of our IRIs, which w3id.org
    redirects to the server), for canonical links, the sitemap and search engines."""

    root: str = ""
    language: str = "en"
    explicit: bool = False
    public: str = BASE

    def address(self, path: str, explicit: bool | None = None) -> str:
        """The absolute public address of ``path`` (a local path such as ``/id/jaxa.html``), with the
        reader's language when they chose it (or, given ``explicit``, when that says so)."""
        href = self.public + path.lstrip("/")
        if self.explicit if explicit is None else explicit:
            href += "?" + urlencode({"lang": self.language})
        return href

    def local(self, iri: str) -> str | None:
        if not iri.startswith(BASE):
            return None
        path, hash_, fragment = iri[len(BASE) :].partition("#")
        href = self.root + "/" + quote(path, safe="/:@!$&'()*+,;=-._~")
        if self.explicit and not path.startswith("dumps/"):
            href += "?" + urlencode({"lang": self.language})
        return href + (hash_ + quote(fragment, safe="-._~") if fragment else "")

    def path(self, path: str, **params: str) -> str:
        query = dict(params)
        if self.explicit:
            query.setdefault("lang", self.language)
        return self.root + path + ("?" + urlencode(query) if query else "")

    def href(self, iri: str) -> str:
        """Where a link to ``iri`` goes: ours stay local, Wikidata items go to their page."""
        local = self.local(iri)
        if local is not None:
            return local
        if iri.startswith(WIKIDATA_ENTITY):
            return WIKIDATA_PAGE + iri[len(WIKIDATA_ENTITY) :]
        return iri


def json_script(document: object) -> str:
    """JSON for a ``<script>`` element: ``<``, ``>`` and ``&`` escaped so the text cannot close it."""
    text = json.dumps(document, ensure_ascii=False, indent=2)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# --- The template environment ----------------------------------------------------------------------


def environment() -> jinja2.Environment:
    import jinja2  # here: a server that has rendered no page yet (say, answering SPARQL) needs no Jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size"] = human_size
    env.globals["version"] = __version__
    env.globals["language_names"] = LANGUAGE_NAMES
    return env


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value):,} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"


@dataclass(frozen=True)
class Chrome:
    """What every page's frame needs: language, links, the language switch."""

    site: Site
    words: dict[str, str]
    title: str
    switch: list[tuple[str, str, str]]  # (language, name, href)
    # For a page search engines should index: its public address, and the address of each language's
    # version (``x-default`` for the one that follows Accept-Language).
    canonical: str | None = None
    alternates: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(
        cls, site: Site, title: str, path: str, params: Mapping[str, str] | None = None, indexed: bool = False
    ) -> Chrome:
        query = {k: v for k, v in (params or {}).items() if k != "lang"}
        switch = [
            (lang, LANGUAGE_NAMES[lang], site.root + path + "?" + urlencode({**query, "lang": lang}))
            for lang in LANGUAGES
        ]
        if not indexed:
            return cls(site, WORDS[site.language], title, switch)
        alternates = tuple((lang, Site(language=lang, public=site.public).address(path, True)) for lang in LANGUAGES)
        alternates += (("x-default", site.address(path, explicit=False)),)
        return cls(site, WORDS[site.language], title, switch, site.address(path), alternates)


class Pages:
    """Renders each page to a string."""

    @functools.cached_property
    def env(self) -> jinja2.Environment:
        return environment()

    def render(self, template: str, chrome: Chrome, **context: Any) -> str:
        return self.env.get_template(template).render(
            chrome=chrome, site=chrome.site, t=chrome.words, lang=chrome.site.language, **context
        )
