"""``ps``, ``rm``, ``stop``, ``kill``, ``wait``, ``logs``, ``inspect``, ``exec``, ``restart`` and the
``container`` group (the same commands plus ``exists`` and the hidden ``cleanup`` the monitor runs)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import click

from rpod.cli.common import paths, write
from rpod.errors import NoSuchContainer, RpodError, StateConflict, UsageError

HELP = {"help_option_names": ["-h", "--help"]}
WAIT_CONDITIONS = ("configured", "created", "exited", "paused", "running", "stopped", "stopping", "removing")
PS_HEADERS = {"ID": "CONTAINER ID", "CreatedHuman": "CREATED", "Names": "NAMES", "Size": "SIZE", "Pod": "POD ID",
              "PodName": "PODNAME"}


def _store() -> Any:
    from rpod.container.state import ContainerStore

    return ContainerStore(paths())


def _targets(refs: Iterable[str], all_: bool, latest: bool) -> list[Any]:
    store = _store()
    if all_:
        return store.list()
    if latest:
        return [store.latest()]
    refs = list(refs)
    if not refs:
        raise UsageError("requires at least one container name or ID (or --all/--latest)")
    return [store.get(r) for r in refs]


def _each(refs: Iterable[str], fn: Callable[[str], None], ignore: bool = False) -> None:
    """Apply ``fn`` to each ref; report every failure, raise the last one (Podman's behaviour)."""
    from rpod.cli.app import print_error

    last: RpodError | None = None
    for ref in refs:
        try:
            fn(ref)
        except NoSuchContainer as e:
            if ignore:
                continue
            if last is not None:
                print_error(last, last.hint)
            last = e
        except RpodError as e:
            if last is not None:
                print_error(last, last.hint)
            last = e
    if last is not None:
        raise last


# ------------------------------------------------------------------------------------------- ps
def _status_text(st: Any) -> str:
    from rpod.humanize import human_duration, parse_time

    now = time.time()
    if st.status in ("running", "stopping"):
        return f"Up {human_duration(now - parse_time(st.started_at))}" if st.started_at else "Up"
    if st.status == "exited":
        ago = human_duration(now - parse_time(st.finished_at)) + " ago" if st.finished_at else ""
        word = "Restarting" if st.restarting else "Exited"  # in the restart back-off gap (Docker's word)
        return f"{word} ({st.exit_code}) {ago}".rstrip()
    return "Created"


class PsRow:
    """One ``ps`` row; attribute names are Podman's template fields."""

    def __init__(self, rec: Any, st: Any, no_trunc: bool):
        from rpod.humanize import since

        cmd = " ".join(rec.command)
        self.ID = rec.id if no_trunc else rec.id[:12]
        self.Id = rec.id
        self.Image = rec.image_name
        self.ImageID = rec.image_id
        self.Command = cmd if no_trunc or len(cmd) <= 20 else cmd[:17] + "..."
        self.CreatedHuman = since(_ts(rec.created))
        self.CreatedAt = rec.created
        self.Created = int(_ts(rec.created))
        self.RunningFor = self.CreatedHuman
        self.Status = _status_text(st)
        health = _health(rec, st)
        if health and health.get("Status") and st.status == "running":
            self.Status += f" ({health['Status']})"
        self.Restarts = rec.restart_count + st.restart_count
        self.State = st.status
        if rec.ports:  # the ports module (ipaddress, socket) only when there is something to print
            from rpod.network.ports import ps_text

            self.Ports = ps_text(rec.ports)
        else:
            self.Ports = ""
        self.Names = rec.name
        self.Labels = dict(rec.labels)
        self.Mounts = [m.get("destination", "") for m in rec.mounts]
        self.Pid = st.pid
        self.ExitCode = st.exit_code
        self.Exited = st.status == "exited"
        self.ExitedAt = int(_ts(st.finished_at)) if st.finished_at else 0
        self.StartedAt = int(_ts(st.started_at)) if st.started_at else 0
        self.Networks: list[str] = []
        pod = (rec.options or {}).get("pod") or ""
        self.Pod = pod if no_trunc else pod[:12]
        self.PodName = _pod_name(pod) if pod else ""
        self.IsInfra = bool(pod) and rec.name == _infra_name(pod)
        self.Size = ""  # filled by ps -s
        self.SizeRw = 0
        self.SizeRootFs = 0

    def json(self, size: bool = False) -> dict[str, Any]:
        skip = ("ID", "CreatedHuman", "RunningFor", "Size", "SizeRw", "SizeRootFs")
        d = {k: v for k, v in vars(self).items() if k not in skip}
        d["Names"] = [self.Names]
        d["Command"] = None
        d["Size"] = {"rootFsSize": self.SizeRootFs, "rwSize": self.SizeRw} if size else None
        return d


def _exists(ref: str) -> bool:
    try:
        _store().get(ref)
    except NoSuchContainer:
        return False
    return True


def _pod_record(pod_id: str) -> Any:
    from rpod.pod.store import PodStore  # only when a container is in a pod

    return PodStore(paths()).load(pod_id)


def _pod_name(pod_id: str) -> str:
    rec = _pod_record(pod_id)
    return rec.name if rec else ""


def _infra_name(pod_id: str) -> str:
    rec = _pod_record(pod_id)
    if not rec or not rec.infra_id:
        return ""
    c = _store().load(rec.infra_id)
    return c.name if c else ""


def _ts(value: str) -> float:
    from rpod.humanize import parse_time

    return parse_time(value)


def _match(rec: Any, st: Any, filters: dict[str, list[str]]) -> bool:
    import re

    for key, values in filters.items():
        if key == "name":
            ok = any(re.search(v, rec.name) for v in values)
        elif key == "id":
            ok = any(rec.id.startswith(v) for v in values)
        elif key == "status":
            ok = st.status in values or ("running" in values and st.status == "stopping")
        elif key == "label":
            ok = all(
                (rec.labels.get(k) == v) if sep else (k in rec.labels)
                for k, sep, v in (x.partition("=") for x in values)
            )
        elif key == "exited":
            ok = st.status == "exited" and str(st.exit_code) in values
        elif key == "health":  # starting, healthy, unhealthy (Podman's ps --filter health=)
            ok = st.status == "running" and (_health(rec, st) or {}).get("Status") in values
        elif key == "pod":
            pod = (rec.options or {}).get("pod") or ""
            ok = bool(pod) and any(pod.startswith(v) or _pod_name(pod) == v for v in values)
        elif key == "ancestor":
            ok = any(v in (rec.image_name, rec.image_id) or rec.image_id.startswith(v)
                     or rec.image_name.split("/")[-1].startswith(v) for v in values)
        else:
            raise UsageError(f"invalid filter {key!r}: use name, id, status, label, exited, ancestor, pod or health")
        if not ok:
            return False
    return True


def _size(rec: Any, image_sizes: dict[str, int]) -> tuple[int, int]:
    """(bytes written by the container, size of its image): Podman's rwSize and rootFsSize."""
    from rpod.cli.container_more import dir_size

    return dir_size(str(_store().dir(rec.id) / "upper")), image_sizes.get(rec.image_id, 0)


def _image_sizes() -> dict[str, int]:
    from rpod.image.store import ImageStore

    try:
        return {r.id: int(r.size or 0) for r in ImageStore(paths()).list()}
    except RpodError:
        return {}


def _size_text(rw: int, root: int) -> str:
    from rpod.humanize import human_size

    return f"{human_size(rw).replace(' ', '')} (virtual {human_size(root).replace(' ', '')})"


def ps(all_: bool, quiet: bool, latest: bool, last: int, no_trunc: bool, filters: tuple[str, ...],
       fmt: str | None, sort: str, noheading: bool, size: bool = False, pod: bool = False) -> None:
    from rpod.cli.common import parse_filters

    store = _store()
    flt = parse_filters(list(filters))
    rows = []
    for rec, st in store.iter_states():
        if not all_ and not flt and not latest and last < 0 and not st.running:
            continue
        if not _match(rec, st, flt):
            continue
        rows.append(PsRow(rec, st, no_trunc))
    keys = {"created": lambda r: -r.Created, "id": lambda r: r.Id, "names": lambda r: r.Names,
            "status": lambda r: r.State, "image": lambda r: r.Image, "command": lambda r: r.Command,
            "runningfor": lambda r: -r.Created, "size": lambda r: r.SizeRw}
    if sort not in keys:
        raise UsageError(f'invalid argument "{sort}" for "--sort" flag: "{sort}" is not a valid value.  '
                         'Choose from: "command, created, id, image, names, runningfor, size, status"')
    if size or sort == "size":
        sizes = _image_sizes()
        for r in rows:
            r.SizeRw, r.SizeRootFs = _size(_store().get(r.Id), sizes)
            r.Size = _size_text(r.SizeRw, r.SizeRootFs) if size else ""
    rows.sort(key=keys[sort])
    if latest:
        rows = rows[:1]
    if last >= 0:
        rows = rows[:last]
    if quiet and not fmt:
        write("".join(r.ID + "\n" for r in rows))
        return
    if fmt and fmt.strip() in ("json", "{{json .}}") and fmt.strip() == "json":
        from rpod.cli.common import print_json

        print_json([r.json(size) for r in rows])
        return
    from rpod.format import render_list

    fmt = fmt or ("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t"
                  "{{.Ports}}\t{{.Names}}" + ("\t{{.Size}}" if size else "")
                  + ("\t{{.Pod}}\t{{.PodName}}" if pod else ""))
    write(render_list(fmt, rows, headers=PS_HEADERS, noheading=noheading, name="ps"))


def ps_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("-a", "--all", "all_", is_flag=True, help="Show all containers"),
        click.option("-q", "--quiet", is_flag=True, help="Print the IDs only"),
        click.option("-l", "--latest", is_flag=True, help="The latest created container"),
        click.option("-n", "--last", default=-1, help="The n last created containers"),
        click.option("--no-trunc", is_flag=True, help="Do not truncate the output"),
        click.option("-f", "--filter", "filters", multiple=True, help="Filter KEY=VALUE"),
        click.option("--format", "fmt", help="Go template or json"),
        click.option("--sort", default="created", help="Sort by created, id, names, status, image, command"),
        click.option("--noheading", is_flag=True, help="Do not print the header row"),
        click.option("-s", "--size", is_flag=True, help="Display the total file sizes"),
        click.option("--external", is_flag=True, hidden=True),
        click.option("-p", "--pod", is_flag=True, help="Print the ID and name of the pod of each container"),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


# ------------------------------------------------------------------------------------- inspect
def inspect_container(rec: Any, st: Any) -> dict[str, Any]:
    """Podman-compatible ``inspect`` document."""
    from rpod.humanize import parse_time

    opts = rec.options
    started = st.started_at or "0001-01-01T00:00:00Z"
    finished = st.finished_at or "0001-01-01T00:00:00Z"
    status = {"stopping": "stopping", "exited": "exited", "running": "running", "created": "created"}[st.status]
    health = _health(rec, st)
    from rpod.network.inspect import container_network

    net = container_network(_store().dir(rec.id), rec)
    ports: dict[str, Any] = {}
    for p in rec.ports:
        from contextlib import suppress

        with suppress(Exception):
            parts = p.split(":")
            ctr = parts[-1] if "/" in parts[-1] else parts[-1] + "/tcp"
            ports[ctr] = [{"HostIp": parts[0] if len(parts) == 3 else "",
                           "HostPort": parts[-2] if len(parts) >= 2 else ""}]
    mounts = [{"Type": m.get("type", "bind"), "Source": m.get("source", ""), "Destination": m.get("destination", ""),
               "Name": os.path.basename(os.path.dirname(m.get("source", ""))) if "/volumes/" in m.get("source", "")
               else "", "Driver": "", "Mode": "", "Options": m.get("options", []),
               "RW": "ro" not in (m.get("options") or []), "Propagation": "rprivate"} for m in rec.mounts]
    return {
        "Id": rec.id,
        "Created": rec.created,
        "Path": rec.command[0] if rec.command else "",
        "Args": rec.command[1:],
        "State": {
            "OciVersion": "1.0.2", "Status": status, "Running": st.status in ("running", "stopping"), "Paused": False,
            "Restarting": st.restarting, "OOMKilled": False, "Dead": False, "Pid": st.pid, "ConmonPid": st.monitor_pid,
            "ExitCode": st.exit_code, "Error": st.error, "StartedAt": started, "FinishedAt": finished,
            "Health": health,
            "Healthcheck": health,  # Podman 4.3's name for the same object
        },
        "Image": rec.image_id,
        "ImageName": rec.image_name,
        "Rootfs": "",
        "Pod": "",
        "ResolvConfPath": str(_store().dir(rec.id) / "userdata" / "resolv.conf"),
        "HostnamePath": str(_store().dir(rec.id) / "userdata" / "hostname"),
        "HostsPath": str(_store().dir(rec.id) / "userdata" / "hosts"),
        "StaticDir": str(_store().dir(rec.id)),
        "OCIRuntime": opts.get("runtime") or "rpod",
        "LogPath": str(_store().dir(rec.id) / "ctr.log"),
        "ConmonPidFile": opts.get("conmon_pidfile") or str(_store().dir(rec.id) / "userdata" / "conmon.pid"),
        "PidFile": opts.get("pidfile") or "",
        "Name": rec.name,
        "RestartCount": rec.restart_count + st.restart_count,
        "Driver": "overlay",
        "MountLabel": "",
        "ProcessLabel": "",
        "Mounts": mounts,
        "NetworkSettings": net["settings"],
        "Config": {
            "Hostname": rec.hostname, "Domainname": "", "User": rec.user, "AttachStdin": bool(opts.get("interactive")),
            "AttachStdout": not opts.get("detach"), "AttachStderr": not opts.get("detach"),
            "Tty": bool(opts.get("tty")), "OpenStdin": bool(opts.get("interactive")), "StdinOnce": False,
            "Env": rec.env, "Cmd": rec.cmd or None, "Image": rec.image_name, "Volumes": None,
            "WorkingDir": rec.workdir, "Entrypoint": rec.entrypoint or None, "OnBuild": None,
            "Labels": dict(rec.labels), "Annotations": {}, "StopSignal": rec.stop_signal,
            "StopTimeout": rec.stop_timeout, "CreateCommand": getattr(rec, "create_command", None) or None, "Umask": opts.get("umask") or "0022",
            "Healthcheck": getattr(rec, "healthcheck", None),
            "HealthcheckOnFailureAction": opts.get("health_on_failure") or "none",
            "SdNotifyMode": opts.get("sdnotify") or "conmon",
        },
        "HostConfig": {
            "Binds": [f"{m['source']}:{m['destination']}" for m in rec.mounts if m.get("type") == "bind"],
            "NetworkMode": net["mode"], "PortBindings": net["ports"], "AutoRemove": bool(opts.get("rm")),
            "RestartPolicy": _restart_policy(opts.get("restart")),
            "LogConfig": {"Type": opts.get("log_driver") or "k8s-file", "Config": None},
            "Privileged": bool(opts.get("privileged")), "ReadonlyRootfs": bool(opts.get("read_only")),
            "CapAdd": opts.get("cap_add") or [], "CapDrop": opts.get("cap_drop") or [],
            "Dns": opts.get("dns") or [], "ExtraHosts": opts.get("add_host") or [],
            "SecurityOpt": opts.get("security_opt") or [], "UsernsMode": opts.get("userns") or "",
            **_resource_limits(opts, rec),
        },
        "CreatedAt": int(parse_time(rec.created)),
    }


def with_size(doc: dict[str, Any], rec: Any, sizes: dict[str, int]) -> dict[str, Any]:
    """``inspect --size``: Podman's ``SizeRw`` and ``SizeRootFs`` (only then present)."""
    rw, root = _size(rec, sizes)
    doc["SizeRw"], doc["SizeRootFs"] = rw, root
    return doc


def _health(rec: Any, st: Any) -> dict[str, Any] | None:
    """``State.Health``: the monitor's health log while it runs a healthcheck for the container."""
    if not getattr(rec, "healthcheck", None):
        return {"Status": "", "FailingStreak": 0, "Log": None}
    from rpod.container.service import read_health

    return read_health(_store().dir(rec.id)) or {"Status": "starting" if st.running else "", "FailingStreak": 0,
                                                 "Log": None}


def _restart_policy(value: str | None) -> dict[str, Any]:
    """``HostConfig.RestartPolicy`` (``on-failure:3`` → Name on-failure, MaximumRetryCount 3)."""
    name, _, count = (value or "").partition(":")
    return {"Name": name, "MaximumRetryCount": int(count) if count.isdigit() else 0}


def _resource_limits(opts: dict[str, Any], rec: Any) -> dict[str, Any]:
    """The limits as asked (Podman's fields) and whether they were enforced (rpod's note)."""
    from rpod.container.options import parse_memory

    memory = parse_memory(opts["memory"]) if opts.get("memory") else 0
    cpus = opts.get("cpus")
    asked = bool(memory or cpus or opts.get("pids_limit"))
    notes = list(getattr(rec, "warnings", []) or [])
    return {"Memory": memory, "NanoCpus": int(cpus * 1e9) if cpus else 0, "PidsLimit": opts.get("pids_limit") or 0,
            "ResourceLimitsApplied": asked and not notes, "ResourceLimitsNote": notes[0] if notes else ""}


# ---------------------------------------------------------------------------------------- logs
def read_logs(path: str, since: float | None, until: float | None, timestamps: bool,
              tail: int) -> tuple[list[tuple[str, bytes]], int]:
    """Complete log records (stream, bytes) and the file offset after the last whole line."""
    from rootless.monitor.stdio import parse_log_line
    from rpod.humanize import parse_time

    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return [], 0
    end = data.rfind(b"\n") + 1
    out: list[tuple[str, bytes]] = []
    pending: dict[str, bytes] = {}
    for line in data[:end].split(b"\n"):
        parsed = parse_log_line(line)
        if parsed is None:
            continue
        ts, stream, full, text = parsed
        if since is not None or until is not None:
            t = parse_time(ts)
            if (since is not None and t < since) or (until is not None and t > until):
                continue
        prefix = (ts.encode() + b" ") if timestamps and stream not in pending else b""
        pending[stream] = pending.get(stream, b"") + prefix + text
        if full:
            out.append((stream, pending.pop(stream) + b"\n"))
    for stream, text in pending.items():
        out.append((stream, text))
    if tail >= 0:
        out = out[-tail:] if tail else []
    return out, end


def logs(refs: tuple[str, ...], follow: bool, since: str | None, until: str | None, timestamps: bool,
         tail: int, latest: bool, names: bool) -> None:
    from rpod.container.state import ContainerStore

    store = ContainerStore(paths())
    recs = _targets(refs, False, latest)
    t_since = _time_arg(since)
    t_until = _time_arg(until)
    followed: list[_Followed] = []
    for rec in recs:
        path = str(store.dir(rec.id) / "ctr.log")
        if (rec.options or {}).get("log_driver") == "journald" and not os.path.exists(path):
            from rpod.container import journal_logs  # no ctr.log: the monitor wrote to the journal

            for stream, text in journal_logs.read(rec.id, follow and len(recs) == 1, tail, timestamps):
                _emit(stream, _log_prefix(rec, names, len(recs) > 1) + text)
            continue
        records, offset = read_logs(path, t_since, t_until, timestamps, tail)
        prefix = _log_prefix(rec, names, len(recs) > 1)
        for stream, text in records:
            _emit(stream, prefix + text)
        if follow:
            followed.append(_Followed(rec, path, offset, prefix))
    if followed:
        _follow(store, followed, timestamps, t_until)


def _log_prefix(rec: Any, names: bool, several: bool) -> bytes:
    """Podman's line prefix: only with several containers; the name with ``-n``, else the short id."""
    if not several:
        return b""
    return ((rec.name if names else rec.id[:12]) + " ").encode()


def _emit(stream: str, data: bytes) -> None:
    fd = 2 if stream == "stderr" else 1
    from rootless.monitor.stdio import write_all

    write_all(fd, data)


class _Followed:
    """One container's log being followed: where we are in ``ctr.log``, the partial line."""

    def __init__(self, rec: Any, path: str, offset: int, prefix: bytes):
        self.rec, self.path, self.offset, self.prefix, self.buf = rec, path, offset, prefix, b""


def _follow(store: Any, followed: list[_Followed], timestamps: bool, until: float | None) -> None:
    """``logs -f``: print new records of every container until all have exited (or ``--until``)."""
    from rootless.monitor.stdio import parse_log_line

    active = list(followed)
    while active:
        for f in list(active):
            st = store.state(f.rec.id)
            done = (st.status == "exited" and not st.restarting) or store.load(f.rec.id) is None
            try:
                with open(f.path, "rb") as fh:
                    fh.seek(f.offset)
                    chunk = fh.read()
            except FileNotFoundError:
                active.remove(f)
                continue
            f.offset += len(chunk)
            f.buf += chunk
            *lines, f.buf = f.buf.split(b"\n")
            for line in lines:
                parsed = parse_log_line(line)
                if parsed:
                    ts, stream, full, text = parsed
                    stamp = (ts.encode() + b" ") if timestamps else b""
                    _emit(stream, f.prefix + stamp + text + (b"\n" if full else b""))
            if done:
                active.remove(f)
        if until is not None and time.time() >= until:
            return
        if active:
            time.sleep(0.1)


def _time_arg(value: str | None) -> float | None:
    """RFC 3339, UNIX seconds or a Go duration (``10m``) back from now."""
    if not value:
        return None
    import re

    from rpod.humanize import parse_time

    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    m = re.fullmatch(r"((\d+)h)?((\d+)m)?((\d+(\.\d+)?)s)?", value)
    if m and value:
        secs = int(m.group(2) or 0) * 3600 + int(m.group(4) or 0) * 60 + float(m.group(6) or 0)
        return time.time() - secs
    t = parse_time(value)
    if not t:
        raise UsageError(f"invalid time {value!r}: use RFC 3339, UNIX seconds or a duration like 10m")
    return t


# ------------------------------------------------------------------------------------- commands
def _dependents(store: Any, rec: Any) -> list[Any]:
    """Containers that depend on ``rec`` (its namespaces, ``--requires``), dependents' own first."""
    from rpod.container.namespaces import dependents

    out: list[Any] = []
    for cid in dependents(store.paths, rec.id):
        dep = store.load(cid)
        if dep is not None:
            out += [d for d in _dependents(store, dep) if d.id not in {o.id for o in out}] + [dep]
    return out


app = click.Group()


def _cidfile_refs(cidfiles: Iterable[str], ignore: bool) -> list[str]:
    """The ids written in ``--cidfile`` files; with ``--ignore`` a missing file is skipped
    (a unit's ExecStopPost after the container already went away)."""
    refs = []
    for path in cidfiles:
        try:
            with open(path) as f:
                cid = f.read().strip()
        except FileNotFoundError:
            if ignore:
                continue
            raise UsageError(f"reading CIDFile: open {path}: no such file or directory") from None
        if cid:
            refs.append(cid)
    return refs


def _register(group: click.Group, prefix_ls: bool = False) -> None:
    @group.command("ps" if not prefix_ls else "ls", context_settings=HELP)
    @ps_options
    def ps_cmd(all_: bool, quiet: bool, latest: bool, last: int, no_trunc: bool, filters: tuple[str, ...],
               fmt: str | None, sort: str, noheading: bool, size: bool, external: bool, pod: bool) -> None:
        """List containers."""
        ps(all_, quiet, latest, last, no_trunc, filters, fmt, sort, noheading, size, pod)

    if prefix_ls:
        group.add_command(ps_cmd, "list")
        group.add_command(ps_cmd, "ps")

    @group.command("rm", context_settings=HELP)
    @click.argument("containers", nargs=-1)
    @click.option("-f", "--force", is_flag=True, help="Stop and remove running containers")
    @click.option("-a", "--all", "all_", is_flag=True, help="Remove all containers")
    @click.option("-i", "--ignore", is_flag=True, help="Ignore missing containers")
    @click.option("-v", "--volumes", is_flag=True, help="Remove anonymous volumes")
    @click.option("-t", "--time", "timeout", type=int, default=None, help="Seconds before SIGKILL with --force")
    @click.option("-l", "--latest", is_flag=True, help="The latest created container")
    @click.option("--cidfile", "cidfiles", multiple=True, help="Read the container ID from this file")
    @click.option("--depend", is_flag=True, help="Remove the container and the containers that depend on it")
    def rm_cmd(containers: tuple[str, ...], force: bool, all_: bool, ignore: bool, volumes: bool,
               timeout: int | None, latest: bool, cidfiles: tuple[str, ...], depend: bool) -> None:
        """Remove one or more containers."""
        from rpod.container import lifecycle

        store = _store()
        refs = [r.id for r in store.list()] if all_ else [store.latest().id] if latest else list(containers)
        refs += _cidfile_refs(cidfiles, ignore)
        if cidfiles and not refs:
            return
        if not refs and not all_:
            raise UsageError("rm requires at least one container name or ID (or --all)")

        def one(ref: str) -> None:
            rec = store.get(ref)
            if depend:
                for dep in _dependents(store, rec):
                    lifecycle.remove(paths(), dep, force=force, timeout=timeout, volumes=volumes)
                    write(f"{dep.id}\n")
            lifecycle.remove(paths(), rec, force=force, timeout=timeout, volumes=volumes)
            write(f"{rec.id if all_ or latest or depend else ref}\n")

        try:
            _each(refs, one, ignore or force)  # Podman: --force also ignores missing containers
        except NoSuchContainer as e:
            e.exit_code = 1  # Podman's rm: 1 no such container, 2 running without --force
            raise
        except StateConflict as e:
            e.exit_code = 2
            raise

    @group.command("stop", context_settings=HELP)
    @click.argument("containers", nargs=-1)
    @click.option("-a", "--all", "all_", is_flag=True, help="Stop all running containers")
    @click.option("-i", "--ignore", is_flag=True, help="Ignore missing containers")
    @click.option("-t", "--time", "timeout", type=int, default=None, help="Seconds before SIGKILL")
    @click.option("-l", "--latest", is_flag=True, help="The latest created container")
    @click.option("--cidfile", "cidfiles", multiple=True, help="Read the container ID from this file")
    def stop_cmd(containers: tuple[str, ...], all_: bool, ignore: bool, timeout: int | None, latest: bool,
                 cidfiles: tuple[str, ...]) -> None:
        """Stop one or more containers."""
        from rpod.container import lifecycle

        store = _store()
        if all_:  # every container, as Podman (stopping a stopped one is a no-op that prints its id)
            refs = [r.id for r in store.list()]
        else:
            refs = [store.latest().id] if latest else list(containers)
            refs += _cidfile_refs(cidfiles, ignore)
            if cidfiles and not refs:
                return
            if not refs:
                raise UsageError("stop requires at least one container name or ID (or --all)")

        def one(ref: str) -> None:
            rec = store.get(ref)
            lifecycle.stop(paths(), rec, timeout)
            write(f"{ref}\n")

        _each(refs, one, ignore)

    @group.command("kill", context_settings=HELP)
    @click.argument("containers", nargs=-1)
    @click.option("-s", "--signal", "sig", default="KILL", help="Signal to send (default KILL)")
    @click.option("-a", "--all", "all_", is_flag=True, help="Signal all running containers")
    @click.option("-l", "--latest", is_flag=True, help="The latest created container")
    def kill_cmd(containers: tuple[str, ...], sig: str, all_: bool, latest: bool) -> None:
        """Send a signal to one or more containers."""
        from rpod.container import lifecycle
        from rpod.container.options import parse_signal

        signum = parse_signal(sig)
        store = _store()
        refs = [r.id for r, st in store.iter_states() if st.running] if all_ else \
            [store.latest().id] if latest else list(containers)
        if not refs and not all_:
            raise UsageError("kill requires at least one container name or ID (or --all)")

        def one(ref: str) -> None:
            lifecycle.signal_container(paths(), store.get(ref), signum)
            write(f"{ref}\n")

        _each(refs, one)

    @group.command("wait", context_settings=HELP)
    @click.argument("containers", nargs=-1)
    @click.option("--condition", multiple=True, default=("stopped",), help="stopped, exited, running, created")
    @click.option("-i", "--interval", default="250ms", hidden=True)
    @click.option("-l", "--latest", is_flag=True, help="The latest created container")
    @click.option("--ignore", is_flag=True, help="Ignore containers that do not exist (print -1)")
    def wait_cmd(containers: tuple[str, ...], condition: tuple[str, ...], interval: str, latest: bool,
                 ignore: bool) -> None:
        """Wait for containers to stop and print their exit codes."""
        from rpod.container import lifecycle

        for c in condition:
            if c not in WAIT_CONDITIONS:
                raise UsageError(f"unknown container state: {c}: invalid argument")
        conds = tuple({"stopped": "exited", "configured": "created"}.get(c, c) for c in condition)
        if ignore and containers:
            known = [c for c in containers if _exists(c)]
            for c in containers:
                if c not in known:
                    write("-1\n")
            if not known:
                return
            containers = tuple(known)
        recs = _targets(containers, False, latest)
        for rec in recs:
            st = lifecycle.wait_exit(paths(), rec.id, conditions=conds)
            write(f"{st.exit_code if st.status in ('exited', 'removed') else -1}\n")

    @group.command("logs", context_settings=HELP)
    @click.argument("containers", nargs=-1)
    @click.option("-f", "--follow", is_flag=True, help="Follow the log output")
    @click.option("--since", help="Only logs since this time")
    @click.option("--until", help="Only logs until this time")
    @click.option("-t", "--timestamps", is_flag=True, help="Show timestamps")
    @click.option("--tail", default=-1, help="Number of lines to show from the end")
    @click.option("-l", "--latest", is_flag=True, help="The latest created container")
    @click.option("-n", "--names", is_flag=True, help="Prefix lines with container names, not IDs (several containers)")
    @click.option("--details", is_flag=True, hidden=True)
    @click.option("--color", is_flag=True, help="Accepted for compatibility (rpod prints no colours)")
    def logs_cmd(containers: tuple[str, ...], follow: bool, since: str | None, until: str | None,
                 timestamps: bool, tail: int, latest: bool, names: bool, details: bool, color: bool) -> None:
        """Fetch the logs of one or more containers."""
        logs(containers, follow, since, until, timestamps, tail, latest, names)

    @group.command("inspect", context_settings=HELP)
    @click.argument("containers", nargs=-1)
    @click.option("-f", "--format", "fmt", help="Go template or json")
    @click.option("-l", "--latest", is_flag=True, help="The latest created container")
    @click.option("-s", "--size", is_flag=True, help="Display the total file size")
    @click.option("-t", "--type", "kind", default="all", type=click.Choice(["all", "container", "image"]),
                  help="Only this kind of object")
    def inspect_cmd(containers: tuple[str, ...], fmt: str | None, latest: bool, size: bool, kind: str) -> None:
        """Display the configuration of containers and images (containers first, as Podman)."""
        store = _store()
        docs: list[dict[str, Any]] = []
        structs: list[Any] = []  # what templates see: Podman's inspect data are structs
        from rpod.cli.app import print_error
        from rpod.format.gofmt import go_structs

        failed: RpodError | None = None
        sizes = _image_sizes() if size else {}

        def add_container(rec: Any) -> None:
            doc = inspect_container(rec, store.state(rec.id))
            doc = with_size(doc, rec, sizes) if size else doc
            docs.append(doc)
            structs.append(go_structs(doc, INSPECT_TOP, INSPECT_STRUCTS))

        def add_image(ref: str) -> bool:
            from rpod.image.pull import local_candidates
            from rpod.image.reports import image_struct, inspect_image
            from rpod.image.store import ImageStore

            images = ImageStore(paths())
            try:
                doc = inspect_image(images, images.resolve(ref, local_candidates(ref)))
            except RpodError:
                return False
            docs.append(doc)
            structs.append(image_struct(doc))
            return True

        for rec in ([store.latest()] if latest else []):
            add_container(rec)
        for ref in containers:
            if kind != "image":
                try:
                    add_container(store.get(ref))
                    continue
                except NoSuchContainer:
                    pass
            if kind != "container" and add_image(ref):
                continue
            if failed is not None:
                print_error(failed)
            failed = NoSuchContainer(f"no such object: \"{ref}\"")
        if not containers and not latest:
            raise UsageError("inspect requires at least one container name or ID")
        if fmt and fmt.strip() != "json":
            from rpod.format import render_list

            write(render_list(fmt, structs, name="inspect"))
        else:
            from rpod.cli.common import print_json

            print_json(docs)
        if failed is not None:
            raise failed

    @group.command("exec", context_settings={**HELP, "allow_interspersed_args": False})
    @click.argument("container")
    @click.argument("command", nargs=-1, type=click.UNPROCESSED)
    @click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open")
    @click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY")
    @click.option("-e", "--env", multiple=True, help="Set environment variables")
    @click.option("-u", "--user", help="Username or UID[:GID]")
    @click.option("-w", "--workdir", help="Working directory")
    @click.option("-d", "--detach", is_flag=True, help="Run in the background")
    @click.option("--env-file", "env_files", multiple=True, help="Read in a file of environment variables")
    @click.option("--privileged", is_flag=True, help="No effect: the process gets the container's privileges")
    def exec_cmd(container: str, command: tuple[str, ...], interactive: bool, tty: bool, env: tuple[str, ...],
                 user: str | None, workdir: str | None, detach: bool, env_files: tuple[str, ...],
                 privileged: bool) -> None:
        """Run a process in a running container."""
        from rpod.container import lifecycle
        from rpod.container.options import read_env_file

        rec = _store().get(container)
        # --env-file entries first: a later -e wins, as in Podman
        env_items = [item for path in env_files for item in read_env_file(path)] + list(env)
        if privileged:
            from rpod.log import warn

            warn("exec --privileged has no effect in rootless rpod: the process gets the container's own "
                 "capabilities (run the container with --privileged for more)")
        try:
            code = lifecycle.exec_in(paths(), rec, list(command), tty=tty, interactive=interactive, env=env_items,
                                     user=user, workdir=workdir, detach=detach)
        except (UsageError, StateConflict) as e:
            e.exit_code = 255  # Podman: an exec session that cannot start exits 255 (the runtime's 126/127 stay)
            raise
        if detach:
            write(os.urandom(32).hex() + "\n")  # Podman prints the exec session's id
        raise click.exceptions.Exit(code)

    @group.command("restart", context_settings=HELP)
    @click.argument("containers", nargs=-1)
    @click.option("-t", "--time", "timeout", type=int, default=None, help="Seconds before SIGKILL")
    @click.option("-a", "--all", "all_", is_flag=True, help="Restart all containers")
    @click.option("--running", is_flag=True, help="Restart running containers only (with --all)")
    def restart_cmd(containers: tuple[str, ...], timeout: int | None, all_: bool, running: bool) -> None:
        """Restart one or more containers."""
        from rpod.container import lifecycle

        store = _store()
        refs = [r.id for r, st in store.iter_states() if st.running or not running] if all_ else list(containers)

        def one(ref: str) -> None:
            rec = store.get(ref)
            lifecycle.stop(paths(), rec, timeout)
            rec.restart_count += 1
            store.save(rec)
            started = lifecycle.start(paths(), rec, None)
            if started.sync:
                started.sync.close()
            write(f"{rec.id if all_ else ref}\n")

        _each(refs, one)


# Podman 4.3.1's inspect structs and their field names (one rpod lacks renders <no value>; any
# other name is Podman's "can't evaluate field" error); HostConfig/NetworkSettings stay maps
INSPECT_TOP = ("interface {}", frozenset((
    "Id", "Created", "Path", "Args", "State", "Image", "ImageDigest", "ImageName", "Rootfs", "Pod",
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

_register(app)

container = click.Group("container", help="Manage containers")
_register(container, prefix_ls=True)


@container.command("exists", context_settings=HELP)
@click.argument("name")
def exists_cmd(name: str) -> None:
    """Exit 0 when the container exists, 1 when not."""
    try:
        _store().get(name)
    except NoSuchContainer:
        raise click.exceptions.Exit(1) from None


@container.command("cleanup", hidden=True, context_settings=HELP)
@click.argument("containers", nargs=-1)
@click.option("--rm", is_flag=True, help="Remove the container")
def cleanup_cmd(containers: tuple[str, ...], rm: bool) -> None:
    """Clean up after a container exited (the monitor runs this for --rm)."""
    from rpod.container import lifecycle

    store = _store()
    for ref in containers:
        with contextlib.suppress(NoSuchContainer):
            lifecycle.cleanup(paths(), store.get(ref), rm)


def _add_run_commands() -> None:
    """``container run/create/start/attach`` share rpod.cli.run's commands."""
    from rpod.cli import run as run_mod

    for name, cmd in run_mod.app.commands.items():
        container.add_command(cmd, name)


class _ContainerGroup(click.Group):
    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in ("run", "create", "start", "attach") and cmd_name not in self.commands:
            _add_run_commands()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, "run", "create", "start", "attach"})


container.__class__ = _ContainerGroup
