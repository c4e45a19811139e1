"""Docker Engine API: ``_ping``, ``version``, ``info``, ``events``, ``system/df``."""

from __future__ import annotations

import os
import platform
import time
from typing import Any

from rpod.api import API_VERSION, LIBPOD_VERSION, MIN_API_VERSION
from rpod.api.http import Connection, HTTPError, Request
from rpod.api.routes import route
from rpod.engine import api_support as eng


@route("GET", "/_ping")
def ping(req: Request, conn: Connection) -> Any:
    conn.respond(200, b"OK", "text/plain; charset=utf-8",
                 [("Cache-Control", "no-cache, no-store, must-revalidate"), ("Pragma", "no-cache"),
                  ("Builder-Version", "1")])


@route("GET", "/version")
def version(req: Request, conn: Connection) -> Any:
    v = eng.version()
    arch = eng.host_arch()
    uname = os.uname()
    component = {"Name": "Podman Engine", "Version": LIBPOD_VERSION,
                 "Details": {"APIVersion": LIBPOD_VERSION, "Arch": arch, "BuildTime": "", "Experimental": "false",
                             "GitCommit": "", "GoVersion": f"python{platform.python_version()}",
                             "KernelVersion": uname.release, "MinAPIVersion": "4.0.0", "Os": "linux",
                             "RpodVersion": v}}
    return {"Platform": {"Name": f"linux/{arch}/rpod-{v}"}, "Components": [component],
            "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "Version": LIBPOD_VERSION,
            "Arch": arch, "Os": "linux", "KernelVersion": uname.release, "GoVersion": f"python{platform.python_version()}",
            "GitCommit": "", "BuildTime": "", "Experimental": False}


@route("GET", "/info")
def info(req: Request, conn: Connection) -> Any:
    doc = eng.info()
    host, st = doc["host"], doc["store"]
    ctrs = eng.containers()
    running = sum(1 for _, s in ctrs if s.running)
    uname = os.uname()
    return {
        "ID": "rpod", "Containers": len(ctrs), "ContainersRunning": running, "ContainersPaused": 0,
        "ContainersStopped": len(ctrs) - running, "Images": st["imageStore"]["number"], "Driver": "overlay",
        "DriverStatus": [[k, v] for k, v in st["graphStatus"].items()], "DockerRootDir": st["graphRoot"],
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "macvlan"], "Log": ["k8s-file", "journald"]},
        "MemoryLimit": False, "SwapLimit": False, "KernelMemory": False, "CpuCfsPeriod": False,
        "CpuCfsQuota": False, "CPUShares": False, "CPUSet": False, "PidsLimit": False, "IPv4Forwarding": True,
        "BridgeNfIptables": False, "BridgeNfIp6tables": False, "Debug": False, "NFd": 0,
        "OomKillDisable": False, "NGoroutines": 0, "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "LoggingDriver": "k8s-file", "CgroupDriver": host["cgroupManager"],
        "CgroupVersion": host["cgroupVersion"].removeprefix("v"), "NEventsListener": 0,
        "KernelVersion": uname.release, "OperatingSystem": "linux", "OSVersion": "", "OSType": "linux",
        "Architecture": uname.machine, "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": [], "Mirrors": []},
        "NCPU": os.cpu_count() or 1, "MemTotal": _mem_total(), "Name": uname.nodename, "Labels": [],
        "ExperimentalBuild": False, "ServerVersion": LIBPOD_VERSION, "HttpProxy": "", "HttpsProxy": "",
        "NoProxy": "", "Runtimes": {"rpod": {"path": "python -m rootless.runtime"}}, "DefaultRuntime": "rpod",
        "Swarm": {"LocalNodeState": "inactive", "NodeID": "", "NodeAddr": "", "ControlAvailable": False,
                  "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": False, "Isolation": "", "InitBinary": "", "SecurityOptions": ["name=rootless",
                                                                                          "name=seccomp"],
        "Warnings": list(host.get("warnings") or []),
    }


def _mem_total() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@route("GET", "/system/df")
def df(req: Request, conn: Connection) -> Any:
    used = eng.image_in_use()
    imgs = [{"Id": "sha256:" + r.id, "ParentId": "", "RepoTags": r.names or None, "RepoDigests": r.repo_digests,
             "Created": int(eng.parse_time(r.created)) if r.created else 0, "Size": r.size, "SharedSize": 0,
             "VirtualSize": r.size, "Labels": {}, "Containers": len(used.get(r.id, []))} for r in eng.images()]
    from rpod.api.convert import container_summary

    ctrs = [container_summary(rec, st, size=True) for rec, st in eng.containers()]
    return {"LayersSize": sum(r.size for r in eng.images()), "Images": imgs, "Containers": ctrs,
            "Volumes": [], "BuildCache": []}


# ------------------------------------------------------------------------------------------ events
def _docker_event(ev: dict[str, Any], libpod: bool = False) -> dict[str, Any]:
    ns = int(ev.get("ns", 0))
    typ = ev.get("Type", "container")
    action = ev.get("Status", "")
    attrs = dict(ev.get("Attributes") or {})
    if ev.get("Name"):
        attrs["name"] = ev["Name"]
    if ev.get("Image"):
        attrs["image"] = ev["Image"]
    if ev.get("ContainerExitCode") is not None:
        attrs["containerExitCode" if libpod else "exitCode"] = str(ev["ContainerExitCode"])
    if libpod:  # Podman's words ("died"), as podman --remote reads them
        attrs.setdefault("podId", "")
        attrs.setdefault("containerExitCode", "0")  # Podman's client drops (and 4.3 crashes on) an event without it
    else:
        action = {"died": "die"}.get(action, action)
    out = {"status": action, "id": ev.get("ID", ""), "from": ev.get("Image", ""), "Type": typ, "Action": action,
           "Actor": {"ID": ev.get("ID", ""), "Attributes": attrs}, "scope": "local",
           "time": ns // 1_000_000_000, "timeNano": ns}
    return out


# Podman 4.3's event statuses and types: its client fails on any other (``ConvertToLibpodEvent``)
_LIBPOD_STATUSES = frozenset(
    ["attach", "auto-update", "build", "checkpoint", "cleanup", "commit", "copy", "create", "exec", "exec_died", "died", "export", "health_status", "history", "import", "init", "kill", "loadfromarchive", "mount", "connect", "disconnect", "pause", "prune", "pull", "push", "refresh", "remove", "rename", "renumber", "restart", "restore", "log-rotation", "save", "start", "stop", "sync", "tag", "unmount", "unpause", "untag"])
_LIBPOD_TYPES = frozenset(("container", "image", "network", "pod", "system", "volume", "machine"))


def _libpod_known(d: dict[str, Any]) -> bool:
    if d["Action"] == "load":  # Podman's word for an image load
        d["Action"] = d["status"] = "loadfromarchive"
    return d["Action"] in _LIBPOD_STATUSES and d["Type"] in _LIBPOD_TYPES


def _event_matches(ev: dict[str, Any], flt: dict[str, list[str]]) -> bool:
    for key, values in flt.items():
        if key == "type":
            ok = ev["Type"] in values
        elif key == "event":
            ok = ev["Action"] in values
        elif key in ("container", "image", "volume", "network"):
            ok = ev["Type"] == key and (ev["id"] in values or ev["Actor"]["Attributes"].get("name") in values
                                        or any(ev["id"].startswith(v) for v in values))
        elif key == "label":
            attrs = ev["Actor"]["Attributes"]
            ok = all((attrs.get(k) == v) if sep else k in attrs for k, sep, v in (x.partition("=") for x in values))
        else:
            ok = True
        if not ok:
            return False
    return True


@route("GET", "/events")
def events(req: Request, conn: Connection) -> Any:
    from rpod.api.convert import filters

    flt = filters(req)
    since = _ts(req.q("since"))
    until = _ts(req.q("until"))
    stream = req.qbool("stream", True) if until is None else False
    path = eng.events_path()
    start = time.time()  # before the headers: the client may act as soon as it has them
    conn.start_stream(200, "application/json")
    offset = 0
    buf = b""
    while True:
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read()
        except FileNotFoundError:
            chunk = b""
        offset += len(chunk)
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for ev in eng.parse_events([ln.decode("utf-8", "replace") for ln in lines]):
            t = int(ev["ns"]) / 1e9
            if since is not None and t < since:
                continue
            if since is None and stream and t < start:  # a stream starts now; a one-off read has the past
                continue
            if until is not None and t > until:
                continue
            d = _docker_event(ev, "/libpod/" in req.path)
            if "/libpod/" in req.path and not _libpod_known(d):
                continue
            if _event_matches(d, flt):
                conn.write_json(d)
        if not stream or (until is not None and time.time() > until) or conn.client_gone():
            break
        time.sleep(0.2)
    conn.end()


def _ts(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            return eng.parse_time(value)
        except Exception:
            raise HTTPError(400, f"invalid time {value!r}") from None
