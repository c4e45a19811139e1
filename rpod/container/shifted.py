"""Layer copies with shifted owners, one per (layer, id map), for containers whose id map is not
the store's (``--userns=keep-id``, ``--uidmap``; see docs/decisions.md).

``layers/<diffid>/mapped/<map key>/`` beside the layer's ``diff/``: made once by the
``rootless.idshift`` helper (root in the user's default namespace) under the layer's lock, in
``tmp/`` and renamed into place when complete, and shared by every container with that map.
Removing the layer removes its copies with it.  ``passwd_layer`` adds a tiny top layer under
``extra-layers/`` (passwd/group entries for keep-id and ``--hostuser``), shifted the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

from rpod.container.idmaps import ContainerMaps
from rpod.container.options import RunOptions
from rpod.errors import RpodError
from rpod.log import debug
from rpod.paths import Paths
from rpod.storefile import locked


def shifted_layer_dirs(paths: Paths, layer_dirs: list[Path], maps: ContainerMaps) -> list[Path]:
    """The copies of ``layer_dirs`` (``layers/<hex>/diff``, lowest first) for ``maps``, made if missing."""
    key = maps.key()
    out = []
    for diff in layer_dirs:
        target = diff.parent / "mapped" / key
        if not target.is_dir():
            _make(paths, diff, target, maps)
        out.append(target)
    return out


def _make(paths: Paths, diff: Path, target: Path, maps: ContainerMaps) -> None:
    import subprocess  # here only: every `run`/`create` imports this module

    from rootless.subid import default_mapping
    from rootless.userns import python_entry, remove_tree, run

    hexd = diff.parent.name
    with locked(paths.locks / f"layer-{hexd}.lock"):
        if target.is_dir():
            return  # made by a concurrent run while we waited
        paths.tmp.mkdir(parents=True, exist_ok=True)
        scratch = paths.tmp / f"{hexd[:16]}.{target.name}.{os.getpid()}"
        mapping = default_mapping()
        target.parent.mkdir(exist_ok=True)
        proc = run(python_entry("rootless.idshift", str(diff), str(scratch), maps.as_json(),
                                str(target)), mapping,
                   mount_ns=False, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   text=True)
        if proc.returncode != 0:
            remove_tree(scratch, mapping)
            raise RpodError(f"cannot copy layer {hexd[:12]} with the container's id map: "
                            f"{proc.stderr.strip() or f'exit {proc.returncode}'}",
                            hint="check free disk space in the store")
        debug(f"layer {hexd[:12]} copied for id map {target.name}: {proc.stdout.strip()}")


def passwd_layer(paths: Paths, opts: RunOptions, layer_dirs: list[Path], maps: ContainerMaps | None,
                 home: str = "/") -> list[Path]:
    """A small top layer with what Podman 4.3.1 adds to an image's files: ``/etc/passwd`` and
    ``/etc/group`` with ``--userns=keep-id``'s user (the caller's names; for ``keep-id:uid=N``
    the name ``N``, "container user") and ``--hostuser``'s host users, and an ``/etc/mtab`` link
    to ``/proc/mounts`` when the image has none; owned by the image's root like the files it
    replaces; made once per (content, map).  [] when nothing needs adding."""
    from rpod.image.layerfs import find_in_layers

    passwd_lines, group_lines = _keep_id_lines(opts.userns, home)
    host_lines = [host_passwd_line(u) for u in opts.hostuser]
    top_first = list(reversed(layer_dirs))
    files: dict[str, str] = {}
    if passwd_lines or host_lines:
        from rpod.container.users import added_entries

        passwd, groups = added_entries(top_first, passwd_lines + host_lines, group_lines, by_name=host_lines)
        files = {name: text for name, text in (("etc/passwd", passwd), ("etc/group", groups)) if text is not None}
    links = {}
    if find_in_layers(top_first, "etc/mtab") is None:  # Podman links it, so that mount(8) works inside
        links["etc/mtab"] = "/proc/mounts"
    if not files and not links:  # (the common case: nothing imported or written on the run path)
        return []
    import hashlib
    import json

    digest = hashlib.sha256(json.dumps([files, links], sort_keys=True).encode()).hexdigest()
    base = paths.root / "extra-layers" / digest
    src = base / "diff"
    if not src.is_dir():
        paths.tmp.mkdir(parents=True, exist_ok=True)
        scratch = paths.tmp / f"extra.{digest[:16]}.{os.getpid()}"
        (scratch / "etc").mkdir(parents=True, mode=0o755)
        for name, text in files.items():
            (scratch / name).write_text(text)
            (scratch / name).chmod(0o644)
        for name, target in links.items():
            os.symlink(target, scratch / name)
        base.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(scratch, src)
        except OSError:  # made by a concurrent run
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)
    if maps is None:  # the store's own map: the files are already the image root's
        return [src]
    target = base / "mapped" / maps.key()
    if not target.is_dir():
        _make(paths, src, target, maps)
    return [target]


def _keep_id_lines(userns: str, home: str) -> tuple[list[str], list[str]]:
    """keep-id's passwd and group lines ([] without keep-id)."""
    from rpod.container.options import parse_userns

    mode = parse_userns(userns)
    if mode.mode != "keep-id":
        return [], []
    import grp
    import pwd

    uid = os.getuid() if mode.uid is None else mode.uid
    gid = os.getgid() if mode.gid is None else mode.gid
    gecos = ""
    if mode.uid is None and mode.gid is None:
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = str(uid)
        try:
            group = grp.getgrgid(gid).gr_name
        except KeyError:
            group = str(gid)
    else:
        user, group, gecos = str(uid), str(gid), "container user"
    return [f"{user}:*:{uid}:{gid}:{gecos}:{home}:/bin/sh"], [f"{group}:x:{gid}:{user}"]


def host_passwd_line(user: str) -> str:
    """``--hostuser NAME|UID``: the host's passwd entry of that user (126 when there is none, as Podman)."""
    import pwd

    from rpod.errors import ContainerCannotInvoke

    try:
        pw = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except (KeyError, OverflowError):
        raise ContainerCannotInvoke(f"user: unknown user {user}") from None
    return f"{pw.pw_name}:x:{pw.pw_uid}:{pw.pw_gid}:{pw.pw_gecos}:{pw.pw_dir}:{pw.pw_shell}"
