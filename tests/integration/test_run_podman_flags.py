"""``run`` flags and container details as Podman 4.3.1 has them (its 030-run system tests):
``--unsetenv``, ``--tz``, ``--hostuser``, ``--rmi``, ``--timeout``, ``-a stdin``, ``--log-opt``,
``/etc/mtab``, a missing ``--workdir``, ``/run/.containerenv``, ``ImageDigest`` — real containers."""

from __future__ import annotations

import json
import os
import pwd
import time
from pathlib import Path

from tests.support.rpodcli import RpodEnv, ok, run_rpod

NONE = ("--network", "none")


def test_unsetenv_and_unsetenv_all(module_env: RpodEnv) -> None:
    env = module_env
    out = ok(run_rpod(env, "run", "--rm", *NONE, "alpine", "printenv")).stdout
    assert "TERM=xterm" in out and "container=podman" in out
    out = ok(run_rpod(env, "run", "--rm", *NONE, "--unsetenv=TERM", "alpine", "printenv")).stdout
    assert "TERM" not in out and "container=podman" in out
    out = ok(run_rpod(env, "run", "--rm", *NONE, "--unsetenv-all", "alpine", "/usr/bin/env")).stdout
    assert not any(v in out for v in ("TERM", "container", "PATH")), out
    out = ok(run_rpod(env, "run", "--rm", *NONE, "--unsetenv-all", "--env", "TERM=abc", "alpine",
                      "/usr/bin/env")).stdout
    assert "TERM=abc" in out


def test_tz_last_wins_and_local(module_env: RpodEnv) -> None:
    r = ok(run_rpod(module_env, "run", "--rm", *NONE, "--tz=US/Eastern", "--tz=Iceland", "--tz=MST7MDT", "alpine",
                    "date", "-d", "@1600000000"))
    assert r.stdout == "Sun Sep 13 06:26:40 MDT 2020\n"
    r = ok(run_rpod(module_env, "run", "--rm", *NONE, "--tz=local", "alpine", "md5sum", "/etc/localtime"))
    import hashlib

    assert r.stdout.split()[0] == hashlib.md5(Path("/etc/localtime").read_bytes()).hexdigest()
    r = run_rpod(module_env, "run", "--rm", *NONE, "--tz=Nowhere/Special", "alpine", "true")
    assert r.returncode == 125 and "unknown time zone Nowhere/Special" in r.stderr


def test_hostuser_adds_the_host_entry(module_env: RpodEnv) -> None:
    pw = pwd.getpwuid(os.getuid())
    r = run_rpod(module_env, "run", "--rm", *NONE, "alpine", "grep", f"^{pw.pw_name}:", "/etc/passwd")
    assert r.returncode == 1
    for who in (pw.pw_name, str(pw.pw_uid)):
        r = ok(run_rpod(module_env, "run", "--rm", *NONE, f"--hostuser={who}", "alpine", "grep", f"^{pw.pw_name}:",
                        "/etc/passwd"))
        assert r.stdout.strip() == f"{pw.pw_name}:x:{pw.pw_uid}:{pw.pw_gid}:{pw.pw_gecos}:{pw.pw_dir}:{pw.pw_shell}"
    r = ok(run_rpod(module_env, "run", "--rm", *NONE, f"--hostuser={pw.pw_uid}", "--user", str(pw.pw_uid), "alpine",
                    "id", "-un"))
    assert r.stdout.strip() == pw.pw_name
    r = run_rpod(module_env, "run", "--rm", *NONE, "--hostuser=bogus-user-x", "alpine", "true")
    assert r.returncode == 126 and "unknown user bogus-user-x" in r.stderr


def test_rmi_removes_the_image_unless_in_use(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "--name", "keepme", *NONE, "layered", "true"))
    r = run_rpod(env, "run", "--rmi", "--rm", *NONE, "layered", "true")
    assert r.returncode == 0, r.stderr  # in use by keepme: logged, not fatal (Podman 4.3.1)
    assert "level=error" in r.stderr and "in use" in r.stderr
    ok(run_rpod(env, "image", "exists", "layered"))
    ok(run_rpod(env, "rm", "keepme"))
    ok(run_rpod(env, "run", "--rmi", "--rm", *NONE, "layered", "true"))
    assert run_rpod(env, "image", "exists", "layered").returncode == 1
    ok(run_rpod(env, "tag", "alpine", "localhost/rmi-me"))  # a second name: only that name goes
    ok(run_rpod(env, "run", "--rmi", "--rm", *NONE, "localhost/rmi-me", "true"))
    assert run_rpod(env, "image", "exists", "localhost/rmi-me").returncode == 1
    ok(run_rpod(env, "image", "exists", "alpine"))


def test_timeout_kills_the_container_exit_minus_one(module_env: RpodEnv) -> None:
    t0 = time.monotonic()
    r = run_rpod(module_env, "run", "--name", "timeouttest", *NONE, "--timeout", "2", "alpine", "sleep", "600",
                 timeout=300)
    assert r.returncode == 255, r
    assert time.monotonic() - t0 < 300  # killed, not run to its end
    state = ok(run_rpod(module_env, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "timeouttest"))
    assert state.stdout.strip() == "exited -1"
    ok(run_rpod(module_env, "rm", "timeouttest"))


def test_attach_stdin_only_prints_the_id(module_env: RpodEnv) -> None:
    r = ok(run_rpod(module_env, "run", "--name", "attstdin", *NONE, "--attach", "stdin", "alpine", "echo", "hello"))
    cid = ok(run_rpod(module_env, "inspect", "--format", "{{.Id}}", "attstdin")).stdout.strip()
    assert r.stdout == cid + "\n"
    ok(run_rpod(module_env, "rm", "attstdin"))


def test_log_opts_and_log_paths(module_env: RpodEnv, tmp_path: Path) -> None:
    env = module_env
    custom = tmp_path / "custom.log"
    ok(run_rpod(env, "run", "--name", "lp", *NONE, "--log-opt", f"path={custom}", "--log-opt", "max-size=9.073m",
                "--log-opt", "tag=x", "alpine", "echo", "to-custom"))
    doc = json.loads(ok(run_rpod(env, "inspect", "lp")).stdout)[0]
    assert doc["LogPath"] == str(custom) and doc["HostConfig"]["LogConfig"]["Path"] == str(custom)
    assert doc["HostConfig"]["LogConfig"]["Size"] == "9.073MB" and doc["HostConfig"]["LogConfig"]["Tag"] == "x"
    assert custom.read_text().endswith(" stdout F to-custom\n")
    assert ok(run_rpod(env, "logs", "lp")).stdout == "to-custom\n"
    ok(run_rpod(env, "run", "--name", "ln", *NONE, "--log-driver", "none", "alpine", "true"))
    r = ok(run_rpod(env, "inspect", "--format", "[{{.HostConfig.LogConfig.Path}}][{{.LogPath}}]", "ln"))
    assert r.stdout == "[][]\n"
    r = run_rpod(env, "run", "--rm", *NONE, "--log-driver=InvalidDriver", "alpine", "true")
    assert r.returncode == 125
    assert r.stderr == "Error: running container create option: invalid log driver: invalid argument\n"
    ok(run_rpod(env, "rm", "lp", "ln"))


def test_log_max_size_starts_the_file_over(module_env: RpodEnv) -> None:
    env = module_env
    ok(run_rpod(env, "run", "--name", "lmax", *NONE, "--log-opt", "max-size=2k", "alpine", "sh", "-c",
                "for i in $(seq 1 200); do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done"))
    path = ok(run_rpod(env, "inspect", "--format", "{{.HostConfig.LogConfig.Path}}", "lmax")).stdout.strip()
    size = os.path.getsize(path)
    assert 0 < size <= 2000, size
    assert ok(run_rpod(env, "logs", "lmax")).stdout.splitlines()[-1].startswith("line-200-")
    ok(run_rpod(env, "rm", "lmax"))


def test_etc_mtab_is_linked_when_the_image_has_none(module_env: RpodEnv, tmp_path: Path) -> None:
    (tmp_path / "Containerfile").write_text("FROM alpine\nRUN rm -f /etc/mtab\n")
    ok(run_rpod(module_env, "build", "-q", "-t", "nomtab", str(tmp_path), timeout=300))
    r = ok(run_rpod(module_env, "run", "--rm", *NONE, "nomtab", "readlink", "/etc/mtab"))
    assert r.stdout == "/proc/mounts\n"
    r = ok(run_rpod(module_env, "run", "--rm", *NONE, "nomtab", "stat", "-c", "%u:%g %a", "/etc", "/etc/passwd"))
    assert r.stdout.split("\n")[:2] == ["0:0 755", "0:0 644"]
    ok(run_rpod(module_env, "rmi", "nomtab"))


def test_a_missing_workdir_fails_the_start(module_env: RpodEnv, tmp_path: Path) -> None:
    env = module_env
    r = run_rpod(env, "run", "--rm", *NONE, "--workdir", "/i/do/not/exist", "alpine", "pwd")
    assert r.returncode == 126, r
    assert r.stderr.startswith('Error: workdir "/i/do/not/exist" does not exist on container ')
    (tmp_path / "content").write_text("hello\n")
    r = ok(run_rpod(env, "run", "--rm", *NONE, "--workdir", "/NotOnTheImage", "-v", f"{tmp_path}:/NotOnTheImage",
                    "alpine", "cat", "content"))
    assert r.stdout == "hello\n"
    r = ok(run_rpod(env, "run", "--rm", *NONE, "--workdir", "/NotOnTheImage", "-v",
                    f"{tmp_path}/content:/NotOnTheImage/foo", "alpine", "cat", "foo"))
    assert r.stdout == "hello\n"
    r = ok(run_rpod(env, "run", "--rm", *NONE, "--workdir", "/var/run", "alpine", "pwd"))  # a symlink in alpine
    assert r.stdout == "/run\n"  # (the physical directory)
    cid = ok(run_rpod(env, "create", *NONE, "--workdir", "/nope", "alpine", "pwd")).stdout.strip()  # create is fine
    r = run_rpod(env, "start", cid)
    assert r.returncode == 125 and "does not exist on container" in r.stderr
    ok(run_rpod(env, "rm", cid))


def test_containerenv_empty_unless_privileged_and_image_digest(module_env: RpodEnv) -> None:
    env = module_env
    r = ok(run_rpod(env, "run", "--rm", *NONE, "alpine", "stat", "-c", "%s", "/run/.containerenv"))
    assert r.stdout == "0\n"
    r = ok(run_rpod(env, "run", "--rm", *NONE, "--privileged", "--name", "cenv", "alpine", "sh", "-c",
                    ". /run/.containerenv; echo $name $rootless"))
    assert r.stdout == "cenv 1\n"
    ok(run_rpod(env, "run", "--name", "dig", *NONE, "alpine", "true"))
    want = ok(run_rpod(env, "image", "inspect", "--format", "{{.ID}} {{.Digest}}", "alpine")).stdout
    got = ok(run_rpod(env, "container", "inspect", "--format", "{{.Image}} {{.ImageDigest}}", "dig")).stdout
    assert got == want and "sha256:" in got
    ok(run_rpod(env, "rm", "dig"))
    for opt in ("no-new-privileges=true", "no-new-privileges:true", "no-new-privileges=false", "no-new-privileges"):
        cid = ok(run_rpod(env, "create", "--security-opt", opt, "alpine")).stdout.strip()
        ok(run_rpod(env, "rm", cid))


def test_boolean_flags_take_values(module_env: RpodEnv) -> None:
    """pflag's ``--flag=false`` on every boolean flag (``run --tty=false``, ``events --no-trunc=false``)."""
    env = module_env
    assert ok(run_rpod(env, "run", "--rm", *NONE, "--tty=false", "-i=false", "alpine", "echo", "plain")).stdout == "plain\n"
    r = run_rpod(env, "run", "--rm", *NONE, "--tty=maybe", "alpine", "true")
    assert r.returncode == 125
    assert 'invalid argument "maybe" for "-t, --tty" flag: strconv.ParseBool' in r.stderr
    cid = ok(run_rpod(env, "run", "-d=true", *NONE, "--name", "evtrunc", "alpine", "true")).stdout.strip()
    ok(run_rpod(env, "wait", cid))
    full = ok(run_rpod(env, "events", "--stream=false", "--filter", "container=evtrunc", "--filter", "event=start"))
    short = ok(run_rpod(env, "events", "--stream=false", "--filter", "container=evtrunc", "--filter", "event=start",
                        "--no-trunc=false"))
    assert f" container start {cid} (image=" in full.stdout
    assert f" container start {cid[:12]} (image=" in short.stdout
    ok(run_rpod(env, "rm", "evtrunc"))


def test_pull_and_run_from_an_archive_reference(module_env: RpodEnv, tmp_path: Path) -> None:
    """``docker-archive:PATH`` as an image reference (Podman's transports) for pull and run."""
    env = module_env
    archive = tmp_path / "a.tar"
    ok(run_rpod(env, "save", "-q", "-o", str(archive), "alpine"))
    image_id = ok(run_rpod(env, "image", "inspect", "--format", "{{.ID}}", "alpine")).stdout.strip()
    r = ok(run_rpod(env, "pull", f"docker-archive:{archive}"))
    assert r.stdout.strip() == image_id
    r = ok(run_rpod(env, "run", "--rm", *NONE, f"docker-archive:{archive}", "echo", "from-archive"))
    assert r.stdout == "from-archive\n"
    r = ok(run_rpod(env, "events", "--stream=false", "--filter", "type=image", "--format",
                    "{{.Status}}-{{.ID}}-{{.Name}}"))
    assert f"pull--docker-archive:{archive}" in r.stdout.splitlines()  # no id, as Podman
    r = run_rpod(env, "pull", f"docker-archive:{tmp_path}/missing.tar")
    assert r.returncode == 125 and "no such file" in r.stderr.lower()


def test_ipc_none_private_and_keep_groups(module_env: RpodEnv) -> None:
    """190-run-ipcns / 170-run-userns: ``--ipc=none`` has no /dev/shm; a private IPC namespace is
    not joined; ``keep-groups`` goes alone."""
    env = module_env
    r = run_rpod(env, "run", "--rm", *NONE, "--ipc=none", "alpine", "ls", "/dev/shm")
    assert r.returncode == 1 and "No such file or directory" in r.stderr + r.stdout
    ok(run_rpod(env, "run", "-d", *NONE, "--ipc=private", "--name", "ipcpriv", "alpine", "sleep", "600"))
    r = run_rpod(env, "run", "--rm", *NONE, "--ipc=container:ipcpriv", "alpine", "true")
    assert r.returncode == 125
    assert "is not allowed: non-shareable IPC (hint: use IpcMode:shareable for the donor container)" in r.stderr
    ok(run_rpod(env, "rm", "-f", "-t", "0", "ipcpriv"))
    r = run_rpod(env, "run", "--rm", *NONE, "--group-add", "keep-groups", "--group-add", "457", "alpine", "id")
    assert r.returncode == 125
    assert r.stderr == "Error: the '--group-add keep-groups' option is not allowed with any other --group-add options\n"


def test_systemd_mode_and_empty_info_format(module_env: RpodEnv) -> None:
    """250-systemd: ``--systemd=always`` sets ``container_uuid`` (the id's first 32 characters) and
    mounts tmpfs where systemd writes; a plain command gets neither; ``info -f ''`` prints nothing."""
    env = module_env
    r = ok(run_rpod(env, "run", "--name", "sd", *NONE, "--systemd=always", "alpine", "sh", "-c",
                    "printenv container_uuid; stat -f -c %T /run /tmp"))
    cid = ok(run_rpod(env, "inspect", "--format", "{{.Id}}", "sd")).stdout.strip()
    assert r.stdout.split() == [cid[:32], "tmpfs", "tmpfs"]
    assert ok(run_rpod(env, "inspect", "sd", "--format", "{{ .ID }}")).stdout.strip() == cid  # the Go field name
    r = run_rpod(env, "run", "--rm", *NONE, "alpine", "printenv", "container_uuid")
    assert r.returncode == 1 and r.stdout == ""
    ok(run_rpod(env, "rm", "sd"))
    assert ok(run_rpod(env, "info", "-f", "")).stdout == "\n"


def test_update_records_limits(module_env: RpodEnv) -> None:
    """280-update: ``update`` with no option changes nothing; limits are recorded (and, where this
    host cannot enforce them, said as ``run`` says it)."""
    env = module_env
    cid = ok(run_rpod(env, "run", "-d", *NONE, "--name", "upd", "alpine", "sleep", "600")).stdout.strip()
    try:
        assert ok(run_rpod(env, "update", cid)).stdout == cid + "\n"
        r = ok(run_rpod(env, "update", "--memory", "64m", "--pids-limit", "50", "upd"))
        host = json.loads(ok(run_rpod(env, "inspect", "upd")).stdout)[0]["HostConfig"]
        assert (host["Memory"], host["PidsLimit"]) == (64 * 1024 * 1024, 50)
        assert bool(r.stderr.strip()) == (host["ResourceLimitsApplied"] is False)
        r = run_rpod(env, "update", "--memory", "lots", "upd")
        assert r.returncode == 125 and "invalid size" in r.stderr
    finally:
        ok(run_rpod(env, "rm", "-f", "-t", "0", "upd"))


def test_logs_of_a_none_driver_container_and_archive_progress(module_env: RpodEnv, tmp_path: Path) -> None:
    """030-run: ``logs`` of a ``--log-driver none`` container is Podman's error; a
    ``docker-archive:`` run lists the config it copies, as Podman's progress does."""
    env = module_env
    ok(run_rpod(env, "run", "--name", "nolog", *NONE, "--log-driver", "none", "alpine", "echo", "x"))
    r = run_rpod(env, "logs", "nolog")
    assert r.returncode == 125
    assert "this container is using the 'none' log driver, cannot read logs" in r.stderr
    ok(run_rpod(env, "rm", "nolog"))
    archive = tmp_path / "b.tar"
    ok(run_rpod(env, "save", "-q", "-o", str(archive), "alpine"))
    r = ok(run_rpod(env, "run", "--rm", *NONE, f"docker-archive:{archive}", "true"))
    assert "Copying config sha256:" in r.stderr


def test_containers_conf_image_volume_mode(module_env: RpodEnv, tmp_path: Path) -> None:
    """160-volumes: ``[engine] image_volume_mode`` of ``CONTAINERS_CONF``; ``--image-volume`` wins."""
    env = module_env
    (tmp_path / "Containerfile").write_text("FROM alpine\nVOLUME /data\n")
    ok(run_rpod(env, "build", "-q", "-t", "volimg", str(tmp_path), timeout=300))
    conf = tmp_path / "containers.conf"
    conf.write_text('[engine]\nimage_volume_mode="tmpfs"\n')
    cenv = {**env, "CONTAINERS_CONF": str(conf)}
    assert ok(run_rpod(cenv, "run", "--rm", *NONE, "volimg", "stat", "-f", "-c", "%T", "/data")).stdout == "tmpfs\n"
    r = ok(run_rpod(cenv, "run", "--rm", *NONE, "--image-volume", "bind", "volimg", "stat", "-f", "-c", "%T", "/data"))
    assert r.stdout != "tmpfs\n"
    r = run_rpod(cenv, "run", "--rm", *NONE, "--image-volume", "ignore", "volimg", "stat", "-f", "-c", "%T", "/data")
    assert r.returncode == 1
    ok(run_rpod(env, "rmi", "-f", "volimg"))


def test_container_runlabel(module_env: RpodEnv, tmp_path: Path) -> None:
    """037-runlabel: the label's command with this program, IMAGE, NAME and the OPTs filled in."""
    env = module_env
    (tmp_path / "Containerfile").write_text(
        "FROM alpine\nLABEL INSTALL /usr/bin/podman run --rm \\${OPT1} -e NAME=\\${NAME} -e IMAGE=\\${IMAGE} "
        "\\${IMAGE} echo \\${OPT2} installed\n")
    ok(run_rpod(env, "build", "-q", "-t", "rl_image", str(tmp_path), timeout=300))
    r = ok(run_rpod(env, "container", "runlabel", "--opt1=--network=none", "--opt2=x", "--name", "t1", "--display",
                    "install", "rl_image"))
    prog = r.stdout.removeprefix("command: ").partition(" run --rm ")[0]  # rpod, or python -m rpod here
    assert r.stdout == (f"command: {prog} run --rm --network=none -e NAME=t1 -e IMAGE=localhost/rl_image:latest "
                        "localhost/rl_image:latest echo x installed\n")
    assert os.path.basename(prog).startswith("rpod") or prog.endswith(" -m rpod"), prog
    r = ok(run_rpod(env, "container", "runlabel", "--opt1=--network=none", "install", "rl_image"))
    assert r.stdout.splitlines()[-1] == "installed"
    r = run_rpod(env, "container", "runlabel", "--display", "run", "rl_image")
    assert r.returncode == 125 and r.stderr == "Error: cannot find the value of label: run in image: rl_image\n"
    ok(run_rpod(env, "rmi", "-f", "rl_image"))


def test_containers_conf_runtime_naming_the_builtin(module_env: RpodEnv, tmp_path: Path) -> None:
    """800-config: ``[engine] runtime`` with ``[engine.runtimes]`` pointing at what ``info``
    reports as the runtime's path (rpod's own) runs containers with it; an unknown one fails."""
    env = module_env
    name = ok(run_rpod(env, "info", "--format", "{{ .Host.OCIRuntime.Name }}")).stdout.strip()
    path = ok(run_rpod(env, "info", "--format", "{{ .Host.OCIRuntime.Path }}")).stdout.strip()
    for runtime in (name, "nonstandard_runtime_name"):
        conf = tmp_path / f"{runtime}.conf"
        conf.write_text(f'[engine]\nruntime = "{runtime}"\n[engine.runtimes]\n{runtime} = ["{path}"]\n')
        r = ok(run_rpod({**env, "CONTAINERS_CONF": str(conf)}, "run", "--rm", *NONE, "alpine", "echo", "ran"))
        assert r.stdout == "ran\n"
    conf = tmp_path / "bad.conf"
    conf.write_text('[engine]\nruntime = "nosuch-runtime"\n')
    r = run_rpod({**env, "CONTAINERS_CONF": str(conf)}, "run", "--rm", *NONE, "alpine", "true")
    assert r.returncode == 125 and 'default OCI runtime "nosuch-runtime" not found' in r.stderr


def test_container_signals_start_at_default_under_nohup(module_env: RpodEnv) -> None:
    """``nohup rpod run`` (SIGHUP ignored in rpod): the container's process still starts with no
    ignored signal, so its shell can trap HUP (CI saw `kill -s HUP` do nothing under nohup)."""
    import signal
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "rpod", "run", "--rm", *NONE, "alpine", "grep", "SigIgn", "/proc/self/status"],
                       env=module_env, capture_output=True, text=True, timeout=120, cwd=module_env.get("HOME"),
                       preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    assert r.returncode == 0, r.stderr
    ignored = int(r.stdout.split()[1], 16)
    assert not ignored & (1 << (signal.SIGHUP - 1)), r.stdout
    plain = ok(run_rpod(module_env, "run", "--rm", *NONE, "alpine", "grep", "SigIgn", "/proc/self/status"))
    assert plain.stdout == r.stdout  # the same as without nohup


def test_image_events_as_podman_names_them(module_env: RpodEnv, tmp_path: Path) -> None:
    """090-events "image events": save, loadfromarchive (named by the archive, no id), tag as given."""
    env = module_env
    iid = ok(run_rpod(env, "image", "inspect", "--format", "{{.ID}}", "alpine")).stdout.strip()
    since = ok(run_rpod(env, "version", "--format", "{{.Client.BuiltTime}}")).stdout and str(int(time.time()) - 1)
    ball = tmp_path / "ball.tar"
    ok(run_rpod(env, "save", "-q", "alpine", "-o", str(ball)))
    ok(run_rpod(env, "load", "-q", "-i", str(ball)))
    ok(run_rpod(env, "tag", "alpine", "registry.com/evtag"))
    ok(run_rpod(env, "untag", "alpine", "registry.com/evtag"))
    r = ok(run_rpod(env, "events", "--stream=false", "--filter", "type=image", "--since", since,
                    "--format", "{{.Status}}--{{.ID}}--{{.Name}}"))
    lines = r.stdout.splitlines()
    lines = lines[next(i for i, ln in enumerate(lines) if ln.startswith("save--")):]
    assert lines[:4] == [f"save--{iid}--{ball}", f"loadfromarchive----{ball}",
                         f"tag--{iid}--registry.com/evtag", f"untag--{iid}--registry.com/evtag:latest"]


def test_rmi_untags_oldest_name_first(module_env: RpodEnv, tmp_path: Path) -> None:
    """090-events: ``rmi -f ID`` untags in the order the names were given (Podman's storage order)."""
    env = module_env
    (tmp_path / "Containerfile").write_text("FROM alpine\nLABEL order=1\n")
    iid = ok(run_rpod(env, "build", "-q", "-t", "ordimg", str(tmp_path), timeout=300)).stdout.strip().splitlines()[-1]
    ok(run_rpod(env, "tag", "ordimg", "localhost/ordimg2"))
    r = ok(run_rpod(env, "rmi", "-f", iid))
    assert r.stdout.splitlines() == ["Untagged: localhost/ordimg:latest", "Untagged: localhost/ordimg2:latest",
                                     f"Deleted: {iid}"]


def test_kernel_memory_warns_and_dns_opt_alias(module_env: RpodEnv) -> None:
    """030-run / 500-networking: ``--kernel-memory`` is Podman's no-op warning; ``--dns-opt`` is
    ``--dns-option``."""
    env = module_env
    r = ok(run_rpod(env, "run", "--rm", *NONE, "--kernel-memory", "100", "alpine", "true"))
    assert "The --kernel-memory flag is no longer supported. This flag is a noop." in r.stderr
    r = ok(run_rpod(env, "run", "--rm", "--dns-opt=ndots:3", "alpine", "cat", "/etc/resolv.conf"))
    assert "options ndots:3" in r.stdout


def test_full_path_to_a_copied_runtime_is_kept(module_env: RpodEnv, tmp_path: Path) -> None:
    """030-run: ``info``'s runtime path is a command; a copy of it elsewhere runs containers as an
    external OCI runtime, and ``inspect`` shows the path given to ``--runtime``."""
    import shutil

    env = module_env
    path = ok(run_rpod(env, "info", "--format", "{{.Host.OCIRuntime.Path}}")).stdout.strip()
    copy = tmp_path / "myruntime"
    shutil.copy2(path, copy)
    cid = ok(run_rpod(env, "run", "-d", *NONE, "--runtime", str(copy), "alpine", "sleep", "60")).stdout.strip()
    assert ok(run_rpod(env, "inspect", "--format", "{{.OCIRuntime}}", cid)).stdout == f"{copy}\n"
    assert ok(run_rpod(env, "exec", cid, "echo", "in")).stdout == "in\n"
    ok(run_rpod(env, "kill", cid))
    ok(run_rpod(env, "wait", cid))
    ok(run_rpod(env, "rm", cid))
