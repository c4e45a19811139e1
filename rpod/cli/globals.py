"""Podman's global options (``rpod --root X --log-level debug COMMAND``) and cobra's flag syntax.

Each of Podman 4.3.1's global options is accepted here.  What rpod can apply is applied (through
the ``RPOD_*`` environment the rest of rpod and its monitors read); what is only meaningful for
Podman's remote client (``--remote``, ``--url``, ``--connection``) is refused with a clear
``Error:`` line; what selects something rpod does in its own single way (``--conmon``, ``--namespace``,
``--syslog``, ``--network-config-dir``...) is validated and recorded, as docs/decisions.md says.

``--flag=true|false`` on every boolean flag (cobra's syntax: ``--tty=false``, ``-a=false``) is
rewritten before click parses: :func:`bool_values`.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from typing import Any

import click

from rpod.errors import RpodError, UsageError

LOG_LEVELS = ["trace", "debug", "info", "warn", "warning", "error", "fatal", "panic"]
DEFAULT_LOG_LEVEL = "warn"
TRUE_WORDS = {"1", "t", "true"}
FALSE_WORDS = {"0", "f", "false"}


class LogLevelError(RpodError):
    """Podman prints these bare (no ``Error:``) and exits 1."""

    exit_code = 1


def remote_requested() -> bool:
    """``CONTAINER_HOST``/``CONTAINER_CONNECTION`` make Podman hide ``--remote``; rpod does the same."""
    return bool(os.environ.get("CONTAINER_HOST") or os.environ.get("CONTAINER_CONNECTION"))


# (decls, kwargs) of each global option, in Podman's --help order (sorted by long name).
_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("--cgroup-manager",), {"metavar": "string", "help": 'Cgroup manager to use ("cgroupfs"|"systemd")'}),
    (("--config",), {"hidden": True, "help": "Ignored for Docker compatibility"}),
    (("--conmon",), {"metavar": "string", "help": "Path of the conmon binary (rpod's monitor replaces conmon)"}),
    (("--connection", "-c"), {"metavar": "string", "help": "Connection to use for remote Podman service"}),
    (("--context",), {"hidden": True, "default": "default", "help": "Ignored (Docker compatibility)"}),
    (("--cpu-profile",), {"hidden": True, "help": "Path for the cpu-profiling results"}),
    (("--debug", "-D"), {"is_flag": True, "hidden": True, "help": "Docker compatibility, force setting of log-level"}),
    (("--default-mounts-file",), {"hidden": True, "help": "Path to default mounts file"}),
    (("--events-backend",), {"metavar": "string", "help": 'Events backend to use ("file"|"none") (default "file")'}),
    (("--hooks-dir",), {"metavar": "strings", "multiple": True,
                        "help": "Set the OCI hooks directory path (may be set multiple times)"}),
    (("--host", "-H"), {"hidden": True, "help": "Used for Docker compatibility"}),
    (("--identity",), {"metavar": "string", "help": "path to SSH identity file, (CONTAINER_SSHKEY)"}),
    (("--log-level",), {"metavar": "string", "default": DEFAULT_LOG_LEVEL,
                        "help": f"Log messages above specified level ({', '.join(LOG_LEVELS)}) (default \"warn\")"}),
    (("--max-workers",), {"hidden": True, "type": int, "help": "The maximum number of workers for parallel operations"}),
    (("--memory-profile",), {"hidden": True, "help": "Path for the memory-profiling results"}),
    (("--namespace",), {"metavar": "string", "help": "Set the libpod namespace (accepted; rpod has one view)"}),
    (("--network-backend",), {"hidden": True, "help": 'Network backend to use ("cni"|"netavark")'}),
    (("--network-cmd-path",), {"metavar": "string", "help": "Path to the command for configuring the network"}),
    (("--network-config-dir",), {"metavar": "string", "help": "Path of the configuration directory for networks"}),
    (("--noout",), {"is_flag": True, "help": "do not output to stdout"}),
    (("--registries-conf",), {"hidden": True, "help": "Path to a registries.conf to use for image processing"}),
    (("--remote", "-r"), {"is_flag": True, "help": "Access remote Podman service (not supported: rpod is local)"}),
    (("--root", "root_dir"), {"metavar": "string",
                              "help": "Path to the root directory in which data, including images, is stored"}),
    (("--runroot",), {"metavar": "string", "help": "Path to the 'run directory' where all state information is stored"}),
    (("--runtime",), {"metavar": "string", "help": "Path to the OCI-compatible binary used to run containers. "
                                                  "(default \"rpod\": the built-in runtime)"}),
    (("--runtime-flag",), {"metavar": "stringArray", "multiple": True, "help": "add global flags for the container runtime"}),
    (("--ssh",), {"metavar": "string", "default": "golang", "help": "define the ssh mode"}),
    (("--storage-driver",), {"metavar": "string",
                             "help": "Select which storage driver is used to manage storage of images and containers"}),
    (("--storage-opt",), {"metavar": "stringArray", "multiple": True, "help": "Used to pass an option to the storage driver"}),
    (("--syslog",), {"is_flag": True, "help": "Output logging information to syslog as well as the console (default false)"}),
    (("--tmpdir",), {"metavar": "string", "help": "Path to the tmp directory for libpod state content."}),
    (("--trace",), {"is_flag": True, "hidden": True, "help": "Enable opentracing output (default false)"}),
    (("--url",), {"metavar": "string", "help": "URL to access Podman service (CONTAINER_HOST)"}),
    (("--volumepath",), {"metavar": "string", "help": "Path to the volume directory in which volume data is stored"}),
]

STORAGE_DRIVERS = ("overlay", "vfs")


def global_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate the root command with every global option (click lists them in this order)."""
    for decls, kwargs in reversed(_OPTIONS):
        f = click.option(*decls, **kwargs)(f)
    return f


def _set(name: str, value: str | None) -> None:
    if value:
        os.environ[name] = value


def _log_level(level: str, debug: bool) -> str:
    if debug:
        if level != DEFAULT_LOG_LEVEL:
            raise LogLevelError("Setting --log-level and --debug is not allowed")
        level = "debug"
    if level.lower() not in LOG_LEVELS:
        raise LogLevelError(f'Log Level "{level}" is not supported, choose from: {", ".join(LOG_LEVELS)}')
    return level.lower()


def _runtime(runtime: str | None, flags: tuple[str, ...]) -> None:
    """``--runtime``/``--runtime-flag``: the argv prefix rpod's monitor runs containers with."""
    argv: list[str] = []
    if runtime and runtime != "rpod":
        found = shutil.which(runtime)
        if not found:
            raise UsageError(f'default OCI runtime "{runtime}" not found: invalid argument')
        argv.append(found)
    if flags:
        if not argv:  # the built-in runtime has no global flags: fail where the runtime would (126)
            os.environ["RPOD_RUNTIME_FLAGS"] = " ".join(flags)
            return
        argv += [f if f.startswith("-") else ("--" + f if len(f.split("=")[0]) > 1 else "-" + f) for f in flags]
    if argv:
        os.environ["RPOD_OCI_RUNTIME"] = " ".join(argv)


def _conf_runtime() -> str | None:
    """``[engine] runtime`` of the file ``CONTAINERS_CONF`` names (read only when it is set)."""
    path = os.environ.get("CONTAINERS_CONF")
    if not path:
        return None
    import tomllib

    try:
        with open(path, "rb") as f:
            value = tomllib.load(f).get("engine", {}).get("runtime")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return value if isinstance(value, str) and value else None


def apply_log_level(level: str, debug: bool = False) -> str:
    """``--log-level``/``--debug`` (also where Podman's persistent flag follows a subcommand)."""
    level = _log_level(level, debug)
    os.environ["RPOD_LOG_LEVEL"] = {"warning": "warn", "trace": "debug", "fatal": "error", "panic": "error"}.get(
        level, level)
    if level in ("trace", "debug", "info"):  # Podman's first log line at these levels
        from rpod.cli.common import logrus

        logrus("info", f"{sys.argv[0]} filtering at log level {level}")
    if level == "trace":  # the finest level: what rpod was asked, word for word
        logrus("trace", f"Command line: {sys.argv!r}")
    return level


def apply(opts: dict[str, Any]) -> None:
    """Check the global options and hand what applies to the rest of rpod (through the environment)."""
    level = apply_log_level(opts["log_level"], opts["debug"])
    if opts["remote"] or opts["url"] or opts["host"] or opts["connection"]:
        raise UsageError("rpod has no remote mode (--remote, --url, --connection): it runs containers of the "
                         "local user only; run rpod on the machine itself (e.g. over ssh)")
    if opts["config"]:
        from rpod.cli.common import warn

        warn("The --config flag is ignored by Podman. Exists for Docker compatibility")
    _set("RPOD_ROOT", opts["root_dir"])
    _set("RPOD_RUNROOT", opts["runroot"])
    _set("RPOD_VOLUME_PATH", opts["volumepath"])
    _set("RPOD_TMPDIR", opts["tmpdir"])
    _set("RPOD_REGISTRIES_CONF", opts["registries_conf"])
    _set("RPOD_NETWORK_CMD_PATH", opts["network_cmd_path"])
    _set("RPOD_DEFAULT_MOUNTS_FILE", opts["default_mounts_file"])
    if opts["hooks_dir"]:
        os.environ["RPOD_HOOKS_DIR"] = ":".join(opts["hooks_dir"])
    events = opts["events_backend"]
    if events is not None:
        if events not in ("file", "journald", "none"):
            raise UsageError(f'configuring runtime: "{events}" is not a valid events backend: invalid argument')
        # journald events are not written by rpod: they go to the file, which `rpod events` reads
        os.environ["RPOD_EVENTS_BACKEND"] = "none" if events == "none" else "file"
    cgm = opts["cgroup_manager"]
    if cgm is not None and cgm not in ("cgroupfs", "systemd"):
        raise UsageError("configuring runtime: cgroup manager must be one of cgroupfs and systemd: invalid argument")
    _set("RPOD_CGROUP_MANAGER", cgm)
    driver = opts["storage_driver"]
    if driver is not None and driver not in STORAGE_DRIVERS:
        raise UsageError(f'unsupported storage driver "{driver}": rpod stores layers as directories shared '
                         f"through overlay (choose from: {', '.join(STORAGE_DRIVERS)})")
    _set("RPOD_STORAGE_DRIVER", driver)
    opts_ = [o for o in opts["storage_opt"] if o]
    if opts_:
        os.environ["RPOD_STORAGE_OPTS"] = ",".join(opts_)
    if opts["network_cmd_path"] and not os.access(opts["network_cmd_path"], os.X_OK):
        raise UsageError(f"network command path {opts['network_cmd_path']!r} is not an executable file")
    _runtime(opts["runtime"] or _conf_runtime(), opts["runtime_flag"])
    if level in ("trace", "debug"):  # what Podman's runtime start-up logs at debug level
        from rpod.cli.common import logrus
        from rpod.engine.types import store

        p = store()
        logrus("debug", f"Using graph root {p.root}")
        logrus("debug", f"Using run root {p.runroot}")
        logrus("debug", f"Using volume path {p.volumes}")
    if opts["noout"]:
        _silence_stdout()


def _silence_stdout() -> None:
    """``--noout``: rpod's own output goes nowhere; a container's output (its own fds) still shows."""
    sys.stdout.flush()
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process


# ---- cobra's --flag=true|false ---------------------------------------------------------------------

def _opt_maps(cmd: click.Command) -> tuple[dict[str, click.Option], set[str]]:
    """Boolean flags by option string, and the option strings that take a value."""
    flags: dict[str, click.Option] = {}
    takes_value: set[str] = set()
    for p in cmd.params:
        if not isinstance(p, click.Option):
            continue
        if p.is_flag and getattr(p, "is_bool_flag", False) and not p.count:
            for o in p.opts + p.secondary_opts:
                flags[o] = p
        elif not p.is_flag and not p.count:
            takes_value.update(p.opts + p.secondary_opts)
    return flags, takes_value


def _rewrite(tok: str, flags: dict[str, click.Option]) -> list[str] | None:
    """``--tty=false`` → ``[]`` / ``--no-tty``; ``--tty=true`` → ``--tty``; None: not a bool flag."""
    name, _, value = tok.partition("=")
    p = flags.get(name)
    if p is None:
        return None
    v = value.lower()
    positive = name in p.opts
    if v in TRUE_WORDS:
        want = positive
    elif v in FALSE_WORDS:
        want = not positive
    else:
        shown = ", ".join(sorted(p.opts, key=lambda o: o.startswith("--")))  # pflag's "-t, --tty"
        raise UsageError(f'invalid argument "{value}" for "{shown}" flag: strconv.ParseBool: parsing '
                         f'"{value}": invalid syntax')
    on = p.opts[0]
    off = p.secondary_opts[0] if p.secondary_opts else None
    if want:
        return [on]
    if off:
        return [off]
    return [tok] if p.default is True else []  # a default-true flag without a --no- form: leave it to click


def bool_values(cmd: click.Command, args: list[str], stop_at_positional: bool) -> list[str]:
    """Rewrite cobra-style ``--flag=BOOL`` tokens of ``cmd``'s own options into click's syntax."""
    if not any("=" in a for a in args):
        return args
    flags, takes_value = _opt_maps(cmd)
    out: list[str] = []
    i = 0
    while i < len(args):
        tok = args[i]
        if tok == "--":
            return out + args[i:]
        if not tok.startswith("-") or tok == "-":
            if stop_at_positional:
                return out + args[i:]
            out.append(tok)
            i += 1
            continue
        if tok.endswith("=") and tok[:-1] in takes_value:  # ``--storage-opt=``: an empty value, not the next word
            out += [tok[:-1], ""]
        elif "=" in tok:
            new = _rewrite(tok, flags)
            out.extend([tok] if new is None else new)
        else:
            out.append(tok)
            value_next = tok in takes_value or (not tok.startswith("--") and f"-{tok[-1]}" in takes_value)
            if value_next and i + 1 < len(args):
                out.append(args[i + 1])
                i += 1
        i += 1
    return out
