"""What a build is asked to do (filled by the CLI, read by the executor)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class BuildOptions:
    context: Path
    containerfile: str  # its text
    containerfile_path: Path | None = None
    tags: list[str] = field(default_factory=list)  # fully qualified names
    commit_name: str = ""  # the first -t as given (Podman prints it in the COMMIT line)
    target: str | None = None
    build_args: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    fmt: str = "oci"
    layers: bool = True
    no_cache: bool = False
    pull: str = "missing"
    squash: bool = False
    squash_all: bool = False
    timestamp: int | None = None
    secrets: dict[str, str] = field(default_factory=dict)  # id -> host file
    network: str | None = None
    quiet: bool = False
    rm: bool = True
    force_rm: bool = False
    jobs: int = 1
    compression: str = "gzip"
    platform: str | None = None
    out_fd: int = 1  # where RUN output goes (``--logfile``: the log)
    err_fd: int = 2
    ignorefile: str | None = None  # instead of .containerignore/.dockerignore
    ulimits: list[str] = field(default_factory=list)  # for RUN steps, as run --ulimit
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    add_host: list[str] = field(default_factory=list)
    run_extra: dict[str, list[str]] = field(default_factory=dict)  # more RunOptions for RUN (security_opt...)


@dataclass
class BuildResult:
    image_id: str
    names: list[str] = field(default_factory=list)


def build_platform(value: str | None) -> tuple[str, str]:
    """(architecture, os) a build targets: ``--platform OS/ARCH``, else this host's (Go names)."""
    import os

    raw = os.uname().machine  # not platform.machine(): importing platform costs ~30 ms
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(raw, raw)
    if value:
        parts = value.split("/")
        return (parts[1] if len(parts) > 1 else machine), parts[0]
    return machine, "linux"
