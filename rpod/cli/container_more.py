"""``rpod rename``, ``container prune``, ``port``, ``pause``/``unpause`` and ``top``."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from rpod.cli.common import parse_filters, paths, write
from rpod.errors import StateConflict, UsageError

HELP = {"help_option_names": ["-h", "--help"]}
app = click.Group()


def _store() -> Any:
    from rpod.container.state import ContainerStore

    return ContainerStore(paths())


@app.command("rename", context_settings=HELP)
@click.argument("container")
@click.argument("new_name")
def rename_cmd(container: str, new_name: str) -> None:
    """Rename an existing container."""
    store = _store()
    store.rename(store.get(container), new_name)


def _prune_match(rec: Any, filters: dict[str, list[str]]) -> bool:
    from rpod.humanize import parse_time

    for key, values in filters.items():
        if key in ("label", "label!"):
            hit = all((rec.labels.get(k) == v) if sep else (k in rec.labels)
                      for k, sep, v in (x.partition("=") for x in values))
            if hit == (key == "label!"):
                return False
        elif key == "until":
            created = parse_time(rec.created)
            if not all(created < parse_time(v) for v in values):
                return False
        else:
            raise UsageError(f"invalid filter {key!r} for prune: use label, label! or until")
    return True


def prune_containers(filters: dict[str, list[str]]) -> list[tuple[str, int]]:
    """Remove the containers that do not run and match ``filters``; (id, bytes freed) of each."""
    from rpod.container import lifecycle

    bad = [k for k in filters if k not in ("label", "label!", "until")]
    if bad:
        raise UsageError(f"invalid filter {bad[0]!r} for prune: use label, label! or until")
    store = _store()
    removed: list[tuple[str, int]] = []
    for rec, st in list(store.iter_states()):
        if st.running or not _prune_match(rec, filters):
            continue
        size = dir_size(str(store.dir(rec.id)))
        try:
            lifecycle.remove(paths(), rec, force=False)
        except StateConflict:
            continue  # it was started meanwhile
        removed.append((rec.id, size))
    return removed


def dir_size(path: str) -> int:
    """Bytes of the regular files under ``path`` (unreadable parts count as 0)."""
    total = 0
    for root, _dirs, files in os.walk(path, onerror=lambda e: None):
        for f in files:
            try:
                st = os.lstat(os.path.join(root, f))
            except OSError:
                continue
            total += st.st_size
    return total


def confirm(question: str) -> bool:
    """Ask on stderr and read y/N from stdin (Podman's prune prompt)."""
    sys.stderr.write(question + " [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


@click.command("prune", context_settings=HELP)
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Provide filter values (e.g. 'label=<key>=<value>')")
def container_prune_cmd(force: bool, filters: tuple[str, ...]) -> None:
    """Remove all non running containers."""
    if not force and not confirm("WARNING! This will remove all non running containers.\n"
                                 "Are you sure you want to continue?"):
        return
    for cid, _size in prune_containers(parse_filters(list(filters))):
        write(cid + "\n")


@app.command("port", context_settings=HELP)
@click.argument("container", required=False)
@click.argument("private_port", required=False)
@click.option("-a", "--all", "all_", is_flag=True, help="Display port information for all containers")
@click.option("-l", "--latest", is_flag=True, help="Act on the latest container")
def port_cmd(container: str | None, private_port: str | None, all_: bool, latest: bool) -> None:
    """List port mappings or a specific mapping for the container."""
    store = _store()
    if all_:
        recs = [r for r, st in store.iter_states() if st.running]
    elif latest:
        recs = [store.latest()]
    elif container:
        recs = [store.get(container)]
    else:
        raise UsageError("you must supply a running container name or ID")
    for rec in recs:
        if not store.state(rec.id).running:  # Podman shows the ports of running containers only
            continue
        lines = [_port_line(p) for p in rec.ports]
        if private_port:
            want = private_port if "/" in private_port else private_port + "/tcp"
            lines = [ln.split(" -> ", 1)[1] for ln in lines if ln.startswith(want + " ")]  # Podman: ip:port only
            if not lines and not all_:
                raise UsageError(f'failed to find published port "{private_port}"')
        for ln in lines:
            write(f"{rec.short_id}\t{ln}\n" if all_ else ln + "\n")


def _port_line(spec: str) -> str:
    """``[ip:][host:]ctr[/proto]`` → ``ctr/proto -> ip:host``, as ``podman port`` prints."""
    body, _, proto = spec.partition("/")
    parts = body.rsplit(":", 2)
    ctr = parts[-1]
    host = parts[-2] if len(parts) >= 2 and parts[-2] else ctr
    ip = parts[0] if len(parts) == 3 and parts[0] else "0.0.0.0"
    return f"{ctr}/{proto or 'tcp'} -> {ip}:{host}"


def _running(ref: str) -> Any:
    store = _store()
    rec = store.get(ref)
    if not store.state(rec.id).running:
        raise StateConflict(f'"{rec.id}" is not running, can\'t pause: container state improper')
    return rec


_PAUSE_V1 = "can not pause containers on rootless containers with cgroup V1: this container does not have a cgroup"


@app.command("pause", context_settings=HELP)
@click.argument("containers", nargs=-1)
@click.option("-a", "--all", "all_", is_flag=True, help="Pause all running containers")
def pause_cmd(containers: tuple[str, ...], all_: bool) -> None:
    """Pause all the processes in one or more containers (needs a delegated cgroup v2)."""
    if not containers and not all_:
        raise UsageError("pause requires at least one container name or ID (or --all)")
    refs = list(containers) or [r.id for r, st in _store().iter_states() if st.running]
    for ref in refs:
        _running(ref)
        raise StateConflict(_PAUSE_V1, hint="rootless rpod has no cgroup of its own to freeze")


@app.command("unpause", context_settings=HELP)
@click.argument("containers", nargs=-1)
@click.option("-a", "--all", "all_", is_flag=True, help="Unpause all paused containers")
def unpause_cmd(containers: tuple[str, ...], all_: bool) -> None:
    """Unpause the processes in one or more containers (needs a delegated cgroup v2)."""
    if not containers and not all_:
        raise UsageError("unpause requires at least one container name or ID (or --all)")
    for ref in containers:
        _store().get(ref)
        raise StateConflict("unpause is not supported for cgroupv1 rootless containers")


# ---------------------------------------------------------------------------------------------- top
_TOP_DEFAULT = ["user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args"]
_TOP_HEADERS = {"user": "USER", "pid": "PID", "ppid": "PPID", "pcpu": "%CPU", "etime": "ELAPSED",
                "tty": "TTY", "time": "TIME", "args": "COMMAND", "comm": "COMMAND", "uid": "UID",
                "group": "GROUP", "gid": "GID", "nice": "NI", "vsz": "VSZ", "state": "STATE",
                "huser": "HUSER", "hpid": "HPID"}


def go_duration(seconds: float) -> str:
    """Format like Go's ``time.Duration.String`` (``548.07085ms``, ``1m2.5s``, ``0s``)."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        ms = f"{seconds * 1000:.6f}".rstrip("0").rstrip(".")
        return f"{ms}ms"
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    sec = f"{s:.9f}".rstrip("0").rstrip(".")
    out = f"{sec}s"
    if h or m:
        out = f"{int(m)}m" + out
    if h:
        out = f"{int(h)}h" + out
    return out


def _id_map(path: str) -> list[tuple[int, int, int]]:
    try:
        with open(path) as f:
            return [tuple(int(x) for x in ln.split()) for ln in f if ln.strip()]  # type: ignore[misc]
    except OSError:
        return []


def _to_ctr(host_id: int, mapping: list[tuple[int, int, int]]) -> int:
    for inside, outside, count in mapping:
        if outside <= host_id < outside + count:
            return inside + host_id - outside
    return 65534


def _names(path: str) -> dict[int, str]:
    out: dict[int, str] = {}
    try:
        with open(path, errors="replace") as f:
            for ln in f:
                parts = ln.split(":")
                if len(parts) > 2 and parts[2].isdigit():
                    out.setdefault(int(parts[2]), parts[0])
    except OSError:
        pass
    return out


def _proc_tree(init_pid: int) -> list[int]:
    """``init_pid`` and its descendants, by the ppid field of /proc/*/stat."""
    parent: dict[int, int] = {}
    for e in os.scandir("/proc"):
        if not e.name.isdigit():
            continue
        try:
            with open(f"/proc/{e.name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        parent[int(e.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
    tree, frontier = [init_pid], [init_pid]
    while frontier:
        frontier = [p for p, pp in parent.items() if pp in frontier]
        tree += frontier
    return sorted(tree)


def _proc_row(pid: int, uidmap: list[Any], gidmap: list[Any], users: dict[int, str], groups: dict[int, str],
              nspid: dict[int, int]) -> dict[str, str]:
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    status: dict[str, str] = {}
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            k, _, v = ln.partition(":")
            status[k] = v.strip()
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        args = f.read().replace(b"\0", b" ").decode(errors="replace")
    tck = os.sysconf("SC_CLK_TCK")
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    elapsed = max(uptime - int(fields[19]) / tck, 0.0)
    cpu = (int(fields[11]) + int(fields[12])) / tck
    uid = _to_ctr(int(status["Uid"].split()[1]), uidmap)
    gid = _to_ctr(int(status["Gid"].split()[1]), gidmap)
    tty_nr = int(fields[4])
    return {
        "user": users.get(uid, str(uid)), "uid": str(uid), "group": groups.get(gid, str(gid)), "gid": str(gid),
        "pid": str(nspid.get(pid, pid)), "ppid": str(nspid.get(int(fields[1]), 0)),
        "pcpu": f"{(cpu / elapsed * 100) if elapsed else 0.0:.3f}", "etime": go_duration(elapsed),
        "tty": "?" if tty_nr == 0 else f"pts/{os.minor(tty_nr)}", "time": go_duration(float(int(cpu))),
        "args": args or f"[{comm}]", "comm": comm, "nice": fields[16], "vsz": str(int(fields[20]) // 1024),
        "state": fields[0], "huser": status["Uid"].split()[1], "hpid": str(pid),
    }


@app.command("top", context_settings={**HELP, "ignore_unknown_options": True})
@click.argument("container")
@click.argument("descriptors", nargs=-1, type=click.UNPROCESSED)
@click.option("-l", "--latest", is_flag=True, help="Act on the latest container")
def top_cmd(container: str, descriptors: tuple[str, ...], latest: bool) -> None:
    """Display the running processes of a container."""
    store = _store()
    rec = store.latest() if latest else store.get(container)
    st = store.state(rec.id)
    if not st.running or not st.pid:
        raise StateConflict("top can only be used on running containers: container state improper")
    top_rows([rec.id], list(descriptors))


def top_rows(cids: list[str], descriptors: list[str]) -> None:
    """Print the ``top`` table of the processes of running containers ``cids`` (``pod top`` too)."""
    store = _store()
    descs = [d for arg in descriptors for d in arg.replace(",", " ").split()] or _TOP_DEFAULT
    for d in descs:
        if d not in _TOP_HEADERS:
            raise UsageError(f"unknown descriptor: {d}: use one of {', '.join(sorted(_TOP_HEADERS))}")
    rows = [[_TOP_HEADERS[d] for d in descs]]
    for cid in cids:
        init = store.state(cid).pid
        if init:
            rows += _top_of(init, descs)
    widths = [max(12, max(len(r[i]) for r in rows) + 2) for i in range(len(descs))]
    for r in rows:
        write("".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=False)) + r[-1] + "\n")


def _top_of(init: int, descs: list[str]) -> list[list[str]]:
    root = f"/proc/{init}/root"
    users, groups = _names(f"{root}/etc/passwd"), _names(f"{root}/etc/group")
    uidmap, gidmap = _id_map(f"/proc/{init}/uid_map"), _id_map(f"/proc/{init}/gid_map")
    pids = _proc_tree(init)
    nspid: dict[int, int] = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                line = next((ln for ln in f if ln.startswith("NSpid:")), "")
            nspid[pid] = int(line.split()[-1]) if line else pid
        except (OSError, ValueError):
            continue
    rows = []
    for pid in pids:
        try:
            row = _proc_row(pid, uidmap, gidmap, users, groups, nspid)
        except (OSError, KeyError, IndexError, ValueError):
            continue  # it exited while we looked
        rows.append([row[d] for d in descs])
    return rows
