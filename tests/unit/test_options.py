"""RunOptions flag parsers: environment precedence, sizes, signals, ulimits, user, entrypoint."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from rpod.container.options import (
    RLIM_INFINITY,
    RunOptions,
    normalize_cap,
    parse_entrypoint,
    parse_env,
    parse_memory,
    parse_signal,
    parse_ulimit,
    parse_umask,
    parse_user,
    security_options,
)
from rpod.errors import EXIT_ENGINE, UsageError

HOST = {"HOSTVAR": "h", "FOO": "host-foo", "GITHUB_TOKEN": "t", "GITHUB_SHA": "s", "PATH": "/host/bin"}


def test_env_precedence_image_host_file_flag(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# comment\n\nFOO=from-file\nFILEONLY=1\nHOSTVAR\n")
    out = parse_env(["FOO=from-flag", "NEW=x"], [str(env_file)], True,
                    ["PATH=/img/bin", "FOO=from-image", "IMG=1"], HOST)
    d = dict(e.split("=", 1) for e in out)
    assert d["FOO"] == "from-flag"
    assert d["IMG"] == "1"
    assert d["PATH"] == "/host/bin"  # --env-host beats the image
    assert d["FILEONLY"] == "1" and d["HOSTVAR"] == "h" and d["NEW"] == "x"
    # first-appearance order is kept: image keys come first
    assert out[:3] == ["PATH=/host/bin", "FOO=from-flag", "IMG=1"]


def test_env_file_beats_image_but_not_flag(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("A=file\nB=file\n")
    out = parse_env(["B=flag"], [str(env_file)], False, ["A=img", "B=img"], HOST)
    assert out == ["A=file", "B=flag"]


def test_env_bare_name_copies_host_value_or_drops_it() -> None:
    assert parse_env(["FOO", "UNSET_IN_HOST"], [], False, [], HOST) == ["FOO=host-foo"]


def test_env_wildcard_copies_matching_host_variables() -> None:
    assert sorted(parse_env(["GITHUB_*"], [], False, [], HOST)) == ["GITHUB_SHA=s", "GITHUB_TOKEN=t"]


def test_env_value_may_contain_equals_and_be_empty() -> None:
    assert parse_env(["A=b=c", "E="], [], False, [], HOST) == ["A=b=c", "E="]


def test_env_errors() -> None:
    with pytest.raises(UsageError) as e:
        parse_env(["=x"], [], False, [], HOST)
    assert e.value.exit_code == EXIT_ENGINE
    with pytest.raises(UsageError, match="cannot read --env-file"):
        parse_env([], ["/nonexistent/env"], False, [], HOST)


@pytest.mark.parametrize(("text", "size"), [
    ("512m", 512 * 1024**2), ("1g", 1024**3), ("1G", 1024**3), ("64MiB", 64 * 1024**2), ("100", 100),
    ("10k", 10240), ("1.5g", int(1.5 * 1024**3)), ("7b", 7), ("2mb", 2 * 1024**2),
])
def test_parse_memory(text: str, size: int) -> None:
    assert parse_memory(text) == size


@pytest.mark.parametrize("bad", ["", "m", "12x", "-1m", "1 g g"])
def test_parse_memory_rejects(bad: str) -> None:
    with pytest.raises(UsageError, match="invalid size"):
        parse_memory(bad)


@pytest.mark.parametrize(("text", "num"), [
    ("SIGTERM", 15), ("TERM", 15), ("term", 15), ("9", 9), ("SIGKILL", 9), ("HUP", 1), ("sigusr1", 10),
    ("RTMIN", int(signal.SIGRTMIN)), ("SIGRTMIN+3", int(signal.SIGRTMIN) + 3), ("RTMAX-1", int(signal.SIGRTMAX) - 1),
])
def test_parse_signal(text: str, num: int) -> None:
    assert parse_signal(text) == num


@pytest.mark.parametrize("bad", ["SIGFOO", "0", "RTMAX+1", "", "SIG", "%%"])
def test_parse_signal_rejects(bad: str) -> None:
    with pytest.raises(UsageError, match="invalid signal") as e:
        parse_signal(bad)
    assert str(e.value.args[0]) == f"invalid signal: {bad}" and not e.value.hint  # Podman's exact line


def test_parse_signal_out_of_range() -> None:
    with pytest.raises(UsageError, match=f"^valid signals are 1 through {int(signal.SIGRTMAX)}$"):
        parse_signal("99")


def test_parse_ulimit() -> None:
    assert parse_ulimit("nofile=1024:2048") == ("RLIMIT_NOFILE", 1024, 2048)
    assert parse_ulimit("nproc=50") == ("RLIMIT_NPROC", 50, 50)
    assert parse_ulimit("core=-1") == ("RLIMIT_CORE", RLIM_INFINITY, RLIM_INFINITY)
    assert parse_ulimit("memlock=unlimited:unlimited")[1] == RLIM_INFINITY
    for bad in ("nofile", "bogus=1", "nofile=a", "nofile=10:5"):
        with pytest.raises(UsageError, match="--ulimit"):
            parse_ulimit(bad)


def test_parse_user() -> None:
    assert parse_user(None) == ("", None)
    assert parse_user("1000") == ("1000", None)
    assert parse_user("1000:50") == ("1000", "50")
    assert parse_user("nobody:nogroup") == ("nobody", "nogroup")
    for bad in (":1", "a:"):
        with pytest.raises(UsageError, match="invalid --user"):
            parse_user(bad)


def test_parse_entrypoint() -> None:
    assert parse_entrypoint(None) is None
    assert parse_entrypoint("") == []
    assert parse_entrypoint("tail") == ["tail"]
    assert parse_entrypoint("/bin/sh -c") == ["/bin/sh -c"]  # one word, as Podman
    assert parse_entrypoint('["/bin/sh", "-c"]') == ["/bin/sh", "-c"]
    assert parse_entrypoint("[not json") == ["[not json"]


def test_parse_umask() -> None:
    assert parse_umask("0022") == 0o22
    assert parse_umask("077") == 0o77
    with pytest.raises(UsageError):
        parse_umask("999")


def test_caps_normalized() -> None:
    assert normalize_cap("net_admin") == "CAP_NET_ADMIN"
    assert normalize_cap("CAP_SYS_ADMIN") == "CAP_SYS_ADMIN"
    assert normalize_cap("all") == "ALL"
    with pytest.raises(UsageError, match="unknown capability"):
        normalize_cap("CAP_FLY")


def test_security_options() -> None:
    s = security_options(["no-new-privileges", "seccomp=unconfined", "label=disable",
                          "mask=/proc/a:/proc/b", "unmask=/proc/kcore"])
    assert s.no_new_privileges and s.seccomp == "unconfined" and s.label_disable
    assert s.mask == ["/proc/a", "/proc/b"] and s.unmask == ["/proc/kcore"]
    assert security_options(["no-new-privileges=false"]).no_new_privileges is False
    assert security_options(["seccomp:unconfined"]).seccomp == "unconfined"
    for bad in ("bogus", "mask=relative", "seccomp=", "no-new-privileges=maybe"):
        with pytest.raises(UsageError):
            security_options([bad])


def test_validate_reports_bad_flags() -> None:
    RunOptions(image="a", pull="never", ulimit=["nofile=5"], memory="1g", stop_signal="KILL").validate()
    for kwargs in ({"pull": "sometimes"}, {"rm": True, "restart": "always"}, {"cap_add": ["NOPE"]},
                   {"memory": "lots"}, {"stop_signal": "SIGNOPE"}, {"cpus": 0.0},
                   {"sysctl": ["net.ipv4.ip_forward"]}, {"security_opt": ["x=y"]}):
        with pytest.raises(UsageError) as e:
            RunOptions(image="a", **kwargs).validate()  # type: ignore[arg-type]
        assert e.value.exit_code == 125


def test_parse_userns() -> None:
    from rpod.container.options import UsernsMode, parse_userns

    assert parse_userns("") == UsernsMode()
    assert parse_userns("host") == UsernsMode("host")
    assert parse_userns("keep-id:uid=1000,gid=100") == UsernsMode("keep-id", 1000, 100)
    assert parse_userns("auto:size=500") == UsernsMode("auto", size=500)
    for bad in ("bogus", "keep-id:uid=x", "keep-id:size=5", "host:uid=1"):
        with pytest.raises(UsageError, match="--userns"):
            parse_userns(bad)


def test_parse_idmap_network_restart() -> None:
    from rpod.container.options import parse_idmap, parse_network, parse_restart

    assert parse_idmap("0:1:65536") == {"containerID": 0, "hostID": 1, "size": 65536}
    for bad in ("0:1", "a:b:c", "0:1:0"):
        with pytest.raises(UsageError, match="invalid id mapping"):
            parse_idmap(bad)
    assert parse_network("slirp4netns:port_handler=slirp4netns") == ("slirp4netns", "port_handler=slirp4netns")
    assert parse_network("ns:/run/netns/x") == ("ns", "/run/netns/x")
    assert parse_network("appnet,other") == ("bridge", "appnet,other")  # user-defined networks
    for bad in ("bad name!", "ns:relative"):
        with pytest.raises(UsageError, match="--network"):
            parse_network(bad)
    assert parse_restart("on-failure:3") == ("on-failure", 3)
    assert parse_restart("always") == ("always", 0)
    for bad in ("sometimes", "always:3", "on-failure:x"):
        with pytest.raises(UsageError, match="--restart"):
            parse_restart(bad)


def test_validate_choices() -> None:
    for kwargs in ({"sdnotify": "maybe"}, {"systemd": "yes"}, {"health_on_failure": "panic"},
                   {"log_driver": "syslog"}, {"uidmap": ["1:2"]}, {"network": "we ird"}, {"userns": "x"}):
        with pytest.raises(UsageError):
            RunOptions(image="a", **kwargs).validate()  # type: ignore[arg-type]
