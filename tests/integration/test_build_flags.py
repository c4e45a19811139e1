"""``rpod build`` flags: squash, formats, compression, iidfile, annotations, build args and files,
the context on stdin, RUN mounts, SHELL/USER/exec form, ENTRYPOINT vs CMD, ADD of a URL, --jobs,
--pull=never, and ``images`` hiding the intermediate images."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.integration.test_build import _layer_tars, build, steps, write
from tests.support.rpodcli import RpodEnv, ok, run_rpod

pytestmark = pytest.mark.usefixtures("module_env")


def _names(data: io.BytesIO) -> list[str]:
    with tarfile.open(fileobj=data) as tf:
        return tf.getnames()


def inspect(env: RpodEnv, name: str) -> dict:
    return json.loads(ok(run_rpod(env, "image", "inspect", name)).stdout)[0]


def test_squash_format_compression_iidfile_annotation(module_env: RpodEnv, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Containerfile": (
        "FROM alpine\nRUN echo one > /one && rm /etc/motd\nRUN echo two > /two && rm -rf /etc/apk/protected_paths.d\n"
        "RUN rm /one\nCMD [\"sh\", \"-c\", \"ls /one 2>/dev/null; cat /two; ls /etc/motd 2>/dev/null; echo end\"]\n")})
    base_layers = len(inspect(module_env, "alpine")["RootFS"]["Layers"])
    iid = tmp_path / "iid"
    ok(build(module_env, ctx, "-t", "sq", "--squash", "--format", "docker", "--compression-format", "zstd",
             "--iidfile", str(iid), "--annotation", "org.example.note=hi"))
    doc = inspect(module_env, "sq")
    assert iid.read_text() == "sha256:" + doc["Id"], ok(run_rpod(module_env, "images", "-a")).stdout
    assert len(doc["RootFS"]["Layers"]) == base_layers + 1
    assert doc["ManifestType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert ok(run_rpod(module_env, "run", "--rm", "sq")).stdout == "two\nend\n"
    tars = _layer_tars(module_env, "sq")
    names = _names(io.BytesIO(tars[-1]))
    assert "etc/.wh.motd" in names and "two" in names and "one" not in names
    ok(build(module_env, ctx, "-t", "sqall", "--squash-all"))
    doc = inspect(module_env, "sqall")
    assert len(doc["RootFS"]["Layers"]) == 1
    assert ok(run_rpod(module_env, "run", "--rm", "sqall")).stdout == "two\nend\n"
    names = _names(io.BytesIO(_layer_tars(module_env, "sqall")[0]))
    assert not any(".wh." in n for n in names) and "bin/busybox" in names


def test_args_files_stdin_context_and_proxy(module_env: RpodEnv, tmp_path: Path) -> None:
    argfile = tmp_path / "args"
    argfile.write_text("# comment\nFROMFILE=file-value\nOVER=from-file\n")
    cf = ("FROM alpine\nARG FROMFILE\nARG OVER=default\nARG UNSET\nARG TARGETARCH\n"
          "RUN echo \"$FROMFILE $OVER [${UNSET:-none}] $http_proxy $TARGETARCH\" > /args\nCOPY data.txt /\n"
          "CMD cat /args /data.txt\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, text in (("Containerfile", cf), ("data.txt", "from the tarball\n")):
            ti = tarfile.TarInfo(name)
            ti.size = len(text)
            tf.addfile(ti, io.BytesIO(text.encode()))
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "rpod", "build", "-t", "argimg", "--build-arg-file", str(argfile),
                        "--build-arg", "OVER=from-flag", "--build-arg", "http_proxy=http://proxy:3128",
                        "--build-arg", "NOTUSED=1", "-"], input=buf.getvalue(), env=module_env,
                       capture_output=True, timeout=180)
    assert r.returncode == 0, r.stderr.decode()
    assert b"[Warning] one or more build args were not consumed: [NOTUSED]" in r.stdout
    out = ok(run_rpod(module_env, "run", "--rm", "argimg")).stdout
    assert out == "file-value from-flag [none] http://proxy:3128 amd64\nfrom the tarball\n"
    env = inspect(module_env, "argimg")["Config"]["Env"]
    assert not any("proxy" in e or "FROMFILE" in e for e in env)  # ARGs are not kept in the image


def test_run_mounts_shell_user_and_entrypoint_rules(module_env: RpodEnv, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Containerfile": (
        "FROM alpine\n"
        "RUN --mount=type=cache,target=/cache echo hit >> /cache/count && wc -l < /cache/count > /cachecount\n"
        "RUN --mount=type=bind,source=sub,target=/mnt/src cat /mnt/src/f > /bound\n"
        "RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && test \"$(stat -f -c %T /scratch)\" = tmpfs\n"
        "SHELL [\"/bin/sh\", \"-e\", \"-c\"]\nRUN [\"/bin/sh\", \"-c\", \"echo exec-form > /exec\"]\n"
        "RUN adduser -D -u 4321 bob\nUSER bob\nRUN id -u > /tmp/uid\nUSER root\n"
        "ENTRYPOINT [\"/bin/cat\"]\nCMD [\"/bound\"]\n"), "sub/f": "bound-content\n"})
    ok(build(module_env, ctx, "-t", "mnt", "--network", "none"))
    got = ok(run_rpod(module_env, "run", "--rm", "--entrypoint", "cat", "mnt",
                      "/cachecount", "/bound", "/exec", "/tmp/uid")).stdout.split()
    assert got == ["1", "bound-content", "exec-form", "4321"]
    assert ok(run_rpod(module_env, "run", "--rm", "mnt")).stdout == "bound-content\n"
    for raw in _layer_tars(module_env, "mnt"):
        names = _names(io.BytesIO(raw))
        assert not any(n.startswith(("cache/", "mnt/src/", "scratch/")) for n in names)
    # the cache mount persists between builds: a second (uncached) build counts 2
    ok(build(module_env, ctx, "-t", "mnt2", "--no-cache", "--network", "none"))
    assert ok(run_rpod(module_env, "run", "--rm", "--entrypoint", "cat", "mnt2", "/cachecount")).stdout == "2\n"
    # an ENTRYPOINT drops the CMD inherited from the base image; a CMD in the same stage stays
    cfg = inspect(module_env, "mnt")["Config"]
    assert cfg["Entrypoint"] == ["/bin/cat"] and cfg["Cmd"] == ["/bound"]
    ctx2 = write(tmp_path / "ctx2", {"Containerfile": "FROM mnt\nENTRYPOINT [\"/bin/echo\", \"only\"]\n"})
    ok(build(module_env, ctx2, "-t", "ent"))
    cfg = inspect(module_env, "ent")["Config"]
    assert cfg["Entrypoint"] == ["/bin/echo", "only"] and not cfg.get("Cmd")


def test_add_url_jobs_pull_never_and_images_listing(module_env: RpodEnv, tmp_path: Path) -> None:
    import http.server
    import threading

    served = tmp_path / "www"
    served.mkdir()
    (served / "remote.txt").write_text("downloaded\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(served), **k)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/remote.txt"
        ctx = write(tmp_path / "ctx", {"Containerfile": (
            f"FROM alpine AS a\nADD {url} /from-url.txt\nRUN echo a > /a\n"
            "FROM alpine AS b\nRUN echo b > /b\n"
            "FROM alpine\nCOPY --from=a /from-url.txt /a /\nCOPY --from=b /b /\n"
            "CMD [\"cat\", \"/from-url.txt\", \"/a\", \"/b\"]\n")})
        r = ok(build(module_env, ctx, "-t", "jobs", "--jobs", "2"))
        assert len([x for x in steps(r.stdout) if "STEP 1/" in x]) == 3
        assert ok(run_rpod(module_env, "run", "--rm", "jobs")).stdout == "downloaded\na\nb\n"
        mode = ok(run_rpod(module_env, "run", "--rm", "jobs", "stat", "-c", "%a", "/from-url.txt")).stdout
        assert mode == "600\n"
    finally:
        srv.shutdown()
    bad = write(tmp_path / "bad", {"Containerfile": "FROM does-not-exist-here:1\nRUN true\n"})
    r = build(module_env, bad, "--pull=never")
    assert r.returncode == 125 and "Error: creating build container: does-not-exist-here:1: image not known" in r.stderr
    listed = ok(run_rpod(module_env, "images", "--format", "{{.ID}} {{.Repository}}")).stdout.splitlines()
    everything = ok(run_rpod(module_env, "images", "-a", "--format", "{{.ID}}")).stdout.splitlines()
    assert len(everything) > len(listed)  # the per-step images only with -a
    assert sum(1 for x in listed if x.endswith("<none>")) < sum(1 for _ in everything) - len(listed) + 1


def test_epoch_annotation_chmod_onbuild_and_shell(module_env: RpodEnv, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Containerfile": (
        "FROM alpine\nMAINTAINER someone\nCOPY --chmod=700 f /f\nSHELL [\"/bin/sh\", \"-x\", \"-c\"]\n"
        "CMD echo via-shell\nHEALTHCHECK NONE\nONBUILD RUN echo triggered > /onbuild\n"), "f": "x"})
    r = ok(build(module_env, ctx, "--timestamp", "1600000000", "--annotation", "org.example.k=v", "-t", "ep1"))
    first = r.stdout.strip().splitlines()[-1]
    import subprocess
    import sys

    env = {**module_env, "SOURCE_DATE_EPOCH": "1600000000"}
    again = subprocess.run([sys.executable, "-m", "rpod", "build", "--no-cache", "-q", "--annotation",
                            "org.example.k=v", str(ctx)], env=env, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == first  # SOURCE_DATE_EPOCH is a default --timestamp
    doc = inspect(module_env, "ep1")
    manifest = json.loads((module_env.data_home / "rpod" / "blobs" / "sha256" / doc["Digest"].split(":")[1]).read_bytes())
    assert manifest["annotations"] == {"org.example.k": "v"}
    assert doc["Author"] == "someone" and doc["Config"]["Healthcheck"] == {"Test": ["NONE"]}
    assert doc["Config"]["Cmd"] == ["/bin/sh", "-x", "-c", "echo via-shell"]
    assert ok(run_rpod(module_env, "run", "--rm", "ep1", "stat", "-c", "%a", "/f")).stdout == "700\n"
    child = write(tmp_path / "child", {"Containerfile": "FROM ep1\nCMD [\"cat\", \"/onbuild\"]\n"})
    ok(build(module_env, child, "-t", "child"))
    assert ok(run_rpod(module_env, "run", "--rm", "child")).stdout == "triggered\n"
    assert not inspect(module_env, "child")["Config"].get("OnBuild")


def test_podman_spellings(module_env: RpodEnv, tmp_path: Path) -> None:
    """What Podman's own build tests use: ``buildx build --load``, ``build -`` with a Containerfile on
    stdin, ``--ignorefile``, ``--logfile``, ``BUILDAH_LAYERS``, ``--ulimit``, a missing ``-f``, ``--authfile``."""
    r = ok(run_rpod(module_env, "build", "-t", "fromstdin", "-", input="FROM alpine\nRUN echo in-stdin\n", timeout=120))
    assert "in-stdin" in r.stdout
    ctx = write(tmp_path / "ctx", {"Containerfile": "FROM alpine\nCOPY . /c/\nRUN ls /c; ulimit -n\n",
                                   "keep": "k", "drop": "d"})
    ignore = tmp_path / "myignore"
    ignore.write_text("drop\n")
    log = tmp_path / "build.log"
    r = ok(run_rpod(module_env, "buildx", "build", "--load", "--ignorefile", str(ignore), "--logfile", str(log),
                    "--ulimit", "nofile=101:102", "-t", "bx", str(ctx), timeout=120))
    text = log.read_text()
    assert "COMMIT bx" in text and "keep" in text and "drop" not in text.split("STEP 3/3")[1]
    assert "101" in text
    env = {**module_env, "BUILDAH_LAYERS": "false"}
    import subprocess
    import sys

    again = subprocess.run([sys.executable, "-m", "rpod", "build", "-t", "bx", "--ignorefile", str(ignore),
                            str(ctx)], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "Using cache" not in again.stdout, again.stderr
    missing = run_rpod(module_env, "build", "-f", "Nope", str(ctx))
    assert missing.returncode == 125 and "Nope: no such file or directory" in missing.stderr
    bogus = run_rpod(module_env, "build", "--authfile", "/tmp/bogus-auth-file", str(ctx))
    assert bogus.returncode == 125 and "/tmp/bogus-auth-file: no such file or directory" in bogus.stderr


def test_volume_dirs_and_security_opt(module_env: RpodEnv, tmp_path: Path) -> None:
    """VOLUME's mount points appear where the container mounts them (Docker's odd spelling
    included, as Podman's 070-build checks), and nowhere under ``--image-volume ignore``
    (160-volumes); --security-opt reaches RUN steps."""
    ctx = write(tmp_path / "ctx", {"Containerfile": (
        "FROM alpine\nVOLUME /a/b/c\nVOLUME ['/etc/foo', '/etc/bar']\n"
        "RUN grep Seccomp: /proc/self/status | awk '{print $2}' > /seccomp\n")})
    ok(build(module_env, ctx, "-t", "vols", "--security-opt", "seccomp=unconfined"))
    out = ok(run_rpod(module_env, "run", "--rm", "vols", "sh", "-c",
                      "find '/[' '/etc/bar]' /a/b/c -print; cat /seccomp")).stdout
    assert out.split("\n") == ["/[", "/[/etc", "/[/etc/foo,", "/etc/bar]", "/a/b/c", "0", ""]
    vols = inspect(module_env, "vols")["Config"]["Volumes"]
    assert set(vols) == {"/a/b/c", "/[/etc/foo,", "/etc/bar]"}
    r = run_rpod(module_env, "run", "--rm", "--image-volume", "ignore", "vols", "stat", "-f", "-c", "%T", "/a/b/c")
    assert r.returncode == 1 and "No such file or directory" in r.stderr, r


def test_platform_selects_the_base_pulled(rpod_env: RpodEnv, tmp_path: Path) -> None:
    """``--platform`` and ``FROM --platform`` pick the manifest-list entry FROM pulls."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Containerfile").write_text("FROM multiarch\nLABEL a=b\n")
    ok(run_rpod(rpod_env, "build", "-q", "--platform", "linux/arm64", "-t", "arm", str(ctx)))
    arch = ok(run_rpod(rpod_env, "image", "inspect", "--format", "{{.Architecture}}", "arm")).stdout.strip()
    assert arch == "arm64"
    (ctx / "Containerfile").write_text("FROM --platform=linux/amd64 multiarch\nLABEL a=c\n")
    ok(run_rpod(rpod_env, "build", "-q", "--pull", "always", "-t", "amd", str(ctx)))
    arch = ok(run_rpod(rpod_env, "image", "inspect", "--format", "{{.Architecture}}", "amd")).stdout.strip()
    assert arch == "amd64"
