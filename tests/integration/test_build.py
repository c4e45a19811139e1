"""``rpod build``: real rootless builds (RUN in containers, COPY through the layer helper) on
the test registry's alpine, output as Podman prints it, the cache, ignore files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.rpodcli import RpodEnv, ok, run_rpod

pytestmark = pytest.mark.usefixtures("module_env")


def build(env: RpodEnv, ctx: Path, *args: str, timeout: float = 120, input: str | None = None):  # noqa: A002
    return run_rpod(env, "build", *args, str(ctx), timeout=timeout, input=input)


def write(ctx: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = ctx / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return ctx


def steps(out: str) -> list[str]:
    return [x for x in out.splitlines() if re.match(r"^(\[\d+/\d+\] )?(STEP|COMMIT)|^--> |^Successfully", x)]


def test_five_step_build_runs_and_caches(module_env: RpodEnv, tmp_path: Path) -> None:
    ctx = write(tmp_path, {
        "Containerfile": "FROM alpine\nENV GREETING=hello\nRUN echo built > /built.txt && adduser -D -u 1234 app\n"
                         "COPY app.sh /usr/local/bin/app.sh\nRUN chmod 755 /usr/local/bin/app.sh\n"
                         'CMD ["/usr/local/bin/app.sh"]\n',
        "app.sh": "#!/bin/sh\necho \"$GREETING from $(cat /built.txt)\"\n"})
    r = ok(build(module_env, ctx, "-t", "app:1"))
    lines = steps(r.stdout)
    assert lines[0] == "STEP 1/6: FROM alpine"
    assert lines[1] == "STEP 2/6: ENV GREETING=hello" and re.fullmatch(r"--> [0-9a-f]{11}", lines[2])
    assert "STEP 6/6: CMD [\"/usr/local/bin/app.sh\"]" in lines
    assert lines[-3:-1] == ["COMMIT app:1", lines[-2]] or lines[-3] == "COMMIT localhost/app:1"
    assert lines[-1] == "Successfully tagged localhost/app:1"
    image_id = r.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"[0-9a-f]{64}", image_id)
    out = ok(run_rpod(module_env, "run", "--rm", "app:1")).stdout
    assert out == "hello from built\n"
    # warm: every step from the cache, same image
    r2 = ok(build(module_env, ctx, "-t", "app:1"))
    assert r2.stdout.count("--> Using cache") == 5
    assert r2.stdout.strip().splitlines()[-1] == image_id
    # a changed file: the COPY step and the ones after it run again
    (ctx / "app.sh").write_text("#!/bin/sh\necho changed\n")
    r3 = ok(build(module_env, ctx, "-t", "app:1"))
    assert r3.stdout.count("--> Using cache") == 2
    assert ok(run_rpod(module_env, "run", "--rm", "app:1")).stdout == "changed\n"
    q = ok(build(module_env, ctx, "-q"))
    assert re.fullmatch(r"[0-9a-f]{64}\n", q.stdout)


def test_metadata_instructions(module_env: RpodEnv, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Containerfile": (
        "ARG BASE=alpine\nFROM $BASE\nARG V=1.0\nLABEL version=$V \"two words\"=yes\nEXPOSE 80 53/udp\n"
        "ENV A=a B=\"b c\"\nENV LEGACY value with spaces\nWORKDIR /srv\nWORKDIR sub\nUSER 1234:5\n"
        "VOLUME /data\nSTOPSIGNAL SIGINT\nHEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost || exit 1\n"
        "ONBUILD RUN echo child\nENTRYPOINT [\"/bin/echo\"]\nCMD echo $A\n")})
    r = ok(build(module_env, ctx, "-t", "meta", "--build-arg", "V=2.0", "--label", "extra=1"))
    cfg = json.loads(ok(run_rpod(module_env, "image", "inspect", "meta")).stdout)[0]["Config"]
    assert cfg["Labels"] == {"version": "2.0", "two words": "yes", "extra": "1"}
    assert set(cfg["ExposedPorts"]) == {"80/tcp", "53/udp"}
    assert "A=a" in cfg["Env"] and "B=b c" in cfg["Env"] and "LEGACY=value with spaces" in cfg["Env"]
    assert cfg["WorkingDir"] == "/srv/sub" and cfg["User"] == "1234:5"
    assert "/data" in cfg["Volumes"] and cfg["StopSignal"] == "SIGINT"
    assert cfg["Entrypoint"] == ["/bin/echo"] and cfg["Cmd"] == ["/bin/sh", "-c", "echo $A"]
    assert cfg["Healthcheck"]["Test"] == ["CMD-SHELL", "wget -q localhost || exit 1"]
    assert cfg["Healthcheck"]["Retries"] == 2 and cfg["Healthcheck"]["Interval"] == 5_000_000_000
    assert cfg["OnBuild"] == ["RUN echo child"]
    assert "[Warning]" not in r.stdout


def test_multi_stage_copy_from_heredoc_and_target(module_env: RpodEnv, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Containerfile": (
        "FROM alpine AS builder\nRUN mkdir -p /out/sub && echo artefact > /out/sub/a.txt\n"
        "COPY <<EOF /out/note.txt\nnote $HOSTNAME_UNSET-end\nEOF\n"
        "FROM alpine AS unused\nRUN exit 7\n"
        "FROM alpine\nCOPY --from=builder /out /app\nCOPY --from=0 --chown=12:34 /out/sub/a.txt /copied\n"
        "RUN <<EOF\nset -e\ncat /app/sub/a.txt /app/note.txt > /combined\nEOF\n"
        "CMD [\"cat\", \"/combined\"]\n")})
    r = ok(build(module_env, ctx, "-t", "multi"))
    lines = steps(r.stdout)
    assert lines[0] == "[1/2] STEP 1/3: FROM alpine AS builder"
    assert any(x.startswith("[2/2] STEP 1/5: FROM alpine") for x in lines)
    assert "[2/2] COMMIT localhost/multi:latest" in lines or "[2/2] COMMIT multi" in lines
    assert "exit 7" not in r.stdout  # the stage nothing needs is not built
    assert ok(run_rpod(module_env, "run", "--rm", "multi")).stdout == "artefact\nnote -end\n"
    owner = ok(run_rpod(module_env, "run", "--rm", "multi", "stat", "-c", "%u:%g", "/copied")).stdout
    assert owner == "12:34\n"
    t = ok(build(module_env, ctx, "--target", "builder", "-t", "onlybuilder"))
    assert "[1/" not in t.stdout and "COMMIT" in t.stdout


def test_ignore_file_and_globs(module_env: RpodEnv, tmp_path: Path) -> None:
    ctx = write(tmp_path, {
        "Containerfile": "FROM alpine\nCOPY . /ctx/\nCOPY *.txt /globbed/\nRUN find /ctx /globbed | sort\n",
        ".dockerignore": "*.log\n!keep.log\nsecret/\n**/*.tmp\n",
        "a.txt": "a", "b.txt": "b", "x.log": "x", "keep.log": "k", "secret/key": "s", "d/e.tmp": "t", "d/f": "f"})
    r = ok(build(module_env, ctx, "-t", "ign"))
    listed = [x for x in r.stdout.splitlines() if x.startswith("/")]
    assert "/ctx/keep.log" in listed and "/ctx/d/f" in listed and "/ctx/a.txt" in listed
    assert not any(x.endswith(("x.log", "e.tmp")) or "/secret" in x for x in listed)
    assert "/globbed/a.txt" in listed and "/globbed/b.txt" in listed


def _layer_tars(env: RpodEnv, image: str) -> list[bytes]:
    import gzip
    import hashlib

    root = env.data_home / "rpod"
    doc = json.loads(ok(run_rpod(env, "image", "inspect", image)).stdout)[0]
    out = []
    for diff_id in doc["RootFS"]["Layers"]:
        blob = root / "layers" / diff_id.split(":")[1] / "blob"
        data = blob.read_bytes()
        if data[:4] == b"\x28\xb5\x2f\xfd":
            import zstandard

            raw = zstandard.ZstdDecompressor().decompressobj().decompress(data)
        else:
            raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        assert "sha256:" + hashlib.sha256(raw).hexdigest() == diff_id
        out.append(raw)
    return out


def test_secret_never_lands_in_a_layer(module_env: RpodEnv, tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cr3t-value-42")
    ctx = write(tmp_path / "ctx", {"Containerfile": (
        "FROM alpine\nRUN --mount=type=secret,id=tok cat /run/secrets/tok > /dev/null && "
        "wc -c < /run/secrets/tok > /len\nRUN --mount=type=secret,id=tok,target=/etc/tok.conf "
        "test -s /etc/tok.conf && echo ok > /seen\n")})
    ok(build(module_env, ctx, "-t", "sec", "--secret", f"id=tok,src={secret}"))
    assert ok(run_rpod(module_env, "run", "--rm", "sec", "cat", "/len", "/seen")).stdout.split() == ["15", "ok"]
    for raw in _layer_tars(module_env, "sec"):
        assert b"s3cr3t-value-42" not in raw
        assert b"run/secrets/tok" not in raw and b"etc/tok.conf" not in raw


def test_reproducible_with_timestamp(module_env: RpodEnv, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Containerfile": "FROM alpine\nCOPY f /f\nRUN echo x > /x\nLABEL a=b\n", "f": "data"})
    ids = []
    for tag in ("r1", "r2"):
        r = ok(build(module_env, ctx, "--no-cache", "--timestamp", "1700000000", "-t", tag))
        ids.append(r.stdout.strip().splitlines()[-1])
    assert ids[0] == ids[1]
    created = json.loads(ok(run_rpod(module_env, "image", "inspect", "r1")).stdout)[0]["Created"]
    assert created.startswith("2023-11-14T22:13:20")


def test_errors_name_the_line(module_env: RpodEnv, tmp_path: Path) -> None:
    cases = {
        "FROM alpine\n\nFOO bar\n": ("line 3", "unknown instruction: FOO", 125),
        "FROM alpine\nCOPY ../x /x\n": ("Containerfile:2", "outside the build context", 125),
        "FROM alpine\nCOPY --from=nope /x /x\n": ("Containerfile:2", "no stage or image found", 125),
        "FROM alpine\nRUN echo first-line; echo oops >&2; exit 3\n": ("Containerfile:2", "exit status 3", 3),
        "FROM alpine AS a\nCOPY --from=b /x /x\nFROM alpine AS b\nCOPY --from=a /y /y\n": ("line", "cycle", 125),
        "FROM alpine\nCOPY missing.txt /x\n": ("Containerfile:2", "missing.txt", 125),
    }
    for text, (line, what, code) in cases.items():
        ctx = write(tmp_path / str(abs(hash(text))), {"Containerfile": text})
        r = run_rpod({**module_env, "RPOD_HINTS": "1"}, "build", str(ctx), timeout=120)
        assert r.returncode == code, (text, r.stdout, r.stderr)
        assert line in r.stderr and what in r.stderr, (text, r.stderr)
        if code == 3:  # a failing RUN: its output, and its last lines again in the hint (for a terminal)
            assert "first-line" in r.stdout and "last output:" in r.stderr and "  oops" in r.stderr


def test_hostile_context(module_env: RpodEnv, tmp_path: Path) -> None:
    import io
    import tarfile

    outside = tmp_path / "outside-secret"
    outside.write_text("host secret")
    ctx = write(tmp_path / "ctx", {"Containerfile": "FROM alpine\nCOPY link /link-copy\n"})
    (ctx / "link").symlink_to(outside)
    r = build(module_env, ctx)
    assert r.returncode == 125 and "no such file or directory" in r.stderr
    (ctx / "Containerfile").write_text("FROM alpine\nCOPY . /c/\nRUN cat /c/link 2>&1 || true\n")
    r = ok(build(module_env, ctx))
    assert "host secret" not in r.stdout  # copied as a symlink, which does not resolve inside
    bad = io.BytesIO()
    with tarfile.open(fileobj=bad, mode="w") as tf:
        ti = tarfile.TarInfo("../../escape.txt")
        ti.size = 4
        tf.addfile(ti, io.BytesIO(b"evil"))
    (ctx / "evil.tar").write_bytes(bad.getvalue())
    (ctx / "Containerfile").write_text("FROM alpine\nADD evil.tar /x/\n")
    r = build(module_env, ctx)
    assert r.returncode == 125 and "'..'" in r.stderr and "Containerfile:2" in r.stderr


def test_add_archive_and_stdin_containerfile(module_env: RpodEnv, tmp_path: Path) -> None:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        ti = tarfile.TarInfo("pkg/hello.txt")
        ti.size, ti.uid = 6, 1000
        tf.addfile(ti, io.BytesIO(b"hello\n"))
    (tmp_path / "pkg.tar.gz").write_bytes(buf.getvalue())
    r = ok(run_rpod(module_env, "build", "-t", "addtar", "-f", "-", str(tmp_path),
                    input="FROM alpine\nADD pkg.tar.gz /opt/\nCMD cat /opt/pkg/hello.txt\n", timeout=120))
    assert "STEP 2/3: ADD pkg.tar.gz /opt/" in r.stdout
    assert ok(run_rpod(module_env, "run", "--rm", "addtar")).stdout == "hello\n"


def _podman(env: RpodEnv, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """An isolated rootless Podman 4.3.1 (its own store, vfs, no systemd), the reference."""
    import shutil

    if shutil.which("podman") is None:
        pytest.fail("podman is needed for this comparison (apt-get install podman)")
    conf = tmp_path / "pconfig"
    (conf / "containers").mkdir(parents=True, exist_ok=True)
    penv = {**env, "XDG_CONFIG_HOME": str(conf), "XDG_DATA_HOME": str(tmp_path / "pdata")}
    podman = ["podman", "--root", str(tmp_path / "pstore"), "--runroot", str(env.runtime_dir / "prun"),
              "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
    return podman, penv


def test_output_matches_podman(module_env: RpodEnv, images, tmp_path: Path) -> None:
    """Podman 4.3.1 on the same Containerfile: the same STEP/COMMIT lines (ids aside)."""
    import subprocess

    from tests.support.leaks import stop_podman

    podman, penv = _podman(module_env, tmp_path)
    try:
        pulled = subprocess.run([*podman, "pull", "-q", "--tls-verify=false", images.ref("alpine")], env=penv,
                                capture_output=True, text=True, timeout=120)
        assert pulled.returncode == 0, pulled.stderr
        ok_tag = subprocess.run([*podman, "tag", images.ref("alpine"), "localhost/alpine:3.20"], env=penv,
                                capture_output=True, text=True, timeout=60)
        assert ok_tag.returncode == 0, ok_tag.stderr
        text = ("FROM localhost/alpine:3.20 AS base\nARG X=1\nENV A=b\nRUN echo run-out $X\nCOPY f.txt /f.txt\n"
                "CMD [\"cat\", \"/f.txt\"]\n\nFROM base\nLABEL x=y\nRUN echo second\n")
        ctx = write(tmp_path / "ctx", {"Containerfile": text, "f.txt": "hi\n"})
        ok(run_rpod(module_env, "tag", "alpine", "localhost/alpine:3.20"))
        mine = build(module_env, ctx, "-t", "cmp")
        theirs = subprocess.run([*podman, "build", "--network", "none", "-t", "cmp", str(ctx)], env=penv,
                                capture_output=True, text=True, timeout=300)
        assert theirs.returncode == 0, theirs.stderr
    finally:
        stop_podman(podman, penv, tmp_path)

    def norm(out: str) -> list[str]:
        return [re.sub(r"[0-9a-f]{64}|[0-9a-f]{11}", "ID", x) for x in steps(out)]

    assert norm(ok(mine).stdout) == norm(theirs.stdout)
    assert "run-out 1" in mine.stdout and "second" in mine.stdout


def test_ci_script_build_run_push(module_env: RpodEnv, token_registry, tmp_path: Path) -> None:
    """The issue's CI script against the token-auth registry: ``rpod build -t HOST:PORT/app:1 . &&
    rpod run --rm HOST:PORT/app:1 && rpod push HOST:PORT/app:1``; the pushed image runs under Podman."""
    import subprocess
    import sys

    from tests.support.leaks import stop_podman

    module_env.write_auth(token_registry)
    write(tmp_path / "ctx", {"Containerfile": "FROM alpine\nRUN echo ci > /ci.txt\nCMD [\"cat\", \"/ci.txt\"]\n"})
    name = f"{token_registry.address}/app:1"
    rpod = f"{sys.executable} -m rpod"
    script = (f"set -e\ncd {tmp_path / 'ctx'}\n{rpod} build -t {name} .\n{rpod} run --rm {name}\n"
              f"{rpod} push --tls-verify=false {name}\n")
    r = subprocess.run(["sh", "-c", script], env=module_env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    assert f"Successfully tagged {name}" in r.stdout and "ci\n" in r.stdout
    podman, penv = _podman(module_env, tmp_path)
    try:
        creds = f"{token_registry.username}:{token_registry.password}"
        pulled = subprocess.run([*podman, "pull", "-q", "--tls-verify=false", "--creds", creds, name], env=penv,
                                capture_output=True, text=True, timeout=120)
        assert pulled.returncode == 0, pulled.stderr
        ran = subprocess.run([*podman, "run", "--rm", "--network", "none", name], env=penv,
                             capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0 and ran.stdout == "ci\n", ran.stderr
    finally:
        stop_podman(podman, penv, tmp_path)


def test_ci_script_build_then_run(module_env: RpodEnv, registry, tmp_path: Path) -> None:
    """The issue's CI script: ``rpod build -t HOST:PORT/app:1 . && rpod run --rm HOST:PORT/app:1``
    (the push that follows belongs to ``rpod push``)."""
    import subprocess
    import sys

    write(tmp_path, {"Containerfile": "FROM alpine\nRUN echo ci > /ci.txt\nCMD [\"cat\", \"/ci.txt\"]\n"})
    name = f"{registry.address}/app:1"
    script = (f"set -e\ncd {tmp_path}\n{sys.executable} -m rpod build -t {name} .\n"
              f"{sys.executable} -m rpod run --rm {name}\n")
    r = subprocess.run(["sh", "-c", script], env=module_env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert f"Successfully tagged {name}" in r.stdout and r.stdout.endswith("ci\n")
