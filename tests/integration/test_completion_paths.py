"""``__complete`` as Podman's completion functions answer it (600-completion): paths inside an
image for ``run IMAGE <TAB>`` and inside a container for ``cp CTR:<TAB>`` (read from the layers as
overlay shows them: whiteouts, opaque directories, symlinks kept inside), and the objects an
argument's usage names (pods, secrets, ``{CONTAINER...|POD...|VOLUME...}``)."""

from __future__ import annotations

from pathlib import Path

from tests.support.rpodcli import RpodEnv, ok, run_rpod


def complete(env: RpodEnv, *words: str) -> tuple[list[str], str]:
    r = ok(run_rpod(env, "__completeNoDesc", *words))
    *lines, directive = r.stdout.splitlines()
    return lines, directive


def test_paths_in_an_image_follow_the_overlay(env: RpodEnv) -> None:
    top, d = complete(env, "create", "layered", "")
    assert {"/etc/", "/opt/", "/bin/"} <= set(top) and d == ":2"
    assert complete(env, "run", "layered", "/opt/app/") == (["/opt/app/new.txt"], ":0")  # opaque: a, b gone
    etc, _ = complete(env, "create", "layered", "/etc/rpod-layered")
    assert etc == ["/etc/rpod-layered/abs-link", "/etc/rpod-layered/keep.txt", "/etc/rpod-layered/modified.txt"]
    opt, _ = complete(env, "create", "layered", "/opt/")
    assert "/opt/trash/" not in opt and "/opt/dir-to-file" in opt and "/opt/kind-change/" in opt, opt
    assert complete(env, "create", "layered", "/opt/app-link/") == (["/opt/app-link/new.txt"], ":0")
    # .. stops at the image's root; the typed text is kept
    assert complete(env, "create", "layered", "../../etc/rpod-l") == (["../../etc/rpod-layered/"], ":2")
    assert complete(env, "create", "layered", "/nonexistent/x") == ([], ":0")


def test_cp_completes_paths_in_the_container(env: RpodEnv) -> None:
    ok(run_rpod(env, "run", "--name", "cpc", "layered", "sh", "-c",
                "mkdir /emptyd && touch /tmp/f1 /tmp/f2 && rm /etc/rpod-layered/keep.txt"))
    try:
        names, d = complete(env, "cp", "")
        assert "cpc:" in names and d == ":2"
        assert complete(env, "cp", "cpc:/tmp/f") == (["cpc:/tmp/f1", "cpc:/tmp/f2"], ":2")
        etc, _ = complete(env, "cp", "cpc:/etc/rpod-layered/")
        assert "cpc:/etc/rpod-layered/keep.txt" not in etc and "cpc:/etc/rpod-layered/modified.txt" in etc
        assert complete(env, "cp", "cpc:/emptyd") == (["cpc:/emptyd/"], ":2")  # empty: the slash, no space
    finally:
        run_rpod(env, "rm", "-f", "cpc")


def test_objects_named_by_the_usage(env: RpodEnv, tmp_path: Path) -> None:
    secret = tmp_path / "s"
    secret.write_text("x")
    ok(run_rpod(env, "pod", "create", "--infra=false", "--name", "cpod"))
    ok(run_rpod(env, "secret", "create", "csec", str(secret)))
    ok(run_rpod(env, "volume", "create", "cvol"))
    ok(run_rpod(env, "create", "--name", "cctr", "alpine", "true"))
    try:
        assert complete(env, "pod", "rm", "") == (["cpod"], ":4")
        assert complete(env, "secret", "inspect", "") == (["csec"], ":4")
        assert complete(env, "volume", "rm", "") == (["cvol"], ":4")
        kube, d = complete(env, "generate", "kube", "")
        assert {"cctr", "cpod", "cvol"} <= set(kube) and d == ":4"
        assert any(n.endswith("/layered:latest") for n in complete(env, "history", "")[0])  # IMAGE, param "name"
        assert complete(env, "build", "") == ([], ":0")  # a context directory: the shell's files
        assert any(n.endswith("/alpine:latest") for n in complete(env, "image", "diff", "layered", "")[0])
        assert complete(env, "image", "diff", "layered", "alpine", "") == ([], ":4")  # IMAGE [IMAGE]: two at most
    finally:
        run_rpod(env, "rm", "-f", "cctr")
        run_rpod(env, "pod", "rm", "-f", "cpod")
        run_rpod(env, "secret", "rm", "csec")
        run_rpod(env, "volume", "rm", "cvol")
