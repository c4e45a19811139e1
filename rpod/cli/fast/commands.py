"""The bodies of the everyday commands, without click: the click callbacks (rpod.cli.container,
rpod.cli.image, rpod.cli.system, rpod.cli.run) and the fast path (rpod.cli.fast) both call these
with the same keyword arguments (click's ``ctx.params``).  A body returns the command's exit code
when it has one of its own (``exec``, ``start --attach``), None otherwise."""

from __future__ import annotations

import os

from rpod.cli.output import is_json, parse_filters, print_error, print_json, report_items, write
from rpod.errors import UsageError

PS_HEADERS = {"ID": "CONTAINER ID", "CreatedHuman": "CREATED", "Names": "NAMES", "Size": "SIZE", "Pod": "POD ID",
              "PodName": "PODNAME"}
IMAGE_HEADERS = {"ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Created": "CREATED"}


def ps(all_: bool, quiet: bool, latest: bool, last: int, no_trunc: bool, filters: tuple[str, ...],
       fmt: str | None, sort: str, noheading: bool, size: bool, external: bool, pod: bool) -> None:
    """``ps``: list containers."""
    from rpod.engine import containers

    rows = containers.ps(containers.ListOptions(all=all_, latest=latest, last=last, no_trunc=no_trunc,
                                                filters=parse_filters(filters), sort=sort, size=size))
    if quiet and not fmt:
        write("".join(r.ID + "\n" for r in rows))
        return
    if is_json(fmt):
        print_json([r.json(size) for r in rows])
        return
    from rpod.format import render_list

    fmt = fmt or ("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t"
                  "{{.Ports}}\t{{.Names}}" + ("\t{{.Size}}" if size else "")
                  + ("\t{{.Pod}}\t{{.PodName}}" if pod else ""))
    write(render_list(fmt, rows, headers=PS_HEADERS, noheading=noheading, name="ps"))


def images(repository: str | None, all_: bool, quiet: bool, digests: bool, no_trunc: bool, fmt: str | None,
           filters: tuple[str, ...], noheading: bool, sort: str) -> None:
    """``images``: list images in local storage."""
    from rpod.engine import images as engine

    flt = parse_filters(filters)
    if repository:
        flt.setdefault("reference", []).append(repository)
    # only a --format can show .Containers (the default table and -q do not): the container store
    # is not read otherwise
    rows = engine.list_images(engine.ListOptions(filters=flt, sort=sort, no_trunc=no_trunc, containers=bool(fmt),
                                                 all=all_))
    if quiet:
        write("".join(i + "\n" for i in dict.fromkeys(row.ID for row, _rec in rows)))
        return
    if is_json(fmt):
        seen: set[str] = set()
        out = []
        for row, rec in rows:
            if rec.id not in seen:
                seen.add(rec.id)
                out.append(engine.image_json(row, rec))
        print_json(out)
        return
    from rpod.format import render_list

    if not fmt:
        cols = ["{{.Repository}}", "{{.Tag}}", *(["{{.Digest}}"] if digests else []),
                "{{.ID}}", "{{.CreatedSince}}", "{{.Size}}"]
        fmt = "table " + "\t".join(cols)
    write(render_list(fmt, [r for r, _ in rows], headers=IMAGE_HEADERS, noheading=noheading, name="images"))


def image_inspect(names: tuple[str, ...], fmt: str | None) -> None:
    """``image inspect``: the configuration of one or more images."""
    from rpod.engine import images as engine
    from rpod.format import render_list

    report = engine.inspect(list(names))
    write(render_list(fmt or "json", report.structs, name="inspect", json_indent=5))
    if report.errors:
        raise report.errors[0]


def version(fmt: str | None) -> None:
    """``version``: rpod's version information."""
    from rpod.engine import host

    doc = host.version()
    if fmt:
        from rpod.format import render_one

        write(render_one(fmt, doc, name="version", json_indent=None))
        return
    c = doc["Client"]  # Podman's layout (scripts read "Version:"); "Go Version" names the language runtime
    write(f"Client:       rpod Engine\nVersion:      {c['Version']}\nAPI Version:  {c['APIVersion']}\n"
          f"Go Version:   {c['GoVersion']}\nBuilt:        {c['BuiltTime']}\nOS/Arch:      {c['OsArch']}\n")


def rm(containers: tuple[str, ...], force: bool, all_: bool, ignore: bool, volumes: bool,
       timeout: int | None, latest: bool, cidfiles: tuple[str, ...], depend: bool) -> None:
    """``rm``: remove one or more containers."""
    from rpod.engine import containers as engine

    report_items(engine.remove(engine.RemoveOptions(
        refs=list(containers), all=all_, latest=latest, force=force, ignore=ignore, volumes=volumes,
        timeout=timeout, cidfiles=list(cidfiles), depend=depend)))


def stop(containers: tuple[str, ...], all_: bool, ignore: bool, timeout: int | None, latest: bool,
         cidfiles: tuple[str, ...]) -> None:
    """``stop``: stop one or more containers."""
    from rpod.engine import containers as engine

    report_items(engine.stop(engine.StopOptions(refs=list(containers), all=all_, latest=latest, ignore=ignore,
                                                timeout=timeout, cidfiles=list(cidfiles))))


def kill(containers: tuple[str, ...], sig: str, all_: bool, latest: bool) -> None:
    """``kill``: send a signal to one or more containers."""
    from rpod.engine import containers as engine

    report_items(engine.kill(engine.KillOptions(refs=list(containers), signal=sig, all=all_, latest=latest)))


def wait(containers: tuple[str, ...], condition: tuple[str, ...], interval: str, latest: bool,
         ignore: bool) -> None:
    """``wait``: wait for containers to stop and print their exit codes."""
    from rpod.engine import containers as engine

    for code in engine.wait(engine.WaitOptions(refs=list(containers), conditions=list(condition), latest=latest,
                                               ignore=ignore)):
        write(f"{code}\n")


def logs(containers: tuple[str, ...], follow: bool, since: str | None, until: str | None,
         timestamps: bool, tail: int, latest: bool, names: bool, details: bool, color: bool) -> None:
    """``logs``: fetch the logs of one or more containers."""
    from rpod.engine.containers_logs import LogsOptions
    from rpod.engine.containers_logs import logs as engine_logs

    opts = LogsOptions(refs=list(containers), latest=latest, follow=follow, since=since, until=until,
                       timestamps=timestamps, tail=tail, names=names)
    for stream, data in engine_logs(opts):
        fd = 2 if stream == "stderr" else 1
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]


def inspect(containers: tuple[str, ...], fmt: str | None, latest: bool, size: bool, kind: str) -> None:
    """``inspect``: containers and images (containers first, as Podman)."""
    from rpod.engine.containers_inspect import InspectOptions
    from rpod.engine.containers_inspect import inspect as engine_inspect

    report = engine_inspect(InspectOptions(refs=list(containers), latest=latest, size=size, kind=kind))
    if fmt and not is_json(fmt):
        from rpod.format import render_list

        write(render_list(fmt, report.structs, name="inspect"))
    else:
        print_json(report.docs)
    for err in report.errors[:-1]:
        print_error(err)
    if report.errors:
        raise report.errors[-1]


def exec_(container: str, command: tuple[str, ...], interactive: bool, tty: bool, env: tuple[str, ...],
          user: str | None, workdir: str | None, detach: bool, env_files: tuple[str, ...],
          privileged: bool) -> int:
    """``exec``: run a process in a running container; its exit code."""
    from rpod.engine.containers_exec import ExecOptions
    from rpod.engine.containers_exec import exec_ as engine_exec

    if privileged:
        from rpod.cli.output import warn

        warn("exec --privileged has no effect in rootless rpod: the process gets the container's own "
             "capabilities (run the container with --privileged for more)")
    code = engine_exec(ExecOptions(ref=container, command=list(command), interactive=interactive, tty=tty,
                                   env=list(env), env_files=list(env_files), user=user, workdir=workdir,
                                   detach=detach))
    if detach:
        write(os.urandom(32).hex() + "\n")  # Podman prints the exec session's id
    return code


def port(container: str | None, private_port: str | None, all_: bool, latest: bool) -> None:
    """``port``: the port mappings of a container (or a specific one)."""
    from rpod.engine import containers as engine

    for short_id, line in engine.port(container, private_port, all_, latest):
        write(f"{short_id}\t{line}\n" if all_ else line + "\n")


def start(containers: tuple[str, ...], attach: bool, interactive: bool, sig_proxy: str,
          detach_keys: str | None, all_: bool, filters: tuple[str, ...]) -> int | None:
    """``start``: start one or more containers (attached: the container's exit code)."""
    from rpod.cli.output import parse_bool_flag

    if not containers and not all_ and not filters:
        raise UsageError("start requires at least one argument")
    if containers and all_:
        raise UsageError("either start all containers or the container(s) provided in the arguments")
    if attach and all_:
        raise UsageError("you cannot start and attach all containers at once")
    if attach or interactive:
        from rpod.engine.containers_run import StartAttachedOptions, start_attached

        if len(containers) != 1:
            raise UsageError("you cannot start and attach multiple containers at once")
        return start_attached(StartAttachedOptions(containers[0], interactive=interactive,
                                                   sig_proxy=bool(parse_bool_flag(sig_proxy, "--sig-proxy")),
                                                   detach_keys=detach_keys))
    from rpod.engine.containers_start import start as engine_start

    report_items(engine_start(list(containers), all_=all_, filters=parse_filters(filters)))
    return None
