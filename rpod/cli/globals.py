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

from collections.abc import Callable
from typing import Any

import click

from rpod.cli.startup import (  # noqa: F401 - re-exported (rpod.cli.app, system service, tests)
    DEFAULT_LOG_LEVEL,
    FALSE_WORDS,
    LOG_LEVELS,
    STORAGE_DRIVERS,
    TRUE_WORDS,
    BoolFlags,
    LogLevelError,
    apply,
    apply_log_level,
    remote_requested,
)
from rpod.cli.startup import bool_values as _bool_values

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

def global_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate the root command with every global option (click lists them in this order)."""
    for decls, kwargs in reversed(_OPTIONS):
        f = click.option(*decls, **kwargs)(f)
    return f


# ---- cobra's --flag=true|false ---------------------------------------------------------------------

def _opt_maps(cmd: click.Command) -> tuple[BoolFlags, set[str]]:
    """Boolean flags by option string (see rpod.cli.startup.BoolFlags), and the option strings that take a value."""
    flags: BoolFlags = {}
    takes_value: set[str] = set()
    for p in cmd.params:
        if not isinstance(p, click.Option):
            continue
        if p.is_flag and getattr(p, "is_bool_flag", False) and not p.count:
            off = p.secondary_opts[0] if p.secondary_opts else None
            shown = ", ".join(sorted(p.opts, key=lambda o: o.startswith("--")))  # pflag's "-t, --tty"
            for o in p.opts + p.secondary_opts:
                flags[o] = (o in p.opts, p.opts[0], off, p.default is True, shown)
        elif not p.is_flag and not p.count:
            takes_value.update(p.opts + p.secondary_opts)
    return flags, takes_value


def bool_values(cmd: click.Command, args: list[str], stop_at_positional: bool) -> list[str]:
    """Rewrite cobra-style ``--flag=BOOL`` tokens of ``cmd``'s own options into click's syntax."""
    if not any("=" in a for a in args):
        return args
    flags, takes_value = _opt_maps(cmd)
    return _bool_values(args, flags, takes_value, stop_at_positional)
