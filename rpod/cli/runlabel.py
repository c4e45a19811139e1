"""``rpod container runlabel``: run (or ``--display``) the command an image keeps in a label."""

from __future__ import annotations

import os
import sys

import click


def runlabel_command(value: str, image: str, name: str, opts: dict[str, str]) -> list[str]:
    """The label's command as Podman 4.3.1 builds it: ``podman``/``/usr/bin/podman`` become this
    program, ``IMAGE``/``NAME`` words and ``$IMAGE``, ``$NAME``, ``$OPT1..3``, ``$PWD`` expand,
    empty words are dropped."""
    import re
    import shlex

    env = {**os.environ, "IMAGE": image, "NAME": name, "PWD": os.getcwd(),
           "OPT1": opts.get("opt1", ""), "OPT2": opts.get("opt2", ""), "OPT3": opts.get("opt3", "")}
    words = shlex.split(value)
    if words and words[0] in ("podman", "/usr/bin/podman", "docker", "/usr/bin/docker"):
        argv0 = sys.argv[0] if sys.argv else "rpod"  # this program (``python -m rpod`` when run so)
        words[:1] = [argv0] if os.path.basename(argv0).startswith("rpod") else [sys.executable, "-m", "rpod"]
    out = []
    for w in words:
        w = {"IMAGE": image, "NAME": name, "IMAGE=IMAGE": f"IMAGE={image}", "NAME=NAME": f"NAME={name}"}.get(w, w)
        w = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), w)
        if w:
            out.append(w)
    return out


@click.command("runlabel", context_settings={"help_option_names": ["-h", "--help"],
                                              "allow_interspersed_args": False})
@click.argument("label")
@click.argument("image")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--display", is_flag=True, help="Preview the command that the label would run")
@click.option("-n", "--name", default="", help="Assign a name to the container")
@click.option("--opt1", default="", hidden=True)
@click.option("--opt2", default="", hidden=True)
@click.option("--opt3", default="", hidden=True)
@click.option("-q", "--quiet", is_flag=True, help="Suppress output information when installing images")
@click.option("--replace", is_flag=True, help="Replace existing container with a new one from the image")
def runlabel_cmd(label: str, image: str, args: tuple[str, ...], display: bool, name: str, opt1: str, opt2: str,
                 opt3: str, quiet: bool, replace: bool) -> None:
    """Execute the command described by an image label."""
    from rpod.engine.images import run_label

    full, value = run_label(image, label)
    base = full.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    cmd = runlabel_command(value, full, name or base, {"opt1": opt1, "opt2": opt2, "opt3": opt3}) + list(args)
    if display:
        sys.stdout.write("command: " + " ".join(cmd) + "\n")
        return
    if replace and name:
        from rpod.engine import containers

        containers.remove(containers.RemoveOptions(refs=[name], force=True, ignore=True))
    import subprocess

    if not quiet:
        sys.stdout.write("command: " + " ".join(cmd) + "\n")
        sys.stdout.flush()
    raise click.exceptions.Exit(subprocess.call(cmd))
