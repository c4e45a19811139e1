"""``rpod build``: ``RUN --mount=type=bind,from=`` and ``type=cache`` (persisted per id, seeded
``from=``, ``sharing=``, ``uid``/``gid``/``mode``), globs and several sources in ``COPY --from``,
``--rm=false``/``--force-rm`` (the step containers kept or removed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_build import build, write
from tests.support.rpodcli import RpodEnv, ok, run_rpod

pytestmark = pytest.mark.usefixtures("module_env")

STAGE = "FROM alpine AS src\nRUN mkdir -p /out/sub && echo one > /out/a.txt && echo two > /out/b.txt " \
        "&& echo log > /out/c.log && echo deep > /out/sub/d.txt && echo hidden > /out/.h.txt\n"


def test_bind_mount_from_stage_and_image(module_env: RpodEnv, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Containerfile": STAGE + (
        "FROM alpine\n"
        "RUN --mount=type=bind,from=src,source=/out,target=/in cat /in/a.txt /in/sub/d.txt > /got.txt "
        "&& (touch /in/new 2>/dev/null && echo writable || echo readonly) > /ro.txt\n"
        "RUN --mount=type=bind,from=src,source=/out,target=/in,rw touch /in/new && ls /in > /rw.txt\n"
        "RUN --mount=type=bind,from=src,source=/out/b.txt,target=/b.txt cp /b.txt /copied.txt\n"
        "RUN --mount=type=bind,from=alpine,target=/alp test -f /alp/etc/alpine-release && echo yes > /img.txt\n"
        "CMD cat /got.txt /ro.txt /rw.txt /copied.txt /img.txt; ls /in 2>&1 | head -1\n")})
    ok(build(module_env, ctx, "-t", "bindfrom"))
    out = ok(run_rpod(module_env, "run", "--rm", "bindfrom")).stdout.splitlines()
    assert out[:3] == ["one", "deep", "readonly"]
    assert "new" in out and "a.txt" in out  # rw: writable inside the step
    assert "two" in out and "yes" in out
    # the mounts are not in the image's layers; the rw write never reached the stage
    assert out[-1].startswith("ls: /in")
    ctx2 = write(tmp_path / "again", {"Containerfile": STAGE + "FROM alpine\n"
                                      "RUN --mount=type=bind,from=src,source=/out,target=/in ls /in > /ls.txt\n"
                                      "CMD cat /ls.txt\n"})
    ok(build(module_env, ctx2, "-t", "bindfrom2"))
    assert "new" not in ok(run_rpod(module_env, "run", "--rm", "bindfrom2")).stdout.split()


def test_bind_mount_from_missing_source_fails(module_env: RpodEnv, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Containerfile": STAGE + "FROM alpine\n"
                           "RUN --mount=type=bind,from=src,source=/nope,target=/in true\n"})
    r = build(module_env, ctx)
    assert r.returncode != 0 and "/nope" in r.stderr and "no such file or directory" in r.stderr


def test_cache_mount_persists_between_builds(module_env: RpodEnv, tmp_path: Path) -> None:
    cf = ("FROM alpine\nARG N\n"
          "RUN --mount=type=cache,id=cnt-{tag},target=/cache echo $N >> /cache/runs && cat /cache/runs > /seen\n"
          "RUN --mount=type=cache,target=/var/cache/x,uid=1234,gid=55,mode=0700 "
          "stat -c '%u:%g:%a' /var/cache/x > /owner\n"
          "CMD cat /seen /owner; ls /cache 2>&1 | head -1\n")
    ctx = write(tmp_path, {"Containerfile": cf.format(tag=tmp_path.name)})
    ok(build(module_env, ctx, "-t", "cache1", "--build-arg", "N=first"))
    ok(build(module_env, ctx, "-t", "cache2", "--build-arg", "N=second"))
    out1 = ok(run_rpod(module_env, "run", "--rm", "cache1")).stdout.splitlines()
    out2 = ok(run_rpod(module_env, "run", "--rm", "cache2")).stdout.splitlines()
    assert out1[:2] == ["first", "1234:55:700"]
    assert out2[:3] == ["first", "second", "1234:55:700"]  # the cache survived the first build
    assert out2[-1].startswith("ls: /cache")  # never in the image


def test_cache_mount_seeded_from_stage_and_locked(module_env: RpodEnv, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Containerfile": STAGE + (
        "FROM alpine\n"
        f"RUN --mount=type=cache,id=seed-{tmp_path.name},from=src,source=/out,target=/c,sharing=locked "
        "ls /c > /list && echo added > /c/added\n"
        f"RUN --mount=type=cache,id=seed-{tmp_path.name},target=/c,sharing=private cat /c/added > /added\n"
        "CMD cat /list /added\n")})
    ok(build(module_env, ctx, "-t", "seeded"))
    out = ok(run_rpod(module_env, "run", "--rm", "seeded")).stdout.split()
    assert {"a.txt", "b.txt", "sub"} <= set(out) and out[-1] == "added"


def test_copy_from_globs_and_several_sources(module_env: RpodEnv, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Containerfile": STAGE + (
        "FROM alpine\n"
        "COPY --from=src /out/*.txt /dst/\n"
        "COPY --from=src /out/c.log /out/sub /multi/\n"
        "COPY --from=src /out/a*.txt /single.txt\n"
        "CMD find /dst /multi /single.txt | sort; cat /single.txt\n")})
    r = ok(build(module_env, ctx, "-t", "globs"))
    assert r.stdout.count("COMMIT") == 1
    out = ok(run_rpod(module_env, "run", "--rm", "globs")).stdout.splitlines()
    assert out == ["/dst", "/dst/.h.txt", "/dst/a.txt", "/dst/b.txt", "/multi", "/multi/c.log", "/multi/d.txt",
                   "/single.txt", "one"]
    history = json.loads(ok(run_rpod(module_env, "image", "inspect", "globs")).stdout)[0]["RootFS"]["Layers"]
    base = json.loads(ok(run_rpod(module_env, "image", "inspect", "alpine")).stdout)[0]["RootFS"]["Layers"]
    assert len(history) == len(base) + 3  # one layer per COPY, however many sources
    bad = write(tmp_path / "bad", {"Containerfile": STAGE + "FROM alpine\nCOPY --from=src /out/*.none /dst/\n"})
    r = build(module_env, bad)
    assert r.returncode != 0 and "/out/*.none: no such file or directory" in r.stderr


def _build_containers(env: RpodEnv) -> list[str]:
    out = ok(run_rpod(env, "ps", "-a", "--external", "--no-trunc", "--format", "{{.ID}} {{.Command}}")).stdout
    return [line.split()[0] for line in out.splitlines() if "marker-" in line]


def test_rm_false_keeps_step_containers_and_force_rm_removes(module_env: RpodEnv, tmp_path: Path) -> None:
    tag = tmp_path.name[-8:]
    ctx = write(tmp_path, {"Containerfile": f"FROM alpine\nRUN echo marker-{tag} > /m\n"})
    before = set(_build_containers(module_env))
    ok(build(module_env, ctx, "--no-cache", "--rm=false"))
    kept = set(_build_containers(module_env)) - before
    assert len(kept) == 1
    ok(run_rpod(module_env, "rm", *kept))
    ok(build(module_env, ctx, "--no-cache"))
    assert set(_build_containers(module_env)) == before
    fail = write(tmp_path / "fail", {"Containerfile": f"FROM alpine\nRUN echo marker-{tag}-f; exit 3\n"})
    r = build(module_env, fail, "--rm=false")
    assert r.returncode == 3
    kept = set(_build_containers(module_env)) - before
    assert len(kept) == 1  # a failed step's container stays too, as Podman's working container
    ok(run_rpod(module_env, "rm", *kept))
    r = build(module_env, fail, "--rm=false", "--force-rm")
    assert r.returncode == 3 and set(_build_containers(module_env)) == before


def test_default_mounts_file_reaches_run_steps_and_containers(module_env: RpodEnv, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "token").write_text("shhh\n")
    conf = tmp_path / "mounts.conf"
    conf.write_text(f"{secrets}:/run/secrets\n")
    ctx = write(tmp_path / "ctx", {"Containerfile": "FROM alpine\nRUN cat /run/secrets/token && cat /run/secrets/token > /seen\n"
                                   "CMD cat /seen\n"})
    r = ok(run_rpod(module_env, f"--default-mounts-file={conf}", "build", "-t", "defmounts", str(ctx)))
    assert "shhh" in r.stdout
    assert ok(run_rpod(module_env, "run", "--rm", "defmounts")).stdout == "shhh\n"
    out = ok(run_rpod(module_env, f"--default-mounts-file={conf}", "run", "--rm", "alpine", "cat",
                      "/run/secrets/token")).stdout
    assert out == "shhh\n"


def test_runtime_flag_fails_the_step_and_missing_base_message(module_env: RpodEnv, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Containerfile": "FROM alpine\nRUN echo hi\n"})
    r = run_rpod(module_env, "--runtime-flag", "invalidflag", "build", "--no-cache", str(ctx))
    assert r.returncode == 1 and "invalidflag" in r.stderr
    write(tmp_path, {"Containerfile": "FROM localhost/nosuchimage:nosuchtag\nRUN true\n"})
    r = build(module_env, ctx, "--pull-never")
    assert r.returncode == 125
    assert "Error: creating build container: localhost/nosuchimage:nosuchtag: image not known" in r.stderr


def test_image_tree_whatrequires_and_diff_of_unrelated_images(module_env: RpodEnv, tmp_path: Path) -> None:
    tag = tmp_path.name[-6:].lower()
    specs = {"b": ("scratch", "a"), "c1": ("wr-b", "x"), "c2": ("wr-b", "y"), "g": ("wr-c1", "z")}
    for name, (base, f) in specs.items():
        ctx = write(tmp_path / name, {"Containerfile": f"FROM {base}{'-' + tag if base != 'scratch' else ''}\n"
                                      f"COPY {f} /{f}\n", f: f"{f}-{tag}\n"})
        ok(build(module_env, ctx, "-t", f"wr-{name}-{tag}"))
    out = ok(run_rpod(module_env, "image", "tree", "--whatrequires", f"wr-b-{tag}")).stdout.splitlines()
    assert out[1] == f"Tags:     [localhost/wr-b-{tag}:latest]" and out[3] == "Image Layers"
    assert out[4].startswith("├── ID: ") and out[4].endswith(f"Top Layer of: [localhost/wr-b-{tag}:latest]")
    body = out[5:]
    assert body[-1] == "" and len(body) == 4
    c1 = next(i for i, x in enumerate(body) if x.endswith(f"[localhost/wr-c1-{tag}:latest]"))
    assert body[c1 + 1].endswith(f"[localhost/wr-g-{tag}:latest]")
    assert body[c1 + 1].startswith(("│   └── ID: ", "    └── ID: "))  # nested under its branch
    c2 = next(x for x in body if x.endswith(f"[localhost/wr-c2-{tag}:latest]"))
    assert c2.startswith(("├── ID: ", "└── ID: "))
    plain = ok(run_rpod(module_env, "image", "tree", f"wr-g-{tag}")).stdout.splitlines()
    assert len(plain) == 4 + 3 + 1 and plain[-2].startswith("└── ID: ")
    diff = ok(run_rpod(module_env, "image", "diff", f"wr-c2-{tag}", f"wr-g-{tag}")).stdout.splitlines()
    assert sorted(diff) == ["A /y", "D /x", "D /z"]
    assert ok(run_rpod(module_env, "image", "diff", f"wr-g-{tag}", f"wr-c1-{tag}")).stdout == "A /z\n"


def test_repeated_empty_run_layers_stack(module_env: RpodEnv, tmp_path: Path) -> None:
    """RUN steps that change nothing add the same empty layer twice: overlayfs refuses a directory
    used twice (ELOOP), so the stack keeps it once; the next RUN and a container still work."""
    ctx = write(tmp_path, {"Containerfile": "FROM alpine\nRUN echo a\nRUN echo b\nRUN echo ok > /ok\nCMD cat /ok\n"})
    ok(build(module_env, ctx, "-t", "emptyruns", "--timestamp", "0"))  # same second: the same empty layer
    layers = json.loads(ok(run_rpod(module_env, "image", "inspect", "emptyruns")).stdout)[0]["RootFS"]["Layers"]
    assert len(layers) != len(set(layers))  # the duplicate is really in the image, as Podman records it
    assert ok(run_rpod(module_env, "run", "--rm", "emptyruns")).stdout == "ok\n"


def test_missing_containerfile_message(module_env: RpodEnv, tmp_path: Path) -> None:
    (tmp_path / "foofile").write_text("FROM scratch\n")
    r = build(module_env, tmp_path)
    assert r.returncode == 125
    assert r.stderr == f"Error: stat {tmp_path}/Dockerfile: no such file or directory\n"  # Podman 4.3.1's words
    ok(build(module_env, tmp_path, "-f", str(tmp_path / "foofile")))
