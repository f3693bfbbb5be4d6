"""Content negotiation: pick one of the formats we offer from an ``Accept`` header (RFC 9110 §12.5.1)
(the formats themselves, and finding one by name, are in ``formats.py``).

The quality of an offer is the ``q`` of the most specific media range that matches one of its media
types (``text/turtle`` beats ``text/*`` beats ``*/*``); the offer with the highest quality wins, and
ties go to the earlier offer in the table (``formats.py`` lists them in our order of preference).
Media-type parameters other than ``q`` are ignored when matching. A missing or unreadable header
accepts anything.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from spacegraph.formats import Offer, OfferT, bare


@dataclass(frozen=True)
class MediaRange:
    type: str  # "text", or "*"
    subtype: str  # "turtle", or "*"
    q: float

    @property
    def specificity(self) -> int:
        return (self.type != "*") + (self.subtype != "*")

    def matches(self, media_type: str) -> bool:
        kind, _, sub = media_type.partition("/")
        return self.type in ("*", kind) and self.subtype in ("*", sub)


def q_value(params: Sequence[str]) -> float:
    """The ``q`` weight among an Accept-style entry's parameters: 1 when absent, -1 when unreadable."""
    for param in params:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return -1.0
    return 1.0


def parse_accept(header: str | None) -> list[MediaRange]:
    """The media ranges of an ``Accept`` header; entries that cannot be read are skipped."""
    ranges: list[MediaRange] = []
    for entry in (header or "").split(","):
        media, *params = entry.split(";")
        kind, slash, sub = media.strip().lower().partition("/")
        if not slash or not kind or not sub or (kind == "*" and sub != "*"):
            continue
        q = q_value(params)
        if 0.0 <= q <= 1.0:
            ranges.append(MediaRange(kind, sub, q))
    return ranges


def quality(ranges: Sequence[MediaRange], *media_types: str) -> float:
    """The q the client gives a format known by these media types: that of the most specific range
    matching any of them (an explicit ``text/turtle;q=0`` beats ``*/*`` matching an alias), 0 if none."""
    matching = [r for r in ranges for t in media_types if r.matches(t)]
    if not matching:
        return 0.0
    best = max(r.specificity for r in matching)
    return max(r.q for r in matching if r.specificity == best)


def negotiate(accept: str | None, offers: tuple[OfferT, ...]) -> OfferT | None:
    """The offer the client prefers, or None when it accepts none of them (→ 406)."""
    chosen = preferred(accept, offers)
    return None if chosen is None else offers[chosen]


@functools.lru_cache(maxsize=1024)
def preferred(accept: str | None, offers: tuple[Offer, ...]) -> int | None:
    """The position of the offer ``negotiate`` chooses. Kept for the last 1,024 pairs: clients send the
    same few Accept headers, and working one out took 10-30 µs of every request."""
    ranges = parse_accept(accept)
    if not ranges:
        return 0 if offers else None
    best: int | None = None
    best_q = 0.0
    for position, offer in enumerate(offers):
        q = quality(ranges, *(bare(t) for t in (offer.media_type, *offer.aliases)))
        if q > best_q:
            best, best_q = position, q
    return best


def negotiate_language(header: str | None, offered: Sequence[str]) -> str:
    """The language of ``offered`` (``en``, ``fr``, ``ja``) that an ``Accept-Language`` header prefers
    (RFC 9110 §12.5.4, basic filtering: ``fr-CA`` and ``fr`` both match ``fr``); the first offered when
    none matches. Ties go to the earlier range in the header, then to the order of ``offered``."""
    best, best_q = offered[0], 0.0
    for position, entry in enumerate((header or "").split(",")):
        tag, *params = entry.strip().split(";")
        tag = tag.strip().lower()
        q = q_value(params)
        if not tag or not 0.0 < q <= 1.0:
            continue
        primary = tag.split("-", 1)[0]
        for language in offered:
            if primary == language and q - position * 1e-6 > best_q:
                best, best_q = language, q - position * 1e-6
    return best
