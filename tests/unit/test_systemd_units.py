"""Pure parts of the systemd integration: escaping, Podman's line breaks, the create-command
rewrite of ``generate systemd --new``, restart policies, Quadlet parsing and conversion."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rpod.cli.generate import run_flag_takes_value
from rpod.errors import UsageError
from rpod.systemd import quadlet
from rpod.systemd.generate import GenerateOptions, new_run_command, restart_lines
from rpod.systemd.unitfile import escape_arg, format_command


@pytest.mark.parametrize(("arg", "out"), [
    ("plain", "plain"), ("a b", '"a b"'), ("$HOME", "$$HOME"), ("100%", "100%%"),
    ('["/bin/sh","-c"]', '"[\\"/bin/sh\\",\\"-c\\"]"'), ("a\\b", '"a\\\\b"'), ("", '""'), ("it's", '"it\'s"'),
])
def test_escape_arg(arg: str, out: str) -> None:
    assert escape_arg(arg) == out


def test_format_command_breaks_before_flags() -> None:
    assert format_command(["/x/rpod", "run", "--name", "web", "-e", "A=b", "img", "sleep", "1"]) == \
        "/x/rpod run \\\n\t--name web \\\n\t-e A=b img sleep 1"


def rec(*cc: str, restart: str = "") -> SimpleNamespace:
    return SimpleNamespace(name="web", id="c" * 64, create_command=list(cc), options=SimpleNamespace(restart=restart),
                           stop_timeout=10)


def test_new_run_command_drops_and_adds_like_podman() -> None:
    words = new_run_command(rec("rpod", "--root", "/r", "run", "-d", "--rm", "--cidfile", "/x", "--restart=always",
                                "--name", "web", "-p", "80:80", "img", "sh", "-c", "echo -d"), run_flag_takes_value)
    assert words == ["--root", "/r", "run", "--cidfile=%t/%n.ctr-id", "--cgroups=no-conmon", "--rm",
                     "--sdnotify=conmon", "-d", "--replace", "--name", "web", "-p", "80:80", "img", "sh", "-c",
                     '"echo -d"']
    words = new_run_command(rec("rpod", "container", "create", "-dti", "--sdnotify=container", "--replace",
                                "img"), run_flag_takes_value)
    assert words == ["container", "run", "--cidfile=%t/%n.ctr-id", "--cgroups=no-conmon", "--rm", "-dti",
                     "--sdnotify=container", "--replace", "img"]
    with pytest.raises(UsageError, match="no recorded create command"):
        new_run_command(rec(), run_flag_takes_value)


@pytest.mark.parametrize(("policy", "new", "flag", "lines"), [
    ("always", True, None, ["Restart=always"]), ("unless-stopped", True, None, ["Restart=always"]),
    ("on-failure:3", True, None, ["Restart=on-failure", "StartLimitBurst=3"]), ("no", True, None, ["Restart=no"]),
    ("always", False, None, ["Restart=on-failure"]), ("always", True, "on-abort", ["Restart=on-abort"]),
])
def test_restart_lines(policy: str, new: bool, flag: str | None, lines: list[str]) -> None:
    assert restart_lines(rec(restart=policy), GenerateOptions(new=new, restart_policy=flag)) == lines


def test_quadlet_parse_continuations_comments_and_errors() -> None:
    unit = quadlet.parse_unit("# c\n[Container]\nImage=a\\\n  b\n; x\nLabel=x=1\nLabel=y=2\n", "/q/a.container")
    assert unit.values("Container", "Label") == ["x=1", "y=2"]
    assert unit.last("Container", "Image") == "a b"
    with pytest.raises(quadlet.QuadletError, match="/q/b.container:1: key 'Image' outside of any section"):
        quadlet.parse_unit("Image=x\n", "/q/b.container")
    with pytest.raises(quadlet.QuadletError, match="/q/c.container:2: expected Key=Value"):
        quadlet.parse_unit("[Container]\nnonsense\n", "/q/c.container")


def test_quadlet_container_conversion() -> None:
    svc = quadlet.convert("/q/web.container", "[Container]\nImage=img\nUser=1\nGroup=2\nNotify=yes\n"
                          "Network=net.network\nPodmanArgs=--pids-limit 5\nExec=sleep 100%\n")
    assert svc.filename == "web.service"
    start = next(ln for ln in svc.text.splitlines() if ln.startswith("ExecStart="))
    assert "--sdnotify=container -d --network systemd-net --user 1:2 --pids-limit 5 img sleep 100%" in start
    assert "Requires=net-network.service\n" in svc.text
    with pytest.raises(quadlet.QuadletError, match="key Group needs User too"):
        quadlet.convert("/q/g.container", "[Container]\nImage=img\nGroup=2\n")
    with pytest.raises(quadlet.QuadletError, match="AutoUpdate: 'sometimes'"):
        quadlet.convert("/q/g.container", "[Container]\nImage=img\nAutoUpdate=sometimes\n")


def test_quadlet_volume_and_network_names() -> None:
    vol = quadlet.convert("/q/data.volume", "[Volume]\nUser=1000\nGroup=1000\nOptions=size=1m\nCopy=false\n")
    assert vol.filename == "data-volume.service"
    assert "volume create --ignore --opt nocopy --opt o=uid=1000,gid=1000,size=1m systemd-data" in vol.text
    net = quadlet.convert("/q/n.network", "[Network]\nNetworkName=custom\nIPv6=true\n[Install]\nWantedBy=x.target\n")
    assert "network create --ignore --ipv6 custom" in net.text and net.links == [("x.target.wants", "n-network.service")]


def test_quadlet_remap_users() -> None:
    svc = quadlet.convert("/q/r.container", "[Container]\nImage=img\nRemapUsers=manual\nRemapUid=0:1:10\n"
                          "RemapGid=0:1:10\n")
    assert "--uidmap 0:1:10 --gidmap 0:1:10 img" in svc.text
    assert "--userns=keep-id" in quadlet.convert("/q/k.container", "[Container]\nImage=i\nRemapUsers=keep-id\n").text
    with pytest.raises(quadlet.QuadletError, match="RemapUid needs RemapUsers=manual"):
        quadlet.convert("/q/x.container", "[Container]\nImage=i\nRemapUid=0:1:1\n")


def test_template_names_one_container_per_instance() -> None:
    words = new_run_command(rec("rpod", "create", "--name=web", "img", "--name", "x"), run_flag_takes_value,
                            template=True)
    assert words[-4:] == ["--name=web-%i", "img", "--name", "x"]


def test_quadlet_relative_paths_are_relative_to_the_unit_file() -> None:
    svc = quadlet.convert("/q/d/a.container", "[Container]\nImage=i\nVolume=./conf:/etc/x:ro\nVolume=named:/v\n"
                          "Volume=%h/data:/d\nEnvironmentFile=env/a.env\n")
    assert "-v /q/d/conf:/etc/x:ro -v named:/v -v %h/data:/d --env-file /q/d/env/a.env i" in svc.text


def test_quadlet_keys_map_to_flags_rpod_run_has() -> None:
    from rpod.cli.run import RUN_FLAGS

    names = {n for ns, _f, _k, _h in RUN_FLAGS for n in ns}
    for key, flag in {**quadlet.CONTAINER_FLAGS, **quadlet.CONTAINER_BOOLS}.items():
        assert flag.split("=")[0] in names, (key, flag)
    svc = quadlet.convert("/q/t.container", "[Container]\nImage=i\nVolatileTmp=yes\nReadOnlyTmpfs=no\n")
    assert "--tmpfs=/tmp:rw,size=512M,mode=1777 --read-only-tmpfs=false i" in svc.text
