"""RDF and SPARQL-results formats as data: one table feeds the dumps, content negotiation and links.

pyoxigraph's ``RdfFormat`` and ``QueryResultsFormat`` already know each format's media type and file
extension; this module only says which ones we publish, in which order of preference, and under
which short names (the ``format`` parameter of the endpoint, the suffix of a document IRI), and finds
one by any of them (``by_name``). Choosing one from an ``Accept`` header is ``web/conneg.py``'s.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import pyoxigraph as ox


class Offer(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def media_type(self) -> str: ...

    @property
    def extension(self) -> str: ...

    @property
    def aliases(self) -> tuple[str, ...]: ...


OfferT = TypeVar("OfferT", bound=Offer)


def bare(media_type: str) -> str:
    """``text/tab-separated-values; charset=utf-8`` → ``text/tab-separated-values``."""
    return media_type.split(";", 1)[0].strip().lower()


def by_name(name: str, offers: Sequence[OfferT], aliases: dict[str, str] | None = None) -> OfferT | None:
    """The offer a ``format`` parameter names: short name, file extension, media type (its parameters
    ignored) or alias."""
    key = bare(name)
    key = (aliases or {}).get(key, key)
    for offer in offers:
        if key in (offer.name, offer.extension, bare(offer.media_type), *offer.aliases):
            return offer
    return None


def media_types(offers: Sequence[Offer]) -> str:
    """``text/turtle, application/ld+json, …``: what a 406 answer lists."""
    return ", ".join(bare(offer.media_type) for offer in offers)


@dataclass(frozen=True)
class RdfFormat:
    name: str  # short name: "turtle", "ntriples", …
    rdf_format: ox.RdfFormat
    aliases: tuple[str, ...] = ()  # other media types clients send for it

    @property
    def media_type(self) -> str:
        return str(self.rdf_format.media_type)

    @property
    def extension(self) -> str:
        return str(self.rdf_format.file_extension)

    @property
    def keeps_graphs(self) -> bool:
        """True for dataset formats (TriG, N-Quads, JSON-LD), which keep the named graphs."""
        return bool(self.rdf_format.supports_datasets)


@dataclass(frozen=True)
class ResultsFormat:
    name: str
    results_format: ox.QueryResultsFormat
    aliases: tuple[str, ...] = ()

    @property
    def media_type(self) -> str:
        return str(self.results_format.media_type)

    @property
    def extension(self) -> str:
        return str(self.results_format.file_extension)


# In order of preference when a client accepts several equally.
RDF_FORMATS: tuple[RdfFormat, ...] = (
    RdfFormat("turtle", ox.RdfFormat.TURTLE, ("application/x-turtle",)),
    RdfFormat("jsonld", ox.RdfFormat.JSON_LD, ("application/json",)),
    RdfFormat("ntriples", ox.RdfFormat.N_TRIPLES, ("text/plain",)),
    RdfFormat("rdfxml", ox.RdfFormat.RDF_XML, ("application/xml", "text/xml")),
    RdfFormat("trig", ox.RdfFormat.TRIG, ("application/x-trig",)),
    RdfFormat("nquads", ox.RdfFormat.N_QUADS, ("text/x-nquads",)),
)

RESULTS_FORMATS: tuple[ResultsFormat, ...] = (
    ResultsFormat("json", ox.QueryResultsFormat.JSON, ("application/json",)),
    ResultsFormat("xml", ox.QueryResultsFormat.XML, ("application/xml", "text/xml")),
    ResultsFormat("csv", ox.QueryResultsFormat.CSV),
    ResultsFormat("tsv", ox.QueryResultsFormat.TSV),
)


@functools.lru_cache(maxsize=64)  # asked per query, with our own short names
def rdf_format(name_or_media_type: str) -> RdfFormat | None:
    """The RDF format with this short name, extension, media type (with or without its parameters) or
    alias; None if we have none."""
    return by_name(name_or_media_type, RDF_FORMATS)


@functools.lru_cache(maxsize=64)
def results_format(name_or_media_type: str) -> ResultsFormat | None:
    """The same for results: ``text/csv`` and ``text/csv; charset=utf-8`` are both CSV."""
    return by_name(name_or_media_type, RESULTS_FORMATS)
