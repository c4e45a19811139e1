"""``rpod pod ...``: create, start, stop, restart, kill, pause, unpause, rm, ps, inspect, top, logs,
exists, prune (Podman's flags, columns and JSON).  Parses flags, calls ``rpod.engine.pods``."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import click

from rpod.cli.common import parse_bool_flag, parse_filters, print_json, write
from rpod.errors import RpodError, StateConflict, UsageError

HELP = {"help_option_names": ["-h", "--help"]}
app = click.Group("pod", help="Manage pods", no_args_is_help=True, context_settings=HELP)

_PS_DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.Status}}\t{{.Created}}\t{{.InfraID}}\t{{.NumberOfContainers}}"
_PS_HEADERS = {"ID": "POD ID", "Name": "NAME", "Status": "STATUS", "Created": "CREATED", "InfraID": "INFRA ID",
               "NumberOfContainers": "# OF CONTAINERS", "ContainerNames": "NAMES", "ContainerIds": "IDS",
               "ContainerStatuses": "STATUS", "Labels": "LABELS", "Networks": "NETWORKS", "Cgroup": "CGROUP"}


def _report(reports: list[Any], quiet_ok: bool = False) -> None:
    """Print each pod's id, or its error (the last error is raised, the others printed)."""
    from rpod.cli.app import print_error

    failed: BaseException | None = None
    for r in reports:
        for _rec, err in r.errors:
            if failed is not None:
                print_error(failed)
            failed = err
        if r.error is not None:
            if failed is not None:
                print_error(failed)
            failed = r.error
        elif not r.errors and not quiet_ok:
            write(r.id + "\n")
    if failed is not None:
        raise failed


def _refs(pods: tuple[str, ...], all_: bool, latest: bool, id_files: tuple[str, ...] = ()) -> list[str]:
    refs = list(pods)
    for path in id_files:
        try:
            with open(path) as f:
                refs.append(f.read().strip())
        except OSError as e:
            raise UsageError(f"reading pod ID file: {e.strerror}: {path}") from None
    if not refs and not all_ and not latest:
        raise UsageError("you must provide at least one name or id")
    if refs and all_:
        raise UsageError("--all and a pod name or id cannot be combined")
    return refs


@app.command("create", context_settings=HELP)
@click.argument("name_arg", required=False)
@click.option("-n", "--name", help="Name of the pod")
@click.option("--infra", default="true", help="Create an infra container (true|false)")
@click.option("--infra-image", help="Image of the infra container")
@click.option("--infra-command", help="Command of the infra container")
@click.option("--infra-name", help="Name of the infra container")
@click.option("--infra-conmon-pidfile", hidden=True)
@click.option("--share", default=None, help="Namespaces to share: cgroup, ipc, net, pid, uts (or none)")
@click.option("--share-parent", default="true", help="Use the pod's cgroup as parent (accepted, no cgroup)")
@click.option("-p", "--publish", multiple=True, help="Publish a port [ip:]host:ctr[/proto]")
@click.option("--network", "--net", help="Network of the pod")
@click.option("--network-alias", multiple=True, help="Network-scoped alias of the pod")
@click.option("--ip", help="Static IPv4 address on the user network")
@click.option("--mac-address", help="Static MAC address")
@click.option("--hostname", help="Host name of the pod")
@click.option("-l", "--label", "labels", multiple=True, help="Labels (K=V)")
@click.option("--label-file", multiple=True, hidden=True)
@click.option("--userns", default="", help="User namespace of the pod")
@click.option("--add-host", multiple=True, help="Add HOST:IP to /etc/hosts")
@click.option("--dns", multiple=True, help="DNS server")
@click.option("--dns-search", multiple=True, help="DNS search domain")
@click.option("--dns-option", multiple=True, help="DNS option")
@click.option("-v", "--volume", "volumes", multiple=True, help="Volume of every container in the pod")
@click.option("--exit-policy", default="continue", help="continue or stop when the last container exits")
@click.option("--pod-id-file", help="Write the pod ID to this file")
@click.option("--replace", is_flag=True, help="Replace an existing pod of the same name")
@click.option("--cgroup-parent", hidden=True)
def create_cmd(name_arg: str | None, name: str | None, infra: str, infra_image: str | None,
               infra_command: str | None, infra_name: str | None, infra_conmon_pidfile: str | None,
               share: str | None, share_parent: str, publish: tuple[str, ...], network: str | None,
               network_alias: tuple[str, ...], ip: str | None, mac_address: str | None, hostname: str | None,
               labels: tuple[str, ...], label_file: tuple[str, ...], userns: str, add_host: tuple[str, ...],
               dns: tuple[str, ...], dns_search: tuple[str, ...], dns_option: tuple[str, ...],
               volumes: tuple[str, ...], exit_policy: str, pod_id_file: str | None, replace: bool,
               cgroup_parent: str | None) -> None:
    """Create a new empty pod."""
    from rpod.engine import pods

    if name and name_arg:
        raise UsageError("cannot specify --name and give a name as an argument")
    opts = pods.PodOptions(
        name=name or name_arg, infra=bool(parse_bool_flag(infra, "--infra")), infra_image=infra_image,
        infra_command=infra_command, infra_name=infra_name, infra_conmon_pidfile=infra_conmon_pidfile, share=share,
        share_parent=bool(parse_bool_flag(share_parent, "--share-parent")), publish=list(publish),
        network=network, network_alias=list(network_alias), ip=ip, mac_address=mac_address, hostname=hostname,
        labels=list(labels), userns=userns, add_host=list(add_host), dns=list(dns), dns_search=list(dns_search),
        dns_option=list(dns_option), volumes=list(volumes), exit_policy=exit_policy, pod_id_file=pod_id_file,
        replace=replace, create_command=["rpod", *sys.argv[1:]])
    write(pods.create(None, opts).id + "\n")


def _simple(verb: str, help_text: str) -> Any:
    @click.argument("pods", nargs=-1)
    @click.option("-a", "--all", "all_", is_flag=True, help="All pods")
    @click.option("-l", "--latest", is_flag=True, help="The latest created pod")
    @click.option("--pod-id-file", "id_files", multiple=True, help="Read the pod ID from this file")
    def cmd(pods: tuple[str, ...], all_: bool, latest: bool, id_files: tuple[str, ...], **kw: Any) -> None:
        from rpod.engine import pods as engine

        refs = _refs(pods, all_, latest, id_files)
        fn = getattr(engine, verb)
        _report(fn(None, refs, all_=all_, latest=latest, **kw))

    cmd.__doc__ = help_text
    return cmd


start_cmd = app.command("start", context_settings=HELP)(_simple("start", "Start one or more pods."))
restart_cmd = app.command("restart", context_settings=HELP)(_simple("restart", "Restart one or more pods."))


@app.command("stop", context_settings=HELP)
@click.argument("pods", nargs=-1)
@click.option("-a", "--all", "all_", is_flag=True, help="Stop all pods")
@click.option("-l", "--latest", is_flag=True, help="The latest created pod")
@click.option("-i", "--ignore", is_flag=True, help="Ignore missing pods")
@click.option("-t", "--time", "timeout", type=int, default=None, help="Seconds before SIGKILL")
@click.option("--pod-id-file", "id_files", multiple=True, help="Read the pod ID from this file")
def stop_cmd(pods: tuple[str, ...], all_: bool, latest: bool, ignore: bool, timeout: int | None,
             id_files: tuple[str, ...]) -> None:
    """Stop one or more pods."""
    from rpod.engine import pods as engine

    refs = _refs(pods, all_, latest, id_files)
    _report(engine.stop(None, refs, timeout=timeout, all_=all_, latest=latest, ignore=ignore))


@app.command("kill", context_settings=HELP)
@click.argument("pods", nargs=-1)
@click.option("-a", "--all", "all_", is_flag=True, help="Kill all pods")
@click.option("-l", "--latest", is_flag=True, help="The latest created pod")
@click.option("-s", "--signal", "sig", default="KILL", help="Signal to send")
def kill_cmd(pods: tuple[str, ...], all_: bool, latest: bool, sig: str) -> None:
    """Send a signal to the containers of one or more pods."""
    from rpod.engine import pods as engine

    refs = _refs(pods, all_, latest)
    _report(engine.kill(None, refs, sig, all_=all_, latest=latest))


@app.command("rm", context_settings=HELP)
@click.argument("pods", nargs=-1)
@click.option("-a", "--all", "all_", is_flag=True, help="Remove all pods")
@click.option("-l", "--latest", is_flag=True, help="The latest created pod")
@click.option("-f", "--force", is_flag=True, help="Stop and remove running pods")
@click.option("-i", "--ignore", is_flag=True, help="Ignore missing pods")
@click.option("-t", "--time", "timeout", type=int, default=None, help="Seconds before SIGKILL with --force")
@click.option("--pod-id-file", "id_files", multiple=True, help="Read the pod ID from this file")
def rm_cmd(pods: tuple[str, ...], all_: bool, latest: bool, force: bool, ignore: bool, timeout: int | None,
           id_files: tuple[str, ...]) -> None:
    """Remove one or more stopped pods and their containers."""
    from rpod.engine import pods as engine

    if id_files and ignore:
        import os

        id_files = tuple(f for f in id_files if os.path.exists(f))
        if not id_files and not pods:
            return
    refs = _refs(pods, all_, latest, id_files)
    # Podman 4.3.1: --force also ignores pods that do not exist (200-pod.bats "pod rm --force bogus")
    _report(engine.rm(None, refs, force=force, timeout=timeout, all_=all_, latest=latest, ignore=ignore or force))


@app.command("pause", context_settings=HELP)
@click.argument("pods", nargs=-1)
@click.option("-a", "--all", "all_", is_flag=True, help="Pause all pods")
def pause_cmd(pods: tuple[str, ...], all_: bool) -> None:
    """Pause the containers of one or more pods (needs a delegated cgroup v2)."""
    from rpod.engine import pods as engine

    for ref in _refs(pods, all_, False) or []:
        engine.inspect(None, ref)
    raise StateConflict("can not pause pods on rootless containers with cgroup V1: the pod has no cgroup",
                        hint="rootless rpod has no cgroup of its own to freeze", exit_code=125)


@app.command("unpause", context_settings=HELP)
@click.argument("pods", nargs=-1)
@click.option("-a", "--all", "all_", is_flag=True, help="Unpause all pods")
def unpause_cmd(pods: tuple[str, ...], all_: bool) -> None:
    """Unpause the containers of one or more pods (needs a delegated cgroup v2)."""
    from rpod.engine import pods as engine

    for ref in _refs(pods, all_, False) or []:
        engine.inspect(None, ref)
    raise StateConflict("unpause is not supported for cgroupv1 rootless pods", exit_code=125)


@app.command("ps", context_settings=HELP)
@click.option("--format", "fmt", help="Go template, json or table")
@click.option("-q", "--quiet", is_flag=True, help="Print the pod IDs only")
@click.option("--no-trunc", is_flag=True, help="Do not truncate IDs")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter (name=, id=, status=, label=, ctr-names=...)")
@click.option("--ctr-names", is_flag=True, help="Names of the containers")
@click.option("--ctr-ids", is_flag=True, help="IDs of the containers")
@click.option("--ctr-status", is_flag=True, help="Statuses of the containers")
@click.option("--ns", is_flag=True, help="Namespaces (accepted)")
@click.option("--sort", default="created", help="Sort by created, id, name, number, status")
@click.option("-n", "--noheading", is_flag=True, help="Do not print headers")
@click.option("-l", "--latest", is_flag=True, help="The latest created pod")
def ps_cmd(fmt: str | None, quiet: bool, no_trunc: bool, filters: tuple[str, ...], ctr_names: bool, ctr_ids: bool,
           ctr_status: bool, ns: bool, sort: str, noheading: bool, latest: bool) -> None:
    """List pods."""
    import json

    from rpod.engine import pods as engine

    rows = engine.ps(None, parse_filters(list(filters)), no_trunc=no_trunc)
    keys = {"created": lambda r: r.CreatedAt, "id": lambda r: r.ID, "name": lambda r: r.Name,
            "number": lambda r: r.NumberOfContainers, "status": lambda r: r.Status}
    if sort not in keys:
        raise UsageError(f"invalid option for --sort, options are: {', '.join(keys)}")
    rows.sort(key=keys[sort], reverse=sort == "created")
    if latest:
        rows = rows[:1]
    if quiet:
        write("".join(r.ID + "\n" for r in rows))
        return
    if fmt and fmt.strip() in ("json", "{{json .}}"):
        docs = [{"Cgroup": r.Cgroup, "Containers": r.Containers, "Created": r.CreatedAt, "Id": r.ID,
                 "InfraId": r.InfraID, "Name": r.Name, "Namespace": "", "Networks": r.Networks,
                 "Status": r.Status, "Labels": r.Labels} for r in rows]
        write(json.dumps(docs, indent=4) + "\n")
        return
    if not fmt:
        fmt = _PS_DEFAULT
        extra = [("ContainerNames", ctr_names), ("ContainerIds", ctr_ids), ("ContainerStatuses", ctr_status)]
        if any(on for _, on in extra):
            fmt = fmt.replace("\t{{.NumberOfContainers}}", "") + "".join(
                "\t{{." + k + "}}" for k, on in extra if on)
    from rpod.format import render_list

    write(render_list(fmt, rows, headers=_PS_HEADERS, noheading=noheading))


app.add_command(ps_cmd, "ls")
app.add_command(ps_cmd, "list")


@app.command("inspect", context_settings=HELP)
@click.argument("pod", required=False)
@click.option("-f", "--format", "fmt", help="Go template or json")
@click.option("-l", "--latest", is_flag=True, help="The latest created pod")
def inspect_cmd(pod: str | None, fmt: str | None, latest: bool) -> None:
    """Display information describing a pod."""
    from rpod.engine import pods as engine

    if not pod and not latest:
        raise UsageError("you must provide one pod name or id")
    try:
        doc = engine.inspect(None, pod, latest=latest)
    except RpodError as e:
        if "no pod with name or ID" not in str(e):
            raise
        write("[]\n")
        raise RpodError(f"inspecting object: no such pod {pod}") from None
    if fmt and fmt.strip() not in ("json", "{{json .}}"):
        from rpod.format import render_one

        write(render_one(fmt, _go_view(doc)))
        return
    print_json(doc)


@dataclass
class _PortBinding:  # Podman's InspectHostPort: a template prints it as {IP PORT}
    HostIP: str  # noqa: N815
    HostPort: str  # noqa: N815


def _go_view(doc: dict) -> dict:
    """What a template sees: Podman's Go fields are ``ID`` (JSON ``Id``), for the pod and its containers,
    and port bindings are structs."""
    view = {**doc, "ID": doc.get("Id"), "Containers": [{**c, "ID": c.get("Id")} for c in doc.get("Containers") or []]}
    infra = doc.get("InfraConfig")
    if isinstance(infra, dict) and isinstance(infra.get("PortBindings"), dict):
        view["InfraConfig"] = {**infra, "PortBindings": {
            port: [_PortBinding(b.get("HostIp", ""), b.get("HostPort", "")) for b in binds]
            for port, binds in infra["PortBindings"].items()}}
    return view


@app.command("clone", context_settings=HELP)
@click.argument("pod")
@click.argument("name_arg", required=False)
@click.option("--name", "-n", help="Name of the clone (default POD-clone)")
@click.option("--destroy", is_flag=True, help="Remove the original pod")
@click.option("--start", "start_", is_flag=True, help="Start the clone")
def clone_cmd(pod: str, name_arg: str | None, name: str | None, destroy: bool, start_: bool) -> None:
    """Create a copy of an existing pod (its configuration, not its containers)."""
    from rpod.engine import pods as engine

    write(engine.clone(None, pod, name=name or name_arg, destroy=destroy, start_pod=start_).id + "\n")


@app.command("exists", context_settings=HELP)
@click.argument("pod")
def exists_cmd(pod: str) -> None:
    """Check if a pod exists in local storage (exit 0 if it does, 1 if not)."""
    from rpod.engine import pods as engine

    if not engine.exists(None, pod):
        raise click.exceptions.Exit(1)


@app.command("prune", context_settings=HELP)
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
def prune_cmd(force: bool) -> None:
    """Remove all stopped pods and their containers."""
    from rpod.engine import pods as engine

    if not force:
        sys.stdout.write("WARNING! This will remove all stopped/exited pods..\nAre you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return
    _report(engine.prune(None))


@app.command("logs", context_settings=HELP)
@click.argument("pod", required=False)
@click.option("-c", "--container", help="Only this container of the pod")
@click.option("-f", "--follow", is_flag=True, help="Follow the log output")
@click.option("--since", help="Only logs since this time")
@click.option("--until", help="Only logs until this time")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps")
@click.option("--tail", default=-1, help="Number of lines to show from the end")
@click.option("-n", "--names", is_flag=True, help="Prefix lines with container names")
@click.option("--color", is_flag=True, help="Accepted (no colours)")
@click.option("-l", "--latest", is_flag=True, help="The latest created pod")
def logs_cmd(pod: str | None, container: str | None, follow: bool, since: str | None, until: str | None,
             timestamps: bool, tail: int, names: bool, color: bool, latest: bool) -> None:
    """Fetch the logs of the containers of a pod (not its infra container)."""
    import os

    from rpod.engine import pods as engine
    from rpod.engine.containers_logs import LogsOptions, logs

    doc = engine.inspect(None, pod, latest=latest)
    ctrs = [c["Id"] for c in doc["Containers"] if c["Id"] != doc.get("InfraContainerID")]
    if container:
        wanted = [c["Id"] for c in doc["Containers"] if container in (c["Name"], c["Id"]) or c["Id"].startswith(container)]
        if not wanted:
            raise RpodError(f"container {container} is not in pod {doc['Name']}")
        ctrs = wanted
    if not ctrs:
        return
    opts = LogsOptions(refs=ctrs, follow=follow, since=since, until=until, timestamps=timestamps, tail=tail,
                       names=names)
    for stream, data in logs(opts):
        fd = 2 if stream == "stderr" else 1
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]


@app.command("top", context_settings=HELP)
@click.argument("pod", required=False)
@click.argument("descriptors", nargs=-1)
@click.option("-l", "--latest", is_flag=True, help="The latest created pod")
def top_cmd(pod: str | None, descriptors: tuple[str, ...], latest: bool) -> None:
    """Display the running processes of the containers in a pod."""
    from rpod.engine import pods as engine
    from rpod.engine.containers_top import top

    doc = engine.inspect(None, pod, latest=latest)
    running = [c["Id"] for c in doc["Containers"] if c["State"] == "running"]
    if not running:
        raise StateConflict(f"pod {doc['Id']} is not running: no such container", exit_code=125)
    rows: list[list[str]] = []
    for cid in running:
        rows += top(cid, list(descriptors), False)[0 if not rows else 1:]
    widths = [max(12, max(len(r[i]) for r in rows) + 2) for i in range(len(rows[0]))]
    for r in rows:
        write("".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=False)) + r[-1] + "\n")
