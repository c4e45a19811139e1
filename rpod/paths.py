"""Single source of truth for every on-disk location rpod uses.

Persistent data lives under ``$XDG_DATA_HOME/rpod`` (default
``~/.local/share/rpod``); volatile runtime files under ``$XDG_RUNTIME_DIR/rpod``.
When ``XDG_RUNTIME_DIR`` is unset or not owned by the user (CI runners, ``su``,
cron) the runtime root falls back to ``/tmp/rpod-run-$UID`` (mode 0700, owner
checked).  ``RPOD_ROOT`` / ``RPOD_RUNROOT`` (or ``--root``/``--runroot``)
override both, which the tests use to isolate stores.
"""

from __future__ import annotations

import os
import stat
from functools import cached_property
from pathlib import Path

from rpod.errors import HostSetupError
from rpod.records import record


def owned_dir(path: Path) -> bool:
    """True when ``path`` is a directory owned by the current user."""
    try:
        st = path.stat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()


def default_data_root() -> Path:
    """``$XDG_DATA_HOME/rpod`` or ``~/.local/share/rpod``."""
    env = os.environ.get("RPOD_ROOT")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "rpod"


def default_run_root() -> Path:
    """``$XDG_RUNTIME_DIR/rpod`` or ``/tmp/rpod-run-$UID`` when that is unusable."""
    env = os.environ.get("RPOD_RUNROOT")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and owned_dir(Path(xdg)):
        return Path(xdg) / "rpod"
    return Path(f"/tmp/rpod-run-{os.getuid()}")


def config_home() -> Path:
    """``$XDG_CONFIG_HOME`` or ``~/.config``."""
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return Path(xdg) if xdg else Path.home() / ".config"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) if missing and check that the user owns it."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise HostSetupError(
            f"cannot create {path}: {e.strerror}",
            hint="set RPOD_ROOT/RPOD_RUNROOT (or --root/--runroot) to a directory you own",
        ) from e
    st = path.lstat()
    if st.st_uid != os.getuid() or not stat.S_ISDIR(st.st_mode):
        raise HostSetupError(
            f"{path} is not a directory owned by uid {os.getuid()}",
            hint="remove it or point RPOD_RUNROOT at a directory you own",
        )
    return path


@record(frozen=True)
class Paths:
    """Every path of one store.  Creating a ``Paths`` touches nothing on disk."""

    root: Path
    runroot: Path

    @classmethod
    def default(cls, root: str | Path | None = None, runroot: str | Path | None = None) -> Paths:
        return cls(
            Path(root) if root else default_data_root(),
            Path(runroot) if runroot else default_run_root(),
        )

    # persistent store -------------------------------------------------
    @cached_property
    def blobs(self) -> Path:
        """Content-addressed manifests and configs: ``blobs/sha256/<hex>``."""
        return self.root / "blobs"

    @cached_property
    def partial(self) -> Path:
        """Partly downloaded compressed layers kept to resume a pull."""
        return self.root / "partial"

    @cached_property
    def layers(self) -> Path:
        """Unpacked layers: ``layers/<diffid-hex>/diff`` plus ``layer.json``."""
        return self.root / "layers"

    @cached_property
    def images_db(self) -> Path:
        """The image records (one JSON file, replaced atomically under the store lock)."""
        return self.root / "images.json"

    @cached_property
    def containers(self) -> Path:
        """One directory per container: ``containers/<id>/``."""
        return self.root / "containers"

    @cached_property
    def volumes(self) -> Path:
        """``--volumepath`` (``RPOD_VOLUME_PATH``) or ``<root>/volumes``."""
        env = os.environ.get("RPOD_VOLUME_PATH")
        return Path(env) if env else self.root / "volumes"

    @cached_property
    def tmp(self) -> Path:
        """Scratch space on the store's filesystem (renames into the store stay atomic)."""
        return self.root / "tmp"

    @cached_property
    def store_lock(self) -> Path:
        return self.root / "store.lock"

    @cached_property
    def cache(self) -> Path:
        """Probed host facts (overlay driver, ...), safe to delete."""
        return self.root / "cache"

    # runtime ----------------------------------------------------------
    @cached_property
    def locks(self) -> Path:
        return self.runroot / "locks"

    @cached_property
    def run_containers(self) -> Path:
        """Per-container runtime files: attach socket, control fifo, pid files."""
        return self.runroot / "containers"

    @cached_property
    def runtime_state(self) -> Path:
        """State root handed to the OCI runtime (``--root`` of runc/crun)."""
        return self.runroot / "runtime"

    @cached_property
    def events_log(self) -> Path:
        """The event log: containers.conf's ``events_logfile_path``, else ``events.log`` in the store."""
        from rpod.containersconf import engine_str

        conf = engine_str("events_logfile_path")
        return Path(conf) if conf else self.root / "events.log"

    def blob(self, digest: str) -> Path:
        algo, _, hexd = digest.partition(":")
        return self.blobs / algo / hexd

    def layer_dir(self, diff_id: str) -> Path:
        return self.layers / diff_id.partition(":")[2]

    def container_dir(self, cid: str) -> Path:
        return self.containers / cid

    def ensure(self) -> Paths:
        """Create the store and runtime roots (0700) if missing."""
        ensure_private_dir(self.root)
        ensure_private_dir(self.runroot)
        return self
