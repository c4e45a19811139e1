"""Quadlet: ``*.container``, ``*.volume`` and ``*.network`` files turned into systemd services.

The files are systemd unit files with one rpod section (``[Container]``, ``[Volume]``,
``[Network]``) holding the keys of Podman's ``podman-systemd.unit(5)``; every other section
(``[Unit]``, ``[Service]``, ``[Install]`` ...) passes through untouched.  ``NAME.container``
becomes ``NAME.service`` running ``rpod run --replace --rm -d --sdnotify=conmon --cgroups=split``
(``Type=notify``, ``KillMode=mixed``); ``NAME.volume`` becomes the oneshot ``NAME-volume.service``
(``rpod volume create --ignore systemd-NAME``), ``NAME.network`` the oneshot
``NAME-network.service`` (``rpod network create --ignore systemd-NAME``).  ``WantedBy=`` and
``RequiredBy=`` of ``[Install]`` become ``.wants``/``.requires`` symlinks, as systemd's
``enable`` would make (generated units cannot be enabled)."""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rpod.errors import RpodError
from rpod.systemd.unitfile import escape_arg as _escape_exec
from rpod.systemd.unitfile import rpod_executable

SUFFIXES = (".container", ".volume", ".network", ".kube", ".pod")
TRUE = ("1", "yes", "true", "on")
FALSE = ("0", "no", "false", "off")


def escape_arg(arg: str) -> str:
    """A word of a generated ``Exec*=`` line: quoted like ``generate systemd`` and ``$`` doubled,
    but ``%`` left alone, so systemd specifiers (``%N``, ``%h``) work in Quadlet values."""
    return _escape_exec(arg.replace("%", "\0")).replace("\0", "%")


class QuadletError(RpodError):
    """A unit file rpod cannot turn into a service (the message names the file and key)."""


# ------------------------------------------------------------------------------------- parsing
@dataclass
class UnitFile:
    """A parsed systemd-style unit file: sections in order, each a list of (key, value)."""

    path: str
    sections: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)

    def section(self, name: str) -> list[tuple[str, str]]:
        for sec, entries in self.sections:
            if sec == name:
                return entries
        return []

    def values(self, sec: str, key: str) -> list[str]:
        return [v for k, v in self.section(sec) if k == key]

    def last(self, sec: str, key: str) -> str | None:
        vals = self.values(sec, key)
        return vals[-1] if vals else None


def parse_unit(text: str, path: str) -> UnitFile:
    """systemd's syntax: ``[Section]``, ``Key=Value``, ``#``/``;`` comments, trailing ``\\``
    continues the line.  ``QuadletError`` names the file and line on anything else."""
    unit = UnitFile(path)
    current: list[tuple[str, str]] | None = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        lineno = i + 1
        line = lines[i].strip()
        i += 1
        while line.endswith("\\") and i < len(lines):
            nxt = lines[i].strip()
            i += 1
            if nxt.startswith(("#", ";")):
                continue
            line = line[:-1] + " " + nxt
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            if not line.endswith("]") or len(line) < 3:
                raise QuadletError(f"{path}:{lineno}: invalid section header {line!r}")
            current = []
            unit.sections.append((line[1:-1], current))
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise QuadletError(f"{path}:{lineno}: expected Key=Value, got {line!r}")
        if current is None:
            raise QuadletError(f"{path}:{lineno}: key {key.strip()!r} outside of any section")
        current.append((key.strip(), value.strip()))
    return unit


def split_words(value: str, path: str, key: str) -> list[str]:
    """A value holding several words (``Exec=``, ``PodmanArgs=``, ``Environment=``), quoted the
    systemd way."""
    try:
        return shlex.split(value)
    except ValueError as e:
        raise QuadletError(f"{path}: key {key}: cannot split {value!r}: {e}") from None


def parse_bool(value: str, path: str, key: str) -> bool:
    v = value.lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise QuadletError(f"{path}: key {key}: {value!r} is not a boolean (use true or false)")


# --------------------------------------------------------------------------------- conversion
# [Container] key -> run flag, for keys that map one value to one flag (repeatable keys repeat it)
CONTAINER_FLAGS = {
    "ContainerName": "--name", "Entrypoint": "--entrypoint", "EnvironmentFile": "--env-file",
    "Volume": "-v", "PublishPort": "--publish", "Network": "--network", "UserNS": "--userns",
    "WorkingDir": "--workdir", "Label": "--label", "Annotation": "--annotation",
    "HealthCmd": "--health-cmd", "HealthInterval": "--health-interval", "HealthRetries": "--health-retries",
    "HealthStartPeriod": "--health-start-period", "HealthTimeout": "--health-timeout",
    "HealthOnFailure": "--health-on-failure", "Pull": "--pull", "StopTimeout": "--stop-timeout",
    "AddCapability": "--cap-add", "DropCapability": "--cap-drop", "Tmpfs": "--tmpfs", "Mount": "--mount",
    "HostName": "--hostname", "DNS": "--dns", "DNSSearch": "--dns-search", "DNSOption": "--dns-option",
    "AddHost": "--add-host", "Sysctl": "--sysctl", "Ulimit": "--ulimit", "ShmSize": "--shm-size",
    "LogDriver": "--log-driver", "AddDevice": "--device", "SecurityOpt": "--security-opt",
    "GroupAdd": "--group-add", "Memory": "--memory", "PidsLimit": "--pids-limit",
    "StopSignal": "--stop-signal", "ExposeHostPort": "--expose", "UIDMap": "--uidmap", "GIDMap": "--gidmap",
    "NetworkAlias": "--network-alias", "Umask": "--umask",
}
CONTAINER_BOOLS = {"ReadOnly": "--read-only", "RunInit": "--init", "EnvironmentHost": "--env-host",
                   "NoNewPrivileges": "--security-opt=no-new-privileges",
                   "VolatileTmp": "--tmpfs=/tmp:rw,size=512M,mode=1777"}
CONTAINER_OTHER = {"Image", "Exec", "Environment", "User", "Group", "Notify", "AutoUpdate", "PodmanArgs",
                   "RemapUsers", "RemapUid", "RemapGid", "ReadOnlyTmpfs", "Pod"}
# keys whose value holds several space-separated items (each becomes one flag)
MULTI_VALUE = {"AddCapability", "DropCapability", "Label", "Annotation"}

VOLUME_KEYS = {"Label", "User", "Group", "Device", "Type", "Options", "Copy", "VolumeName", "Driver", "PodmanArgs"}
NETWORK_KEYS = {"Label", "Subnet", "Gateway", "IPRange", "IPv6", "Internal", "Driver", "Options", "DNS",
                "DisableDNS", "NetworkName", "PodmanArgs", "IPAMDriver"}


@dataclass
class Service:
    """A generated service: file name (``NAME.service``), text, and install symlinks
    (``(target.wants, NAME.service)``)."""

    filename: str
    text: str
    links: list[tuple[str, str]] = field(default_factory=list)


def service_name(path: str) -> str:
    base, ext = os.path.splitext(os.path.basename(path))
    return base if ext in (".container", ".kube") else f"{base}-{ext[1:]}"


def _check_keys(unit: UnitFile, sec: str, allowed: set[str]) -> None:
    for key, _ in unit.section(sec):
        if key not in allowed:
            raise QuadletError(f"{unit.path}: unsupported key '{key}' in group '{sec}'",
                               hint=f"see podman-systemd.unit(5) for the keys of [{sec}]")


def _render(unit: UnitFile, own: str, unit_lines: list[str], service_lines: list[str]) -> str:
    """Merge rpod's ``[Unit]``/``[Service]`` lines with the file's own sections (the user's
    lines come after ours, so they win)."""
    names = [s for s, _ in unit.sections]
    text = [f"# Automatically generated by rpod quadlet from {unit.path}", ""]
    emitted = set()
    for sec, entries in unit.sections:
        if sec == own:
            continue
        lines = [f"{k}={v}" for k, v in entries]
        if sec == "Unit":
            lines = unit_lines + lines
        elif sec == "Service":
            lines = service_lines + lines
        text += [f"[{sec}]", *lines, ""]
        emitted.add(sec)
    head: list[str] = []
    if "Unit" not in emitted:
        head += ["[Unit]", *unit_lines, ""]
    if "Service" not in emitted:
        text += ["[Service]", *service_lines, ""]
    orig = [f"[X-{own}]", *[f"{k}={v}" for k, v in unit.section(own)], ""] if own in names else []
    merged = text[:2] + head + text[2:] + orig
    return "\n".join(merged).rstrip("\n") + "\n"


def _install_links(unit: UnitFile, filename: str) -> list[tuple[str, str]]:
    links = []
    for key, kind in (("WantedBy", "wants"), ("RequiredBy", "requires")):
        for v in unit.values("Install", key):
            for target in v.split():
                links.append((f"{target}.{kind}", filename))
    return links


def _dep_unit(ref: str, kind: str, unit: UnitFile) -> tuple[str, str]:
    """``foo.volume``/``foo.network`` in a container's ``Volume=``/``Network=``: the rpod name
    (``systemd-foo``) and the service to require (``foo-volume.service``)."""
    base = ref[: -len(kind) - 1]
    if not base:
        raise QuadletError(f"{unit.path}: {ref!r} names no {kind} unit")
    return f"systemd-{base}", f"{base}-{kind}.service"


def _relative_path(src: str) -> bool:
    """A host path relative to the unit file (``./conf``, ``data/x``), not a volume name or ``%h/...``."""
    return not src.startswith(("/", "%")) and ("/" in src or src in (".", ".."))


def convert_container(unit: UnitFile, exe: list[str]) -> Service:
    """A ``.container`` file: the ``.service`` that runs ``rpod run`` with its keys as flags."""
    sec = "Container"
    allowed = set(CONTAINER_FLAGS) | set(CONTAINER_BOOLS) | CONTAINER_OTHER
    _check_keys(unit, sec, allowed)
    image = unit.last(sec, "Image")
    if not image:
        raise QuadletError(f"{unit.path}: no Image key in the [Container] group",
                           hint="add Image=NAME (the image to run)")
    name = service_name(unit.path)
    deps: list[str] = []
    args = ["run", f"--name={unit.last(sec, 'ContainerName') or 'systemd-%N'}", "--cidfile=%t/%N.cid",
            "--replace", "--rm", "--cgroups=split"]
    notify = unit.last(sec, "Notify")
    args.append("--sdnotify=container" if notify and parse_bool(notify, unit.path, "Notify") else "--sdnotify=conmon")
    args.append("-d")
    pod_units: list[str] = []
    for key, value in unit.section(sec):
        if key == "ContainerName":
            continue
        if key == "Pod":
            from rpod.systemd.quadlet_pods import pod_of_container

            pod_flags, pod_units = pod_of_container(unit, value, sys.modules[__name__])
            args += pod_flags
            continue
        if key in CONTAINER_FLAGS:
            flag = CONTAINER_FLAGS[key]
            for item in value.split() if key in MULTI_VALUE else [value]:
                args += [flag, _flag_value(unit, key, item, deps)]
        else:
            args += _other_key(unit, sec, key, value)
    args += _user_args(unit, sec)
    for v in unit.values(sec, "PodmanArgs"):
        args += split_words(v, unit.path, "PodmanArgs")
    args.append(image)
    exec_ = unit.last(sec, "Exec")
    if exec_:
        args += split_words(exec_, unit.path, "Exec")
    cmd = " ".join(exe + [escape_arg(a) for a in args])
    rm = " ".join(exe + ["rm", "-f", "-i", "--cidfile=%t/%N.cid"])
    unit_lines = [f"SourcePath={unit.path}", "RequiresMountsFor=%t/rpod", *pod_units]
    for dep in deps:
        unit_lines += [f"Requires={dep}", f"After={dep}"]
    service_lines = ["Environment=PODMAN_SYSTEMD_UNIT=%n", "Environment=RPOD_SYSTEMD_UNIT=%n",
                     "KillMode=mixed", "ExecStartPre=-/bin/rm -f %t/%N.cid", f"ExecStart={cmd}",
                     f"ExecStop={rm}", f"ExecStopPost=-{rm}", "Type=notify", "NotifyAccess=all",
                     "SyslogIdentifier=%N"]
    return Service(name + ".service", _render(unit, sec, unit_lines, service_lines),
                   _install_links(unit, name + ".service"))


def _flag_value(unit: UnitFile, key: str, item: str, deps: list[str]) -> str:
    """One value of a key that maps to a flag: ``.volume``/``.network`` units become their
    names (and dependencies, appended to ``deps``), relative paths are resolved from the file's dir."""
    if key == "Volume" and item.split(":", 1)[0].endswith(".volume"):
        src, _, rest = item.partition(":")
        vol, dep = _dep_unit(src, "volume", unit)
        deps.append(dep)
        item = f"{vol}:{rest}" if rest else vol
    elif key == "Volume" and _relative_path(item.split(":", 1)[0]):
        src, _, rest = item.partition(":")
        item = os.path.normpath(os.path.join(os.path.dirname(unit.path), src)) + (f":{rest}" if rest else "")
    if key == "EnvironmentFile" and _relative_path(item):
        item = os.path.normpath(os.path.join(os.path.dirname(unit.path), item))
    if key == "Network" and item.split(":", 1)[0].endswith(".network"):
        src, _, rest = item.partition(":")
        net, dep = _dep_unit(src, "network", unit)
        deps.append(dep)
        item = f"{net}:{rest}" if rest else net
    return item


def _other_key(unit: UnitFile, sec: str, key: str, value: str) -> list[str]:
    """The flags of a key that is not a plain flag: booleans, Environment, RemapUsers, AutoUpdate..."""
    if key in CONTAINER_BOOLS:
        return [CONTAINER_BOOLS[key]] if parse_bool(value, unit.path, key) else []
    if key == "Environment":
        out = []
        for item in split_words(value, unit.path, key):
            if "=" not in item:
                raise QuadletError(f"{unit.path}: key Environment: {item!r} is not KEY=VALUE")
            out += ["--env", item]
        return out
    if key == "ReadOnlyTmpfs":
        return [f"--read-only-tmpfs={'true' if parse_bool(value, unit.path, key) else 'false'}"]
    if key == "RemapUsers":
        if value in ("keep-id", "auto"):
            return [f"--userns={value}"]
        if value == "manual":
            return ([a for v in unit.values(sec, "RemapUid") for a in ("--uidmap", v)]
                    + [a for v in unit.values(sec, "RemapGid") for a in ("--gidmap", v)])
        raise QuadletError(f"{unit.path}: key RemapUsers: {value!r} is not keep-id, auto or manual")
    if key in ("RemapUid", "RemapGid") and unit.last(sec, "RemapUsers") != "manual":
        raise QuadletError(f"{unit.path}: key {key} needs RemapUsers=manual")
    if key == "AutoUpdate":
        if value not in ("registry", "local"):
            raise QuadletError(f"{unit.path}: key AutoUpdate: {value!r} is not registry or local")
        return ["--label", f"io.containers.autoupdate={value}"]
    return []


def _user_args(unit: UnitFile, sec: str) -> list[str]:
    user, group = unit.last(sec, "User"), unit.last(sec, "Group")
    if group and not user:
        raise QuadletError(f"{unit.path}: key Group needs User too")
    if user:
        return ["--user", f"{user}:{group}" if group else user]
    return []


def _oneshot(unit: UnitFile, sec: str, create: list[str]) -> Service:
    name = service_name(unit.path)
    cmd = " ".join(escape_arg(a) if i >= 1 else a for i, a in enumerate(create))
    unit_lines = [f"SourcePath={unit.path}", "RequiresMountsFor=%t/rpod"]
    service_lines = [f"ExecStart={cmd}", "Type=oneshot", "RemainAfterExit=yes", "SyslogIdentifier=%N"]
    return Service(name + ".service", _render(unit, sec, unit_lines, service_lines),
                   _install_links(unit, name + ".service"))


def convert_volume(unit: UnitFile, exe: list[str]) -> Service:
    sec = "Volume"
    _check_keys(unit, sec, VOLUME_KEYS)
    base = os.path.splitext(os.path.basename(unit.path))[0]
    args = ["volume", "create", "--ignore"]
    opts: list[str] = []
    mount_opts: list[str] = []  # one "o=" option: Options plus uid=/gid= (Podman's local driver)
    for key, value in unit.section(sec):
        if key == "Label":
            for item in split_words(value, unit.path, key):
                args += ["--label", item]
        elif key == "Driver":
            args += ["--driver", value]
        elif key == "Device":
            opts.append(f"device={value}")
        elif key == "Type":
            opts.append(f"type={value}")
        elif key == "Options":
            mount_opts.append(value)
        elif key == "Copy":
            if not parse_bool(value, unit.path, key):
                opts.append("nocopy")
        elif key in ("User", "Group"):
            mount_opts.append(f"{'uid' if key == 'User' else 'gid'}={value}")
        elif key == "PodmanArgs":
            args += split_words(value, unit.path, key)
    if mount_opts:
        opts.append("o=" + ",".join(mount_opts))
    for o in opts:
        args += ["--opt", o]
    args.append(unit.last(sec, "VolumeName") or f"systemd-{base}")
    return _oneshot(unit, sec, [" ".join(exe), *args])


def convert_network(unit: UnitFile, exe: list[str]) -> Service:
    sec = "Network"
    _check_keys(unit, sec, NETWORK_KEYS)
    base = os.path.splitext(os.path.basename(unit.path))[0]
    args = ["network", "create", "--ignore"]
    for key, value in unit.section(sec):
        flag = {"Subnet": "--subnet", "Gateway": "--gateway", "IPRange": "--ip-range", "Driver": "--driver",
                "Options": "--opt", "DNS": "--dns", "IPAMDriver": "--ipam-driver"}.get(key)
        if flag:
            args += [flag, value]
        elif key == "Label":
            for item in split_words(value, unit.path, key):
                args += ["--label", item]
        elif key in ("IPv6", "Internal", "DisableDNS"):
            if parse_bool(value, unit.path, key):
                args.append({"IPv6": "--ipv6", "Internal": "--internal", "DisableDNS": "--disable-dns"}[key])
        elif key == "PodmanArgs":
            args += split_words(value, unit.path, key)
    args.append(unit.last(sec, "NetworkName") or f"systemd-{base}")
    return _oneshot(unit, sec, [" ".join(exe), *args])


def convert(path: str, text: str | None = None) -> Service:
    """One Quadlet file → its service (``QuadletError`` names the file and key on a bad one)."""
    if text is None:
        with open(path) as f:
            text = f.read()
    unit = parse_unit(text, path)
    exe = [escape_arg(w) for w in rpod_executable()]
    ext = os.path.splitext(path)[1]
    if ext == ".container":
        return convert_container(unit, exe)
    if ext == ".volume":
        return convert_volume(unit, exe)
    if ext == ".network":
        return convert_network(unit, exe)
    if ext in (".kube", ".pod"):
        from rpod.systemd.quadlet_pods import convert_kube, convert_pod

        return (convert_kube if ext == ".kube" else convert_pod)(unit, exe, sys.modules[__name__])
    raise QuadletError(f"{path}: not a Quadlet file (use {', '.join(SUFFIXES)})")


# ------------------------------------------------------------------------------------ search
def unit_dirs(user: bool) -> list[Path]:
    """Where Quadlet files are read from: ``$RPOD_QUADLET_UNIT_DIRS``/``$QUADLET_UNIT_DIRS``
    (colon-separated) if set; else Podman's user or system search path."""
    forced = os.environ.get("RPOD_QUADLET_UNIT_DIRS") or os.environ.get("QUADLET_UNIT_DIRS")
    if forced:
        return [Path(p) for p in forced.split(":") if p]
    if user:
        cfg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        return [Path(cfg) / "containers" / "systemd", Path(f"/etc/containers/systemd/users/{os.getuid()}"),
                Path("/etc/containers/systemd/users")]
    return [Path("/etc/containers/systemd"), Path("/usr/share/containers/systemd")]


def find_files(dirs: list[Path]) -> list[str]:
    """Quadlet files in ``dirs`` (the first directory holding a name wins), sorted by name."""
    seen: dict[str, str] = {}
    for d in dirs:
        try:
            entries = sorted(os.listdir(d))
        except OSError:
            continue
        for e in entries:
            if e.endswith(SUFFIXES) and e not in seen:
                seen[e] = str(d / e)
    return [seen[k] for k in sorted(seen)]


@dataclass
class Result:
    services: list[Service]
    errors: list[str]


def generate_all(dirs: list[Path]) -> Result:
    """Convert every file; a bad file is reported and skipped, the others still convert."""
    services, errors = [], []
    for path in find_files(dirs):
        try:
            services.append(convert(path))
        except (QuadletError, OSError) as e:
            msg = str(e)
            hint = getattr(e, "hint", None)
            errors.append(msg + (f" ({hint})" if hint else ""))
    return Result(services, errors)


def write_services(services: list[Service], out_dir: str) -> list[str]:
    """Write the services and their ``.wants``/``.requires`` symlinks into ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for s in services:
        path = os.path.join(out_dir, s.filename)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(s.text)
        os.replace(tmp, path)
        written.append(path)
        for link_dir, target in s.links:
            d = os.path.join(out_dir, link_dir)
            os.makedirs(d, exist_ok=True)
            link = os.path.join(d, target)
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(os.path.join("..", target), link)
    return written
