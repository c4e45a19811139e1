"""build_spec: golden spec for the default case, then one flag family per test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rpod.container import ocispec
from rpod.container.ocispec import DEFAULT_CAPS, OverlayInfo, SpecContext, build_spec
from rpod.container.options import RLIM_INFINITY, RunOptions
from rpod.container.seccomp import default_template, profile_for, resolve_profile
from rpod.container.users import layer_lookup
from rpod.errors import ContainerCannotInvoke, UsageError

CID = "0123456789ab" + "c" * 52
MAPS = [{"containerID": 0, "hostID": 1001, "size": 1}, {"containerID": 1, "hostID": 100000, "size": 65536}]
IMAGE = {"architecture": "amd64", "os": "linux",
         "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"], "Cmd": ["/bin/sh"],
                    "WorkingDir": "/srv", "Labels": {"a": "b"}}}


@pytest.fixture(autouse=True)
def fixed_rlimits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Host rlimits are the only host fact in the spec besides the kernel's caps: pin them."""
    monkeypatch.setattr(ocispec, "host_rlimit", lambda rtype: (1024, 4096))


def ctx(**kw: Any) -> SpecContext:
    base: dict[str, Any] = {"container_id": CID, "rootfs": "/store/containers/x/rootfs", "name": "web",
                            "uid_mappings": MAPS, "gid_mappings": MAPS, "host_env": {"HOSTVAR": "1"}}
    base.update(kw)
    return SpecContext(**base)


def spec(image: dict[str, Any] | None = None, c: SpecContext | None = None, **opts: Any) -> dict[str, Any]:
    return build_spec(RunOptions(image="img", **opts), IMAGE if image is None else image, c or ctx())


def mount(s: dict[str, Any], dest: str) -> dict[str, Any]:
    found = [m for m in s["mounts"] if m["destination"] == dest]
    assert len(found) == 1, f"{dest}: {found}"
    return found[0]


GOLDEN_DEFAULT = {
    "ociVersion": "1.0.2",
    "process": {
        "terminal": False,
        "user": {"uid": 0, "gid": 0, "umask": 18, "additionalGids": [0]},
        "args": ["/bin/sh"],
        "env": ["TERM=xterm", "container=podman", "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8",
                "HOSTNAME=0123456789ab"],
        "cwd": "/srv",
        "capabilities": {"bounding": DEFAULT_CAPS, "effective": DEFAULT_CAPS, "permitted": DEFAULT_CAPS,
                         "inheritable": [], "ambient": []},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 4096},
                    {"type": "RLIMIT_NPROC", "hard": 4096, "soft": 4096}],
        "noNewPrivileges": False,
    },
    "root": {"path": "/store/containers/x/rootfs", "readonly": False},
    "hostname": "0123456789ab",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"]},
    ],
    "annotations": {
        "io.container.manager": "rpod",
        "io.podman.annotations.autoremove": "FALSE",
        "io.podman.annotations.init": "FALSE",
        "io.podman.annotations.privileged": "FALSE",
        "org.opencontainers.image.stopSignal": "15",
    },
    "linux": {
        "uidMappings": MAPS,
        "gidMappings": MAPS,
        "sysctl": {"net.ipv4.ping_group_range": "0 0"},
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "user", "cgroup")],
        "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                        "/sys/fs/selinux", "/sys/dev/block"],
        "readonlyPaths": ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
}


def test_golden_default() -> None:
    s = spec()
    seccomp = s["linux"].pop("seccomp")
    assert s == GOLDEN_DEFAULT
    assert seccomp == resolve_profile(default_template(), DEFAULT_CAPS)
    json.dumps(s)  # serialisable as is


def test_spec_is_reproducible() -> None:
    assert spec(env=["A=1"], tty=True) == spec(env=["A=1"], tty=True)


# --------------------------------------------------------------------------- args
@pytest.mark.parametrize(("config", "opts", "args"), [
    ({"Entrypoint": ["/ep"], "Cmd": ["c1"]}, {}, ["/ep", "c1"]),
    ({"Entrypoint": ["/ep"], "Cmd": ["c1"]}, {"command": ["x", "y"]}, ["/ep", "x", "y"]),
    ({"Entrypoint": ["/ep"], "Cmd": ["c1"]}, {"entrypoint": "/other"}, ["/other"]),  # image Cmd dropped
    ({"Entrypoint": ["/ep"], "Cmd": ["c1"]}, {"entrypoint": "/other", "command": ["a"]}, ["/other", "a"]),
    ({"Entrypoint": ["/ep"], "Cmd": ["c1"]}, {"entrypoint": "", "command": ["ls"]}, ["ls"]),
    ({"Cmd": ["c1"]}, {"entrypoint": '["/bin/sh", "-c"]', "command": ["echo hi"]}, ["/bin/sh", "-c", "echo hi"]),
    ({"Cmd": None, "Entrypoint": None}, {"command": ["true"]}, ["true"]),
])
def test_entrypoint_and_cmd_rules(config: dict[str, Any], opts: dict[str, Any], args: list[str]) -> None:
    assert spec({"config": config}, **opts)["process"]["args"] == args


def test_no_command_is_exit_125() -> None:
    with pytest.raises(UsageError, match="no command specified") as e:
        spec({"config": {"Entrypoint": ["/ep"]}}, entrypoint="")
    assert e.value.exit_code == 125
    with pytest.raises(UsageError, match="no command specified"):
        spec({"config": {}})


def test_init_prepends_catatonit(tmp_path: Path) -> None:
    fake = tmp_path / "catatonit"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    s = spec(init=True, c=ctx(init_path=str(fake)))
    assert s["process"]["args"] == ["/run/rpod-init", "--", "/bin/sh"]
    assert mount(s, "/run/rpod-init") == {"destination": "/run/rpod-init", "type": "bind", "source": str(fake),
                                          "options": ["bind", "rprivate", "ro"]}
    assert s["annotations"]["io.podman.annotations.init"] == "TRUE"


def test_init_finds_debian_catatonit() -> None:
    assert ocispec.find_init() in ("/usr/libexec/podman/catatonit", "/usr/bin/catatonit")


# ---------------------------------------------------------------------------- env, cwd, hostname
def test_env_defaults_and_overrides() -> None:
    s = spec({"config": {"Cmd": ["x"], "Env": ["A=img"]}}, env=["A=flag", "HOSTVAR", "HOSTNAME=custom"], tty=True)
    env = s["process"]["env"]
    assert env == [f"PATH={ocispec.DEFAULT_PATH}", "TERM=xterm", "container=podman", "A=flag", "HOSTVAR=1",
                   "HOSTNAME=custom"]


def test_env_host_uses_context_environment() -> None:
    env = spec(env_host=True)["process"]["env"]
    assert "HOSTVAR=1" in env


def test_workdir_and_hostname() -> None:
    s = spec(workdir="/tmp", hostname="box")
    assert s["process"]["cwd"] == "/tmp" and s["hostname"] == "box"
    assert "HOSTNAME=box" in s["process"]["env"]
    assert spec({"config": {"Cmd": ["x"]}})["process"]["cwd"] == "/"
    with pytest.raises(ContainerCannotInvoke, match='workdir "relative" does not exist'):  # Podman: 126
        spec(workdir="relative")


def test_terminal_flag() -> None:
    assert spec(tty=True)["process"]["terminal"] is True


# --------------------------------------------------------------------------------- user
@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nweb:x:33:33:web:/var/www:/bin/sh\n")
    (tmp_path / "etc" / "group").write_text("root:x:0:root\nwheel:x:10:root\nweb:x:33:\nextra:x:99:web\n")
    return tmp_path


def test_user_resolved_from_image_files(rootfs: Path) -> None:
    c = ctx(passwd_lookup=layer_lookup([rootfs]))
    s = spec(c=c)
    assert s["process"]["user"] == {"uid": 0, "gid": 0, "umask": 18, "additionalGids": [0, 10]}
    assert "HOME=/root" in s["process"]["env"]
    s = spec(c=c, user="web", group_add=["wheel"])
    assert s["process"]["user"] == {"uid": 33, "gid": 33, "umask": 18, "additionalGids": [33, 99, 10]}
    assert "HOME=/var/www" in s["process"]["env"]
    img_user = {"config": {"Cmd": ["x"], "User": "web"}}
    assert spec(img_user, c=c)["process"]["user"]["uid"] == 33
    assert spec(img_user, c=c, user="0")["process"]["user"]["uid"] == 0  # -u beats the image


def test_unknown_user_is_exit_125(rootfs: Path) -> None:
    with pytest.raises(UsageError, match="unable to find user ghost: no matching entries in passwd file"):
        spec(c=ctx(passwd_lookup=layer_lookup([rootfs])), user="ghost")
    with pytest.raises(UsageError, match="unable to find user ghost"):
        spec(user="ghost")  # no lookup: names cannot be resolved


def test_numeric_user_without_lookup() -> None:
    assert spec(user="1000:1000")["process"]["user"] == {"uid": 1000, "gid": 1000, "umask": 18,
                                                         "additionalGids": [1000]}
    assert spec(umask="0077")["process"]["user"]["umask"] == 0o77


def test_keep_id_runs_as_caller_by_default() -> None:
    import os

    assert spec(userns="keep-id")["process"]["user"]["uid"] == os.getuid()
    assert spec(userns="keep-id:uid=500,gid=600")["process"]["user"]["gid"] == 600
    assert spec(userns="keep-id", user="0")["process"]["user"]["uid"] == 0


def test_keep_groups_annotation() -> None:
    assert spec(group_add=["keep-groups"])["annotations"]["run.oci.keep_original_groups"] == "1"


# ---------------------------------------------------------------------------- capabilities
def test_cap_add_drop_root() -> None:
    caps = spec(cap_add=["net_admin", "CAP_SYS_PTRACE"], cap_drop=["chown", "CAP_KILL"])["process"]["capabilities"]
    expected = sorted(set(DEFAULT_CAPS) - {"CAP_CHOWN", "CAP_KILL"} | {"CAP_NET_ADMIN", "CAP_SYS_PTRACE"})
    assert caps["bounding"] == caps["effective"] == caps["permitted"] == expected
    assert caps["inheritable"] == caps["ambient"] == []


def test_cap_drop_all_then_add() -> None:
    caps = spec(cap_drop=["ALL"], cap_add=["NET_BIND_SERVICE"])["process"]["capabilities"]
    assert caps["bounding"] == ["CAP_NET_BIND_SERVICE"]


def test_cap_add_all() -> None:
    from rootless.caps import CAP_NAMES, last_cap

    caps = spec(cap_add=["all"], cap_drop=["sys_admin"])["process"]["capabilities"]
    assert caps["bounding"] == sorted(set(CAP_NAMES[: last_cap() + 1]) - {"CAP_SYS_ADMIN"})


def test_cap_added_and_dropped_is_an_error() -> None:
    with pytest.raises(UsageError, match="both added and dropped"):
        spec(cap_add=["NET_RAW"], cap_drop=["net_raw"])


def test_non_root_user_gets_only_added_caps_effective() -> None:
    """Podman 4.3.1: bounding = the set; effective/permitted/inheritable/ambient = --cap-add."""
    caps = spec(user="1000", cap_add=["NET_ADMIN"], cap_drop=["CHOWN"])["process"]["capabilities"]
    assert caps["bounding"] == sorted(set(DEFAULT_CAPS) - {"CAP_CHOWN"} | {"CAP_NET_ADMIN"})
    for s in ("effective", "permitted", "inheritable", "ambient"):
        assert caps[s] == ["CAP_NET_ADMIN"]
    caps = spec(user="1000")["process"]["capabilities"]
    assert caps["effective"] == caps["permitted"] == caps["ambient"] == []


# ------------------------------------------------------------------------ privileged, security
def test_privileged() -> None:
    from rootless.caps import CAP_NAMES, last_cap

    s = spec(privileged=True)
    assert s["process"]["capabilities"]["bounding"] == sorted(CAP_NAMES[: last_cap() + 1])
    assert "seccomp" not in s["linux"]
    assert s["linux"]["maskedPaths"] == [] and s["linux"]["readonlyPaths"] == []
    assert "rw" in mount(s, "/sys")["options"] and "rw" in mount(s, "/sys/fs/cgroup")["options"]
    assert s["annotations"]["io.podman.annotations.privileged"] == "TRUE"


def test_security_opts() -> None:
    s = spec(security_opt=["no-new-privileges", "seccomp=unconfined", "mask=/proc/x", "unmask=/proc/kcore",
                           "label=disable"])
    assert s["process"]["noNewPrivileges"] is True
    assert "seccomp" not in s["linux"]
    assert "/proc/x" in s["linux"]["maskedPaths"] and "/proc/kcore" not in s["linux"]["maskedPaths"]
    s = spec(security_opt=["unmask=ALL"])
    assert s["linux"]["maskedPaths"] == [] and s["linux"]["readonlyPaths"] == []


def test_seccomp_profile_file(tmp_path: Path) -> None:
    prof = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        {"names": ["reboot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_BOOT"]}}]}
    f = tmp_path / "p.json"
    f.write_text(json.dumps(prof))
    s = spec(security_opt=[f"seccomp={f}"])
    assert s["linux"]["seccomp"] == {"defaultAction": "SCMP_ACT_ALLOW",
                                     "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
    f.write_text("{broken")
    with pytest.raises(UsageError, match="not valid JSON"):
        spec(security_opt=[f"seccomp={f}"])
    with pytest.raises(UsageError, match="cannot read seccomp profile"):
        spec(security_opt=["seccomp=/nonexistent.json"])


def test_default_seccomp_follows_capabilities() -> None:
    def rules_for(name: str, caps: list[str]) -> list[str]:
        prof = profile_for(None, caps)
        assert prof is not None
        return [r["action"] for r in prof["syscalls"] if name in r["names"]]

    assert rules_for("settimeofday", DEFAULT_CAPS) == ["SCMP_ACT_ERRNO"]
    assert rules_for("settimeofday", DEFAULT_CAPS + ["CAP_SYS_TIME"]) == ["SCMP_ACT_ALLOW"]
    assert rules_for("read", DEFAULT_CAPS) == ["SCMP_ACT_ALLOW"]
    prof = profile_for(None, DEFAULT_CAPS, )
    assert prof is not None and prof["defaultAction"] == "SCMP_ACT_ERRNO" and prof["defaultErrnoRet"] == 38
    assert not any(k in r for r in prof["syscalls"] for k in ("includes", "excludes", "comment"))
    assert profile_for(None, DEFAULT_CAPS, privileged=True) is None
    assert profile_for("unconfined", DEFAULT_CAPS) is None


def test_default_seccomp_compiles_with_libseccomp() -> None:
    from rootless.seccomp import compile_filter

    prof = profile_for(None, DEFAULT_CAPS)
    assert prof is not None and prof["architectures"]
    compile_filter(prof).release()


# ----------------------------------------------------------------------------------- mounts
def test_read_only_root_and_tmpfs() -> None:
    s = spec(read_only=True)
    assert s["root"]["readonly"] is True
    for d in ("/tmp", "/var/tmp", "/run"):
        assert mount(s, d)["type"] == "tmpfs"
    s = spec(read_only=True, read_only_tmpfs=False)
    assert not {"/tmp", "/var/tmp", "/run"} & set(ocispec.mount_destinations(s))


def test_etc_files_and_user_mounts() -> None:
    user_mounts = [{"destination": "/data", "type": "bind", "source": "/host/data", "options": ["rbind", "ro"]},
                   {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["rw"]},
                   {"destination": "/etc/hosts", "type": "bind", "source": "/mine", "options": ["rbind"]}]
    c = ctx(hosts_file="/r/hosts", resolv_conf_file="/r/resolv.conf", hostname_file="/r/hostname",
            containerenv_file="/r/.containerenv", mounts=user_mounts)
    s = spec(c=c, read_only=True)
    assert mount(s, "/etc/resolv.conf") == {"destination": "/etc/resolv.conf", "type": "bind",
                                            "source": "/r/resolv.conf", "options": ["bind", "rprivate", "ro"]}
    assert mount(s, "/etc/hostname")["source"] == "/r/hostname"
    assert mount(s, "/etc/hosts")["source"] == "/mine"  # the user's mount wins
    assert mount(s, "/tmp")["options"] == ["rw"]  # --read-only tmpfs skipped for a user mount
    assert mount(s, "/run/.containerenv")["source"] == "/r/.containerenv"
    dests = ocispec.mount_destinations(s)
    assert dests.index("/data") > dests.index("/proc")


def test_shm_size() -> None:
    assert "size=262144k" in mount(spec(shm_size="256m"), "/dev/shm")["options"]


def test_devices_are_bind_mounted() -> None:
    s = spec(devices=["/dev/null:/dev/mynull:r"])
    assert mount(s, "/dev/mynull") == {"destination": "/dev/mynull", "type": "bind", "source": "/dev/null",
                                       "options": ["rbind", "nosuid", "noexec", "ro"]}
    with pytest.raises(UsageError):
        spec(devices=["/dev/does-not-exist"])


# ----------------------------------------------------------------------------- namespaces
def test_host_network_has_no_netns_and_binds_sys() -> None:
    s = spec(c=ctx(network="host"))
    types = [n["type"] for n in s["linux"]["namespaces"]]
    assert "network" not in types
    assert mount(s, "/sys")["type"] == "bind"
    assert "sysctl" not in s["linux"]
    import socket

    assert s["hostname"] == socket.gethostname()
    with pytest.raises(UsageError, match="not allowed with --network host"):
        spec(c=ctx(network="host"), sysctl=["net.ipv4.ip_forward=1"])


def test_join_netns_path_and_no_userns() -> None:
    s = spec(c=ctx(network="slirp4netns", netns_path="/run/netns/x", uid_mappings=[], gid_mappings=[],
                   cgroup_ns=False))
    assert s["linux"]["namespaces"] == [{"type": "pid"}, {"type": "network", "path": "/run/netns/x"},
                                        {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]
    assert "uidMappings" not in s["linux"]


def test_sysctls() -> None:
    s = spec(sysctl=["net.ipv4.ip_forward=1", "kernel.shmmax=100", "fs.mqueue.msg_max=20"])
    assert s["linux"]["sysctl"] == {"net.ipv4.ping_group_range": "0 0", "net.ipv4.ip_forward": "1",
                                    "kernel.shmmax": "100", "fs.mqueue.msg_max": "20"}
    with pytest.raises(UsageError, match="only namespaced sysctls"):
        spec(sysctl=["kernel.panic=1"])


# ------------------------------------------------------------------------ limits, annotations
def test_resources_only_when_asked() -> None:
    assert "resources" not in spec()["linux"]
    s = spec(memory="512m", cpus=1.5, pids_limit=100)
    assert s["linux"]["resources"] == {"memory": {"limit": 512 * 1024**2},
                                       "cpu": {"quota": 150000, "period": 100000}, "pids": {"limit": 100}}


def test_ulimits() -> None:
    rl = {r["type"]: (r["soft"], r["hard"]) for r in spec(ulimit=["nofile=100:200", "core=-1"])["process"]["rlimits"]}
    assert rl["RLIMIT_NOFILE"] == (100, 200)
    assert rl["RLIMIT_CORE"] == (RLIM_INFINITY, RLIM_INFINITY)
    assert rl["RLIMIT_NPROC"] == (4096, 4096)


def test_annotations_overlay_and_stop_signal() -> None:
    ov = OverlayInfo(["/l/a", "/l/b"], "/c/upper", "/c/work", "fuse")
    s = spec(c=ctx(overlay=ov, annotations={"io.rpod.created": "now"}), annotations=["k=v"], rm=True,
             stop_signal="SIGKILL")
    a = s["annotations"]
    assert json.loads(a["run.rpod.overlay"]) == {"lowerdir": ["/l/a", "/l/b"], "upperdir": "/c/upper",
                                                 "workdir": "/c/work", "driver": "fuse"}
    assert a["k"] == "v" and a["io.rpod.created"] == "now" and a["io.container.manager"] == "rpod"
    assert a["io.podman.annotations.autoremove"] == "TRUE"
    assert a["org.opencontainers.image.stopSignal"] == "9"
    assert spec({"config": {"Cmd": ["x"], "StopSignal": "SIGQUIT"}})["annotations"][
        "org.opencontainers.image.stopSignal"] == "3"


def test_oom_score_adj() -> None:
    assert spec(oom_score_adj=500)["process"]["oomScoreAdj"] == 500
    with pytest.raises(UsageError):
        spec(oom_score_adj=5000)
