#!/usr/bin/env python3
"""rpod beside Podman (and bare crun), in one run, on the same images from the same local registry.

Run as an unprivileged user with a subuid range, from the repository root:

    python bench/bench.py [--runs 5] [--only pull,images,run,exec,ps,memory,net,ship,build,api] [--markdown]

It starts a local registry (the test suite's fixture code), pushes the test
images with skopeo, then times each operation with fresh, separate stores for
rpod and Podman, and prints medians and the ratio rpod/Podman (< 1 means rpod
is faster).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


@dataclass
class Result:
    name: str
    rpod: list[float] = field(default_factory=list)
    podman: list[float] = field(default_factory=list)
    crun: list[float] = field(default_factory=list)
    unit: str = "ms"

    @staticmethod
    def _med(xs: list[float]) -> float | None:
        return statistics.median(xs) if xs else None

    def row(self) -> dict:
        r, p, c = self._med(self.rpod), self._med(self.podman), self._med(self.crun)
        return {"name": self.name, "unit": self.unit, "rpod": r, "podman": p, "crun": c,
                "ratio": (r / p) if r is not None and p else None}


def installed_python(base: Path) -> str:
    """A python with rpod installed the way users get it (``pip install .``, not editable)."""
    venv, src = base / "venv", base / "src"
    # build from a copy: the checkout may not be writable by this user
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".git", ".venv", "*.egg-info", "__pycache__"))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(src)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return str(venv / "bin" / "python")


class Tools:
    """Fresh stores and the command prefixes for rpod and Podman."""

    def __init__(self, base: Path, registry: str, python: str = sys.executable):
        self.base = base
        self.registry = registry
        self.python = python
        self.n = 0
        self.podmans: list[tuple[list[str], dict[str, str], Path]] = []

    def fresh(self) -> tuple[list[str], list[str], dict[str, str]]:
        self.n += 1
        d = self.base / f"s{self.n}"
        xdg = d / "xdg"
        for sub in ("rpod-root", "rpod-run", "pm-root", "pm-run", "xdg", "config/containers"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(xdg, 0o700)
        (d / "config/containers/registries.conf").write_text(
            f'unqualified-search-registries = ["{self.registry}"]\n'
            f'[[registry]]\nlocation = "{self.registry}"\ninsecure = true\n')
        env = dict(os.environ, XDG_RUNTIME_DIR=str(xdg), XDG_CONFIG_HOME=str(d / "config"),
                   CONTAINERS_REGISTRIES_CONF=str(d / "config/containers/registries.conf"))
        rpod = [self.python, "-m", "rpod", "--root", str(d / "rpod-root"), "--runroot", str(d / "rpod-run")]
        podman = ["podman", "--root", str(d / "pm-root"), "--runroot", str(d / "pm-run"),
                  "--cgroup-manager=cgroupfs", "--events-backend=file", "--storage-driver=overlay"]
        self.podmans.append((podman, env, d))
        return rpod, podman, env

    def close(self) -> None:
        """Stop what every store left running: Podman's containers and its pause process, rpod's
        containers (the same teardown as the test suite's)."""
        from tests.support.leaks import stop_podman, stop_referencing

        for podman, env, d in self.podmans:
            stop_podman(podman, env, d)
            stop_referencing(f"{d}/")


def timed(cmd: list[str], env: dict[str, str], stdin: bytes | None = None) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = (time.perf_counter() - t) * 1000
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode()[-400:]}")
    return dt


def run(cmd: list[str], env: dict[str, str]) -> str:
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr[-400:]}")
    return p.stdout


def bench_pull(tools: Tools, image: str, runs: int, name: str) -> Result:
    res = Result(name)
    for _ in range(runs):
        rpod, podman, env = tools.fresh()
        res.rpod.append(timed([*rpod, "pull", "-q", image], env))
        res.podman.append(timed([*podman, "pull", "-q", "--tls-verify=false", image], env))
    return res


def bench_images(tools: Tools, image: str, runs: int) -> Result:
    res = Result("images (50 images)")
    rpod, podman, env = tools.fresh()
    run([*rpod, "pull", "-q", image], env)
    run([*podman, "pull", "-q", "--tls-verify=false", image], env)
    for i in range(50):
        run([*rpod, "tag", image, f"localhost/bench{i}:latest"], env)
        run([*podman, "tag", image, f"localhost/bench{i}:latest"], env)
    for _ in range(runs):
        res.rpod.append(timed([*rpod, "images"], env))
        res.podman.append(timed([*podman, "images"], env))
    return res


def bench_ship(tools: Tools, image: str, runs: int, base: Path) -> list[Result]:
    """``push`` of a pulled image to an empty registry (a new one each time: no blob is there to
    mount), and ``save`` + ``load`` of it into a fresh store."""
    from tests.support.registry import start_registry

    push, saveload = Result("push large image (empty registry)"), Result("save + load large image")
    for i in range(runs):
        rpod, podman, env = tools.fresh()
        run([*rpod, "pull", "-q", image], env)
        run([*podman, "pull", "-q", "--tls-verify=false", image], env)
        for side, cmd in (("rpod", rpod), ("podman", podman)):
            reg = start_registry(base / f"push-{i}-{side}")
            try:
                dest = f"{reg.address}/pushed/large:1"
                ms = timed([*cmd, "push", "--tls-verify=false", image, dest], env)
            finally:
                reg.stop()
            getattr(push, side).append(ms)
        rpod2, podman2, _ = tools.fresh()
        for side, cmd, cmd2 in (("rpod", rpod, rpod2), ("podman", podman, podman2)):
            archive = base / f"save-{i}-{side}.tar"
            ms = timed([*cmd, "save", "-o", str(archive), image], env)
            ms += timed([*cmd2, "load", "-i", str(archive)], env)
            archive.unlink()
            getattr(saveload, side).append(ms)
    return [push, saveload]


BUILD_CONTAINERFILE = ("FROM {image}\nRUN echo one > /one\nRUN apk --version > /apkv\nCOPY app.sh /app.sh\n"
                       'CMD ["/bin/sh", "/app.sh"]\n')


def bench_build(tools: Tools, image: str, runs: int) -> list[Result]:
    """A 5-step build (FROM, two RUN, COPY, CMD): cold (no cache, base image present) and warm."""
    cold, warm = Result("build, 5 steps (cold cache)"), Result("build, 5 steps (warm cache)")
    ctx = tools.base / "build-ctx"
    ctx.mkdir(parents=True, exist_ok=True)
    (ctx / "Containerfile").write_text(BUILD_CONTAINERFILE.format(image=image))
    (ctx / "app.sh").write_text("echo hello\n")
    for _ in range(runs):
        rpod, podman, env = tools.fresh()
        run([*rpod, "pull", "-q", image], env)
        run([*podman, "pull", "-q", "--tls-verify=false", image], env)
        cold.rpod.append(timed([*rpod, "build", "-q", "-t", "b", str(ctx)], env))
        cold.podman.append(timed([*podman, "build", "-q", "-t", "b", str(ctx)], env))
        warm.rpod.append(timed([*rpod, "build", "-q", "-t", "b", str(ctx)], env))
        warm.podman.append(timed([*podman, "build", "-q", "-t", "b", str(ctx)], env))
    return [cold, warm]


def _pss_kb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return float(line.split()[1])
    raise RuntimeError(f"no Pss for {pid}")


def bench_containers(tools: Tools, image: str, runs: int, alpine_tar: Path) -> list[Result]:
    """run --rm latency, run -d, exec, ps -a with 50 containers, monitor PSS; beside bare crun."""
    rpod, podman, env = tools.fresh()
    run([*rpod, "pull", "-q", image], env)
    run([*podman, "pull", "-q", "--tls-verify=false", image], env)
    net = ["--network", "none"]  # the same network mode on both sides
    lat = Result("run --rm alpine true")
    det = Result("run -d alpine sleep")
    exe = Result("exec CTR true")
    for i in range(runs + 1):
        r = timed([*rpod, "run", "--rm", *net, image, "true"], env)
        p = timed([*podman, "run", "--rm", *net, image, "true"], env)
        if i:  # the first run warms caches (overlay probe, page cache)
            lat.rpod.append(r)
            lat.podman.append(p)
    for _ in range(runs):
        t = time.perf_counter()
        rid = run([*rpod, "run", "-d", *net, image, "sleep", "1000"], env).strip()
        det.rpod.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        pid = run([*podman, "run", "-d", *net, image, "sleep", "1000"], env).strip()
        det.podman.append((time.perf_counter() - t) * 1000)
        exe.rpod.append(timed([*rpod, "exec", rid, "true"], env))
        exe.podman.append(timed([*podman, "exec", pid, "true"], env))
    mem = Result("monitor PSS per container", unit="kB")
    for cid in run([*rpod, "ps", "-q", "--no-trunc"], env).split():
        mem.rpod.append(_pss_kb(int(run([*rpod, "inspect", "--format", "{{.State.ConmonPid}}", cid], env))))
    for cid in run([*podman, "ps", "-q", "--no-trunc"], env).split():
        mem.podman.append(_pss_kb(int(run([*podman, "inspect", "--format", "{{.State.ConmonPid}}", cid], env))))
    run([*rpod, "rm", "-f", "-a", "-t", "0"], env)
    run([*podman, "rm", "-f", "-a", "-t", "0"], env)
    ps = Result("ps -a (50 containers)")
    for i in range(50):
        run([*rpod, "create", *net, "--name", f"c{i}", image, "true"], env)
        run([*podman, "create", *net, "--name", f"c{i}", image, "true"], env)
    for _ in range(runs):
        ps.rpod.append(timed([*rpod, "ps", "-a"], env))
        ps.podman.append(timed([*podman, "ps", "-a"], env))
    run([*rpod, "rm", "-f", "-a"], env)
    run([*podman, "rm", "-f", "-a"], env)
    lat.crun = bare_crun(tools.base / "crun", alpine_tar, runs)
    return [lat, det, exe, ps, mem]


def bare_crun(base: Path, alpine_tar: Path, runs: int) -> list[float]:
    """``crun run`` of ``true`` on a plain rootless bundle: the floor of any runtime here."""
    bundle = base / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    subprocess.run(["tar", "-xzf", str(alpine_tar), "-C", str(bundle / "rootfs")], check=True)
    subprocess.run(["crun", "spec", "--rootless"], cwd=bundle, check=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["args"] = ["true"]
    spec["process"]["terminal"] = False
    (bundle / "config.json").write_text(json.dumps(spec))
    env = dict(os.environ)
    out = []
    for i in range(runs + 1):
        dt = timed(["crun", "--root", str(base / "state"), "run", "--bundle", str(bundle), f"b{i}"], env)
        if i:
            out.append(dt)
    return out


def _wait_port(port: int, timeout: float = 20) -> None:
    import socket

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                c.settimeout(2)
                if c.recv(1):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on 127.0.0.1:{port}")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _send_through(port: int, size: int) -> float:
    """Seconds to push ``size`` bytes to 127.0.0.1:port and see the receiver close (it read them all)."""
    import socket

    chunk = b"\0" * (1 << 20)
    t = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
        left = size
        while left > 0:
            c.sendall(chunk[:min(left, len(chunk))])
            left -= len(chunk)
        c.shutdown(socket.SHUT_WR)
        while c.recv(65536):
            pass
    return time.perf_counter() - t


def _connect_first_byte(port: int, n: int) -> list[float]:
    import socket

    out = []
    for _ in range(n):
        t = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            c.recv(1)
        out.append((time.perf_counter() - t) * 1e6)
    return out


def bench_network(tools: Tools, image: str, runs: int) -> list[Result]:
    """slirp4netns on both sides (Podman with port_handler=slirp4netns, the forwarder rpod uses):
    run --rm latency with a network and on a user-defined network (nothing else attached: rpod
    starts its network holder, Podman its rootless netns), throughput through -p, TCP connect +
    first byte through -p."""
    rpod, podman, env = tools.fresh()
    # Podman puts slirp4netns's API socket under XDG_RUNTIME_DIR and fails past 108 bytes (rpod
    # binds it through /proc/self/fd): give both a short one
    env["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="rb-", dir="/tmp")
    run([*rpod, "pull", "-q", image], env)
    run([*podman, "pull", "-q", "--tls-verify=false", image], env)
    nets = {"rpod": ["--network", "slirp4netns"], "podman": ["--network", "slirp4netns:port_handler=slirp4netns"]}
    cmds = {"rpod": rpod, "podman": podman}
    lat = Result("run --rm alpine true (slirp4netns)")
    thr = Result("tcp throughput through -p (256 MiB)", unit="MiB/s")
    conn = Result("tcp connect + first byte through -p", unit="us")
    for i in range(runs + 1):
        for who in ("rpod", "podman"):
            dt = timed([*cmds[who], "run", "--rm", *nets[who], image, "true"], env)
            if i:
                getattr(lat, who).append(dt)
    user = Result("run --rm alpine true (user network)")
    for who in ("rpod", "podman"):
        run([*cmds[who], "network", "create", "benchnet"], env)
    for i in range(runs + 1):
        for who in ("rpod", "podman"):
            dt = timed([*cmds[who], "run", "--rm", "--network", "benchnet", image, "true"], env)
            if i:
                getattr(user, who).append(dt)
    size = 256 << 20
    for who in ("rpod", "podman"):
        sink, hello = _free_port(), _free_port()
        cid = run([*cmds[who], "run", "-d", *nets[who], "-p", f"127.0.0.1:{sink}:5001", "-p",
                   f"127.0.0.1:{hello}:5002", image, "sh", "-c",
                   "nc -lk -p 5002 -e echo x & exec nc -lk -p 5001 -e sh -c 'cat > /dev/null'"], env).strip()
        try:
            _wait_port(hello)
            _send_through(sink, 1 << 20)  # warm up
            for _ in range(runs):
                getattr(thr, who).append(size / (1 << 20) / _send_through(sink, size))
            getattr(conn, who).extend(_connect_first_byte(hello, 20 * runs))
        finally:
            run([*cmds[who], "rm", "-f", "-t", "0", cid], env)
    shutil.rmtree(env["XDG_RUNTIME_DIR"], ignore_errors=True)
    return [lat, user, thr, conn]


BENCHES: dict[str, Callable[..., list[Result]]] = {}


def bench_pods(tools: Tools, image: str, runs: int) -> Result:
    """``pod create`` + two containers in it (``run -d --pod``) + ``pod rm -f``, end to end; the
    first round (Podman builds its pause image, rpod its infra image) is not counted."""
    res = Result("pod create + 2 containers + pod rm -f")
    rpod, podman, env = tools.fresh()
    run([*rpod, "pull", "-q", image], env)
    run([*podman, "pull", "-q", "--tls-verify=false", image], env)

    def cycle(tool: list[str], extra: list[str]) -> float:
        t = time.perf_counter()
        run([*tool, "pod", "create", "--name", "bp"], env)
        for i in range(2):
            run([*tool, "run", "-d", *extra, "--pod", "bp", "--name", f"bp{i}", image, "sleep", "1000"], env)
        run([*tool, "pod", "rm", "-f", "-t", "0", "bp"], env)
        return (time.perf_counter() - t) * 1000

    for i in range(runs + 1):
        r, p = cycle(rpod, []), cycle(podman, ["--tls-verify=false"])
        if i:
            res.rpod.append(r)
            res.podman.append(p)
    return res


def _activated(cmd: list[str], env: dict[str, str], sock: Path) -> subprocess.Popen[bytes]:
    """Start an API service the way systemd's socket activation does (fd 3, LISTEN_FDS/LISTEN_PID)."""
    import socket as socketmod

    with contextlib.suppress(FileNotFoundError):
        sock.unlink()
    ls = socketmod.socket(socketmod.AF_UNIX)
    ls.bind(str(sock))
    ls.listen(16)
    code = ("import os, sys; os.dup2(int(sys.argv[1]), 3); "
            "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1'); os.execvp(sys.argv[2], sys.argv[2:])")
    proc = subprocess.Popen([sys.executable, "-c", code, str(ls.fileno()), *cmd], env=env, pass_fds=[ls.fileno()],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ls.close()
    return proc


def bench_api(tools: Tools, image: str, runs: int) -> list[Result]:
    """``docker run --rm alpine true`` and ``docker ps`` (50 containers) through each API service:
    warm (a running service) and cold (socket-activated on the first request, exits when idle)."""
    rpod, podman, env = tools.fresh()
    run([*rpod, "pull", "-q", image], env)
    run([*podman, "pull", "-q", "--tls-verify=false", image], env)
    xdg = Path(env["XDG_RUNTIME_DIR"])
    # rpod's store by environment, so `rpod system service` starts through its fast path
    renv = dict(env, RPOD_ROOT=rpod[rpod.index("--root") + 1], RPOD_RUNROOT=rpod[rpod.index("--runroot") + 1])
    services = {"rpod": ([*rpod[:3], "system", "service"], renv), "podman": ([*podman, "system", "service"], env)}
    warm, cold, ps = (Result("docker run --rm alpine true (API, warm)"),
                      Result("docker run --rm alpine true (API, socket-activated)"),
                      Result("docker ps (API, 50 containers)"))
    socks = {name: xdg / f"{name}-api.sock" for name in services}
    denvs = {name: dict(senv, DOCKER_HOST=f"unix://{socks[name]}", DOCKER_CONFIG=str(xdg / "docker"))
             for name, (_, senv) in services.items()}
    # rpod and Podman alternate, run by run: a shared machine's load changes hurt both alike
    for _ in range(runs):  # cold: a new service per request, gone when idle
        for name, (cmd, senv) in services.items():
            proc = _activated([*cmd, "--time", "1"], senv, socks[name])
            getattr(cold, name).append(timed(["docker", "run", "--rm", image, "true"], denvs[name]))
            proc.wait(timeout=60)
    procs = [subprocess.Popen([*cmd, "--time", "0", f"unix://{socks[name]}"], env=senv, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for name, (cmd, senv) in services.items()]
    try:
        for name in services:
            _wait_unix(socks[name])
            timed(["docker", "run", "--rm", image, "true"], denvs[name])  # the first one warms caches
        for _ in range(runs):
            for name in services:
                getattr(warm, name).append(timed(["docker", "run", "--rm", image, "true"], denvs[name]))
        for name in services:
            for i in range(50):
                run(["docker", "create", "--name", f"c{i}", image, "true"], denvs[name])
        for _ in range(runs):
            for name in services:
                getattr(ps, name).append(timed(["docker", "ps", "-a"], denvs[name]))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=60)
    return [cold, warm, ps]


def _wait_unix(path: Path, timeout: float = 30) -> None:
    import socket as socketmod

    end = time.monotonic() + timeout
    while True:
        try:
            with socketmod.socket(socketmod.AF_UNIX) as s:
                s.connect(str(path))
                return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="pull,images,run")
    ap.add_argument("--markdown", action="store_true", help="print a README table")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--editable", action="store_true",
                    help="use this interpreter's rpod (a dev install) instead of a fresh pip install")
    args = ap.parse_args()
    if os.getuid() == 0:
        print("run the benchmark as an unprivileged user (rootless is the point)", file=sys.stderr)
        return 2
    for tool in ("podman", "skopeo", "docker-registry"):
        if not shutil.which(tool):
            print(f"{tool} is missing: apt-get install {tool}", file=sys.stderr)
            return 2
    from tests.support.images import ImageSet, build_images, default_cache_root
    from tests.support.registry import start_registry

    only = set(args.only.split(","))
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="rpod-bench-") as tmp:
        base = Path(tmp)
        # not from the checkout: `python -m rpod` puts the cwd first on sys.path, so the tools
        # would run the checkout's sources (recompiled at every start when its __pycache__ is
        # not writable, and the monitor with them) instead of the installed package
        os.chdir(base)
        images = build_images(base / "layouts", default_cache_root())
        reg = start_registry(base / "registry")
        with contextlib.ExitStack() as stack:
            stack.callback(reg.stop)
            ImageSet(images, reg, base / "skopeo").push_to(reg, "alpine", "large", "busybox")
            python = sys.executable if args.editable else installed_python(base)
            tools = Tools(base / "stores", reg.address, python)
            stack.callback(tools.close)
            alpine = images["alpine"].reference(reg.address)
            if "pull" in only:
                results.append(bench_pull(tools, alpine, args.runs, "pull alpine (cold)"))
                results.append(bench_pull(tools, images["large"].reference(reg.address), max(1, args.runs // 2),
                                          "pull large image (cold)"))
            if "images" in only:
                results.append(bench_images(tools, alpine, args.runs))
            if only & {"run", "exec", "ps", "memory"}:
                from tests.support.images import ALPINE_X86_64

                results.extend(bench_containers(tools, alpine, args.runs, ALPINE_X86_64))
            if "net" in only:
                results.extend(bench_network(tools, alpine, args.runs))
            if "ship" in only:
                results.extend(bench_ship(tools, images["large"].reference(reg.address), max(1, args.runs // 2),
                                          base / "ship"))


            if "pod" in only:
                results.append(bench_pods(tools, alpine, args.runs))
            if "api" in only:
                results.extend(bench_api(tools, alpine, args.runs))
            if "build" in only:
                results.extend(bench_build(tools, alpine, args.runs))
    rows = [r.row() for r in results]
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    print_table(rows, args.markdown)
    return 0


def print_table(rows: list[dict], markdown: bool) -> None:
    def fmt(v: float | None, unit: str = "ms") -> str:
        return "-" if v is None else f"{v:.0f} {unit}"

    header = ["operation", "rpod", "Podman", "bare crun", "rpod/Podman"]
    lines = [[r["name"], fmt(r["rpod"], r["unit"]), fmt(r["podman"], r["unit"]), fmt(r["crun"], r["unit"]),
              "-" if r["ratio"] is None else f"{r['ratio']:.2f}"] for r in rows]
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in lines:
            print("| " + " | ".join(line) + " |")
        return
    widths = [max(len(x) for x in col) for col in zip(header, *lines, strict=False)]
    for line in [header, *lines]:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=False)))


if __name__ == "__main__":
    sys.exit(main())
