"""Engine verbs for building images: ``build`` (a Containerfile) and ``commit`` (a container)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rpod.build.commit import CommitOptions
from rpod.build.options import BuildOptions, BuildResult
from rpod.errors import UsageError
from rpod.image.store import ImageRecord
from rpod.paths import Paths

__all__ = ["BuildOptions", "BuildResult", "CommitOptions", "build", "commit", "prepare_context", "read_build_arg_file"]

CONTAINERFILE_NAMES = ("Containerfile", "Dockerfile")


@dataclass
class BuildRequest:
    """What the front end was given, before the context and the Containerfile are located."""

    context: str = "."
    file: str | None = None  # -f PATH, "-" for stdin
    stdin: IO[bytes] | None = None
    build_args: list[str] = field(default_factory=list)
    build_arg_files: list[str] = field(default_factory=list)


def read_build_arg_file(path: str) -> dict[str, str]:
    """``--build-arg-file``: ``K=V`` lines, ``#`` comments and blank lines skipped."""
    out: dict[str, str] = {}
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise UsageError(f"cannot read the build arg file {path}: {e.strerror}") from None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        k, sep, v = line.partition("=")
        if sep:
            out[k.strip()] = v
        elif k in os.environ:
            out[k] = os.environ[k]
    return out


def build_args(items: list[str], files: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in files:
        out.update(read_build_arg_file(f))
    for item in items:
        k, sep, v = item.partition("=")
        if sep:
            out[k] = v
        elif k in os.environ:  # --build-arg NAME: the value from the environment
            out[k] = os.environ[k]
    return out


class _Prefixed:
    """``head`` (already read) then the rest of ``rest``."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self.head, self.rest = head, rest

    def read(self, n: int = -1) -> bytes:
        if not self.head:
            return self.rest.read(n)
        if n < 0:
            data, self.head = self.head + self.rest.read(), b""
            return data
        data, self.head = self.head[:n], self.head[n:]  # a short read: stream readers ask again
        return data


def prepare_context(req: BuildRequest, paths: Paths | None = None) -> tuple[Path, str, Path | None, Path | None]:
    """(context dir, Containerfile text, Containerfile path, scratch dir to remove) for a request.

    The context is a directory, or ``-`` (a tar, possibly compressed, on stdin; the
    Containerfile is then read from it unless ``-f`` names another file)."""
    from rpod.engine.types import paths_or_default

    paths = paths_or_default(paths)
    scratch = None
    if req.context == "-":
        import tempfile

        from rootless.archive import extract_into, open_tar_input

        paths.tmp.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f"build-ctx-{os.getpid()}-", dir=paths.tmp))
        stream = open_tar_input(req.stdin or sys.stdin.buffer)
        head = b""
        while len(head) < 512 and (chunk := stream.read(512 - len(head))):
            head += chunk
        if len(head) < 512 or head[257:262] != b"ustar":  # not a tar: the Containerfile itself, no context
            text = (head + stream.read()).decode(errors="replace")
            return scratch, text, None, scratch
        # the safe extractor: no '..', no links out
        extract_into(_Prefixed(head, stream), str(scratch), owner=(os.getuid(), os.getgid()),  # type: ignore[arg-type]
                     overwrite=True)
        context = scratch
    else:
        context = Path(req.context).resolve()
        if not context.is_dir():
            raise UsageError(f"no such file or directory: {req.context}" if not context.exists() else
                             f"the build context {req.context} is not a directory")
    if req.file == "-":
        if req.context == "-":
            raise UsageError("cannot read both the Containerfile and the context from stdin")
        return context, (req.stdin or sys.stdin.buffer).read().decode(), None, scratch
    if req.file:
        cf_path = Path(req.file)
        if not cf_path.is_absolute() and not cf_path.exists():
            cf_path = context / req.file
        if not cf_path.is_file():
            raise UsageError(f"the specified Containerfile or Dockerfile does not exist, {req.file}: "
                             "no such file or directory")
    else:
        cf_path = next((context / n for n in CONTAINERFILE_NAMES if (context / n).is_file()), context / "Containerfile")
    try:
        text = cf_path.read_text()
    except OSError:
        # Podman 4.3.1's wording: the last name it tried
        raise UsageError(f"stat {context / 'Dockerfile'}: no such file or directory") from None
    return context, text, cf_path.resolve(), scratch


def normalize_names(names: list[str]) -> list[str]:
    """``app:1`` → ``localhost/app:1``, as ``tag`` names images."""
    from rpod.image.manage import normalize_tag

    return [normalize_tag(n) for n in names]


def build(opts: BuildOptions, emit: Callable[[str], None], paths: Paths | None = None) -> BuildResult:
    """Build ``opts``; progress lines through ``emit``."""
    from rpod.build.executor import build as run_build
    from rpod.engine.types import paths_or_default

    return run_build(paths_or_default(paths), opts, emit)


def commit(opts: CommitOptions, paths: Paths | None = None) -> ImageRecord:
    """A container's changes as a new image."""
    from rpod.build.commit import commit as do_commit
    from rpod.engine.types import paths_or_default

    return do_commit(paths_or_default(paths), opts)
