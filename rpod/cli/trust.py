"""``rpod image trust set|show`` and ``rpod image sign`` (subcommands of ``image``)."""

from __future__ import annotations

import click

from rpod.cli.common import write

app = click.Group()


@app.group("trust", options_metavar="[options]", subcommand_metavar="[command]", no_args_is_help=True)
def trust_cmd() -> None:
    """Manage container image trust policy."""


@trust_cmd.command("set")
@click.argument("registry", metavar="REGISTRY")
@click.option("--type", "-t", "trust_type", default="signedBy", show_default=True, metavar="string",
              help="Trust type, accept values: signedBy(default), accept, reject")
@click.option("--pubkeysfile", "-f", multiple=True, metavar="strings",
              help="Path of installed public key(s) to trust for TARGET")
@click.option("--policypath", hidden=True)
def set_cmd(registry: str, trust_type: str, pubkeysfile: tuple[str, ...], policypath: str | None) -> None:
    """Set default trust policy or a new trust policy for a registry."""
    from rpod.engine import trust

    keys = [k for v in pubkeysfile for k in v.split(",") if k]
    trust.set_trust(registry, trust_type, keys, policypath)


@trust_cmd.command("show")
@click.argument("registry", required=False, metavar="[REGISTRY]")
@click.option("--json", "-j", "as_json", is_flag=True, help="Output as json")
@click.option("--raw", is_flag=True, help="Output raw policy file")
@click.option("--noheading", "-n", is_flag=True, help="Do not print column headings")
@click.option("--policypath", hidden=True)
@click.option("--registrypath", hidden=True)
def show_cmd(registry: str | None, as_json: bool, raw: bool, noheading: bool, policypath: str | None,
             registrypath: str | None) -> None:
    """Display trust policy for the system."""
    from rpod.engine import trust

    report = trust.show_trust(policypath, registrypath, raw=raw)
    if raw:
        write(report.raw.decode(errors="replace") + "\n")
        return
    if as_json:
        import json

        write(json.dumps(report.policies, indent=2) + "\n")
        return
    from rpod.format.report import tabwrite

    lines = [] if noheading else ["TRANSPORT\tNAME\tTYPE\tID\tSTORE"]
    lines += ["\t".join([p["transport"], p.get("repo_name", ""), p["type"], p.get("gpg_id", ""), p.get("sigstore", "")])
              for p in report.policies]
    write(tabwrite("".join(line + "\n" for line in lines)))


@app.command("sign")
@click.argument("names", nargs=-1, required=True, metavar="IMAGE [IMAGE...]")
@click.option("--sign-by", default="", metavar="string", help="Name of the signing key")
@click.option("--directory", "-d", metavar="string", help="Define an alternate directory to store signatures")
@click.option("--all", "-a", "all_", is_flag=True, help="Sign all the manifests of the multi-architecture image")
@click.option("--cert-dir", metavar="Pathname", help="Pathname of a directory containing TLS certificates and keys")
@click.option("--authfile", metavar="string", help="Path of the authentication file")
def sign_cmd(names: tuple[str, ...], sign_by: str, directory: str | None, all_: bool, cert_dir: str | None,
             authfile: str | None) -> None:
    """Sign an image."""
    from rpod.engine import trust

    trust.sign(list(names), sign_by, directory, all_, cert_dir, authfile)
