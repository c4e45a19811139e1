"""Engine verbs for containers: create, start (spawn the monitor), wait, stop, kill, remove, exec.

``create`` makes the record, the writable layer, the /etc files and the OCI bundle; nothing runs.
``start`` spawns ``rootless.monitor`` (a fresh ``python -I -S``), which creates and starts the
container through ``rootless.runtime.api`` and outlives the CLI.  A created container has no
monitor: ``rpod start`` spawns it (simplest correct design: no idle process per created container).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rootless import ctrfiles
from rootless.monitor import exitfile
from rpod.container.monitorspawn import MonitorSpawn, StdioRequest, spawn_monitor  # noqa: F401 - API
from rpod.container.options import RunOptions, parse_key_values, parse_signal
from rpod.container.state import ContainerRecord, ContainerState, ContainerStore, new_id
from rpod.errors import (
    ContainerCannotInvoke,
    ContainerCommandNotFound,
    RpodError,
    StateConflict,
    UsageError,
)
from rpod.events import container_event
from rpod.log import debug
from rpod.paths import Paths

POLL = 0.02


def _now_iso() -> str:
    return exitfile.iso_now()


def runtime_state_root(paths: Paths) -> str:
    return str(paths.runtime_state)


# ------------------------------------------------------------------------------------------ create
def create(paths: Paths, opts: RunOptions, *, quiet_pull: bool = True,
           create_command: list[str] | None = None, cid: str | None = None) -> ContainerRecord:
    """Create a container from ``opts`` (pulling the image per ``--pull``); nothing is started.
    ``create_command`` is the CLI argv, kept for ``inspect`` and ``generate systemd --new``;
    ``cid`` an id chosen beforehand (``rpod run``'s early monitor has it), else a new one."""
    from rootless.subid import default_mapping
    from rpod.container import idmaps, rootfs
    from rpod.container.ocispec import SpecContext, build_spec
    from rpod.container.shifted import keep_id_layer, shifted_layer_dirs
    from rpod.container.users import layer_lookup
    from rpod.image.pull import ensure_image
    from rpod.image.store import ImageStore
    from rpod.network.etcfiles import containerenv_content, write_etc_files
    from rpod.storefile import atomic_write_json
    from rpod.volume.volumes import VolumeStore, parse_all, resolve_mounts

    opts.validate()
    if opts.runtime:
        resolve_runtime(opts.runtime)
    if opts.cidfile and os.path.exists(opts.cidfile):
        raise UsageError(f"container id file exists: {opts.cidfile}", hint="remove it or choose another --cidfile")
    store = ContainerStore(paths)
    paths.ensure()
    from rpod.container import namespaces

    namespaces.resolve(paths, opts)
    if opts.replace and opts.name:
        owner = store.name_owner(opts.name)
        if owner:
            with contextlib.suppress(RpodError):
                remove(paths, store.get(owner), force=True, timeout=0)
    image = ensure_image(paths, opts.image, opts.pull)
    debug(f"image {image.short_id} resolved")
    images = ImageStore(paths)
    image_config = images.config(image)
    layer_dirs = images.layer_dirs(image)
    cid = cid or new_id()
    inner = image_config.get("config") or {}
    labels = {**(inner.get("Labels") or {}), **parse_key_values(opts.labels, "--label")}
    record = store.create(ContainerRecord(  # no --name: the store picks a free one under its lock
        id=cid, name=opts.name or "", image_id=image.id, image_name=image.names[0] if image.names else opts.image,
        created=_now_iso(), options=RunOptions.from_dict(asdict(opts)), labels=labels, ports=list(opts.publish),
        create_command=list(create_command or [])))
    name = record.name
    container_event(paths, record, "create")
    try:
        from rpod.sysinfo import overlay_driver

        driver, err = overlay_driver(paths)
        if not driver:
            raise RpodError(f"no overlay driver works: {err}",
                            hint="use a kernel >= 5.11 (overlay with userxattr) or install fuse-overlayfs")
        mapping = default_mapping()
        maps = idmaps.for_options(opts, mapping)
        mount_layers = layer_dirs if maps is None else shifted_layer_dirs(paths, layer_dirs, maps)
        if maps is not None:  # keep-id: the caller's passwd/group entries, as Podman adds them
            mount_layers = [*mount_layers, *keep_id_layer(paths, opts.userns, layer_dirs, maps)]
        mount_point, overlay = rootfs.prepare(paths, cid, mount_layers, driver, maps)
        cdir = store.dir(cid)
        from rpod.network import plan as netplan

        net = netplan.plan(paths, opts, image_config, lambda ref: store.get(ref).id)
        network = net.etc_network
        hostname = opts.hostname or cid[:12]
        dns, dns_search = net.etc_dns(paths, opts.dns, opts.dns_search)
        etc = write_etc_files(cdir / ctrfiles.USERDATA, hostname=hostname, name=name, network=network,
                              add_hosts=opts.add_host, dns=dns, dns_search=dns_search,
                              dns_option=opts.dns_option,
                              containerenv=containerenv_content(cid=cid, name=name, image=opts.image,
                                                                image_id=image.id))
        reqs = parse_all(opts.volumes, opts.mounts, opts.tmpfs)
        volumes = VolumeStore(paths)
        mounts, used = resolve_mounts(reqs, volumes)
        secret_mounts: list[dict[str, Any]] = []
        secret_env: list[str] = []
        if opts.secrets:
            from rpod.secret.store import apply as apply_secrets

            secret_mounts, secret_env = apply_secrets(paths, opts.secrets, cdir / "userdata" / "secrets")
            opts.env = [*opts.env, *secret_env]
        ctx = SpecContext(
            container_id=cid, rootfs=str(mount_point), name=name, overlay=overlay,
            uid_mappings=maps.host_uid_map(mapping) if maps else mapping.uid_map_oci(),
            gid_mappings=maps.host_gid_map(mapping) if maps else mapping.gid_map_oci(), network=net.spec_network,
            netns_path=net.ns_path or ("/proc/0/ns/net" if net.mode == "container" else None),
            ns_modes=namespaces.spec_modes(opts),
            hosts_file=str(etc.hosts), resolv_conf_file=str(etc.resolv_conf), hostname_file=str(etc.hostname),
            containerenv_file=str(etc.containerenv) if etc.containerenv else None, mounts=mounts,
            passwd_lookup=layer_lookup(list(reversed(layer_dirs))),
        )
        spec = build_spec(opts, image_config, ctx)
        if secret_mounts:  # after the user's mounts, so /run/secrets/NAME is not hidden by them
            spec["mounts"] = [*spec["mounts"], *secret_mounts]
        from rpod.container import service

        service.adjust_spec(spec, opts, cdir)
        record.healthcheck = service.resolve_healthcheck(opts, image_config)
        warnings = _drop_unenforceable_resources(spec, opts)
        _prepare_volumes(reqs, mounts, used, volumes, spec, layer_dirs=layer_dirs, scratch=cdir, driver=driver)
        atomic_write_json(cdir / ctrfiles.SPEC, spec)
        debug(f"container {cid[:12]}: bundle written")
        proc = spec.get("process") or {}
        record.command = list(proc.get("args") or [])
        record.env = [e for e in proc.get("env") or [] if not opts.secrets or e not in secret_env]
        record.workdir = proc.get("cwd") or "/"
        record.hostname = spec.get("hostname") or hostname
        record.mounts = mounts
        record.user = opts.user or inner.get("User") or ""
        record.entrypoint = list(inner.get("Entrypoint") or [])
        record.cmd = list(opts.command or inner.get("Cmd") or [])
        record.stop_signal = parse_signal(opts.stop_signal or inner.get("StopSignal") or "SIGTERM")
        record.stop_timeout = opts.stop_timeout if opts.stop_timeout is not None else 10
        record.warnings = warnings
        netplan.save(cdir, net)
        record.ports = net.ports
        record.warnings += net.warnings
        for w in net.warnings:
            sys.stderr.write(f"WARN[0000] {w}\n")
        store.save(record)
        if opts.cidfile:
            with open(opts.cidfile, "x") as f:
                f.write(cid)
    except BaseException:
        with contextlib.suppress(Exception):
            store.remove(record)
        raise
    return record


def _drop_unenforceable_resources(spec: dict[str, Any], opts: RunOptions) -> list[str]:
    """Rootless without a delegated cgroup v2 subtree cannot enforce --memory/--cpus/--pids-limit:
    like Podman on cgroup v1, warn once on stderr, drop them from the bundle, and return the note
    (kept in the record so ``inspect`` shows the limits were not applied)."""
    if opts.memory is None and opts.cpus is None and opts.pids_limit is None:
        return []
    from rpod.sysinfo import resource_limits_note

    note = resource_limits_note()
    if not note:
        return []
    resources = (spec.get("linux") or {}).get("resources") or {}
    for key in ("memory", "cpu", "pids"):
        resources.pop(key, None)
    sys.stderr.write(f"WARN[0000] {note}\n")
    sys.stderr.flush()
    return [note]


def _prepare_volumes(reqs: list[Any], mounts: list[dict[str, Any]], used: list[Any], volumes: Any,
                     spec: dict[str, Any], *, layer_dirs: list[Path], scratch: Path, driver: str) -> None:
    """First use of a volume: copy the image's content at the mount point into it (unless
    ``nocopy``); ``:U``: chown the source to the container's user (in the user namespace)."""
    from rpod.volume.volumes import copy_up

    vol_iter = iter(used)
    chown_sources: list[str] = []
    for req, entry in zip(reqs, mounts, strict=True):
        if req.type == "volume":
            vol = next(vol_iter)
            if vol.needs_copy_up:
                if req.copy_up:
                    copy_up(vol, layer_dirs, req.destination, scratch, driver)
                vol.needs_copy_up = False
                volumes.update(vol)
        if req.chown and req.type != "tmpfs":
            chown_sources.append(entry["source"])
    if chown_sources:
        user = (spec.get("process") or {}).get("user") or {}
        linux = spec.get("linux") or {}
        _chown_in_userns(chown_sources, int(user.get("uid", 0)), int(user.get("gid", 0)),
                         linux.get("uidMappings") or [], linux.get("gidMappings") or [])


def _chown_in_userns(sources: list[str], uid: int, gid: int, uid_map: list[dict[str, int]],
                     gid_map: list[dict[str, int]]) -> None:
    """``chown -R uid:gid`` of host paths as root of a user namespace with the container's
    mappings (the user's default ones when the spec has none), for ``:U``."""
    from rootless.subid import IdMap, Mapping, default_mapping
    from rootless.userns import run

    mapping = (Mapping(tuple(map(IdMap.from_oci, uid_map)), tuple(map(IdMap.from_oci, gid_map)), "subid")
               if uid_map and gid_map else default_mapping())
    proc = run(["chown", "-R", f"{uid}:{gid}", "--", *sources], mapping, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RpodError(f"cannot chown {', '.join(sources)} to {uid}:{gid} for ':U': "
                        f"{(proc.stderr or '').strip() or f'exit {proc.returncode}'}",
                        hint="check the paths are owned by you or your subordinate ids")


# ------------------------------------------------------------------------------------------- start
@dataclass
class Started:
    """A started container: its pid and the sync socket to its monitor (None once closed)."""

    record: ContainerRecord
    pid: int
    sync: socket.socket | None
    terminal: bool
    detached: bool = False  # the user typed the detach keys (foreground -it)


def _options(record: ContainerRecord) -> RunOptions:
    """A copy of the record's options, for one start to adjust."""
    return replace(record.options)


def _peer(store: ContainerStore) -> Any:
    """``--network container:ID``: the pid of that container's init (0 when not running) and its dir."""
    def peer(cid: str) -> tuple[int, Path]:
        st = store.state(cid)
        return (st.pid if st.running else 0), store.dir(cid)
    return peer


def exit_command(paths: Paths, cid: str) -> list[str]:
    """What the monitor runs to remove an ``--rm`` container when no CLI is there to do it."""
    return [sys.executable, "-m", "rpod", "--root", str(paths.root), "--runroot", str(paths.runroot),
            "container", "cleanup", "--rm", cid]


def start(paths: Paths, record: ContainerRecord, io: StdioRequest | None = None,
          spawn: MonitorSpawn | None = None) -> Started:
    """Configure the monitor (``spawn``, started early with the same ``io``, or one started here),
    which creates and starts the container; wait for its pid or its error."""
    store = ContainerStore(paths)
    st = store.state(record.id)
    if st.running:
        raise StateConflict(f"container {record.id} is already running: container state improper")
    store.reset_runtime(record.id)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(store.dir(record.id) / ctrfiles.DIED_MARK)
    shutil_rm_runtime(paths, record.id)
    opts = _options(record)
    cdir = store.dir(record.id)
    run_dir = store.run_dir(record.id)
    run_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
    from rpod.container import namespaces
    from rpod.network.start import monitor_spec

    namespaces.start_dependencies(paths, record, lambda dep: _start_detached(paths, dep))
    network = monitor_spec(paths, record, cdir, _peer(store))  # tun, free host ports, namespaces to join
    namespaces.join_at_start(paths, record, cdir)
    with open(cdir / ctrfiles.SPEC, "rb") as f:
        terminal = bool((json.load(f).get("process") or {}).get("terminal"))
    log_driver = {"json-file": "k8s-file", None: "k8s-file"}.get(opts.log_driver, opts.log_driver)
    if log_driver == "passthrough" and (io is None or opts.detach):
        raise UsageError("--log-driver passthrough needs a foreground container (no -d)")
    if spawn is None:
        spawn = spawn_monitor(io, record.id)
    cfg: dict[str, Any] = {
        "id": record.id, "bundle": str(cdir), "state_root": runtime_state_root(paths),
        "container_dir": str(cdir), "run_dir": str(run_dir), "sync_fd": spawn.sync_fd,
        "terminal": terminal, "log_driver": log_driver, "log_path": str(cdir / ctrfiles.LOG),
        "remove": bool(opts.rm), "exit_command": exit_command(paths, record.id) if opts.rm else None,
        "network": network,
    }
    from rpod.container import service

    cfg.update(service.monitor_config(paths, record, opts, cdir, log_driver))
    runtime = record.options.runtime
    if runtime:
        cfg["runtime"] = resolve_runtime(runtime)
    elif os.environ.get("RPOD_OCI_RUNTIME"):
        cfg["runtime"] = os.environ["RPOD_OCI_RUNTIME"].split()
    cfg.update(spawn.fds)
    if io is not None:
        if io.stdin_fd >= 0:
            cfg["stdin"] = "inherit"
            if terminal:  # the monitor reads the terminal: it watches for the detach keys
                cfg["detach_keys"] = _detach_keys_hex(opts.detach_keys)
        elif io.keep_stdin_open:
            cfg["stdin"] = "pipe"
    elif opts.interactive:
        cfg["stdin"] = "pipe"
    ours = spawn.configure(cfg)
    debug(f"container {record.short_id}: monitor configured")
    msg = read_message(ours)
    debug(f"container {record.short_id}: monitor reported {msg}")
    if msg is None:
        ours.close()
        ex = exitfile.read_exit_file(str(cdir)) or {}
        raise RpodError(f"the container monitor died before starting the container: {ex.get('error', 'no report')}")
    if "error" in msg:
        ours.close()
        raise_for_code(str(msg["error"]), int(msg.get("exit_code", 125)))
    container_event(paths, record, "start")
    write_monitor_pidfile(cdir)
    return Started(record, int(msg["pid"]), ours, terminal)


def _start_detached(paths: Paths, record: ContainerRecord) -> None:
    """Start a dependency in the background (``--requires``, a namespace's owner)."""
    started = start(paths, record, None)
    if started.sync:
        started.sync.close()


def write_monitor_pidfile(cdir: Path) -> None:
    """Write the monitor's pid to ``<container dir>/userdata/conmon.pid`` (the ``PIDFile=`` of a
    ``generate systemd`` unit without ``--new``: ``rpod start`` returns, the monitor stays)."""
    mon = exitfile.read_monitor_file(str(cdir)) or {}
    if mon.get("monitor_pid"):
        path = cdir / ctrfiles.MONITOR_PIDFILE
        with contextlib.suppress(OSError):
            path.parent.mkdir(exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(f"{mon['monitor_pid']}\n")
            os.replace(tmp, path)


def resolve_runtime(name: str) -> list[str] | None:
    """``--runtime``: the argv prefix of an OCI runtime CLI (a name on PATH or a path); None for
    ``rpod`` (the in-process runtime).  Raises ``UsageError`` when it cannot be found."""
    import shutil

    if name == "rpod":
        return None
    found = shutil.which(name)
    if not found:
        raise UsageError(f"cannot find OCI runtime {name!r}: not on PATH and not an executable path",
                         hint="install it (e.g. crun) or give its full path with --runtime")
    return [found]


def shutil_rm_runtime(paths: Paths, cid: str, exited: bool = False) -> None:
    """Remove leftover runtime state of a previous run of ``cid`` (``exited``: its init is known
    to be gone, so there is nothing to kill and no need to import the runtime)."""
    import shutil

    d = paths.runtime_state / cid
    if d.exists():
        if not exited:
            with contextlib.suppress(Exception):
                from rootless.runtime import api

                api.delete(cid, str(paths.runtime_state), force=True)
        shutil.rmtree(d, ignore_errors=True)


def raise_for_code(message: str, code: int) -> None:
    if code == 127:
        raise ContainerCommandNotFound(f"{message}: OCI runtime attempted to invoke a command that was not found")
    if code == 126:
        raise ContainerCannotInvoke(f"{message}: OCI runtime permission denied error")
    raise RpodError(message)


def read_message(sock: socket.socket) -> dict[str, Any] | None:
    """One JSON line from the monitor, None on EOF."""
    buf = b""
    while not buf.endswith(b"\n"):
        try:
            chunk = sock.recv(1)
        except InterruptedError:
            continue
        except OSError:
            return None
        if not chunk:
            return None
        buf += chunk
    try:
        return json.loads(buf)
    except ValueError:
        return None


def _detach_keys_hex(spec: str | None) -> str:
    from rootless.monitor.detach import DEFAULT, parse

    try:
        return parse(DEFAULT if spec is None else spec).hex()
    except ValueError as e:
        raise UsageError(str(e)) from None


def wait_started(paths: Paths, started: Started) -> int:
    """Foreground: the exit code the monitor reports (or the exit file if the monitor died);
    0 with ``started.detached`` set when the user typed the detach keys (the container runs on)."""
    msg = read_message(started.sync) if started.sync else None
    debug(f"container {started.record.short_id}: exit {msg}")
    if msg is not None and msg.get("detached"):
        started.detached = True
        return 0
    if msg is not None and "exit_code" in msg:
        code = int(msg["exit_code"])
    else:
        st = wait_exit(paths, started.record.id, timeout=5)
        code = st.exit_code if st.status == "exited" else 125
    record_died(paths, started.record, code)
    return code


def record_died(paths: Paths, record: ContainerRecord, exit_code: int) -> None:
    """The ``died`` event, once per run (whichever CLI observes the exit first records it)."""
    try:
        fd = os.open(ContainerStore(paths).dir(record.id) / ctrfiles.DIED_MARK, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return
    os.close(fd)
    container_event(paths, record, "died", exit_code=exit_code)


def ack_removed(started: Started) -> None:
    """Tell the monitor the CLI removed the ``--rm`` container itself."""
    if started.sync is not None:
        with contextlib.suppress(OSError):
            started.sync.sendall(b"removed\n")
        started.sync.close()
        started.sync = None


# -------------------------------------------------------------------------------------- wait/stop
def wait_exit(paths: Paths, cid: str, timeout: float | None = None,
              conditions: tuple[str, ...] = ("exited",)) -> ContainerState:
    """Poll until the container reaches one of ``conditions`` (or ``timeout`` seconds pass)."""
    store = ContainerStore(paths)
    end = None if timeout is None else time.monotonic() + timeout
    while True:
        st = store.state(cid)
        if st.status in conditions and not st.restarting:  # the monitor restarts it: not stopped yet
            return st
        if store.load(cid) is None:
            return ContainerState("removed", exit_code=-1)
        if end is not None and time.monotonic() >= end:
            return st
        time.sleep(POLL)


def signal_container(paths: Paths, record: ContainerRecord, sig: int) -> None:
    """Send ``sig`` to the container's init (checked by start time, so a recycled pid is safe)."""
    from rpod.container.service import mark_stopped

    store = ContainerStore(paths)
    mark_stopped(store.dir(record.id))  # an explicit stop/kill: the monitor must not restart it
    mon = exitfile.read_monitor_file(str(store.dir(record.id))) or {}
    st = store.state(record.id)
    if st.status != "running":
        raise StateConflict(f"can only kill running containers. {record.id} is in state {st.status}: "
                            "container state improper")
    from rootless import syscalls

    pid = int(mon.get("pid", 0))
    try:
        pidfd = syscalls.pidfd_open(pid)
    except OSError:
        return
    try:
        if exitfile.proc_start_time(pid) == mon.get("pid_start"):
            syscalls.pidfd_send_signal(pidfd, sig)
            container_event(paths, record, "kill")
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)


def stop(paths: Paths, record: ContainerRecord, timeout: int | None = None) -> ContainerState:
    """Stop signal, then SIGKILL after ``timeout`` seconds (the record's stop timeout by default)."""
    from rpod import log
    from rpod.container.service import mark_stopped

    store = ContainerStore(paths)
    mark_stopped(store.dir(record.id))
    st = store.state(record.id)
    if st.restarting:  # in the back-off gap: the monitor sees the mark and gives up, or has just restarted it
        end = time.monotonic() + 5
        while st.restarting and time.monotonic() < end:
            time.sleep(POLL)
            st = store.state(record.id)
    if st.status == "stopping":
        return wait_exit(paths, record.id, timeout=30)
    if st.status != "running":
        return st
    t = record.stop_timeout if timeout is None else timeout
    if t > 0:
        with contextlib.suppress(StateConflict):
            signal_container(paths, record, record.stop_signal)
        st = wait_exit(paths, record.id, timeout=t)
        if st.status == "exited":
            return _stopped(paths, record, st)
        signame = signal.Signals(record.stop_signal).name if record.stop_signal in signal.Signals._value2member_map_ \
            else str(record.stop_signal)
        log.warn(f"StopSignal {signame} failed to stop container {record.name} in {t} seconds, "
                 "resorting to SIGKILL", once=False)
    with contextlib.suppress(StateConflict):
        signal_container(paths, record, signal.SIGKILL)
    return _stopped(paths, record, wait_exit(paths, record.id, timeout=30))


def _stopped(paths: Paths, record: ContainerRecord, st: ContainerState) -> ContainerState:
    if st.status == "exited":
        record_died(paths, record, st.exit_code)
        container_event(paths, record, "stop")
    return st


def remove(paths: Paths, record: ContainerRecord, *, force: bool = False, timeout: int | None = None,
           volumes: bool = False) -> None:
    """Remove a container (``force`` stops a running one first; ``volumes`` also removes its
    anonymous volumes, as ``rm -v``)."""
    from rpod.container.namespaces import dependents

    deps = dependents(paths, record.id)
    if deps:
        raise RpodError(f"container {record.id} has dependent containers which must be removed before it: "
                        f"{', '.join(deps)}: container already exists")  # Podman: 125, not rm's 2
    store = ContainerStore(paths)
    st = store.state(record.id)
    if st.running:
        if not force:
            raise StateConflict(
                f"cannot remove container {record.id} as it is running - running or paused containers "
                "cannot be removed without force: container state improper",
                hint=f"stop it first (rpod stop {record.name}) or use rpod rm -f")
        stop(paths, record, timeout)
    elif st.status == "exited":
        record_died(paths, record, st.exit_code)
    shutil_rm_runtime(paths, record.id)
    store.remove(record)
    container_event(paths, record, "remove")
    if volumes:
        remove_anonymous_volumes(paths, record)


def remove_anonymous_volumes(paths: Paths, record: ContainerRecord) -> None:
    """Remove the anonymous volumes the (removed) container mounted and no other container uses."""
    from rpod.container.state import containers_using_volume
    from rpod.volume.volumes import VolumeStore

    prefix = str(paths.volumes) + os.sep
    names = [os.path.basename(os.path.dirname(m["source"])) for m in record.mounts
             if str(m.get("source", "")).startswith(prefix)]
    if not names:
        return
    vstore = VolumeStore(paths, in_use=lambda n: containers_using_volume(paths, n))
    for name in names:
        with contextlib.suppress(RpodError):
            if vstore.get(name).anonymous and not vstore.users(name):
                vstore.remove(name)


def cleanup(paths: Paths, record: ContainerRecord, rm: bool) -> None:
    """After the container exited: drop runtime state; with ``rm`` remove the container."""
    store = ContainerStore(paths)
    st = store.state(record.id)
    shutil_rm_runtime(paths, record.id, exited=not st.running)
    if st.status == "exited":
        record_died(paths, record, st.exit_code)
    if rm:
        if st.running:
            return
        store.remove(record)
        container_event(paths, record, "remove")
        remove_anonymous_volumes(paths, record)  # --rm removes anonymous volumes, as in Podman


# -------------------------------------------------------------------------------------------- exec
def exec_in(paths: Paths, record: ContainerRecord, args: list[str], *, tty: bool = False,
            interactive: bool = False, env: list[str] | None = None, user: str | None = None,
            workdir: str | None = None, detach: bool = False) -> int:
    """Run ``args`` in the running container; return its exit code (0 at once with ``detach``)."""
    from rootless.runtime import api
    from rootless.runtime.errors import ContainerError

    store = ContainerStore(paths)
    if store.state(record.id).status != "running":
        raise StateConflict("can only create exec sessions on running containers: container state improper")
    if not args:
        raise UsageError("must provide a non-empty command to start an exec session: invalid argument")
    state_root = runtime_state_root(paths)
    cli_runtime = resolve_runtime(record.options.runtime) if record.options.runtime else None
    if cli_runtime and tty:
        raise UsageError("exec -t into a container run with --runtime is not supported yet",
                         hint="exec without -t, or run the container with rpod's own runtime")
    api.become_subreaper()  # the runtime's intermediate process exits: its child must become ours
    if cli_runtime:
        with open(store.dir(record.id) / ctrfiles.SPEC) as f:
            process = dict(json.load(f).get("process") or {}, args=list(args), terminal=False)
    else:
        process = api.exec_defaults(record.id, state_root, args, tty=tty)
    if env:
        from rpod.container.options import parse_env

        process["env"] = parse_env(env, [], False, list(process.get("env") or []))
    if workdir:
        process["cwd"] = workdir
    if user:
        from rpod.container.users import resolve_user

        ru = resolve_user(user, [store.dir(record.id) / ctrfiles.UPPER, *_layer_dirs_top_first(paths, record)])
        process["user"] = {"uid": ru.uid, "gid": ru.gid, "additionalGids": list(ru.additional_gids)}
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        if tty:
            return _exec_tty(paths, record, process, interactive, detach)
        stdio = (0 if interactive else devnull, devnull if detach else 1, devnull if detach else 2)
        if cli_runtime:
            return _exec_cli(cli_runtime, state_root, store.state(record.id).pid, record.id, process, stdio,
                             store.run_dir(record.id), detach)
        try:
            pid = api.exec_process(record.id, state_root, process, stdio=stdio)
        except ContainerError as e:
            raise_for_code(str(e), e.exit_code if e.exit_code in (126, 127) else 125)
        if detach:
            return 0
        return _wait_child(pid)
    finally:
        os.close(devnull)


def _exec_cli(runtime: list[str], state_root: str, init_pid: int, cid: str, process: dict[str, Any],
              stdio: tuple[int, int, int], run_dir: Path, detach: bool) -> int:
    """``exec`` through an OCI runtime CLI, run as root of the container's user namespace (the
    namespace the runtime created the container in, see the monitor's ``_rootfs_userns``)."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", dir=run_dir, prefix="exec-", suffix=".json") as pf:
        json.dump(process, pf)
        pf.flush()
        argv = ["nsenter", "-U", "-t", str(init_pid), "--", *runtime, "--root", state_root, "exec",
                "--process", pf.name, *(["-d"] if detach else []), cid]
        proc = subprocess.run(argv, stdin=stdio[0], stdout=stdio[1], stderr=stdio[2], check=False)
    return 0 if detach and proc.returncode == 0 else proc.returncode


def _layer_dirs_top_first(paths: Paths, record: ContainerRecord) -> list[Path]:
    from rpod.image.store import ImageStore

    images = ImageStore(paths)
    rec = images.get(record.image_id)
    return list(reversed(images.layer_dirs(rec))) if rec else []


def _wait_child(pid: int) -> int:
    old = {s: signal.signal(s, lambda signum, _f: _forward(pid, signum))
           for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return exitfile.decode_wait_status(status)[0]


def _forward(pid: int, signum: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signum)


def _exec_tty(paths: Paths, record: ContainerRecord, process: dict[str, Any], interactive: bool,
              detach: bool) -> int:
    import tempfile

    from rootless.monitor import stdio as mstdio
    from rootless.runtime import api
    from rootless.runtime.errors import ContainerError

    d = tempfile.mkdtemp(prefix="rpod-ex-", dir="/tmp")
    path = os.path.join(d, "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        listener.listen(1)
        try:
            pid = api.exec_process(record.id, runtime_state_root(paths), process, console_socket=path)
        except ContainerError as e:
            raise_for_code(str(e), e.exit_code if e.exit_code in (126, 127) else 125)
        listener.settimeout(10)
        conn, _ = listener.accept()
        with conn:
            master = mstdio.recv_fd(conn)
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            os.unlink(path)
            os.rmdir(d)
    if detach:
        os.close(master)
        return 0
    mstdio.copy_terminal(master, interactive)
    return _wait_child(pid)
