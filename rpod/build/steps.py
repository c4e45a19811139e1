"""One handler per Containerfile instruction.

``prepare(builder, stage, ins, state)`` expands the instruction against the stage's ARG/ENV
state and returns a ``Prepared``: the state after the step's metadata change (kept on a cache
hit too), what the cache key must also cover (the content digest of COPY/ADD sources, the
secrets' ids ...), and ``execute()`` which does the work (a RUN container, a COPY) on a miss.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rpod.build import imageconfig as ic
from rpod.build.parser import Instruction
from rpod.build.shell import expand_words, parse_key_values, split_words
from rpod.build.stages import PROXY_ARGS, Stage
from rpod.errors import ContainerCannotInvoke, RpodError, UsageError

if TYPE_CHECKING:
    from rpod.build.executor import Builder, State


@dataclass
class Prepared:
    state: State
    cache_extra: Any = None
    execute: Callable[[], State] = lambda: None  # type: ignore[assignment, return-value]


def prepare(b: Builder, st: Stage, ins: Instruction, state: State) -> Prepared:
    handler = HANDLERS.get(ins.cmd)
    if handler is None:
        raise UsageError(f"{ins.cmd} is not supported here")
    new = state.copy()
    new.image_id, new.cmd_set, new.base_layers = state.image_id, state.cmd_set, state.base_layers
    return handler(b, st, ins, new)


def _meta(b: Builder, ins: Instruction, state: State, created_by: str | None = None) -> Prepared:
    b.history(state, created_by or f"/bin/sh -c #(nop) {ins.original}", True)
    return Prepared(state, None, lambda: state)


# ------------------------------------------------------------------------------- metadata
def h_env(b: Builder, st: Stage, ins: Instruction, state: State) -> Prepared:
    pairs = parse_key_values(ins.args, b.expand_env(state), b.cf.escape, "ENV")
    ic.set_env(state.config, pairs)
    return _meta(b, ins, state, "/bin/sh -c #(nop) ENV " + " ".join(f'{k}="{v}"' for k, v in pairs))


def h_label(b: Builder, st: Stage, ins: Instruction, state: State) -> Prepared:
    pairs = parse_key_values(ins.args, b.expand_env(state), b.cf.escape, "LABEL")
    ic.set_labels(state.config, pairs)
    return _meta(b, ins, state)


def h_maintainer(b: Builder, st: Stage, ins: Instruction, state: State) -> Prepared:
    state.config["author"] = b.x(ins.args, state)
    return _meta(b, ins, state)


def h_arg(b: Builder, st: Stage, ins: Instruction, state: State) -> Prepared:
    for w in split_words(ins.args, b.cf.escape):
        name, eq, default = w.partition("=")
        if not name:
            raise UsageError("ARG names can not be blank")
        if name in b.opts.build_args:
            value = b.opts.build_args[name]
            with b.lock:
                b.used_args.add(name)
        elif eq:
            value = b.x(default, state)
        elif name in b.plan.global_args:
            value = b.plan.global_args[name]
        else:
            value = _platform_arg(name, b)
            if value is None:
                continue  # declared without a value: unset until given
        state.args[name] = value
    return _meta(b, ins, state)


def _platform_arg(name: str, b: Builder) -> str | None:
    from rpod.build.options import build_platform

    arch, os_name = build_platform(b.opts.platform)
    values = {"TARGETPLATFORM": f"{os_name}/{arch}", "TARGETOS": os_name, "TARGETARCH": arch, "TARGETVARIANT": "",
              "BUILDPLATFORM": f"{os_name}/{arch}", "BUILDOS": os_name, "BUILDARCH": arch, "BUILDVARIANT": ""}
    return values.get(name)


def h_cmd(b: Builder, st: Stage, ins: Instruction, state: State) -> Prepared:
    ic.set_cmd(state.config, ic.command_form(ins.json, ins.args, state.shell))
    state.cmd_set = True
    return _meta(b, ins, state)


def h_entrypoint(b: Builder, st: Stage, ins: Instruction, state: State) -> Prepared:
    ic.set_entrypoint(state.config, ic.command_form(ins.json, ins.args, state.shell), state.cmd_set)
    return _meta(b, ins, state)


def h_shell(b: Builder, st: Stage, ins: Instruction, state: State) -> Prepared:
    if not ins.json:
        raise UsageError("SHELL requires the arguments to be in JSON form")
    state.shell = list(ins.json)
    return _meta(b, ins, state)


def h_expose(b: Builder, st: Stage, ins: Instruction, state: State) -> Prepared:
    ic.add_ports(state.config, expand_words(ins.args, b.expand_env(state), b.cf.escape))
    return _meta(b, ins, state)


def h_volume(b: Builder, st: Stage, ins: Instruction, state: State) -> Prepared:
    vols = ins.json if ins.json is not None else expand_words(ins.args, b.expand_env(state), b.cf.escape)
    vols = [posixpath.join("/", v) if v else v for v in vols]  # Docker: relative means from /
    ic.add_volumes(state.config, vols)
    b.history(state, f"/bin/sh -c #(nop) {ins.original}", True)

    def execute() -> State:  # config only: the mount points are made when a container mounts them
        return state  # (buildah 1.28: `--image-volume ignore` shows no /data for `VOLUME /data`)

    return Prepared(state, None, execute)


def _in_image(b: Builder, state: State, path: str) -> bool:
    from rpod.container.users import find_in_layers

    try:
        return path == "/" or find_in_layers(list(reversed(b.layer_dirs(state))), path) is not None
    except (OSError, ValueError):
        return False


def h_user(b: Builder, st: Stage, ins: Instruction, state: State) -> Prepared:
    user = b.x(ins.args.strip(), state)
    if not user:
        raise UsageError("USER requires exactly one argument")
    ic.inner(state.config)["User"] = user
    return _meta(b, ins, state)


def h_stopsignal(b: Builder, st: Stage, ins: Instruction, state: State) -> Prepared:
    from rpod.container.options import parse_signal

    sig = b.x(ins.args.strip(), state)
    parse_signal(sig)
    ic.inner(state.config)["StopSignal"] = sig
    return _meta(b, ins, state)


def h_healthcheck(b: Builder, st: Stage, ins: Instruction, state: State) -> Prepared:
    flags = {k: v or "" for k, v in ins.flags}
    ic.set_healthcheck(state.config, ins.args, None, flags, state.shell)
    return _meta(b, ins, state)


def h_onbuild(b: Builder, st: Stage, ins: Instruction, state: State) -> Prepared:
    from rpod.build.parser import parse_onbuild

    parse_onbuild(ins)  # refuse ONBUILD ONBUILD / FROM now, not in the child build
    inner = ic.inner(state.config)
    inner["OnBuild"] = [*(inner.get("OnBuild") or []), ins.args]
    return _meta(b, ins, state)


def h_workdir(b: Builder, st: Stage, ins: Instruction, state: State) -> Prepared:
    path = ic.set_workdir(state.config, b.x(ins.args.strip(), state))
    b.history(state, f"/bin/sh -c #(nop) WORKDIR {path}", True)
    exists = _in_image(b, state, path)

    def execute() -> State:
        if exists:
            return state
        from rpod.build.runner import apply_step

        layer = apply_step(b.paths, b.layer_dirs(state), {"dest": path, "mode": "into"}, None,
                           b.opts.compression, b.opts.timestamp, skip_empty=True)
        if layer is not None:
            state.layers.append(layer)
            state.config["history"][-1].pop("empty_layer", None)
        return state

    return Prepared(state, None, execute)


# ------------------------------------------------------------------------------- RUN
def _run_argv(ins: Instruction, state: State) -> list[str]:
    if ins.json is not None:
        return list(ins.json)
    text = ins.args
    if ins.heredocs:
        only = len(ins.heredocs) == 1 and text.strip().startswith("<<") and len(split_words(text)) == 1
        if only:
            return [*state.shell, ins.heredocs[0].content]
        text = text + "\n" + "".join(h.content + h.name + "\n" for h in ins.heredocs)
    return [*state.shell, text]


def _run_env(b: Builder, state: State) -> list[str]:
    env = ic.env_dict(state.config)
    extra = {k: v for k, v in state.args.items() if k not in env}
    for k in PROXY_ARGS:
        if k in b.opts.build_args and k not in env:
            extra[k] = b.opts.build_args[k]
    items = [f"{k}={v}" for k, v in env.items()] + [f"{k}={v}" for k, v in extra.items()]
    if not any(i.startswith("PATH=") for i in items):
        items.insert(0, ic.DEFAULT_PATH)
    return items


def h_run(b: Builder, st: Stage, ins: Instruction, state: State) -> Prepared:
    from rpod.build.mounts import parse_mounts

    argv = _run_argv(ins, state)
    mounts = parse_mounts(b, ins.flag_values("mount"), state)
    network = ins.flag("network") or b.opts.network
    if network == "default":
        network = b.opts.network
    b.history(state, " ".join(argv) if ins.json is None else json.dumps(argv), False)
    parent = state.image_id

    def execute() -> State:
        import contextlib

        from rpod.build.mounts import run_mounts
        from rpod.build.runner import RunSpec, run_step

        if parent is None:
            raise UsageError("RUN needs a base image with a shell: FROM scratch has none")
        with contextlib.ExitStack() as stack:
            mount_values, tmpfs = run_mounts(b, mounts, stack)
            spec = RunSpec(parent, argv, _run_env(b, state), ic.inner(state.config).get("WorkingDir") or "/",
                           ic.inner(state.config).get("User") or "", network, mount_values, tmpfs, mounts.exclude,
                           b.opts.quiet, b.opts.ulimits, b.opts.dns, b.opts.dns_search, b.opts.add_host,
                           b.opts.out_fd, b.opts.err_fd, b.opts.run_extra, keep=_keep(b))
            try:
                res = run_step(b.paths, spec, b.opts.compression, b.opts.timestamp)
            except ContainerCannotInvoke as e:  # the runtime refused (a bad --runtime-flag): as Podman, exit 1
                raise RpodError(f"while running runtime: {e.message}", hint=e.hint, exit_code=1) from None
        if res.code != 0:
            last = "\n".join("  " + x for x in res.tail[-5:])
            raise RpodError(f"while running runtime: exit status {res.code}",
                            hint=("last output:\n" + last) if last else None, exit_code=res.code)
        if res.layer is not None:
            state.layers.append(res.layer)
        return state

    o = b.opts  # what changes a RUN's result is part of its cache key
    return Prepared(state, [mounts.key, network, o.ulimits, o.dns, o.dns_search, o.add_host,
                            sorted(o.run_extra.items())], execute)


def _keep(b: Builder) -> bool:
    """``--rm=false`` (without ``--force-rm``) keeps the step containers, as Podman keeps its working one."""
    return not b.opts.rm and not b.opts.force_rm


# ------------------------------------------------------------------------------- COPY / ADD
def _owner(b: Builder, spec: str | None, state: State) -> tuple[int, int] | None:
    if not spec:
        return None
    spec = b.x(spec, state)
    user, _, group = spec.partition(":")
    if user.isdigit() and (not group or group.isdigit()):
        return int(user), int(group or user)
    from rpod.container.users import resolve_user

    resolved = resolve_user(f"{user}:{group}" if group else user, list(reversed(b.layer_dirs(state))))
    return resolved.uid, (resolved.gid if group else resolved.uid if user.isdigit() else resolved.gid)


def _dest(b: Builder, raw: str, state: State) -> str:
    workdir = ic.inner(state.config).get("WorkingDir") or "/"
    dest = raw if raw.startswith("/") else posixpath.join(workdir, raw)
    if raw.endswith("/") or raw in (".", "./"):
        dest = dest.rstrip("/") + "/"
    return dest


def h_copy(b: Builder, st: Stage, ins: Instruction, state: State) -> Prepared:
    env = b.expand_env(state)
    words = list(ins.json) if ins.json is not None else expand_words(ins.args, env, b.cf.escape)
    if ins.heredocs:
        words = [w for w in words if not w.startswith("<<")]
        if not words:
            raise UsageError(f"{ins.cmd} requires a destination")
        dest_raw, srcs = words[-1], []
    else:
        if len(words) < 2:
            raise UsageError(f"{ins.cmd} requires at least two arguments, but only one was provided. "
                             "Destination could not be determined")
        dest_raw, srcs = words[-1], words[:-1]
    dest = _dest(b, dest_raw, state)
    chmod = ins.flag("chmod")
    mode = int(chmod, 8) if chmod else None
    owner = _owner(b, ins.flag("chown"), state)
    frm = ins.flag("from")
    if frm:
        return _copy_from(b, st, ins, state, b.x(frm, state), srcs, dest, owner)
    from rpod.build import copying

    payload = copying.context_payload(b, ins, srcs, dest, env, mode)
    b.history(state, f"/bin/sh -c #(nop) {ins.cmd} {payload.describe} in {dest} ", False)

    def execute() -> State:
        layer = copying.apply_payload(b, state, payload, dest, owner)
        state.layers.append(layer)
        return state

    return Prepared(state, [payload.digest, dest, owner, mode], execute)


def _copy_from(b: Builder, st: Stage, ins: Instruction, state: State, frm: str, srcs: list[str], dest: str,
               owner: tuple[int, int] | None) -> Prepared:
    from rpod.build import copying
    from rpod.build.mounts import source_of

    src_dirs, src_id = source_of(b, frm, f"COPY --from={frm}")
    b.history(state, f"/bin/sh -c #(nop) {ins.cmd} --from={frm} {' '.join(srcs)} {dest} ", False)

    def execute() -> State:
        import glob

        if len(srcs) == 1 and not glob.has_magic(srcs[0]):
            state.layers.append(copying.copy_from_image(b, state, src_dirs, srcs[0], dest, owner, False))
        else:  # several sources or globs: one tar, one layer (as buildah)
            state.layers.append(copying.copy_from_image(b, state, src_dirs, list(srcs), dest, owner, True))
        return state

    return Prepared(state, [src_id, srcs, dest, owner], execute)


HANDLERS: dict[str, Callable[[Builder, Stage, Instruction, State], Prepared]] = {
    "ENV": h_env, "LABEL": h_label, "MAINTAINER": h_maintainer, "ARG": h_arg, "CMD": h_cmd,
    "ENTRYPOINT": h_entrypoint, "SHELL": h_shell, "EXPOSE": h_expose, "VOLUME": h_volume, "USER": h_user,
    "STOPSIGNAL": h_stopsignal, "HEALTHCHECK": h_healthcheck, "ONBUILD": h_onbuild, "WORKDIR": h_workdir,
    "RUN": h_run, "COPY": h_copy, "ADD": h_copy,
}
