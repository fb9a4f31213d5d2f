"""People and their identifiers in one workspace, as Customer.io documents them (Journeys Track
API, docs.customer.io/integrations/api/track/): the semantics Track v1, Track v2 and the App API
share. Pure functions of a ``Workspace``; ``Sandbox`` calls them with its lock held.

- The workspace identifies people by email or id (the default for new workspaces): a person has
  an ``id`` and/or an ``email`` (compared case-insensitively), maybe a ``phone`` (Track v2), and
  the ``cio_id`` assigned when they were added.
- identify creates or updates; a reference by ``cio_id`` only updates ("If the cio_id does not
  exist or belongs to a person who was deleted, we'll drop the request"); body identifiers that
  belong to another person make it an *Attribute Update Failure* (answered 200, nothing
  changes); ``_update: true`` never creates.
- suppress deletes the profile *and* suppresses the identifier referenced; "If you suppress a
  person in a workspace that identifies people by email or ID and both identifiers are set, both
  the person's email and ID are suppressed". "Any future API calls or operations referencing the
  specified ID are ignored": identify, events and delete of a suppressed identifier do nothing.
- unsuppress makes the identifiers suppressed together available again; it does not restore the
  profile.
- delete removes the person; nothing says whether they existed.
- Track is asynchronous: the App API (``lookup``) sees a change ``delay`` seconds after it.

>>> ws = Workspace()
>>> identify(ws, ("id", "u1"), {"email": "A@example.com"}, now=0.0, wall=0, delay=0.0)
>>> suppress(ws, ("email", "a@example.com"), now=0.0, delay=0.0)
>>> sorted(suppressed_identifiers(ws))
['a@example.com', 'u1']
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ciosec.sandbox.models import Departed, IdentifierType, Person, Reference, Workspace

_ASSIGNABLE: tuple[IdentifierType, ...] = ("id", "email")


def v1_reference(value: str) -> Reference:
    """The identifier a Track v1 path names, typed by its shape as Customer.io does: ``cio_``
    prefix -> cio_id (prefix removed), an ``@`` -> email, anything else (a phone number too) -> id."""
    if value.startswith("cio_"):
        return ("cio_id", value[len("cio_") :])
    if "@" in value:
        return ("email", value)
    return ("id", value)


def v1_name(reference: Reference) -> str:
    """The identifier as a Track v1 path names it (a cio_id with its ``cio_`` prefix)."""
    kind, value = reference
    return f"cio_{value}" if kind == "cio_id" else value


def normalized(reference: Reference) -> tuple[str, str]:
    """The key identifiers are compared by: emails are case-insensitive."""
    kind, value = reference
    return (kind, value.casefold() if kind == "email" else value)


def _references(person: Person) -> list[Reference]:
    refs: list[Reference] = [("cio_id", person.cio_id)]
    for kind in ("id", "email", "phone"):
        value = getattr(person, kind)
        if value is not None:
            refs.append((kind, value))
    return refs


def find(ws: Workspace, reference: Reference) -> Person | None:
    """The person an identifier belongs to (Track's view: changes apply at once)."""
    cio_id = ws.index.get(normalized(reference))
    return ws.people.get(cio_id) if cio_id is not None else None


def is_suppressed(ws: Workspace, reference: Reference) -> bool:
    return normalized(reference) in ws.suppressed


def suppressed_identifiers(ws: Workspace) -> set[str]:
    """Every suppressed identifier, as it was given (cio_ids with their ``cio_`` prefix)."""
    return {name for _, name in ws.suppressed.values()}


def assign(ws: Workspace, person: Person, reference: Reference) -> None:
    kind, value = reference
    old = getattr(person, kind)
    if old is not None:
        ws.index.pop(normalized((kind, old)), None)
    setattr(person, kind, value)
    ws.index[normalized(reference)] = person.cio_id


def create(
    ws: Workspace, reference: Reference, *, now: float, wall: int, delay: float, key: str | None = None
) -> Person:
    """Add a person named by ``reference`` (a cio_id reference sets their cio_id)."""
    if reference[0] == "cio_id":
        cio_id = reference[1]
    else:
        cio_id = f"{ws.next_cio_id:08x}"
        ws.next_cio_id += 1
    person = Person(
        key=key if key is not None else v1_name(reference),
        cio_id=cio_id,
        created_at=wall,
        visible_from=now + delay,
    )
    ws.people[cio_id] = person
    ws.index[normalized(("cio_id", cio_id))] = cio_id
    if reference[0] != "cio_id":
        assign(ws, person, reference)
    return person


def remove(ws: Workspace, person: Person, *, now: float, delay: float) -> None:
    """Delete a person; the App API keeps showing them for ``delay`` seconds."""
    for reference in _references(person):
        if ws.index.get(normalized(reference)) == person.cio_id:
            del ws.index[normalized(reference)]
    ws.people.pop(person.cio_id, None)
    ws.departed = [d for d in ws.departed if d.visible_until > now]
    if delay > 0:
        ws.departed.append(Departed(copy.deepcopy(person), now + delay))


def _body_references(attributes: Mapping[str, Any]) -> list[Reference]:
    return [(kind, value) for kind in _ASSIGNABLE if isinstance(value := attributes.get(kind), str) and value]


def identify(
    ws: Workspace,
    reference: Reference,
    attributes: Mapping[str, Any],
    *,
    now: float,
    wall: int,
    delay: float,
) -> None:
    """Create or update the person ``reference`` names, merging ``attributes`` (whose ``id`` and
    ``email`` are identifiers too). Ignored, as Customer.io ignores it, when any identifier is
    suppressed, when a cio_id names nobody, or when the identifiers belong to different people."""
    body_refs = _body_references(attributes)
    if is_suppressed(ws, reference) or any(is_suppressed(ws, ref) for ref in body_refs):
        return
    person = find(ws, reference)
    others = {p.cio_id: p for ref in body_refs if (p := find(ws, ref)) is not None}
    if person is None:
        if reference[0] == "cio_id" or len(others) > 1:
            return
        if others:
            person = next(iter(others.values()))
            current = getattr(person, reference[0])
            if current is not None and normalized((reference[0], current)) != normalized(reference):
                return
            assign(ws, person, reference)
        elif attributes.get("_update") is True:
            return
        else:
            person = create(ws, reference, now=now, wall=wall, delay=delay)
    elif any(other is not person for other in others.values()):
        return
    for ref in body_refs:
        if getattr(person, ref[0]) is None or reference[0] == "cio_id":
            assign(ws, person, ref)
    person.attributes.update(copy.deepcopy({k: v for k, v in attributes.items() if k != "_update"}))


def track_event(
    ws: Workspace,
    reference: Reference,
    event: Mapping[str, Any],
    *,
    now: float,
    wall: int,
    delay: float,
) -> None:
    """Record an event for the person (created unless named by cio_id); ignored for a
    suppressed identifier."""
    if is_suppressed(ws, reference):
        return
    person = find(ws, reference)
    if person is None:
        if reference[0] == "cio_id":
            return
        person = create(ws, reference, now=now, wall=wall, delay=delay)
    person.events.append(copy.deepcopy(dict(event)))


def suppress(ws: Workspace, reference: Reference, *, now: float, delay: float) -> None:
    """Delete the person (if any) and suppress the identifier referenced, with the person's id
    and email."""
    names = {normalized(reference): v1_name(reference)}
    person = find(ws, reference)
    if person is not None:
        for kind in _ASSIGNABLE:
            value = getattr(person, kind)
            if value is not None:
                names.setdefault(normalized((kind, value)), value)
        remove(ws, person, now=now, delay=delay)
    groups = {ws.suppressed[key][0] for key in names if key in ws.suppressed}
    group = min(groups) if groups else ws.next_group
    if not groups:
        ws.next_group += 1
    if len(groups) > 1:  # merging groups: the only case that needs a pass over the whole list
        for key, (other, name) in list(ws.suppressed.items()):
            if other in groups:
                ws.suppressed[key] = (group, name)
    for key, name in names.items():
        ws.suppressed.setdefault(key, (group, name))


def unsuppress(ws: Workspace, reference: Reference) -> None:
    """Lift the suppression of ``reference`` and of the identifiers suppressed with it."""
    entry = ws.suppressed.get(normalized(reference))
    if entry is not None:
        ws.suppressed = {k: v for k, v in ws.suppressed.items() if v[0] != entry[0]}


def delete(ws: Workspace, reference: Reference, *, now: float, delay: float) -> None:
    """Delete the person ``reference`` names, if any (ignored for a suppressed identifier)."""
    if is_suppressed(ws, reference):
        return
    person = find(ws, reference)
    if person is not None:
        remove(ws, person, now=now, delay=delay)


def lookup(ws: Workspace, reference: Reference, *, now: float) -> Person | None:
    """The person as the App API sees them at ``now``: changes show ``delay`` seconds late, so a
    person just deleted or suppressed through Track is still there, one just added is not yet."""
    person = find(ws, reference)
    if person is not None and person.visible_from <= now:
        return person
    key = normalized(reference)
    for departed in reversed(ws.departed):
        shown = departed.person.visible_from <= now < departed.visible_until
        if shown and key in {normalized(r) for r in _references(departed.person)}:
            return departed.person
    return None
