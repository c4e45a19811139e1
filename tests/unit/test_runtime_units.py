"""Pure parts of rootless.runtime: mount options, path resolution, capabilities, seccomp compile, config checks."""

from __future__ import annotations

import os
import signal

import pytest

from rootless import caps, seccomp
from rootless import syscalls as sc
from rootless.runtime import api, bundle, init, mounts, state
from rootless.runtime.errors import ContainerError, NoSuchContainer
from rootless.runtime.spec import rootless_spec


def test_parse_options_flags_propagation_data():
    o = mounts.parse_options(["nosuid", "noexec", "ro", "rw", "rbind", "rslave", "mode=755", "size=1k", "tmpcopyup"])
    assert o.flags == sc.MS_NOSUID | sc.MS_NOEXEC | sc.MS_BIND | sc.MS_REC
    assert o.propagation == [sc.MS_SLAVE | sc.MS_REC]
    assert o.data == ["mode=755", "size=1k"]


def test_secure_join_stays_inside(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", root / "abs")
    os.symlink("../../../../etc", root / "up")
    os.symlink("loop", root / "loop")
    assert mounts.secure_join(str(root), "/abs/passwd") == str(root / "etc" / "passwd")
    assert mounts.secure_join(str(root), "/up/x") == str(root / "etc" / "x")
    assert mounts.secure_join(str(root), "/../../x") == str(root / "x")
    with pytest.raises(OSError):
        mounts.secure_join(str(root), "/loop/x")


def test_caps_names_and_masks():
    assert caps.to_mask(["CAP_CHOWN", "kill", "cap_net_raw"]) == 1 | 1 << 5 | 1 << 13
    assert caps.to_mask(["CAP_DOES_NOT_EXIST"]) == 0
    with pytest.raises(ValueError):
        caps.to_mask(["CAP_DOES_NOT_EXIST"], strict=True)
    assert caps.to_names(1 << 21 | 1) == ["CAP_CHOWN", "CAP_SYS_ADMIN"]
    m = caps.masks_from_oci({"bounding": ["CAP_KILL"]})
    assert m["bounding"] == 1 << 5 and m["ambient"] == 0


def test_seccomp_actions_and_compile():
    assert seccomp.action_value("SCMP_ACT_ERRNO") == seccomp.ACT_ERRNO | 1
    assert seccomp.action_value("SCMP_ACT_ERRNO", 38) == seccomp.ACT_ERRNO | 38
    assert seccomp.arch_name("SCMP_ARCH_X86_64") == "x86_64"
    flt = seccomp.compile_filter({
        "defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["read", "write", "no_such_syscall"], "action": "SCMP_ACT_ALLOW"},
                     {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                               {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]})
    flt.release()
    with pytest.raises(seccomp.SeccompError):
        seccomp.compile_filter({"defaultAction": "SCMP_ACT_BOGUS"})
    with pytest.raises(seccomp.SeccompError):
        seccomp.compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_XX"}]}]})


def test_bundle_validation(tmp_path):
    config = rootless_spec(["true"])
    bundle.validate(config)
    for breaker, message in [
        (lambda c: c["process"].update(args=[]), "process.args"),
        (lambda c: c["process"].update(cwd="rel"), "process.cwd"),
        (lambda c: c["linux"]["namespaces"].append({"type": "pid"}), "listed twice"),
        (lambda c: c["linux"]["namespaces"].append({"type": "bogus"}), "unknown namespace"),
        (lambda c: c.pop("root"), "root.path"),
    ]:
        broken = rootless_spec(["true"])
        breaker(broken)
        with pytest.raises(ContainerError, match=message):
            bundle.validate(broken)
    with pytest.raises(ContainerError, match="no config.json"):
        bundle.load(str(tmp_path))


def test_env_value():
    assert bundle.env_value(["A=1", "PATH=/x", "PATH=/y"], "PATH") == "/y"
    assert bundle.env_value([], "PATH", "d") == "d"


def test_resolve_executable(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "tool").write_text("#!/bin/sh\n")
    (bin_dir / "tool").chmod(0o755)
    (bin_dir / "noexec").write_text("")
    env = [f"PATH={bin_dir}"]
    assert init.resolve_executable("tool", env) == str(bin_dir / "tool")
    with pytest.raises(ContainerError) as e:
        init.resolve_executable("missing", env)
    assert e.value.exit_code == 127 and "executable file `missing` not found in $PATH" in str(e.value)
    with pytest.raises(ContainerError) as e:
        init.resolve_executable("noexec", env)
    assert e.value.exit_code == 126
    with pytest.raises(ContainerError) as e:
        init.resolve_executable(str(tmp_path), env)
    assert e.value.exit_code == 126


def test_state_status_from_pid_and_fifo(tmp_path):
    root = str(tmp_path)
    os.makedirs(state.container_dir(root, "c"))
    me = state.ContainerState(id="c", bundle="/b", pid=os.getpid(), start_time=state.proc_start_time(os.getpid()))
    state.save(root, me)
    loaded = state.load(root, "c")
    assert loaded.status(root) == "running"
    os.mkfifo(state.fifo_path(root, "c"))
    assert loaded.status(root) == "created"
    loaded.start_time += 1  # a reused pid has another start time
    assert loaded.status(root) == "stopped"
    oci = loaded.oci(root)
    assert oci["status"] == "stopped" and oci["pid"] == 0 and oci["id"] == "c"
    assert state.list_ids(root) == ["c"]
    with pytest.raises(NoSuchContainer):
        state.load(root, "other")
    with pytest.raises(ContainerError):
        state.check_id("../evil")


def test_parse_signal():
    assert api.parse_signal("KILL") == signal.SIGKILL
    assert api.parse_signal("SIGTERM") == signal.SIGTERM
    assert api.parse_signal("9") == 9
    with pytest.raises(ContainerError):
        api.parse_signal("NOPE")
