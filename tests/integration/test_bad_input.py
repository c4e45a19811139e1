"""Malformed arguments never show a traceback (issue 14): each command line below gets exactly one
``Error:`` line and Podman 4.3.1's exit code, measured with ``podman`` on this machine (the
comment is Podman's message).  Hostile image configs are in test_hostile.py.
"""

from __future__ import annotations

import pytest

from tests.support.rpodcli import RpodEnv, run_rpod

# (argv, Podman 4.3.1's exit code)
CASES: list[tuple[list[str], int]] = [
    (['run', '--rm', '--memory', 'abc', 'alpine', 'true'], 125),  # Error: invalid value for memory: invalid size: 'abc'
    (['run', '--rm', '--cpus', 'x', 'alpine', 'true'], 125),  # Error: invalid argument "x" for "--cpus" flag: strconv.Parse
    (['run', '--rm', '-p', '99999:80', 'alpine', 'true'], 125),  # Error: parsing host port: port numbers must be between 1 and
    (['run', '--rm', '-p', 'abc', 'alpine', 'true'], 125),  # Error: parsing container port: invalid port number: strconv.
    (['run', '--rm', '--name', 'bad/name', 'alpine', 'true'], 125),  # Error: running container create option: names must match [a-
    (['run', '--rm', '--restart', 'bogus', 'alpine', 'true'], 125),  # Error: the --rm option conflicts with --restart, when the re
    (['run', '--rm', '-v', ':', 'alpine', 'true'], 125),  # Error: host directory cannot be empty
    (['run', '--rm', '--ulimit', 'nofile=x', 'alpine', 'true'], 125),  # Error: ulimit option "nofile=x" requires name=SOFT:HARD, fai
    (['run', '--rm', '--pull', 'sometimes', 'alpine', 'true'], 125),  # Error: unsupported pull policy "sometimes"
    (['run', '--rm', '--stop-signal', 'NOPE', 'alpine', 'true'], 125),  # Error: invalid signal: NOPE
    (['run', '--rm', '--health-interval', 'xyz', '--health-cmd', 'true', 'alpine', 'true'], 125),  # Error: invalid healthcheck-interval: time: invalid duration
    (['run', '--rm', '--shm-size', 'lots', 'alpine', 'true'], 125),  # Error: unable to translate --shm-size: invalid size: 'lots'
    (['run', '--rm', '--env-file', '/nonexistent/env', 'alpine', 'true'], 125),  # Error: parsing env file "/nonexistent/env": open /nonexisten
    (['run', '--rm', '--network', 'bogus:x', 'alpine', 'true'], 125),  # Error: invalid option for network bogus: unknown bridge netw
    (['run', '--rm', '--tmpfs', 'relative', 'alpine', 'true'], 125),  # Error: invalid container path "relative", must be an absolut
    (['run', '--rm', '--add-host', 'nocolon', 'alpine', 'true'], 125),  # Error: bad format for add-host: "nocolon"
    (['run', '--rm', '--userns', 'weird', 'alpine', 'true'], 125),  # Error: unrecognized namespace mode weird passed
    (['run', '--rm', '--label', '', 'alpine', 'true'], 125),  # Error: unable to process labels: invalid label format: ""
    (['ps', '--filter', 'bogus=1'], 125),  # Error: bogus is an invalid filter
    (['ps', '--format', '{{'], 125),  # Error: template: ps:1: unexpected "{" in command
    (['ps', '--last', 'x'], 125),  # Error: invalid argument "x" for "-n, --last" flag: strconv.P
    (['images', '--filter', 'nope=1'], 125),  # Error: unsupported image filter "nope"
    (['pull', 'UPPER/Case'], 125),  # Error: repository name must be lowercase
    (['pull', 'a@sha256:xyz'], 125),  # Error: invalid reference format
    (['pull', '127.0.0.1:99999/x'], 125),  # Error: initializing source docker://127.0.0.1:99999/x:latest
    (['tag', 'alpine', 'bad tag'], 125),  # Error: normalizing name "bad tag": normalizing name "bad tag
    (['logs', '--since', 'garbage', 'nosuchctr'], 125),  # Error: parsing --since "garbage": unable to interpret time v
    (['kill', '-s', '999', 'nosuchctr'], 125),  # Error: valid signals are 1 through 64
    (['stop', '-t', 'abc', 'nosuchctr'], 125),  # Error: invalid argument "abc" for "-t, --time" flag: strconv
    (['network', 'create', '--subnet', '300.1.1.0/24', 'n1'], 125),  # Error: invalid CIDR address: 300.1.1.0/24
    (['volume', 'create', 'bad/name'], 125),  # Error: running volume create option: names must match [a-zA-
    (['inspect', '--type', 'bogus', 'x'], 125),  # Error: invalid type "bogus": must be "image", "container", "
    (['cp', 'nosuchctr:/x', '/tmp/x'], 125),  # Error: container "nosuchctr" does not exist
    (['exec'], 125),  # Error: exec requires the name or ID of a container or the --
    (['rmi'], 125),  # Error: image name or ID must be specified
    (['create', '--rm', '-d', 'alpine'], 125),  # Error: unknown shorthand flag: 'd' in -d
    (['port', 'nosuchctr', 'abc'], 125),  # Error: strconv.ParseUint: parsing "abc": invalid syntax
    (['rename', 'nosuchctr', 'bad/name'], 125),  # Error: no container with name or ID "nosuchctr" found: no su
    (['run', '--rm', '-w', 'relative', 'alpine', 'true'], 126),  # Error: workdir "relative" does not exist on container 3ab04a
]


@pytest.mark.parametrize(("argv", "code"), CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_malformed_arguments(module_env: RpodEnv, argv: list[str], code: int) -> None:
    r = run_rpod(module_env, *argv)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    assert len(errors) == 1, r.stderr
    assert r.returncode == code, f"exit {r.returncode}, Podman's is {code}: {r.stderr}"


def test_unknown_log_level(module_env: RpodEnv) -> None:
    """Podman's logrus check is the one error without ``Error:``: exit 1 and its exact line."""
    r = run_rpod(module_env, "--log-level", "nope", "ps")
    assert (r.returncode, r.stderr) == (1, 'Log Level "nope" is not supported, choose from: trace, debug, info, '
                                            "warn, warning, error, fatal, panic\n")
