"""``rpod run``, ``create``, ``start`` and ``attach``.

The flags are one table (``RUN_FLAGS``) turned into click options and filled into a
``RunOptions``; everything after the image name belongs to the container's command
(``allow_interspersed_args=False``).  A foreground ``run`` hands its own stdio fds to the
monitor, forwards signals to the container (``--sig-proxy``) and exits with the container's code.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from rpod.cli.fast import commands

CONTEXT = {"help_option_names": ["--help"], "allow_interspersed_args": False}
# (flag names, RunOptions field, kind, help); kind: flag | str | multi | int | float
RUN_FLAGS: list[tuple[tuple[str, ...], str, str, str]] = [
    (("--rm",), "rm", "flag", "Remove the container when it exits"),
    (("--rmi",), "rmi", "flag", "Remove the image after exit (with --rm)"),
    (("--timeout",), "timeout", "int", "Maximum length of time a container is allowed to run (seconds)"),
    (("--preserve-fds",), "preserve_fds", "int", "Pass a number of additional file descriptors into the container"),
    (("-d", "--detach"), "detach", "flag", "Run in the background and print the container ID"),
    (("-i", "--interactive"), "interactive", "flag", "Keep STDIN open"),
    (("-t", "--tty"), "tty", "flag", "Allocate a pseudo-TTY"),
    (("--name",), "name", "str", "Name of the container"),
    (("--replace",), "replace", "flag", "Replace an existing container of the same name"),
    (("--cidfile",), "cidfile", "str", "Write the container ID to this file"),
    (("--pull",), "pull", "str", "Pull policy: missing, always, never, newer"),
    (("--restart",), "restart", "str", "Restart policy (no, on-failure[:N], always, unless-stopped)"),
    (("--stop-signal",), "stop_signal", "str", "Signal that stops the container"),
    (("--stop-timeout",), "stop_timeout", "int", "Seconds to wait before SIGKILL on stop"),
    (("--init",), "init", "flag", "Run an init (catatonit) as PID 1"),
    (("--init-path",), "init_path", "str", "Path to the init binary"),
    (("--entrypoint",), "entrypoint", "str", "Override the image's ENTRYPOINT (string or JSON array)"),
    (("-w", "--workdir"), "workdir", "str", "Working directory inside the container"),
    (("-h", "--hostname"), "hostname", "str", "Container host name"),
    (("-e", "--env"), "env", "multi", "Set environment variables (K=V, or K to copy)"),
    (("--env-file",), "env_file", "multi", "Read environment variables from a file"),
    (("--env-host",), "env_host", "flag", "Use the host's environment"),
    (("--unsetenv",), "unsetenv", "multi", "Unset environment default variables"),
    (("--unsetenv-all",), "unsetenv_all", "flag", "Unset all default environment variables"),
    (("--tz",), "tz", "str", "Set timezone in container (Area/City, or local)"),
    (("--hostuser",), "hostuser", "multi", "Host user account to add to /etc/passwd within container"),
    (("-l", "--label"), "labels", "multi", "Set metadata labels (K=V)"),
    (("--annotation",), "annotations", "multi", "Add OCI annotations (K=V)"),
    (("-u", "--user"), "user", "str", "Username or UID[:GID]"),
    (("--group-add",), "group_add", "multi", "Additional groups"),
    (("--userns",), "userns", "str", "User namespace mode"),
    (("--uidmap",), "uidmap", "multi", "UID map"),
    (("--gidmap",), "gidmap", "multi", "GID map"),
    (("--umask",), "umask", "str", "umask of the container process"),
    (("-v", "--volume"), "volumes", "multi", "Bind mount or volume SRC:DST[:OPTS]"),
    (("--mount",), "mounts", "multi", "Mount type=bind|volume|tmpfs,..."),
    (("--tmpfs",), "tmpfs", "multi", "Mount a tmpfs DST[:OPTS]"),
    (("--volumes-from",), "volumes_from", "multi", "Mount the volumes of the given container CTR[:ro|rw]"),
    (("--image-volume",), "image_volume", "str", "How the image's volumes are mounted: bind, tmpfs or ignore"),
    (("--read-only",), "read_only", "flag", "Read-only root file system"),
    (("--network", "--net"), "network", "str",
     "Network: slirp4netns[:OPTS] (default), pasta, none, host, container:NAME, ns:PATH or NETWORK[,NETWORK]"),
    (("--network-alias",), "network_alias", "multi", "Add a network-scoped alias for the container"),
    (("--expose",), "expose", "multi", "Expose a port or a range of ports (published by -P)"),
    (("--mac-address",), "mac_address", "str", "Container MAC address (slirp4netns tap0)"),
    (("--ip",), "ip", "str", "Static IPv4 address on the user network"),
    (("--ip6",), "ip6", "str", "Static IPv6 address on the user network"),
    (("--ipc",), "ipc", "str", "IPC namespace: host, private, shareable, none, container:NAME, ns:PATH"),
    (("--pid",), "pid", "str", "PID namespace: host, private, container:NAME, ns:PATH"),
    (("--uts",), "uts", "str", "UTS namespace: host, private, container:NAME, ns:PATH"),
    (("--cgroupns",), "cgroupns", "str", "cgroup namespace: host, private, ns:PATH"),
    (("--requires",), "requires", "multi", "Containers to start before this one (comma separated)"),
    (("--pod",), "pod", "str", "Run in this pod (new:NAME creates it)"),
    (("--pod-id-file",), "pod_id_file", "str", "Run in the pod whose id is in this file"),
    (("--secret",), "secrets", "multi", "Add a secret: NAME[,type=mount|env,target=...]"),
    (("-p", "--publish"), "publish", "multi", "Publish a port [ip:]host:ctr[/proto]"),
    (("-P", "--publish-all"), "publish_all", "flag", "Publish every exposed port"),
    (("--dns",), "dns", "multi", "DNS server"),
    (("--dns-search",), "dns_search", "multi", "DNS search domain"),
    (("--dns-option", "--dns-opt"), "dns_option", "multi", "DNS option"),
    (("--add-host",), "add_host", "multi", "Add HOST:IP to /etc/hosts"),
    (("--cap-add",), "cap_add", "multi", "Add capabilities"),
    (("--cap-drop",), "cap_drop", "multi", "Drop capabilities"),
    (("--privileged",), "privileged", "flag", "All capabilities, no seccomp"),
    (("--security-opt",), "security_opt", "multi", "Security options"),
    (("--device",), "devices", "multi", "Add a host device"),
    (("--sysctl",), "sysctl", "multi", "Namespaced sysctls K=V"),
    (("--oom-score-adj",), "oom_score_adj", "int", "OOM score adjustment"),
    (("-m", "--memory"), "memory", "str", "Memory limit (not enforced rootless on cgroup v1)"),
    (("--cpus",), "cpus", "float", "CPU limit"),
    (("--pids-limit",), "pids_limit", "int", "Process limit"),
    (("--ulimit",), "ulimit", "multi", "ulimit NAME=SOFT[:HARD]"),
    (("--shm-size",), "shm_size", "str", "Size of /dev/shm"),
    (("-a", "--attach"), "attach", "multi", "Attach to STDIN, STDOUT or STDERR"),
    (("--detach-keys",), "detach_keys", "str", "Key sequence that detaches (default ctrl-p,ctrl-q)"),
    (("--log-driver",), "log_driver", "str", "Log driver: k8s-file, journald, none, passthrough"),
    (("--log-opt",), "log_opt", "multi", "Log driver options"),
    (("--sdnotify",), "sdnotify", "str", "sd_notify mode: conmon, container, healthy, ignore"),
    (("--pidfile",), "pidfile", "str", "Write the container's init pid to this file"),
    (("--conmon-pidfile",), "conmon_pidfile", "str", "Write the monitor's pid to this file"),
    (("--runtime",), "runtime", "str", "OCI runtime to use (crun, or a path); default: rpod's own"),
    (("--systemd",), "systemd", "str", "systemd mode"),
    (("--cgroups",), "cgroups", "str", "cgroups mode"),
    (("--health-cmd",), "health_cmd", "str", "Healthcheck command"),
    (("--health-interval",), "health_interval", "str", "Healthcheck interval"),
    (("--health-retries",), "health_retries", "int", "Healthcheck retries"),
    (("--health-timeout",), "health_timeout", "str", "Healthcheck timeout"),
    (("--health-start-period",), "health_start_period", "str", "Healthcheck start period"),
    (("--health-on-failure",), "health_on_failure", "str", "Action on unhealthy"),
    (("--no-healthcheck",), "no_healthcheck", "flag", "Disable the image's healthcheck"),
    (("--arch",), "arch", "str", "Architecture to pull"),
    (("--os",), "os", "str", "OS to pull"),
    (("--platform",), "platform", "str", "Platform to pull"),
]
_KINDS: dict[str, dict[str, Any]] = {
    "flag": {"is_flag": True, "default": None},
    "str": {"default": None},
    "multi": {"multiple": True},
    "int": {"type": int, "default": None},
    "float": {"type": float, "default": None},
}


def run_flags(fn: Callable[..., Any], skip: tuple[str, ...] = ()) -> Callable[..., Any]:
    """Decorate a command with every ``RUN_FLAGS`` option (parameter ``f_<field>``) but ``skip``'s."""
    for names, fld, kind, help_text in reversed(RUN_FLAGS):
        if fld in skip:
            continue
        fn = click.option(*names, f"f_{fld}", help=help_text, **_KINDS[kind])(fn)
    fn = click.option("--sig-proxy", "sig_proxy", default="true", help="Proxy signals to the process")(fn)
    fn = click.option("--read-only-tmpfs", "f_read_only_tmpfs", default=None,
                      help="tmpfs on /tmp, /var/tmp, /run with --read-only (true|false)")(fn)
    fn = click.option("--http-proxy", "f_http_proxy", default=None,
                      help="Pass the host's proxy variables into the container (default true)")(fn)
    fn = click.option("-q", "--quiet", is_flag=True, help="Suppress pull output")(fn)
    fn = click.option("--kernel-memory", "f_kernel_memory", default=None, hidden=True)(fn)  # a no-op, as Podman
    return fn


def build_options(image: str, command: tuple[str, ...], kw: dict[str, Any]) -> Any:
    """A ``RunOptions`` from the click parameters."""
    from rpod.cli.common import parse_bool_flag
    from rpod.engine.containers_run import check_runtime, run_options

    opts = run_options(image, list(command))
    for key, value in kw.items():
        if not key.startswith("f_") or value is None:
            continue
        fld = key[2:]
        if fld == "kernel_memory":
            from rpod.cli.common import warn

            warn("The --kernel-memory flag is no longer supported. This flag is a noop.")
            continue
        if fld in ("read_only_tmpfs", "http_proxy"):
            value = parse_bool_flag(value, "--" + fld.replace("_", "-"))
        setattr(opts, fld, list(value) if isinstance(value, tuple) else value)
    if opts.runtime:  # crun refuses some hosts rpod's runtime runs on: say so before any work
        check_runtime(opts.runtime)
    return opts


def create_command() -> list[str]:
    """This process's command line as Podman records it (``inspect .Config.CreateCommand``):
    ``rpod`` then the arguments, whether rpod runs as a script or as ``python -m rpod``."""
    argv0 = sys.argv[0] if sys.argv else "rpod"
    base = os.path.basename(argv0)
    return [argv0 if base.startswith("rpod") else "rpod", *sys.argv[1:]]


def systemd_unit_label(opts: Any) -> None:
    """Under a systemd unit (``RPOD_SYSTEMD_UNIT``/``PODMAN_SYSTEMD_UNIT`` set by the unit),
    label the container with the unit's name, as Podman does (``auto-update`` restarts it)."""
    unit = os.environ.get("RPOD_SYSTEMD_UNIT") or os.environ.get("PODMAN_SYSTEMD_UNIT")
    if unit and not any(lbl.startswith("PODMAN_SYSTEMD_UNIT=") for lbl in opts.labels):
        opts.labels.append(f"PODMAN_SYSTEMD_UNIT={unit}")


app = click.Group()


@app.command("run", context_settings=CONTEXT)
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@run_flags
def run_cmd(image: str, command: tuple[str, ...], sig_proxy: str, quiet: bool, **kw: Any) -> None:
    """Run a command in a new container."""
    from rpod.engine import containers_run as engine

    # the monitor's interpreter starts first, while this process parses the flags and writes the bundle
    spawn = engine.spawn_monitor(bool(kw.get("f_detach")), bool(kw.get("f_interactive")), kw.get("f_attach"),
                                 int(kw.get("f_preserve_fds") or 0))
    try:
        from rpod.cli.common import parse_bool_flag

        opts = build_options(image, command, kw)
        systemd_unit_label(opts)
        record = engine.create(opts, create_command=create_command(), cid=spawn.cid, quiet=quiet)
    except BaseException:
        spawn.cancel()
        raise
    if opts.detach:
        engine.start_detached(record, spawn, remove_on_error=bool(opts.rm))
        sys.stdout.write(record.id + "\n")
        _exit_now(0)
    if opts.tty and opts.interactive and not os.isatty(0):  # -it in a script: works, as Podman says
        from rpod.cli.common import warn

        warn("The input device is not a TTY. The --tty and --interactive flags might not work properly")
    code = engine.run_attached(record, opts, sig_proxy=bool(parse_bool_flag(sig_proxy, "--sig-proxy")),
                               remove=opts.rm, spawn=spawn, on_start=_announce_id(record.id, opts.attach))
    if opts.rmi:
        _remove_image(record.image_name or record.image_id)
    _exit_now(code)


def _announce_id(cid: str, attach: list[str]) -> Callable[[], None] | None:
    """``-a stdin`` alone (neither stdout nor stderr attached): print the id once started, as Podman."""
    if not attach or {a.lower() for a in attach} & {"stdout", "stderr"}:
        return None

    def announce() -> None:
        sys.stdout.write(cid + "\n")
        sys.stdout.flush()

    return announce


def _remove_image(image: str) -> None:
    """``--rmi``: after an attached run, remove the container's image; when that fails (other
    containers use it, or this one without ``--rm``), Podman 4.3.1 logs the reason as an error
    and still exits with the container's code."""
    from rpod.cli.common import logrus
    from rpod.engine import images

    for item in images.remove(images.RemoveOptions(names=[image])):
        if item.error is not None:
            logrus("error", str(item.error))


def _exit_now(code: int) -> NoReturn:
    """End ``rpod run`` without the interpreter's teardown of its ~300 modules (5-10 ms on the
    run path): everything it wrote is closed by now (rpod registers no atexit handlers)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


@app.command("create", context_settings=CONTEXT)
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@functools.partial(run_flags, skip=("detach",))  # Podman's create has no -d: "unknown shorthand flag"
def create_cmd(image: str, command: tuple[str, ...], sig_proxy: str, quiet: bool, **kw: Any) -> None:
    """Create but do not start a container."""
    from rpod.engine import containers_run as engine

    opts = build_options(image, command, kw)
    systemd_unit_label(opts)
    record = engine.create(opts, create_command=create_command(), quiet=quiet)
    sys.stdout.write(record.id + "\n")


@app.command("start", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("containers", nargs=-1)
@click.option("-a", "--attach", is_flag=True, help="Attach to the container's output and wait for it")
@click.option("-i", "--interactive", is_flag=True, help="Attach the container's STDIN")
@click.option("--sig-proxy", default="true", help="Proxy signals to the process (with --attach)")
@click.option("--detach-keys", default=None, help="Key sequence that detaches (default ctrl-p,ctrl-q)")
@click.option("--all", "all_", is_flag=True, help="Start all containers regardless of their state or configuration")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output based on conditions given")
def start_cmd(containers: tuple[str, ...], attach: bool, interactive: bool, sig_proxy: str,
              detach_keys: str | None, all_: bool, filters: tuple[str, ...]) -> None:
    """Start one or more containers."""
    code = commands.start(containers, attach, interactive, sig_proxy, detach_keys, all_, filters)
    if code is not None:
        raise click.exceptions.Exit(code)


@app.command("attach", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("container")
@click.option("--detach-keys", default="ctrl-p,ctrl-q", help="Key sequence that detaches")
@click.option("--no-stdin", is_flag=True, help="Do not attach STDIN")
@click.option("--sig-proxy", default="true", help="Proxy signals to the process")
def attach_cmd(container: str, detach_keys: str, no_stdin: bool, sig_proxy: str) -> None:
    """Attach to a running container's stdio (detach with ctrl-p,ctrl-q)."""
    from rpod.engine.containers_run import attach

    raise click.exceptions.Exit(attach(container, detach_keys, not no_stdin))
