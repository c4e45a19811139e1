"""``rpod image trust set|show`` (a subgroup of ``image``)."""

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
