"""Secrets (the engine side of ``rpod secret ...``): create, list, inspect, remove."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rpod.engine.types import paths_or_default
from rpod.paths import Paths
from rpod.secret.store import NoSuchSecret, SecretRecord, SecretStore

__all__ = ["NoSuchSecret", "SecretRecord", "create", "exists", "inspect", "ls", "rm"]


@dataclass
class RemoveReport:
    ref: str
    id: str = ""
    error: BaseException | None = None


def create(paths: Paths | None, name: str, data: bytes, *, labels: list[str] | None = None,
           replace: bool = False, driver: str = "file", env: bool = False) -> SecretRecord:
    """A new secret (``labels`` as ``K=V`` flags)."""
    from rpod.container.options import parse_key_values

    paths = paths_or_default(paths)
    return SecretStore(paths).create(name, data, labels=parse_key_values(labels or [], "--label"),
                                     replace=replace, driver=driver, env=env)


def ls_rows(paths: Paths | None, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
    """``secret ls`` rows (times humanized, as Podman's table) matching ``name=``/``id=`` filters."""
    from rpod.humanize import parse_time, since

    recs = [r for r in ls(paths)
            if all(any(r.name == v or (k == "id" and r.id.startswith(v)) for v in vs) for k, vs in filters.items())]
    return [{"ID": r.id, "Name": r.name, "Driver": r.driver, "CreatedAt": since(parse_time(r.created)),
             "UpdatedAt": since(parse_time(r.updated or r.created)), "Labels": r.labels} for r in recs]


def ls(paths: Paths | None) -> list[SecretRecord]:
    paths = paths_or_default(paths)
    return SecretStore(paths).list()


def inspect(paths: Paths | None, refs: list[str], *, show: bool = False) -> tuple[list[dict[str, Any]], list[BaseException]]:
    paths = paths_or_default(paths)
    store = SecretStore(paths)
    docs, errors = [], []
    for ref in refs:
        try:
            rec = store.get(ref)
            docs.append(rec.inspect(store.data_dir, store.data(rec) if show else None))
        except NoSuchSecret as e:
            errors.append(e)
    return docs, errors


def rm(paths: Paths | None, refs: list[str], *, all_: bool = False, ignore: bool = False) -> list[RemoveReport]:
    paths = paths_or_default(paths)
    store = SecretStore(paths)
    out = []
    for ref in [r.id for r in store.list()] if all_ else refs:
        try:
            out.append(RemoveReport(ref, store.remove(ref).id))
        except NoSuchSecret as e:
            if not ignore:
                out.append(RemoveReport(ref, error=e))
    return out


def exists(paths: Paths | None, ref: str) -> bool:
    paths = paths_or_default(paths)
    return SecretStore(paths).lookup(ref) is not None
