"""``rpod build`` / ``rpod image build``: flags → ``rpod.engine.builds.build``."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from rpod.cli.common import key_values
from rpod.errors import UsageError

app = click.Group()
CONTEXT = {"help_option_names": ["-h", "--help"]}


def _bool(value: str | None, flag: str, default: bool) -> bool:
    from rpod.cli.common import parse_bool_flag

    got = parse_bool_flag(value, flag)
    return default if got is None else got


def _pull_policy(value: str | None, always: bool, never: bool) -> str:
    if always:
        return "always"
    if never:
        return "never"
    v = (value or "missing").lower()
    v = {"true": "always", "false": "missing", "": "always"}.get(v, v)
    if v not in ("missing", "always", "never", "newer", "ifmissing", "ifnewer"):
        raise UsageError(f"invalid pull policy {value!r}: use missing, always, never or newer")
    return {"ifmissing": "missing", "ifnewer": "newer"}.get(v, v)


def _secrets(items: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in items:
        kv = dict(part.partition("=")[::2] for part in item.split(","))
        sid = kv.get("id")
        src = kv.get("src") or kv.get("source")
        if kv.get("env") and not src:
            val = os.environ.get(kv["env"])
            if val is None:
                raise UsageError(f"--secret {item}: environment variable {kv['env']} is not set")
            import tempfile

            fd, src = tempfile.mkstemp(prefix="rpod-secret-")
            os.write(fd, val.encode())
            os.close(fd)
        if not sid or not src:
            raise UsageError(f"invalid --secret {item!r}: expected id=ID,src=PATH")
        if not os.path.isfile(src):
            raise UsageError(f"--secret {item}: {src}: no such file")
        out[sid] = os.path.abspath(src)
    return out


def _check_authfile(path: str | None) -> None:
    if path and not os.path.exists(path):
        raise UsageError(f"checking authfile: stat {path}: no such file or directory")


def _layers(value: str | None) -> bool:
    """``--layers``, else ``$BUILDAH_LAYERS``, else true."""
    if value is None:
        value = os.environ.get("BUILDAH_LAYERS") or None
    return _bool(value, "--layers", True)


def _options(builds: Any, ctx_dir: Any, text: str, cf_path: Any, tags: tuple[str, ...], kw: dict[str, Any]) -> Any:
    network = kw["network"]
    if network in ("private", "default", ""):
        network = None  # rpod's default: slirp4netns, as Podman's rootless builds
    if kw["compression"] not in ("gzip", "zstd", "none"):
        raise UsageError(f"unsupported compression format {kw['compression']!r}: use gzip or zstd")
    return builds.BuildOptions(
        context=ctx_dir, containerfile=text, containerfile_path=cf_path,
        tags=builds.normalize_names(list(tags)), commit_name=tags[0] if tags else "", target=kw["target"],
        build_args=builds.build_args(list(kw["build_args"]), list(kw["build_arg_files"])),
        labels=key_values(kw["labels"], "--label"), annotations=key_values(kw["annotations"], "--annotation"),
        fmt=kw["fmt"] or os.environ.get("BUILDAH_FORMAT", "oci"), layers=_layers(kw["layers"]),
        no_cache=kw["no_cache"], pull=_pull_policy(kw["pull"], kw["pull_always"], kw["pull_never"]),
        squash=kw["squash"], squash_all=kw["squash_all"], timestamp=_timestamp(kw["timestamp"]),
        secrets=_secrets(kw["secrets"]), network=network, quiet=kw["quiet"], rm=kw["rm"],
        force_rm=kw["force_rm"], jobs=max(1, kw["jobs"]),
        compression=kw["compression"], platform=kw["platform"], ignorefile=kw["ignorefile"],
        ulimits=list(kw["ulimits"]), dns=list(kw["dns"]), dns_search=list(kw["dns_search"]),
        add_host=list(kw["add_host"]),
        run_extra={k: list(kw[k]) for k in ("security_opt", "cap_add", "cap_drop") if kw[k]})


def _timestamp(value: int | None) -> int | None:
    if value is not None:
        return value
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        try:
            return int(env)
        except ValueError:
            raise UsageError(f"invalid SOURCE_DATE_EPOCH {env!r}: expected seconds since the epoch") from None
    return None


def _terminate_as_exit() -> None:
    """SIGTERM (``timeout``, a CI runner cancelling a job) unwinds the build as ^C does, so its
    RUN containers are stopped and removed before it exits (143, the shell's code for it)."""
    import signal

    def stop(signum: int, _frame: Any) -> None:
        signal.signal(signum, signal.SIG_IGN)  # once: the cleanup must not be cut short by a second one
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


@app.command("build", context_settings=CONTEXT)
@click.argument("context", required=False, default=None)
@click.option("-f", "--file", "file", help="Containerfile to use (- for stdin)")
@click.option("-t", "--tag", "tags", multiple=True, help="Name of the resulting image (repeatable)")
@click.option("--target", help="Build up to this stage")
@click.option("--build-arg", "build_args", multiple=True, help="ARG=VALUE for the build")
@click.option("--build-arg-file", "build_arg_files", multiple=True, help="File of ARG=VALUE lines")
@click.option("--label", "labels", multiple=True, help="Set a label on the image (KEY=VALUE)")
@click.option("--annotation", "annotations", multiple=True, help="Set a manifest annotation (KEY=VALUE)")
@click.option("--iidfile", help="Write the image ID to this file")
@click.option("--format", "fmt", default=None, help="Image format: oci (default) or docker")
@click.option("--layers", "layers", default=None, help="Cache intermediate images (default true)")
@click.option("--no-cache", is_flag=True, help="Do not use cached intermediate images")
@click.option("--pull", "pull", default=None, is_flag=False, flag_value="always",
              help="Pull policy: missing (default), always, never, newer")
@click.option("--pull-always", is_flag=True, hidden=True)
@click.option("--pull-never", is_flag=True, hidden=True)
@click.option("--squash", is_flag=True, help="Squash the new layers into one")
@click.option("--squash-all", is_flag=True, help="Squash all layers, base included, into one")
@click.option("--timestamp", type=int, default=None, help="Seconds since the epoch for every time in the image")
@click.option("--secret", "secrets", multiple=True, help="Build secret id=ID,src=PATH (RUN --mount=type=secret)")
@click.option("--network", help="Network for RUN steps (slirp4netns default, none, host)")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image ID")
@click.option("--rm/--no-rm", "rm", default=True, help="Remove intermediate containers (default true)")
@click.option("--force-rm", "force_rm", is_flag=True, help="Remove intermediate containers even after a failure")
@click.option("--jobs", type=int, default=1, help="Stages built in parallel")
@click.option("--compression-format", "compression", default="gzip", help="Layer compression: gzip, zstd")
@click.option("--platform", default=None, help="Platform of the image (os/arch)")
@click.option("--ignorefile", default=None, help="Ignore file to use instead of .containerignore/.dockerignore")
@click.option("--logfile", default=None, help="Write the build output to this file")
@click.option("--authfile", default=None, help="Path of the authentication file")
@click.option("--ulimit", "ulimits", multiple=True, help="ulimit for RUN steps (NAME=SOFT[:HARD])")
@click.option("--dns", "dns", multiple=True, help="DNS server for RUN steps")
@click.option("--dns-search", "dns_search", multiple=True, help="DNS search domain for RUN steps")
@click.option("--add-host", "add_host", multiple=True, help="HOST:IP added to /etc/hosts of RUN steps")
@click.option("--security-opt", "security_opt", multiple=True, help="Security options for RUN steps")
@click.option("--cap-add", "cap_add", multiple=True, help="Add capabilities for RUN steps")
@click.option("--cap-drop", "cap_drop", multiple=True, help="Drop capabilities for RUN steps")
@click.option("--load", is_flag=True, hidden=True)  # buildx build --load: the image is always stored
def build_cmd(context: str | None, file: str | None, tags: tuple[str, ...], **kw: Any) -> None:
    """Build an image using instructions from Containerfiles."""
    from rpod.engine import builds

    _terminate_as_exit()
    req = builds.BuildRequest(context=context or ".", file=file)
    _check_authfile(kw["authfile"])
    ctx_dir, text, cf_path, scratch = builds.prepare_context(req)
    log = open(kw["logfile"], "w") if kw["logfile"] else None  # noqa: SIM115 - closed below
    try:
        opts = _options(builds, ctx_dir, text, cf_path, tags, kw)
        out = log or sys.stdout
        if log is not None:
            opts.out_fd = opts.err_fd = log.fileno()

        def emit(line: str) -> None:
            out.write(line + "\n")
            out.flush()

        result = builds.build(opts, emit)
    finally:
        if log is not None:
            log.close()
        if scratch is not None:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)
    if kw["iidfile"]:
        with open(kw["iidfile"], "w") as f:
            f.write("sha256:" + result.image_id)
    else:
        sys.stdout.write(result.image_id + "\n")
