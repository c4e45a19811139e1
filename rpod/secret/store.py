"""The file driver: ``<root>/secrets/secrets.json`` (records) and ``<root>/secrets/filedriver/<id>``
(the data, mode 0600 in a 0700 directory: only the user reads it), as Podman's per-user store.

``--secret NAME[,type=mount|env,target=T,uid=U,gid=G,mode=M]``: ``mount`` (default) copies the
data into the container's ``userdata/secrets/`` and binds it read-only at ``/run/secrets/NAME``
(or ``T``; a relative ``T`` is under ``/run/secrets``); ``env`` sets the variable ``T`` (default
NAME).  The data never goes into ``container.json``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rpod.errors import RpodError, UsageError
from rpod.paths import Paths
from rpod.storefile import atomic_write, atomic_write_json, locked, read_json


class NoSuchSecret(RpodError):
    """No secret by that name or id."""


@dataclass
class SecretRecord:
    id: str
    name: str
    driver: str = "file"
    created: str = ""
    updated: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    env: bool = False  # created with --env: the data was an environment variable's name

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SecretRecord:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})

    def inspect(self, data_dir: Path, data: bytes | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "ID": self.id, "CreatedAt": self.created, "UpdatedAt": self.updated or self.created,
            "Spec": {"Name": self.name, "Driver": {"Name": self.driver, "Options": {"path": str(data_dir)}},
                     "Labels": dict(self.labels)}}
        if data is not None:
            doc["SecretData"] = data.decode(errors="replace")
        return doc


def _now() -> str:
    from rootless.monitor import exitfile

    return exitfile.iso_now()


class SecretStore:
    def __init__(self, paths: Paths):
        self.dir = paths.root / "secrets"
        self.data_dir = self.dir / "filedriver"
        self.db = self.dir / "secrets.json"

    def _load(self) -> list[SecretRecord]:
        return [SecretRecord.from_dict(d) for d in (read_json(self.db, []) or [])]

    def _save(self, recs: list[SecretRecord]) -> None:
        atomic_write_json(self.db, [asdict(r) for r in recs])

    def list(self) -> list[SecretRecord]:
        return self._load()

    def lookup(self, ref: str) -> SecretRecord | None:
        recs = self._load()
        for r in recs:
            if r.name == ref or r.id == ref:
                return r
        matches = [r for r in recs if ref and r.id.startswith(ref)]
        return matches[0] if len(matches) == 1 else None

    def get(self, ref: str) -> SecretRecord:
        rec = self.lookup(ref)
        if rec is None:
            raise NoSuchSecret(f'no secret with name or id "{ref}": no such secret')
        return rec

    def data(self, rec: SecretRecord) -> bytes:
        return (self.data_dir / rec.id).read_bytes()

    def create(self, name: str, data: bytes, *, labels: dict[str, str] | None = None, replace: bool = False,
               driver: str = "file", env: bool = False) -> SecretRecord:
        import re

        if driver != "file":
            raise UsageError(f"unsupported secret driver {driver!r}: rpod has the file driver")
        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", name) or len(name) > 253:
            raise UsageError(f"secret name {name!r} is invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
        if not data:
            raise UsageError("secret data must be larger than 0 and less than 512000 bytes")
        if len(data) >= 512000:
            raise UsageError("secret data must be larger than 0 and less than 512000 bytes")
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.dir, 0o700)
        os.chmod(self.data_dir, 0o700)
        with locked(self.dir / "secrets.lock"):
            recs = self._load()
            old = next((r for r in recs if r.name == name), None)
            if old is not None and not replace:
                raise RpodError(f"{name}: secret name in use")
            now = _now()
            rec = SecretRecord(id=os.urandom(13).hex()[:25], name=name, created=old.created if old else now,
                               updated=now, labels=dict(labels or {}), driver=driver, env=env)
            if old is not None:
                rec.id = old.id
                recs.remove(old)
            atomic_write(self.data_dir / rec.id, data, 0o600)
            recs.append(rec)
            self._save(recs)
        return rec

    def remove(self, ref: str) -> SecretRecord:
        with locked(self.dir / "secrets.lock"):
            rec = self.get(ref)
            recs = [r for r in self._load() if r.id != rec.id]
            try:
                os.unlink(self.data_dir / rec.id)
            except FileNotFoundError:
                pass
            self._save(recs)
        return rec


@dataclass
class SecretUse:
    name: str
    kind: str = "mount"  # mount | env
    target: str = ""
    uid: int = 0
    gid: int = 0
    mode: int = 0o444


def parse_secret(value: str) -> SecretUse:
    """``NAME[,type=mount|env,target=T,uid=U,gid=G,mode=M]`` (Podman's ``--secret``)."""
    parts = value.split(",")
    use = SecretUse(parts[0])
    if not use.name:
        raise UsageError(f"invalid --secret {value!r}: the secret name is empty")
    for item in parts[1:]:
        key, sep, val = item.partition("=")
        if not sep:
            raise UsageError(f"invalid --secret option {item!r}: expected KEY=VALUE")
        if key == "type":
            if val not in ("mount", "env"):
                raise UsageError(f"type {val!r} is invalid: use mount or env")
            use.kind = val
        elif key in ("target", "dst"):
            use.target = val
        elif key in ("uid", "gid"):
            if not val.isdigit():
                raise UsageError(f"invalid --secret {key} {val!r}: a number")
            setattr(use, key, int(val))
        elif key == "mode":
            try:
                use.mode = int(val, 8)
            except ValueError:
                raise UsageError(f"invalid --secret mode {val!r}: an octal number") from None
        else:
            raise UsageError(f"option {key!r} is not supported for --secret",
                             hint="use type=mount|env, target=, uid=, gid=, mode=")
    if use.kind == "env" and (use.uid or use.gid or use.mode != 0o444):
        raise UsageError("UID, GID, Mode options cannot be set with secret type env")
    return use


def apply(paths: Paths, values: list[str], secrets_dir: Path
          ) -> tuple[list[dict[str, Any]], list[str], list[tuple[str, int, int]]]:
    """(bind mounts, ``K=V`` environment entries, (copy, uid, gid) to chown in the container's user
    namespace) for the container's ``--secret`` flags; the mounted copies are written under
    ``secrets_dir`` (the container's own directory)."""
    store = SecretStore(paths)
    mounts: list[dict[str, Any]] = []
    env: list[str] = []
    owners: list[tuple[str, int, int]] = []
    for value in values:
        use = parse_secret(value)
        rec = store.get(use.name)
        data = store.data(rec)
        if use.kind == "env":
            env.append(f"{use.target or use.name}={data.decode(errors='replace')}")
            continue
        target = use.target or use.name
        if not target.startswith("/"):
            target = f"/run/secrets/{target}"
        secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        copy = secrets_dir / rec.id
        atomic_write(copy, data, use.mode)
        os.chmod(copy, use.mode)
        mounts.append({"destination": target, "type": "bind", "source": str(copy),
                       "options": ["bind", "rprivate", "ro"]})
        if use.uid or use.gid:
            owners.append((str(copy), use.uid, use.gid))
    return mounts, env, owners
