"""``rpod auto-update``: containers labelled ``io.containers.autoupdate=registry`` (or ``local``)
are checked against their image; when it changed, the new image is pulled and the systemd unit
named by the container's ``PODMAN_SYSTEMD_UNIT`` label is restarted (``systemctl --user restart``);
when that restart fails the old image gets its name back and the unit is restarted again.

No daemon and no D-Bus: the restart is the ``systemctl`` command (``$RPOD_SYSTEMCTL`` replaces it,
e.g. for a test that records and performs the restart)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from rpod.errors import RpodError

LABEL = "io.containers.autoupdate"
UNIT_LABEL = "PODMAN_SYSTEMD_UNIT"
POLICIES = ("registry", "local")


@dataclass
class Report:
    """One row of Podman's auto-update table."""

    Unit: str
    ContainerID: str
    ContainerName: str
    Image: str
    Policy: str
    Updated: str  # true | false | pending (dry run) | failed | rolled back

    @property
    def Container(self) -> str:  # noqa: N802 - Podman's template field
        return f"{self.ContainerID[:12]} ({self.ContainerName})"


def systemctl_command() -> list[str]:
    """``$RPOD_SYSTEMCTL`` (split on blanks) or ``systemctl``; ``RpodError`` when there is none."""
    forced = os.environ.get("RPOD_SYSTEMCTL")
    if forced:
        return forced.split()
    found = shutil.which("systemctl")
    if not found:
        raise RpodError("cannot restart systemd units: systemctl is not installed",
                        hint="install systemd, or restart the units yourself")
    return [found]


def restart_unit(unit: str) -> None:
    """``systemctl --user restart UNIT``; ``RpodError`` saying why it failed (no user manager...)."""
    argv = [*systemctl_command(), "--user", "restart", unit]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    except OSError as e:
        raise RpodError(f"restarting unit {unit}: cannot run {argv[0]}: {e}") from None
    if proc.returncode != 0:
        why = (proc.stderr or proc.stdout).strip() or f"exit status {proc.returncode}"
        hint = None
        if "bus" in why.lower() or "XDG_RUNTIME_DIR" in why:
            hint = ("there is no systemd user manager for this user (log in, or `loginctl enable-linger "
                    "$USER`, and make sure XDG_RUNTIME_DIR is set)")
        raise RpodError(f"restarting unit {unit} ({' '.join(argv)}) failed: {why}", hint=hint)


def _digests(img: Any) -> set[str]:
    out = {img.digest, getattr(img, "manifest_digest", "")}
    out |= {d.rpartition("@")[2] for d in img.repo_digests}
    return {d for d in out if d}


def _outdated(paths: Any, img: Any, name: str, policy: str) -> bool:
    """Whether ``name`` now points to something else than the image the container runs."""
    if policy == "local":
        from rpod.image.store import ImageStore

        try:
            return ImageStore(paths).resolve(name).id != img.id
        except RpodError:
            return False
    from rpod.image.pull import Puller, candidates

    refs = candidates(name)
    if len(refs) != 1:
        raise RpodError(f"auto-updating needs a fully qualified image name, not {name!r}",
                        hint="create the container from registry.example.com/repo:tag")
    return Puller(paths).remote_digest(refs[0]) not in _digests(img)


def auto_update(paths: Any, *, dry_run: bool = False, rollback: bool = True) -> tuple[list[Report], list[str]]:
    """Check (and unless ``dry_run`` update) every auto-update container; (reports, errors)."""
    from rpod.container.state import ContainerStore
    from rpod.image.pull import ensure_image
    from rpod.image.store import ImageStore

    images = ImageStore(paths)
    reports: list[Report] = []
    errors: list[str] = []
    restarted: set[str] = set()
    for rec, st in ContainerStore(paths).iter_states():
        policy = rec.labels.get(LABEL)
        if not policy or not st.running:  # as Podman: only running containers are updated
            continue
        if policy not in POLICIES:
            errors.append(f"auto-updating container {rec.id[:12]}: invalid auto-update policy {policy!r} "
                          f"(use {' or '.join(POLICIES)})")
            continue
        unit = rec.labels.get(UNIT_LABEL)
        if not unit:
            errors.append(f"auto-updating container {rec.id[:12]}: no {UNIT_LABEL} label found "
                          "(run it from a unit made by `rpod generate systemd --new` or `rpod quadlet`)")
            continue
        name = rec.image_name
        row = Report(unit, rec.id, rec.name, name, policy, "false")
        reports.append(row)
        try:
            old = next((i for i in images.list() if i.id == rec.image_id), None)
            if old is None:
                raise RpodError(f"the image {rec.image_id[:12]} of the container is gone")
            if not _outdated(paths, old, name, policy):
                continue
            if dry_run:
                row.Updated = "pending"
                continue
            if policy == "registry":
                new = ensure_image(paths, name, "always")
                if new.id == old.id:
                    continue
            if unit in restarted:
                row.Updated = "true"
                continue
            try:
                restart_unit(unit)
                restarted.add(unit)
                row.Updated = "true"
            except RpodError as e:
                if not rollback:
                    row.Updated = "failed"
                    raise
                images.add_name(old.id, name)  # the name goes back to the image that worked
                try:
                    restart_unit(unit)
                except RpodError as e2:
                    row.Updated = "failed"
                    raise RpodError(f"{e}; rolling back to image {old.id[:12]} failed too: {e2}",
                                    hint=e2.hint or e.hint) from None
                row.Updated = "rolled back"
                errors.append(f"updating unit {unit}: {e}; rolled back to image {old.id[:12]}")
        except RpodError as e:
            if row.Updated == "false":
                row.Updated = "failed"
            errors.append(f"auto-updating container {rec.id[:12]} ({rec.name}): {e}"
                          + (f" (hint: {e.hint})" if e.hint else ""))
    return reports, errors
