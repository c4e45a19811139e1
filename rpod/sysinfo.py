"""Facts about this host and store for ``rpod info`` (Podman's ``info`` keys) and the host checks.

The host's gaps (``/dev/net/tun`` or ``/dev/fuse`` not 0666, user namespaces disabled,
newuidmap without setuid, crun and a hybrid cgroup layout, missing helper binaries) are
checked in ``rootless.hostgaps`` and reported in ``host.warnings``.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

from rootless.entry import runtime_executable
from rpod import __version__
from rpod.hostfacts import cgroup_version, overlay_driver, resource_limits_note
from rpod.paths import Paths, config_home


def _tool_version(path: str | None, args: list[str]) -> str:
    if not path:
        return ""
    try:
        out = subprocess.run([path, *args], capture_output=True, text=True, timeout=5)
        lines = (out.stdout or out.stderr).strip().splitlines()
        # fuse-overlayfs prints fusermount3's version first: the line that names the tool
        name = os.path.basename(path)
        return next((ln for ln in lines if name in ln), lines[0] if lines else "")
    except (OSError, subprocess.TimeoutExpired):
        return ""


def gather(paths: Paths) -> dict[str, Any]:
    """The ``info`` document, with Podman's JSON keys."""
    from rootless.subid import default_mapping

    mapping = default_mapping()
    driver, driver_error = overlay_driver(paths)
    try:
        from rpod.image.registries_conf import load_registries_config

        search = list(load_registries_config().search_registries)
    except Exception:
        search = []
    return {
        "host": _host(mapping, driver, driver_error),
        "store": _store(paths, driver),
        "registries": {"search": search},
        "version": {
            "APIVersion": __version__,
            "Version": __version__,
            "PythonVersion": platform.python_version(),
            "OsArch": f"linux/{_go_arch()}",
            "Os": "linux",
        },
    }


def _host(mapping: Any, driver: str, driver_error: str) -> dict[str, Any]:
    from rpod.events import backend as events_backend
    from rpod.hostcheck import info_warnings

    uname = os.uname()
    slirp, pasta, fuse = (shutil.which(t) for t in ("slirp4netns", "pasta", "fuse-overlayfs"))
    warnings = info_warnings(id_range=mapping.mode != "single", overlay_driver=driver)
    if mapping.mode == "single":
        warnings.append(mapping.reason)
    if driver_error:
        warnings.append(driver_error)
    return {
        "arch": _go_arch(),
        "os": "linux",
        "kernel": uname.release,
        "hostname": uname.nodename,
        "logDriver": "k8s-file",  # the default of run --log-driver
        "cgroupVersion": cgroup_version(),
        "cgroupManager": "cgroupfs",
        "cgroupControllers": [],
        "resourceLimits": resource_limits_note(),
        "idMappings": {
            "uidmap": [{"container_id": m.container_id, "host_id": m.host_id, "size": m.size}
                       for m in mapping.uid_map],
            "gidmap": [{"container_id": m.container_id, "host_id": m.host_id, "size": m.size}
                       for m in mapping.gid_map],
        },
        "idMappingMode": mapping.mode,
        "ociRuntime": {"name": "rpod-runtime", "package": "rpod", "path": runtime_executable(),
                       "version": __version__},
        "conmon": {"package": "rpod (rootless.monitor, its conmon)", "path": _module_path("rootless.monitor"),
                   "version": __version__},
        "buildahVersion": __version__,  # rpod builds images itself (rpod.build): its version is rpod's
        "distribution": _distribution(),
        "eventLogger": events_backend(),
        "networkBackend": "rpod",  # rpod's own bridge/slirp4netns/pasta networking (neither cni nor netavark)
        "security": {"rootless": os.getuid() != 0, "seccompEnabled": True,
                     "selinuxEnabled": False, "apparmorEnabled": False},
        "slirp4netns": {"executable": slirp or "", "version": _tool_version(slirp, ["--version"])},
        "pasta": {"executable": pasta or "", "version": _tool_version(pasta, ["--version"])},
        "fuseOverlayfs": {"executable": fuse or "", "version": _tool_version(fuse, ["--version"])},
        "warnings": warnings,
    }


def _module_path(module: str) -> str:
    """The file a Python module of rpod's runs from (its runtime and monitor are modules, not binaries)."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    if not spec or not spec.origin:
        return ""
    origin = spec.origin  # a package: its directory (what `python -m` runs)
    return os.path.dirname(origin) if os.path.basename(origin) == "__init__.py" else origin


def _distribution() -> dict[str, str]:
    """``host.distribution`` from /etc/os-release, as Podman: distribution, variant, version, codename."""
    fields: dict[str, str] = {}
    try:
        with open("/etc/os-release") as f:
            for line in f:
                key, sep, value = line.strip().partition("=")
                if sep:
                    fields[key] = value.strip('"')
    except OSError:
        pass
    out = {"distribution": fields.get("ID", "unknown")}
    if fields.get("VARIANT_ID"):
        out["variant"] = fields["VARIANT_ID"]
    out["version"] = fields.get("VERSION_ID", "unknown")
    if fields.get("VERSION_CODENAME"):
        out["codename"] = fields["VERSION_CODENAME"]
    return out


def _graph_options(driver: str) -> dict[str, str]:
    """The storage driver's options: ``--storage-opt KEY=VALUE`` given (``RPOD_STORAGE_OPTS``, one
    a line; empty after ``--root``/``--storage-driver``, as Podman drops storage.conf's there), else
    rpod's own (the overlay mount it probed)."""
    given = os.environ.get("RPOD_STORAGE_OPTS")
    if given is None:
        return {"overlay.driver": driver or "none", "overlay.mount_program": shutil.which("fuse-overlayfs") or ""}
    return dict(o.partition("=")[::2] for o in given.splitlines() if o)


def _store(paths: Paths, driver: str) -> dict[str, Any]:
    from rpod.image.store import ImageStore

    containers = {"number": 0, "paused": 0, "running": 0, "stopped": 0}
    if paths.containers.is_dir():
        containers["number"] = sum(1 for _ in os.scandir(paths.containers))
    try:
        images = len(ImageStore(paths).list())
    except Exception:
        images = 0
    return {
        "configFile": str(config_home() / "containers" / "storage.conf"),
        "containerStore": containers,
        "graphDriverName": "overlay",
        "graphOptions": _graph_options(driver),
        "graphRoot": str(paths.root),
        "graphStatus": {
            "Backing Filesystem": _fs_type(paths.root),
            "Native Overlay Diff": "true" if driver == "kernel" else "false",
            "Supports d_type": "true",
            "Using metacopy": "false",
        },
        "imageStore": {"number": images},
        "runRoot": str(paths.runroot),
        "volumePath": str(paths.volumes),
    }


def _go_arch() -> str:
    from rpod.hostfacts import host_arch

    return host_arch()


def _fs_type(path: Path) -> str:
    best, fstype = "", "unknown"
    target = str(path.resolve()) if path.exists() else str(path)
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and target.startswith(parts[1]) and len(parts[1]) >= len(best):
                    best, fstype = parts[1], parts[2]
    except OSError:
        pass
    return {"ext4": "extfs", "ext3": "extfs", "ext2": "extfs"}.get(fstype, fstype)


_GO_NAMES = {"os": "OS", "idMappings": "IDMappings", "ociRuntime": "OCIRuntime", "cgroupVersion": "CgroupsVersion",
             "uidmap": "UIDMap", "gidmap": "GIDMap", "container_id": "ContainerID", "host_id": "HostID",
             "configFile": "ConfigFile", "graphRoot": "GraphRoot", "runRoot": "RunRoot"}


def go_view(obj: Any, top: bool = True) -> Any:
    """Keys as Go struct field names (``host.arch`` → ``Host.Arch``) for ``--format`` templates.

    ``graphStatus``/``graphOptions`` stay maps (their keys are data), as in Podman.
    """
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            name = _GO_NAMES.get(k) or (k[:1].upper() + k[1:])
            out[name] = v if k in ("graphStatus", "graphOptions") else go_view(v, False)
        return out
    if isinstance(obj, list):
        return [go_view(v, False) for v in obj]
    return obj


def to_yaml(obj: Any, indent: int = 0) -> str:
    """A small YAML emitter for ``info``'s default output (plain scalars, maps, lists)."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict) and v:
                lines.append(f"{pad}{k}:")
                lines.append(to_yaml(v, indent + 1))
            elif isinstance(v, list) and v:
                lines.append(f"{pad}{k}:")
                for item in v:
                    if isinstance(item, dict):
                        first = True
                        for ik, iv in item.items():
                            prefix = "- " if first else "  "
                            lines.append(f"{pad}{prefix}{ik}: {_scalar(iv)}")
                            first = False
                    else:
                        lines.append(f"{pad}- {_scalar(item)}")
            else:
                lines.append(f"{pad}{k}: {_scalar(v)}")
    return "\n".join(x for x in lines if x)


def _scalar(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    text = str(v)
    if text == "" or any(c in text for c in ":#{}[],&*!|>'\"%@`") or text.strip() != text:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text
