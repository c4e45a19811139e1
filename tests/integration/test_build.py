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
