"""``generate systemd POD``: a unit for the pod (its infra container) and one per member, as
Podman 4.3.1 writes them: members ``BindsTo=``/``After=`` the pod unit, which ``Wants=``/``Before=``
them.  Without ``--new`` the units start and stop the existing containers; with ``--new`` the pod
unit creates the pod (``pod create --infra-conmon-pidfile %t/UNIT.pid --pod-id-file
%t/UNIT.pod-id --exit-policy=stop --replace``) and the members run with ``--pod-id-file``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rpod.errors import UsageError
from rpod.systemd.generate import (
    GenerateOptions,
    Unit,
    _header,
    _service_head,
    _unit_section,
    escape_arg,
    format_command,
    generate,
    root_flags,
    rpod_executable,
    runroot_for_unit,
)

_POD_OWN = {"--replace": False, "--pod-id-file": True, "--infra-conmon-pidfile": True, "--exit-policy": True}


def generate_pod(paths: Any, pod: Any, members: list[Any], infra: Any, opts: GenerateOptions,
                 takes_value: Callable[[str], bool], pod_takes_value: Callable[[str], bool],
                 pod_prefix: str = "pod") -> list[Unit]:
    """The members' units, then the pod's (Podman's order)."""
    if infra is None:
        raise UsageError(f"pod {pod.id} has no infra container: generating systemd units needs one")
    if not members:
        raise UsageError(f"pod {pod.id} has no containers other than its infra container")
    if opts.template:
        raise UsageError("--template is not supported for pods")
    pod_name = f"{pod_prefix}{opts.separator}{pod.name if opts.use_name else pod.id}"
    units = []
    for rec in members:
        u = generate(paths, rec, opts, takes_value)
        text = re.sub(r"(RequiresMountsFor=[^\n]*\n)", rf"\1BindsTo={pod_name}.service\nAfter={pod_name}.service\n",
                      u.text, count=1)
        if opts.new:
            text = re.sub(r"--pod(?:=| )\S+", f"--pod-id-file %t/{pod_name}.pod-id", text)
        units.append(Unit(u.name, text))
    timeout = opts.stop_timeout if opts.stop_timeout is not None else int(infra.stop_timeout)
    exe = [escape_arg(w) for w in rpod_executable()]
    deps = [f"Wants={u.name}.service" for u in units] + [f"Before={u.name}.service" for u in units]
    head = _service_head(infra, timeout, opts)
    if opts.new:
        base = [*exe, *[escape_arg(w) for w in root_flags(paths)]]
        idf = f"%t/{pod_name}.pod-id"
        body = head + [
            "ExecStartPre=" + format_command(["/bin/rm", f"-f %t/{pod_name}.pid {idf}"]),
            "ExecStartPre=" + format_command(base + ["pod", "create", *pod_create_words(pod, pod_takes_value,
                                                                                       pod_name)]),
            "ExecStart=" + format_command(base + ["pod", "start", f"--pod-id-file {idf}"]),
            "ExecStop=" + format_command(base + ["pod", "stop", "--ignore", f"--pod-id-file {idf} ", f"-t {timeout}"]),
            "ExecStopPost=" + format_command(base + ["pod", "rm", "--ignore", "-f", f"--pod-id-file {idf}"]),
            f"PIDFile=%t/{pod_name}.pid", "Type=forking",
        ]
        mounts = runroot_for_unit(paths)
    else:
        from rootless.ctrfiles import MONITOR_PIDFILE
        from rpod.container.state import ContainerStore

        base = exe + [escape_arg(w) for w in root_flags(paths)]
        stop = " ".join(base) + f" stop  \\\n\t-t {timeout} {infra.name}"
        body = head + [f"ExecStart={' '.join(base)} start {infra.name}", f"ExecStop={stop}", f"ExecStopPost={stop}",
                       f"PIDFile={ContainerStore(paths).dir(infra.id) / MONITOR_PIDFILE}", "Type=forking"]
        mounts = str(paths.runroot)
    unit_sec = _unit_section(pod_name, mounts, opts).rstrip("\n") + "\n" + "\n".join(deps) + "\n\n"
    text = _header(pod_name, opts) + unit_sec + "\n".join(body) + "\n\n[Install]\nWantedBy=default.target\n"
    return [*units, Unit(pod_name, text)]


def pod_create_words(pod: Any, takes_value: Callable[[str], bool], unit: str) -> list[str]:
    """The pod's recorded ``pod create`` flags without the ones the unit sets, after the unit's own."""
    cc = list(pod.create_command or [])
    try:
        i = next(k for k in range(len(cc) - 1) if cc[k] == "pod" and cc[k + 1] == "create") + 2
    except StopIteration:
        raise UsageError(f"pod {pod.name} has no recorded create command, which --new needs") from None
    words, kept, j = cc[i:], [], 0
    has_name = False
    while j < len(words):
        w = words[j]
        flag, eq, _ = w.partition("=")
        consumes = w.startswith("-") and not eq and takes_value(flag)
        if flag in _POD_OWN:
            j += 2 if consumes else 1
            continue
        if flag in ("--name", "-n"):
            has_name = True
        if not w.startswith("-"):  # the positional name
            has_name = True
            kept.append(f"--name {escape_arg(w)}")
            j += 1
            continue
        if consumes and j + 1 < len(words):
            kept.append(f"{escape_arg(w)} {escape_arg(words[j + 1])}")
            j += 1
        else:
            kept.append(escape_arg(w))
        j += 1
    if not has_name:
        kept.append(f"--name {escape_arg(pod.name)}")
    own = [f"--infra-conmon-pidfile %t/{unit}.pid", f"--pod-id-file %t/{unit}.pod-id", "--exit-policy=stop"]
    return own + kept + ["--replace"]
