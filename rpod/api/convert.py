"""Docker's JSON shapes to and from rpod's: create bodies to ``RunOptions`` fields, records and
states to ``/containers/json`` summaries and ``/containers/{id}/json`` documents."""

from __future__ import annotations

import json
import re
from typing import Any

from rpod.api.http import HTTPError, Request
from rpod.engine import api_support as eng

_NS = 1_000_000_000


def filters(req: Request) -> dict[str, list[str]]:
    """Docker's ``filters`` query: ``{"k": ["v"]}`` or the old ``{"k": {"v": true}}``."""
    raw = req.qjson("filters", {}) or {}
    if not isinstance(raw, dict):
        raise HTTPError(400, "invalid filters: expected a JSON object")
    out: dict[str, list[str]] = {}
    for k, v in raw.items():
        out[k] = [x for x, on in v.items() if on] if isinstance(v, dict) else [str(x) for x in v or []]
    return out


def container_matches(rec: Any, st: Any, flt: dict[str, list[str]]) -> bool:
    status = _docker_status(st)
    for key, values in flt.items():
        if key == "name":
            ok = any(re.search(v.lstrip("/"), rec.name) for v in values)
        elif key == "id":
            ok = any(rec.id.startswith(v) for v in values)
        elif key == "status":
            ok = status in values
        elif key == "label":
            ok = all((rec.labels.get(k) == v) if sep else (k in rec.labels)
                     for k, sep, v in (x.partition("=") for x in values))
        elif key == "exited":
            ok = st.status == "exited" and str(st.exit_code) in values
        elif key == "ancestor":
            ok = any(v in (rec.image_name, rec.image_id) or rec.image_id.startswith(v.removeprefix("sha256:"))
                     or rec.image_name.split("/")[-1].startswith(v) for v in values)
        elif key == "network":
            ok = any(v in (eng.network_view(rec)["settings"].get("Networks") or {}) for v in values)
        else:
            raise HTTPError(400, f"invalid filter '{key}'")
        if not ok:
            return False
    return True


def _docker_status(st: Any) -> str:
    if st.restarting:
        return "restarting"
    return {"stopping": "running", "created": "created", "running": "running"}.get(st.status, "exited")


def _status_text(st: Any) -> str:
    human_duration = eng.human_duration
    now = __import__("time").time()
    if st.status in ("running", "stopping"):
        return f"Up {human_duration(now - eng.parse_time(st.started_at))}" if st.started_at else "Up"
    if st.status == "exited":
        ago = human_duration(now - eng.parse_time(st.finished_at)) + " ago" if st.finished_at else ""
        return f"Exited ({st.exit_code}) {ago}".rstrip()
    return "Created"


def _ports_list(ports: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, binds in ports.items():
        port, _, proto = key.partition("/")
        for b in binds or [{}]:
            item: dict[str, Any] = {"PrivatePort": int(port), "Type": proto or "tcp"}
            if b.get("HostPort"):
                item.update(IP=b.get("HostIp") or "0.0.0.0", PublicPort=int(b["HostPort"]))
            out.append(item)
    return out


def container_summary(rec: Any, st: Any, size: bool = False) -> dict[str, Any]:
    net = eng.network_view(rec)
    networks = net["settings"].get("Networks") or {}
    doc: dict[str, Any] = {
        "Id": rec.id, "Names": ["/" + rec.name], "Image": _raw_image(rec), "ImageID": "sha256:" + rec.image_id,
        "Command": " ".join(rec.command), "Created": int(eng.parse_time(rec.created)),
        "Ports": _ports_list(net["ports"]), "Labels": dict(rec.labels), "State": _docker_status(st),
        "Status": _status_text(st), "HostConfig": {"NetworkMode": net["mode"]},
        "NetworkSettings": {"Networks": networks}, "Mounts": [_mount(m) for m in rec.mounts],
    }
    if size:
        doc["SizeRw"], doc["SizeRootFs"] = 0, 0
    return doc


def _raw_image(rec: Any) -> str:
    """The image as the client named it (Docker's and Podman's ``Image``), else the resolved name."""
    return rec.options.image or rec.image_name


def _mount(m: dict[str, Any]) -> dict[str, Any]:
    src = m.get("source", "")
    is_vol = "/volumes/" in src
    import os

    return {"Type": "volume" if is_vol else m.get("type", "bind"),
            "Name": os.path.basename(os.path.dirname(src)) if is_vol else "",
            "Source": src, "Destination": m.get("destination", ""), "Driver": "local" if is_vol else "",
            "Mode": "", "RW": "ro" not in (m.get("options") or []), "Propagation": "rprivate"}


def _signal_name(n: int) -> str:
    import signal

    try:
        return signal.Signals(n).name
    except ValueError:
        return str(n)


def container_inspect(rec: Any, st: Any, size: bool = False) -> dict[str, Any]:
    """Docker's ``ContainerJSON``."""
    opts = vars(rec.options)
    net = eng.network_view(rec)
    zero = "0001-01-01T00:00:00Z"
    tty = bool(opts.get("tty"))
    health = eng.health(rec.id) if rec.healthcheck else None
    cdir = eng.container_dir(rec.id)
    state: dict[str, Any] = {
        "Status": _docker_status(st), "Running": st.status in ("running", "stopping"), "Paused": False,
        "Restarting": st.restarting, "OOMKilled": False, "Dead": False, "Pid": st.pid, "ExitCode": st.exit_code,
        "Error": st.error, "StartedAt": st.started_at or zero, "FinishedAt": st.finished_at or zero,
    }
    if health:
        state["Health"] = health
    ports = net["ports"]
    exposed = {k: {} for k in ports}
    doc = {
        "Id": rec.id, "Created": rec.created, "Path": rec.command[0] if rec.command else "",
        "Args": rec.command[1:], "State": state, "Image": "sha256:" + rec.image_id,
        "ResolvConfPath": str(cdir / "userdata" / "resolv.conf"), "HostnamePath": str(cdir / "userdata" / "hostname"),
        "HostsPath": str(cdir / "userdata" / "hosts"), "LogPath": str(cdir / "ctr.log"), "Name": "/" + rec.name,
        "RestartCount": rec.restart_count + st.restart_count, "Driver": "overlay", "Platform": "linux",
        "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "", "ExecIDs": None,
        "HostConfig": {
            "Binds": [f"{m['source']}:{m['destination']}" for m in rec.mounts if m.get("type") == "bind"],
            "NetworkMode": net["mode"] if net["mode"] != "slirp4netns" else "default",
            "PortBindings": ports, "AutoRemove": bool(opts.get("rm")),
            "RestartPolicy": _restart_policy(opts.get("restart")), "Privileged": bool(opts.get("privileged")),
            "LogConfig": {"Type": "json-file", "Config": {}}, "CapAdd": opts.get("cap_add") or None,
            "CapDrop": opts.get("cap_drop") or None, "Dns": opts.get("dns") or [],
            "ExtraHosts": opts.get("add_host") or None, "ReadonlyRootfs": bool(opts.get("read_only")),
            "SecurityOpt": opts.get("security_opt") or None, "PublishAllPorts": bool(opts.get("publish_all")),
            "Init": bool(opts.get("init")), "Memory": 0, "NanoCpus": 0, "PidsLimit": opts.get("pids_limit"),
        },
        "GraphDriver": {"Name": "overlay", "Data": {"UpperDir": str(cdir / "upper")}},
        "Mounts": [_mount(m) for m in rec.mounts],
        "Config": {
            "Hostname": rec.hostname, "Domainname": "", "User": rec.user, "AttachStdin": False,
            "AttachStdout": False, "AttachStderr": False, "ExposedPorts": exposed or None, "Tty": tty,
            "OpenStdin": bool(opts.get("interactive")), "StdinOnce": False, "Env": rec.env, "Cmd": rec.cmd or None,
            "Image": _raw_image(rec), "Volumes": None, "WorkingDir": rec.workdir, "Entrypoint": rec.entrypoint or None,
            "OnBuild": None, "Labels": dict(rec.labels), "StopSignal": _signal_name(rec.stop_signal),
            "StopTimeout": rec.stop_timeout, "Healthcheck": rec.healthcheck,
        },
        "NetworkSettings": {**net["settings"], "Ports": ports, "Networks": net["settings"].get("Networks") or {}},
    }
    if size:
        doc["SizeRw"], doc["SizeRootFs"] = 0, 0
    return doc


def _restart_policy(value: str | None) -> dict[str, Any]:
    name, _, count = (value or "no").partition(":")
    return {"Name": name or "no", "MaximumRetryCount": int(count) if count.isdigit() else 0}


# ------------------------------------------------------------------------------------------ create
def _str_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise HTTPError(400, f"decode container create options: {what}: expected a list of strings")
    return list(value)


def run_options(body: dict[str, Any], name: str | None) -> dict[str, Any]:
    """``RunOptions`` fields from a Docker ``ContainerConfig`` + ``HostConfig`` body."""
    image = body.get("Image")
    if not image or not isinstance(image, str):
        raise HTTPError(400, "config cannot be empty in order to create a container: no image given")
    hc = body.get("HostConfig") or {}
    f: dict[str, Any] = {"image": image, "command": _str_list(body.get("Cmd"), "Cmd"), "detach": True,
                         "pull": "never" if _is_id(image) else "missing"}
    if name:
        f["name"] = name.lstrip("/")
    ep = body.get("Entrypoint")
    if ep is not None:
        f["entrypoint"] = json.dumps(_str_list(ep, "Entrypoint")) if ep != "" else ""
    f["tty"] = bool(body.get("Tty"))
    f["interactive"] = bool(body.get("OpenStdin"))
    f["env"] = _str_list(body.get("Env"), "Env")
    f["labels"] = [f"{k}={v}" for k, v in (body.get("Labels") or {}).items()]
    for key, fld in (("WorkingDir", "workdir"), ("User", "user"), ("Hostname", "hostname"),
                     ("StopSignal", "stop_signal"), ("MacAddress", "mac_address")):
        if body.get(key):
            f[fld] = str(body[key])
    if body.get("StopTimeout") is not None:
        f["stop_timeout"] = int(body["StopTimeout"])
    f["expose"] = [k for k in (body.get("ExposedPorts") or {})]
    _healthcheck(body.get("Healthcheck"), f)
    _host_config(hc, f)
    _networking(body.get("NetworkingConfig") or {}, hc, f)
    return {k: v for k, v in f.items() if k in eng.run_options_fields()}


def _is_id(image: str) -> bool:
    return bool(re.fullmatch(r"(sha256:)?[0-9a-f]{64}", image))


def _healthcheck(hc: Any, f: dict[str, Any]) -> None:
    if not hc:
        return
    test = hc.get("Test") or []
    if test and test[0] == "NONE":
        f["no_healthcheck"] = True
    elif test:
        f["health_cmd"] = json.dumps(test[1:]) if test[0] == "CMD" else " ".join(test[1:])
    for key, fld in (("Interval", "health_interval"), ("Timeout", "health_timeout"),
                     ("StartPeriod", "health_start_period")):
        if hc.get(key):
            f[fld] = f"{int(hc[key]) / _NS}s"
    if hc.get("Retries"):
        f["health_retries"] = int(hc["Retries"])


def _host_config(hc: dict[str, Any], f: dict[str, Any]) -> None:
    f["rm"] = bool(hc.get("AutoRemove"))
    f["volumes"] = _str_list(hc.get("Binds"), "Binds")
    for m in hc.get("Mounts") or []:
        parts = [f"type={m.get('Type', 'volume')}", f"destination={m.get('Target', '')}"]
        if m.get("Source"):
            parts.append(f"source={m['Source']}")
        if m.get("ReadOnly"):
            parts.append("ro=true")
        f.setdefault("mounts", []).append(",".join(parts))
    f["tmpfs"] = [f"{k}:{v}" if v else k for k, v in (hc.get("Tmpfs") or {}).items()]
    publish = []
    for ctr, binds in (hc.get("PortBindings") or {}).items():
        for b in binds or [{}]:
            host_ip, host_port = (b or {}).get("HostIp") or "", (b or {}).get("HostPort") or ""
            if host_ip:
                publish.append(f"{host_ip}:{host_port}:{ctr}")
            else:
                publish.append(f"{host_port}:{ctr}" if host_port else ctr)
    f["publish"] = publish
    f["publish_all"] = bool(hc.get("PublishAllPorts"))
    pol = hc.get("RestartPolicy") or {}
    if pol.get("Name") and pol["Name"] != "no":
        f["restart"] = pol["Name"] + (f":{pol['MaximumRetryCount']}" if pol.get("MaximumRetryCount") else "")
    f["privileged"] = bool(hc.get("Privileged"))
    f["read_only"] = bool(hc.get("ReadonlyRootfs"))
    f["init"] = bool(hc.get("Init"))
    for key, fld in (("CapAdd", "cap_add"), ("CapDrop", "cap_drop"), ("Dns", "dns"), ("DnsSearch", "dns_search"),
                     ("DnsOptions", "dns_option"), ("ExtraHosts", "add_host"), ("SecurityOpt", "security_opt"),
                     ("GroupAdd", "group_add")):
        f[fld] = _str_list(hc.get(key), key)
    f["ulimit"] = [f"{u['Name']}={u['Soft']}:{u['Hard']}" for u in hc.get("Ulimits") or []]
    if hc.get("Memory"):
        f["memory"] = str(int(hc["Memory"]))
    if hc.get("NanoCpus"):
        f["cpus"] = int(hc["NanoCpus"]) / _NS
    if hc.get("PidsLimit"):
        f["pids_limit"] = int(hc["PidsLimit"])
    if hc.get("ShmSize"):
        f["shm_size"] = str(int(hc["ShmSize"]))
    if hc.get("UsernsMode"):
        f["userns"] = hc["UsernsMode"]
    f["sysctl"] = [f"{k}={v}" for k, v in (hc.get("Sysctls") or {}).items()]
    f["devices"] = [f"{d['PathOnHost']}:{d.get('PathInContainer') or d['PathOnHost']}"
                    for d in hc.get("Devices") or []]


def _networking(nc: dict[str, Any], hc: dict[str, Any], f: dict[str, Any]) -> None:
    mode = hc.get("NetworkMode") or ""
    if mode in ("", "default", "bridge"):
        mode = ""
    endpoints = nc.get("EndpointsConfig") or {}
    aliases: list[str] = []
    for net_name, ep in endpoints.items():
        aliases += list((ep or {}).get("Aliases") or [])
        if not mode and net_name not in ("bridge", "default"):
            mode = net_name
    if mode:
        f["network"] = mode
    if aliases and mode and ":" not in mode and mode not in ("host", "none", "slirp4netns", "pasta"):
        f["network_alias"] = aliases
