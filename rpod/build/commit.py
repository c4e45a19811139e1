"""``commit``: a container's overlay upper dir as a new layer on its image.

The config is the image's, with the container's own settings Podman keeps (its command,
entrypoint, env, workdir, user, labels unless ``--change`` says otherwise), ``--change``
lines applied with the build's instruction rules, ``-m`` as the history comment and ``-a``
as the author.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rootless import ctrfiles
from rpod.build import imageconfig as ic
from rpod.build.parser import parse
from rpod.build.shell import expand_words, parse_key_values
from rpod.errors import UsageError
from rpod.image.localstore import add_image
from rpod.image.store import ImageRecord, ImageStore
from rpod.paths import Paths

CHANGE_INSTRUCTIONS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME",
                       "WORKDIR")


@dataclass
class CommitOptions:
    container: str
    image: str | None = None  # fully qualified name, or None
    changes: list[str] = field(default_factory=list)
    message: str = ""
    author: str = ""
    pause: bool = True
    squash: bool = False
    fmt: str = "oci"
    include_volumes: bool = False
    compression: str = "gzip"


def apply_changes(cfg: dict, changes: list[str]) -> None:
    """``--change 'CMD ["x"]'`` lines, as Dockerfile instructions (the subset Podman allows)."""
    for change in changes:
        try:
            ins = parse(change).instructions[0]
        except (UsageError, IndexError):
            raise UsageError(f"invalid change {change!r}") from None
        if ins.cmd not in CHANGE_INSTRUCTIONS:
            raise UsageError(f"invalid change {change!r}: {ins.cmd} is not allowed in --change")
        env = ic.env_dict(cfg)
        if ins.cmd in ("ENV", "LABEL"):
            pairs = parse_key_values(ins.args, env, "\\", ins.cmd)
            (ic.set_env if ins.cmd == "ENV" else ic.set_labels)(cfg, pairs)
        elif ins.cmd == "CMD":
            ic.set_cmd(cfg, ic.command_form(ins.json, ins.args, ic.DEFAULT_SHELL))
        elif ins.cmd == "ENTRYPOINT":
            ic.inner(cfg)["Entrypoint"] = ic.command_form(ins.json, ins.args, ic.DEFAULT_SHELL)
        elif ins.cmd == "EXPOSE":
            ic.add_ports(cfg, expand_words(ins.args, env))
        elif ins.cmd == "VOLUME":
            ic.add_volumes(cfg, ins.json if ins.json is not None else expand_words(ins.args, env))
        elif ins.cmd == "WORKDIR":
            ic.set_workdir(cfg, ins.args.strip())
        elif ins.cmd == "ONBUILD":
            inner = ic.inner(cfg)
            inner["OnBuild"] = [*(inner.get("OnBuild") or []), ins.args]
        else:
            ic.inner(cfg)["User" if ins.cmd == "USER" else "StopSignal"] = ins.args.strip()


def commit(paths: Paths, opts: CommitOptions) -> ImageRecord:
    """``rpod commit``, under a lease (rpod.image.lease): its new layer and blobs survive an
    rmi/prune that runs before its image is recorded."""
    from rpod.image.lease import Lease

    with Lease(paths, "commit"):
        return _commit(paths, opts)


def _commit(paths: Paths, opts: CommitOptions) -> ImageRecord:
    import time

    from rpod.build.executor import record_layers
    from rpod.build.runner import RUNTIME_MOUNTS, layer_from_upper
    from rpod.container.state import ContainerStore

    if opts.fmt not in ("oci", "docker"):
        raise UsageError(f"unrecognized image type {opts.fmt!r}")
    cstore = ContainerStore(paths)
    rec = cstore.get(opts.container)
    store = ImageStore(paths)
    image = store.get(rec.image_id)
    if image is None:
        raise UsageError(f"the image {rec.image_id[:12]} of container {rec.name} is not in the store")
    cfg = ic.new_config(store.config(image), "", "")
    inner = ic.inner(cfg)
    # the container's own settings become the image's, as Podman commits them
    if rec.env:
        inner["Env"] = list(rec.env)
    if rec.cmd:
        inner["Cmd"] = list(rec.cmd)
    ep = list(rec.entrypoint or [])
    if ep and list(rec.command[:len(ep)]) == ep:  # what the container ran: its entrypoint and the rest
        inner["Entrypoint"] = ep
        inner["Cmd"] = list(rec.command[len(ep):]) or None
    if rec.workdir and rec.workdir != "/":
        inner["WorkingDir"] = rec.workdir
    if rec.user:
        inner["User"] = rec.user
    if rec.labels:
        inner["Labels"] = {**(inner.get("Labels") or {}), **rec.labels}
    if opts.include_volumes:  # the container's volumes (named or anonymous), not its bind mounts
        prefix = str(paths.volumes) + "/"
        ic.add_volumes(cfg, [m["destination"] for m in rec.mounts or []
                             if str(m.get("source", "")).startswith(prefix) and m.get("destination")])
    apply_changes(cfg, opts.changes)
    if opts.author:
        cfg["author"] = opts.author
    mounts = [m.get("destination", "") for m in rec.mounts or []]
    upper = str(cstore.dir(rec.id) / ctrfiles.UPPER)
    layer = layer_from_upper(paths, upper, [*RUNTIME_MOUNTS, *mounts], opts.compression, None)
    created = ic.iso(time.time())
    ic.add_history(cfg, created, f"/bin/sh -c #(nop) commit of {rec.name}", False, opts.message)
    cfg["created"] = created
    base = record_layers(paths, store, image)
    assert layer is not None
    layers = [*base, layer]
    if opts.squash:  # the whole image as one layer, as buildah's commit --squash
        from rpod.build.squash import squash, squash_history

        layers = squash(paths, layers, 0, opts.compression, None)
        cfg["history"] = squash_history(cfg["history"], 0, created)
    return add_image(paths, cfg, layers, [opts.image] if opts.image else [], opts.fmt)
