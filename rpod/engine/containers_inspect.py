"""``inspect`` of containers (and of images, for ``rpod inspect``): Podman's documents and the
Go struct views templates see."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rootless import ctrfiles
from rpod.engine import containers
from rpod.engine.types import paths_or_default
from rpod.errors import NoSuchContainer, RpodError, UsageError

if TYPE_CHECKING:
    from rpod.paths import Paths


def container_doc(paths: Paths, rec: Any, st: Any) -> dict[str, Any]:
    """Podman's ``inspect`` document of a container."""
    from rpod.humanize import parse_time
    from rpod.network.inspect import container_network

    opts = rec.options
    cdir = paths.container_dir(rec.id)
    net = container_network(cdir, rec)
    return {
        "Id": rec.id,
        "Created": rec.created,
        "Path": rec.command[0] if rec.command else "",
        "Args": rec.command[1:],
        "State": _state_doc(paths, rec, st),
        "Image": rec.image_id,
        "ImageDigest": _image_digest(paths, rec.image_id),
        "ImageName": rec.image_name,
        "Rootfs": "",
        "Pod": "",
        "ResolvConfPath": str(cdir / ctrfiles.RESOLV_CONF),
        "HostnamePath": str(cdir / ctrfiles.HOSTNAME),
        "HostsPath": str(cdir / ctrfiles.HOSTS),
        "StaticDir": str(cdir),
        "OCIRuntime": opts.runtime or "rpod",
        "LogPath": _log_path(cdir, opts),
        "ConmonPidFile": opts.conmon_pidfile or str(cdir / ctrfiles.MONITOR_PIDFILE),
        "PidFile": opts.pidfile or "",
        "Name": rec.name,
        "RestartCount": rec.restart_count + st.restart_count,
        "Driver": "overlay",
        "MountLabel": "",
        "ProcessLabel": "",
        "Mounts": [_mount_doc(m) for m in rec.mounts],
        "IsService": bool(getattr(opts, "is_service", False)),
        "NetworkSettings": net["settings"],
        "Config": _config_doc(rec),
        "HostConfig": _host_config_doc(rec, net, cdir),
        "CreatedAt": int(parse_time(rec.created)),
    }


def _image_digest(paths: Paths, image_id: str) -> str:
    """The manifest digest of the container's image ("" once the image is gone)."""
    from rpod.image.store import ImageStore

    try:
        image = ImageStore(paths).get(image_id)
    except (OSError, ValueError):
        return ""
    return (image.digest or "") if image is not None else ""


def _log_path(cdir: Any, opts: Any) -> str:
    """``LogPath``: the k8s-file log (``--log-opt path=`` or the container's own); "" for the
    drivers that write no file (none, journald, passthrough), as Podman."""
    from rpod.container.lifecycle import log_path

    if (opts.log_driver or "k8s-file") not in ("k8s-file", "json-file"):
        return ""
    return log_path(cdir, opts)


def _log_config(cdir: Any, opts: Any) -> dict[str, Any]:
    """``HostConfig.LogConfig`` (Podman 4.3.1: Type, Config, Path, Tag, Size as go-units HumanSize)."""
    from rpod.container.options import log_settings
    from rpod.humanize import go_human_size

    settings = log_settings(list(opts.log_opt or []))
    return {"Type": opts.log_driver or "k8s-file", "Config": None, "Path": _log_path(cdir, opts),
            "Tag": settings.tag, "Size": go_human_size(settings.size_max)}


def _state_doc(paths: Paths, rec: Any, st: Any) -> dict[str, Any]:
    health = containers.health(paths, rec, st)
    return {
        "OciVersion": "1.0.2", "Status": st.status, "Running": st.status in ("running", "stopping"),
        "Paused": False, "Restarting": st.restarting, "OOMKilled": False, "Dead": False, "Pid": st.pid,
        "ConmonPid": st.monitor_pid, "ExitCode": st.exit_code, "Error": st.error,
        "StartedAt": st.started_at or "0001-01-01T00:00:00Z", "FinishedAt": st.finished_at or "0001-01-01T00:00:00Z",
        "Health": health,
        "Healthcheck": health,  # Podman 4.3's name for the same object
    }


def _mount_doc(m: dict[str, Any]) -> dict[str, Any]:
    source = m.get("source", "")
    return {"Type": m.get("type", "bind"), "Source": source, "Destination": m.get("destination", ""),
            "Name": os.path.basename(os.path.dirname(source)) if "/volumes/" in source else "",
            "Driver": "", "Mode": "", "Options": m.get("options", []),
            "RW": "ro" not in (m.get("options") or []), "Propagation": "rprivate"}


def _config_doc(rec: Any) -> dict[str, Any]:
    """``Config`` (Podman 4.3.1's InspectContainerConfig: ``Entrypoint`` is one string)."""
    opts = rec.options
    return {
        "Hostname": rec.hostname, "Domainname": "", "User": rec.user, "AttachStdin": bool(opts.interactive),
        "AttachStdout": not opts.detach, "AttachStderr": not opts.detach,
        "Tty": bool(opts.tty), "OpenStdin": bool(opts.interactive), "StdinOnce": False,
        "Env": rec.env, "Cmd": rec.cmd or None, "Image": rec.image_name, "Volumes": None,
        "WorkingDir": rec.workdir, "Entrypoint": " ".join(rec.entrypoint or []), "OnBuild": None,
        "Labels": dict(rec.labels), "Annotations": _annotations(opts), "StopSignal": rec.stop_signal,
        "StopTimeout": rec.stop_timeout, "CreateCommand": getattr(rec, "create_command", None) or None,
        "Umask": opts.umask or "0022",
        "Healthcheck": getattr(rec, "healthcheck", None),
        "HealthcheckOnFailureAction": opts.health_on_failure or "none",
        "SdNotifyMode": opts.sdnotify or "conmon",
    }


def _host_config_doc(rec: Any, net: dict[str, Any], cdir: Any) -> dict[str, Any]:
    opts = rec.options
    return {
        "Binds": [f"{m['source']}:{m['destination']}" for m in rec.mounts if m.get("type") == "bind"],
        "NetworkMode": net["mode"], "PortBindings": net["ports"], "AutoRemove": bool(opts.rm),
        "RestartPolicy": _restart_policy(opts.restart),
        "LogConfig": _log_config(cdir, opts),
        "Privileged": bool(opts.privileged), "ReadonlyRootfs": bool(opts.read_only),
        "CapAdd": opts.cap_add or [], "CapDrop": opts.cap_drop or [],
        "Dns": opts.dns or [], "ExtraHosts": opts.add_host or [],
        "SecurityOpt": opts.security_opt or [], "UsernsMode": _userns_mode(opts.userns),
        **_resource_limits(opts, rec),
    }


def _restart_policy(value: str | None) -> dict[str, Any]:
    """``HostConfig.RestartPolicy`` (``on-failure:3`` → Name on-failure, MaximumRetryCount 3)."""
    name, _, count = (value or "").partition(":")
    return {"Name": name, "MaximumRetryCount": int(count) if count.isdigit() else 0}


def _resource_limits(opts: Any, rec: Any) -> dict[str, Any]:
    """The limits as asked (Podman's fields) and whether they were enforced (rpod's note)."""
    from rpod.container.options import parse_memory

    memory = parse_memory(opts.memory) if opts.memory else 0
    cpus = opts.cpus
    asked = bool(memory or cpus or opts.pids_limit)
    notes = list(getattr(rec, "warnings", []) or [])
    return {"Memory": memory, "NanoCpus": int(cpus * 1e9) if cpus else 0, "PidsLimit": opts.pids_limit or 0,
            "ResourceLimitsApplied": asked and not notes, "ResourceLimitsNote": notes[0] if notes else ""}



@dataclass
class InspectOptions:
    """``inspect``: names or ids of containers (and images, ``kind`` all|container|image)."""

    refs: list[str] = field(default_factory=list)
    latest: bool = False
    size: bool = False
    kind: str = "all"


@dataclass
class InspectReport:
    """The documents found (``docs``), their Go struct views for templates (``structs``) and
    one error per name that is neither (``errors``, Podman: ``no such object``)."""

    docs: list[dict[str, Any]] = field(default_factory=list)
    structs: list[Any] = field(default_factory=list)
    errors: list[RpodError] = field(default_factory=list)


def _image_doc(paths: Paths, ref: str) -> tuple[dict[str, Any], Any] | None:
    from rpod.image.pull import local_candidates
    from rpod.image.reports import image_struct, inspect_image
    from rpod.image.store import ImageStore

    images = ImageStore(paths)
    try:
        doc = inspect_image(images, images.resolve(ref, local_candidates(ref)))
    except RpodError:
        return None
    return doc, image_struct(doc)


def inspect(opts: InspectOptions, paths: Paths | None = None) -> InspectReport:
    """Containers first, then images of that name, as Podman; a name that is neither is an error."""
    from rpod.format.gofmt import go_structs

    p = paths_or_default(paths)
    if not opts.refs and not opts.latest:
        raise UsageError("inspect requires at least one container name or ID")
    store = containers.container_store(p)
    report = InspectReport()
    by_image = containers.image_sizes(p) if opts.size else {}

    def add_container(rec: Any) -> None:
        doc = container_doc(p, rec, store.state(rec.id))
        if opts.size:
            doc["SizeRw"], doc["SizeRootFs"] = containers.sizes(p, rec, by_image)
        report.docs.append(doc)
        # InspectContainerData's Go field is ID (JSON "Id"); Podman's templates accept both
        report.structs.append(go_structs({**doc, "ID": doc.get("Id")}, INSPECT_TOP, INSPECT_STRUCTS))

    if opts.latest:
        add_container(store.latest())
    for ref in opts.refs:
        if opts.kind != "image":
            try:
                add_container(store.get(ref))
                continue
            except NoSuchContainer:
                pass
        found = _image_doc(p, ref) if opts.kind != "container" else None
        if found is not None:
            report.docs.append(found[0])
            report.structs.append(found[1])
            continue
        prefix = "inspecting object: " if opts.kind == "all" else ""  # Podman's plain ``inspect``
        report.errors.append(NoSuchContainer(f"{prefix}no such object: \"{ref}\""))
    return report


# Podman 4.3.1's inspect structs and their field names (one rpod lacks renders <no value>; any
# other name is Podman's "can't evaluate field" error); HostConfig/NetworkSettings stay maps
INSPECT_TOP = ("interface {}", frozenset((
    "Id", "ID", "Created", "Path", "Args", "State", "Image", "ImageDigest", "ImageName", "Rootfs", "Pod",
    "ResolvConfPath", "HostnamePath", "HostsPath", "StaticDir", "OCIConfigPath", "OCIRuntime",
    "ConmonPidFile", "PidFile", "Name", "RestartCount", "Driver", "MountLabel", "ProcessLabel",
    "AppArmorProfile", "EffectiveCaps", "BoundingCaps", "ExecIDs", "GraphDriver", "SizeRw", "SizeRootFs",
    "Mounts", "Dependencies", "NetworkSettings", "Namespace", "IsInfra", "IsService", "Config",
    "HostConfig",
)))
INSPECT_STRUCTS = {
    "State": ("*define.InspectContainerState", frozenset((
        "OciVersion", "Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid",
        "ConmonPid", "ExitCode", "Error", "StartedAt", "FinishedAt", "Health", "Healthcheck",
        "CheckpointedAt", "RestoredAt", "CheckpointLog", "CheckpointPath", "RestoreLog", "Restored",
        "StoppedByUser",
    ))),
    "Config": ("*define.InspectContainerConfig", frozenset((
        "Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "Tty",
        "OpenStdin", "StdinOnce", "Env", "Cmd", "Image", "Volumes", "WorkingDir", "Entrypoint", "OnBuild",
        "Labels", "Annotations", "StopSignal", "HealthcheckOnFailureAction", "CreateCommand", "Timezone",
        "SystemdMode", "Umask", "Secrets", "Timeout", "StopTimeout", "Passwd", "SdNotifyMode",
        "SdNotifySocket", "Healthcheck", "ChrootDirs",
    ))),
}


def _annotations(opts: Any) -> dict[str, str]:
    """The user's ``--annotation`` values (kube play's pod annotations among them)."""
    out = {}
    for item in opts.annotations or []:
        k, _, v = str(item).partition("=")
        if k:
            out[k] = v
    return out


def _userns_mode(userns: str | None) -> str:
    """``HostConfig.UsernsMode`` as Podman reports it: "" for the default (rootless: the user's
    namespace), ``container:``/``ns:`` as given, ``private`` for a map of the container's own
    (keep-id, auto, nomap)."""
    if not userns or userns == "host":
        return ""
    if userns.startswith(("container:", "ns:")):
        return userns
    return "private"
