"""``rpod kube play|down|generate`` (and ``rpod generate kube``): Kubernetes YAML in and out."""

from __future__ import annotations

import sys

import click

from rpod.cli.common import parse_bool_flag, write
from rpod.errors import RpodError

HELP = {"help_option_names": ["-h", "--help"]}
app = click.Group("kube", help="Play containers, pods or volumes from a structured file", no_args_is_help=True,
                  context_settings=HELP)


@app.command("play", context_settings=HELP)
@click.argument("source")
@click.option("--start", default="true", help="Start the pods after creating them (true|false)")
@click.option("--replace", is_flag=True, help="Remove the pods of this YAML first")
@click.option("--down", "down_", is_flag=True, help="Stop and remove the pods this YAML made")
@click.option("--network", "--net", help="Network of the pods")
@click.option("--publish", multiple=True, help="Publish a container port on the host: [ip:]host:ctr")
@click.option("--configmap", multiple=True, help="YAML files with ConfigMaps")
@click.option("--log-driver", help="Log driver of the containers")
@click.option("--log-opt", multiple=True, help="Log driver options")
@click.option("-q", "--quiet", is_flag=True, help="Suppress pull output")
@click.option("--tls-verify", hidden=True)
@click.option("--annotation", multiple=True, help="Add an annotation to the containers: KEY=VALUE")
@click.option("--build", is_flag=True, help="Build the images whose directory (with a Containerfile) is in the context")
@click.option("--context-dir", help="Where --build looks for the images' directories (default: the current one)")
@click.option("--service-container", is_flag=True, help="Start a service container for the pods (systemd)")
def play_cmd(source: str, start: str, replace: bool, down_: bool, network: str | None, publish: tuple[str, ...],
             configmap: tuple[str, ...], log_driver: str | None, log_opt: tuple[str, ...], quiet: bool,
             tls_verify: str | None, annotation: tuple[str, ...], build: bool, context_dir: str | None,
             service_container: bool) -> None:
    """Play a pod and its containers from a Kubernetes YAML file, - or an http(s) URL."""
    from rpod.engine import kube

    annotations = _annotations(annotation)
    text = kube.read_source(source)
    if down_:
        _print_down(kube.down(text))
        return
    opts = kube.PlayOptions(start=bool(parse_bool_flag(start, "--start")), replace=replace, network=network,
                            publish=list(publish), configmaps=[c for arg in configmap for c in arg.split(",")],
                            log_driver=log_driver, log_opt=list(log_opt), annotations=annotations, build=build,
                            context_dir=context_dir, service_container=service_container)
    report = kube.play(text, opts, emit=None if quiet else lambda line: sys.stderr.write(line + "\n"))
    out = []
    if report.volumes:
        out += ["Volumes:", *report.volumes]
    failed = 0
    for pod in report.pods:
        out += ["Pod:", pod.id]
        if pod.containers:
            out += ["Container:" if len(pod.containers) == 1 else "Containers:", *pod.containers]
        if pod.errors:
            out.append("")
            for e in pod.errors:
                sys.stderr.write(e + "\n")
            failed += len(pod.errors)
        out.append("")
    write("".join(line + "\n" for line in out))
    if failed:
        raise RpodError(f"failed to start {failed} containers")


def _annotations(values: tuple[str, ...]) -> dict[str, str]:
    """``--annotation KEY=VALUE``, each value at most 63 characters (Podman's words)."""
    out = {}
    for a in values:
        key, _, val = a.partition("=")
        if len(val) > 63:
            raise RpodError(f"annotation exceeds maximum size, 63, of kubernetes annotation: {val}")
        out[key] = val
    return out


play_app = click.Group("play", help="Play containers, pods or volumes from a structured file",
                       no_args_is_help=True, context_settings=HELP)
play_app.add_command(play_cmd, "kube")  # Podman 4's older spelling: ``podman play kube``
top_level = click.Group("top-level")
top_level.add_command(play_app, "play")


def _print_down(report: object) -> None:
    from rpod.cli.common import print_error

    write("Pods stopped:\n" + "".join(i + "\n" for i in report.stopped))  # type: ignore[attr-defined]
    write("Pods removed:\n" + "".join(i + "\n" for i in report.removed))  # type: ignore[attr-defined]
    if report.volumes:  # type: ignore[attr-defined]
        write("Volumes removed:\n" + "".join(i + "\n" for i in report.volumes))  # type: ignore[attr-defined]
    errors = report.errors  # type: ignore[attr-defined]
    for e in errors[:-1]:
        print_error(e)
    if errors:
        raise errors[-1]


@app.command("down", context_settings=HELP)
@click.argument("source")
@click.option("--force", is_flag=True, help="Also remove the volumes of the YAML's PersistentVolumeClaims")
def down_cmd(source: str, force: bool) -> None:
    """Stop and remove the pods a Kubernetes YAML file created."""
    from rpod.engine import kube

    _print_down(kube.down(kube.read_source(source), force=force))


@app.command("generate", context_settings=HELP)
@click.argument("refs", nargs=-1, required=True, metavar="{CONTAINER...|POD...|VOLUME...}")
@click.option("-s", "--service", is_flag=True, help="Also generate a Service (NodePort) for each pod")
@click.option("-f", "--filename", help="Write the YAML to this file")
def generate_cmd(refs: tuple[str, ...], service: bool, filename: str | None) -> None:
    """Generate Kubernetes YAML from containers, pods or volumes, in the layout podman kube generate writes."""
    from rpod.engine import kube

    text = kube.generate(list(refs), service=service)
    if filename:
        import os

        if os.path.exists(filename):
            raise RpodError(f"cannot write to {filename!r}: file exists")
        with open(filename, "w") as f:
            f.write(text)
        return
    write(text)
