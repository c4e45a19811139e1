"""``exec``: a process in a running container, on this process's stdio."""

from __future__ import annotations

from rpod.engine.containers import container_store
from rpod.engine.types import paths_or_default
from rpod.errors import StateConflict, UsageError
from rpod.records import field, record

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from rpod.paths import Paths


@record
class ExecOptions:
    """``exec``."""

    ref: str
    command: list[str]
    interactive: bool = False
    tty: bool = False
    env: list[str] = field(default_factory=list)
    env_files: list[str] = field(default_factory=list)
    user: str | None = None
    workdir: str | None = None
    detach: bool = False


def exec_(opts: ExecOptions, paths: Paths | None = None) -> int:
    """Run a process in a running container, on this process's stdio; its exit code (0 when detached).
    A session that cannot start raises with exit code 255 (Podman; the runtime's 126/127 stay)."""
    from rpod.container.execute import exec_in
    from rpod.container.options import read_env_file

    p = paths_or_default(paths)
    rec = container_store(p).get(opts.ref)
    env_items = [item for path in opts.env_files for item in read_env_file(path)] + list(opts.env)  # -e wins
    try:
        return exec_in(p, rec, list(opts.command), tty=opts.tty, interactive=opts.interactive,
                       env=env_items, user=opts.user, workdir=opts.workdir, detach=opts.detach)
    except (UsageError, StateConflict) as e:
        e.exit_code = 255
        raise
