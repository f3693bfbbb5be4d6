"""Changing the Wikidata link record: a person's decision (``links accept ENTITY QID``) and the refresh of
what the record says of each linked item (``links refresh``). Nothing here chooses an item: ``accept``
writes the one a person names, with its evidence, after the checks a link must pass; ``refresh`` fills
the description and main class of items already linked, and flags what changed for a person to judge.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from spacegraph.errors import SpacegraphError
from spacegraph.namespaces import ID
from spacegraph.publish.candidates import Graph, Mapped, score
from spacegraph.publish.links import QID, Link, Problem, check_offline, confirmed
from spacegraph.publish.wikidata import Item, Wikidata

SEPARATOR = " | "


class Refused(SpacegraphError):
    """The decision cannot be recorded as it stands (exit 1): the item is gone, merged, a wiki page, of
    the wrong kind, already linked from another entity, or its label does not match ours."""


def main_class(item: Item, mapped: list[Mapped], instances: set[tuple[str, str]]) -> str:
    """The P31 value the record keeps: a preferred one first; among those, one our classes map to, then
    one that is a subclass of a class ours map to; else the first."""
    classes = item.classes()  # preferred rank first
    if not classes:
        return ""
    preferred = [s.value for s in item.claims.get("P31", ()) if s.rank == "preferred"] or classes
    wanted = [m.qid for m in mapped]
    for pool in (preferred, classes):
        for qid in pool:
            if qid in wanted:
                return qid
        for qid in pool:
            if any((qid, w) in instances or (item.qid, w) in instances for w in wanted):
                return qid
    return preferred[0]


def evidence_of(item: Item, api: str, day: date, extra: str = "") -> str:
    labels = ", ".join(f"{lang} {text!r}" for lang, text in sorted(item.labels.items()))
    classes = ", ".join(item.classes()) or "none"
    text = f"{api} wbgetentities {item.qid}, retrieved {day.isoformat()}: labels {labels or 'none'}; P31 {classes}"
    return text + (f"; {extra}" if extra else "")


def accept(
    record: list[Link], graph: Graph, wikidata: Wikidata, entity: str, qid: str, day: date
) -> tuple[list[Link], Link]:
    """The record with ``entity`` linked to ``qid`` as a person decided, and the new row; or ``Refused``."""
    if not QID.fullmatch(qid):
        raise Refused(f"not a Wikidata Q-id: {qid!r}")
    if not graph.exists(entity):
        raise Refused(f"id:{entity} is not in our graph (no resource with a type has the IRI {ID}{entity})")
    others = [link.entity for link in confirmed(record) if link.qid == qid and link.entity != entity]
    if others:
        raise Refused(f"{qid} is already linked from id:{others[0]}; one item names one thing")
    item = wikidata.items([qid])[qid]
    if item.missing:
        raise Refused(f"{qid} does not exist in Wikidata (deleted, or never created)")
    if item.redirected:
        raise Refused(f"{qid} was merged into {item.qid}: accept {item.qid} instead, if it is the same thing")
    page = item.not_a_thing()
    if page is not None:
        raise Refused(f"{qid} is a {page}, not a thing in the world")
    profile = graph.profile(entity)
    classes = item.classes()
    instances = wikidata.instances([qid], [m.qid for m in profile.classes])
    chosen = main_class(item, profile.classes, instances)
    referenced = {*classes, *(m.qid for m in profile.classes), *(c.expected for c in profile.clues if c.what != "date")}
    heads = {c.expected for c in profile.clues if c.heads}
    extra = wikidata.items(sorted(referenced | heads)) if referenced | heads else {}
    names = {q: i.label() for q, i in extra.items() if not i.missing}
    candidate = score(profile, item, names, instances, {q: extra[q] for q in heads if q in extra})
    matching = "; ".join(candidate.matching) or "none"
    old = next((link for link in record if link.entity == entity), None)
    evidence = f"accepted by a person on {day.isoformat()} (spacegraph links accept, score {candidate.score:g})"
    evidence += SEPARATOR + evidence_of(item, wikidata.api_url, day, f"matching claims: {matching}")
    if old is not None and old.evidence:
        evidence += SEPARATOR + "before: " + old.evidence
    row = Link(
        entity=entity,
        qid=qid,
        status="confirmed",
        label_en=item.labels.get("en", ""),
        label_fr=item.labels.get("fr", ""),
        label_ja=item.labels.get("ja", ""),
        description_en=item.descriptions.get("en", ""),
        instance_of_qid=chosen,
        instance_of_label=names.get(chosen, ""),
        evidence=evidence,
        line=old.line if old is not None else 0,
    )
    problems = [p for p in check_offline([row], graph.store) if p.severity == "error"]
    if problems:
        raise Refused(f"{qid} for id:{entity}: " + "; ".join(p.message for p in problems))
    updated = [row if link.entity == entity else link for link in record]
    if old is None:
        updated.append(row)
    return updated, row


@dataclass(frozen=True)
class Refresh:
    record: list[Link]
    changes: list[str]  # what was filled or updated, one line each
    problems: list[Problem]  # what a person must look at: labels changed, items merged or deleted


def refresh(record: list[Link], graph: Graph, wikidata: Wikidata, day: date) -> Refresh:
    """Fill each confirmed link's description and main class (and empty labels) from its item now; flag
    recorded labels that differ from the item's, and items merged or deleted (their rows stay as they are)."""
    links = confirmed(record)
    items = wikidata.items(link.qid for link in links)
    mapped = {link.entity: graph.profile(link.entity).classes for link in links}
    live = [items[link.qid] for link in links if not items[link.qid].missing and not items[link.qid].redirected]
    instances = wikidata.instances([i.qid for i in live], {m.qid for ms in mapped.values() for m in ms})
    class_ids = {q for item in live for q in item.classes()}
    class_names = (
        {q: i.label() for q, i in wikidata.items(sorted(class_ids)).items() if not i.missing} if class_ids else {}
    )
    changes: list[str] = []
    problems: list[Problem] = []
    updated: list[Link] = []
    for link in record:
        item = items.get(link.qid) if link.status == "confirmed" else None
        if item is None:
            updated.append(link)
            continue
        if item.missing:
            problems.append(Problem("error", link.name, "deleted: wbgetentities says the item is missing"))
            updated.append(link)
            continue
        if item.redirected:
            problems.append(
                Problem(
                    "error", link.name, f"merged into {item.qid}: a person should accept it if it is the same thing"
                )
            )
            updated.append(link)
            continue
        fields: dict[str, str] = {}
        for language in ("en", "fr", "ja"):
            column = f"label_{language}"
            recorded, now = getattr(link, column), item.labels.get(language, "")
            if not recorded and now:
                fields[column] = now
            elif recorded and now and recorded != now:
                problems.append(Problem("error", link.name, f"{column} changed: recorded {recorded!r}, now {now!r}"))
        description = item.descriptions.get("en", "")
        if description and description != link.description_en:
            fields["description_en"] = description
        chosen = main_class(item, mapped[link.entity], instances)
        if chosen and chosen != link.instance_of_qid:
            if link.instance_of_qid:
                problems.append(
                    Problem("warning", link.name, f"main class changed: recorded {link.instance_of_qid}, now {chosen}")
                )
            fields["instance_of_qid"] = chosen
        label = class_names.get(chosen or link.instance_of_qid, "")
        if label and label != link.instance_of_label and (chosen or link.instance_of_qid):
            fields["instance_of_label"] = label
        if not fields:
            updated.append(link)
            continue
        note = evidence_of(item, wikidata.api_url, day, "refreshed " + ", ".join(sorted(fields)))
        fields["evidence"] = (link.evidence + SEPARATOR if link.evidence else "") + note
        changes.append(f"{link.name}: " + ", ".join(f"{k} {v!r}" for k, v in fields.items() if k != "evidence"))
        updated.append(replace(link, **fields))  # type: ignore[arg-type]
    return Refresh(updated, changes, problems)
