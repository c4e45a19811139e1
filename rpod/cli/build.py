"""``rpod build`` / ``rpod image build``: flags → ``rpod.engine.builds.build``."""

from __future__ import annotations

import os
import sys

import click

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


def _key_values(items: tuple[str, ...], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        k, _, v = item.partition("=")
        if not k:
            raise UsageError(f"invalid {flag} {item!r}: expected KEY=VALUE")
        out[k] = v
    return out


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
@click.option("--rm", "rm", default="true", help="Remove intermediate containers (default true)")
@click.option("--force-rm", "force_rm", default="false", help="Remove intermediate containers even after a failure")
@click.option("--jobs", type=int, default=1, help="Stages built in parallel")
@click.option("--compression-format", "compression", default="gzip", help="Layer compression: gzip, zstd")
@click.option("--platform", default=None, help="Platform of the image (os/arch)")
def build_cmd(context: str | None, file: str | None, tags: tuple[str, ...], target: str | None,
              build_args: tuple[str, ...], build_arg_files: tuple[str, ...], labels: tuple[str, ...],
              annotations: tuple[str, ...], iidfile: str | None, fmt: str | None, layers: str | None,
              no_cache: bool, pull: str | None, pull_always: bool, pull_never: bool, squash: bool, squash_all: bool,
              timestamp: int | None, secrets: tuple[str, ...], network: str | None, quiet: bool, rm: str,
              force_rm: str, jobs: int, compression: str, platform: str | None) -> None:
    """Build an image using instructions from Containerfiles."""
    from rpod.engine import builds

    req = builds.BuildRequest(context=context or ".", file=file, build_args=list(build_args),
                              build_arg_files=list(build_arg_files))
    fmt = fmt or os.environ.get("BUILDAH_FORMAT", "oci")
    if network in ("private", "default", ""):
        network = None  # rpod's default: slirp4netns, as Podman's rootless builds
    if compression not in ("gzip", "zstd", "none"):
        raise UsageError(f"unsupported compression format {compression!r}: use gzip or zstd")
    ctx_dir, text, cf_path, scratch = builds.prepare_context(req)
    try:
        opts = builds.BuildOptions(
            context=ctx_dir, containerfile=text, containerfile_path=cf_path,
            tags=builds.normalize_names(list(tags)), commit_name=tags[0] if tags else "", target=target,
            build_args=builds.build_args(list(build_args), list(build_arg_files)),
            labels=_key_values(labels, "--label"), annotations=_key_values(annotations, "--annotation"),
            fmt=fmt, layers=_bool(layers, "--layers", True), no_cache=no_cache,
            pull=_pull_policy(pull, pull_always, pull_never), squash=squash, squash_all=squash_all,
            timestamp=_timestamp(timestamp), secrets=_secrets(secrets), network=network, quiet=quiet,
            rm=_bool(rm, "--rm", True), force_rm=_bool(force_rm, "--force-rm", False), jobs=max(1, jobs),
            compression=compression, platform=platform)

        def emit(line: str) -> None:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

        result = builds.build(opts, emit)
    finally:
        if scratch is not None:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)
    if iidfile:
        with open(iidfile, "w") as f:
            f.write("sha256:" + result.image_id)
    else:
        sys.stdout.write(result.image_id + "\n")
