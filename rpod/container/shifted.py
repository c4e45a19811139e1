"""Layer copies with shifted owners, one per (layer, id map), for containers whose id map is not
the store's (``--userns=keep-id``, ``--uidmap``; see docs/decisions.md).

``layers/<diffid>/mapped/<map key>/`` beside the layer's ``diff/``: made once by the
``rootless.idshift`` helper (root in the user's default namespace) under the layer's lock, in
``tmp/`` and renamed into place when complete, and shared by every container with that map.
Removing the layer removes its copies with it.  ``keep_id_layer`` adds a tiny top layer under
``extra-layers/`` (passwd/group entries for keep-id), shifted the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

from rpod.container.idmaps import ContainerMaps
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


def keep_id_layer(paths: Paths, userns: str, layer_dirs: list[Path], maps: ContainerMaps) -> list[Path]:
    """``--userns=keep-id``: a small top layer with the image's ``/etc/passwd`` and ``/etc/group``
    plus entries for the container's user, as Podman 4.3.1 adds them (the caller's names; for
    ``keep-id:uid=N`` the name ``N``, "container user"), owned by the image's root like the files
    it replaces; made once per (content, map).  [] when nothing needs adding."""
    import grp
    import hashlib
    import json
    import pwd

    from rpod.container.options import parse_userns
    from rpod.container.users import keep_id_entries

    mode = parse_userns(userns)
    if mode.mode != "keep-id":
        return []
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
    passwd, groups = keep_id_entries(list(reversed(layer_dirs)), uid, gid, user, group, gecos=gecos)
    files = {name: text for name, text in (("etc/passwd", passwd), ("etc/group", groups)) if text is not None}
    if not files:
        return []
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    base = paths.root / "extra-layers" / digest
    src = base / "diff"
    if not src.is_dir():
        paths.tmp.mkdir(parents=True, exist_ok=True)
        scratch = paths.tmp / f"extra.{digest[:16]}.{os.getpid()}"
        (scratch / "etc").mkdir(parents=True, mode=0o755)
        for name, text in files.items():
            (scratch / name).write_text(text)
            (scratch / name).chmod(0o644)
        base.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(scratch, src)
        except OSError:  # made by a concurrent run
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)
    target = base / "mapped" / maps.key()
    if not target.is_dir():
        _make(paths, src, target, maps)
    return [target]
