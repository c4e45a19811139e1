"""Consistency of the container store: records, name links and leftovers of killed commands.

A create writes the name link, then the record; an rm removes the record, then the link; a
rename links the new name, rewrites the record, unlinks the old name.  A kill between two steps
leaves a link that names no record of that name (repaired on sight: ``ContainerStore.get`` and
``create`` free it); older versions could also leave a record without its link.  ``check`` finds
both, plus directories and removals a killed command left, and repairs them when asked.
"""

from __future__ import annotations

import os

from rootless import ctrfiles
from rpod.container.names import generate_name
from rpod.container.state import ContainerStore
from rpod.storefile import Problem, abandoned_removals


def check(store: ContainerStore, repair: bool = False) -> list[Problem]:
    """Every name and record problem of ``store`` (repaired when ``repair``), under its lock."""
    out: list[Problem] = []
    with store.lock():
        records = {cid: store.load(cid) for cid in store.ids()}
        links = _links(store)
        for link, target in links.items():
            rec = records.get(target)
            if rec is None or store.link(rec.name).name != link:
                what = "no such container" if rec is None else f"container {target[:12]} is named {rec.name!r}"
                p = Problem("name", link, f"name link points to {target[:12]}: {what}")
                if repair:
                    os.unlink(store.names_dir / link)
                    p.repaired = True
                out.append(p)
        owners: dict[str, str] = {}
        for cid, rec in sorted(records.items(), key=lambda kv: (kv[1].created if kv[1] else "")):
            if rec is None:
                continue
            if store.name_owner(rec.name) == cid:
                owners[rec.name] = cid
                continue
            out.append(_relink(store, rec, owners, repair))
        for cid in store.orphans():
            out.append(Problem("directory", f"containers/{cid}", "container directory without a record",
                               repaired=repair))
    if repair:
        store.reclaim()
    else:
        out += [Problem("directory", f"tmp/{p.name}", "removal abandoned by a killed command")
                for p in _abandoned_peek(store)]
    return out


def _relink(store: ContainerStore, rec, owners: dict[str, str], repair: bool) -> Problem:  # noqa: ANN001
    """A record without its name link: link it again, or rename it when the name went to another."""
    taken = store.name_owner(rec.name) is not None
    p = Problem("container", rec.id[:12],
                f"record named {rec.name!r} has no name link" + (" and another container holds the name"
                                                                 if taken else ""))
    if repair:
        if taken:
            rec.name = generate_name(lambda n: store.name_owner(n) is not None)
            p.problem += f": renamed to {rec.name!r}"

            from rpod.storefile import atomic_write_json

            atomic_write_json(store.dir(rec.id) / ctrfiles.RECORD, rec.to_dict())
        os.symlink(rec.id, store.link(rec.name))
        owners[rec.name] = rec.id
        p.repaired = True
    return p


def _links(store: ContainerStore) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        entries = list(os.scandir(store.names_dir))
    except FileNotFoundError:
        return out
    for e in entries:
        try:
            out[e.name] = os.readlink(e.path)
        except OSError:
            out[e.name] = ""
    return out


def _abandoned_peek(store: ContainerStore) -> list:  # noqa: ANN201
    """``tmp/*.removing*`` of dead processes, without claiming them (a check that repairs nothing)."""
    from rootless.procinfo import pid_alive
    from rpod.storefile import REMOVING

    out = []
    try:
        entries = list(os.scandir(store.paths.tmp))
    except FileNotFoundError:
        return out
    for e in entries:
        _, sep, pid = e.name.rpartition(REMOVING)
        if (sep and pid.isdigit() and not pid_alive(int(pid))) or (not sep and e.name.endswith(".removing")):
            out.append(e)
    return out


__all__ = ["Problem", "check", "abandoned_removals"]
