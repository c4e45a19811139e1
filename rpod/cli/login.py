"""``rpod login`` and ``rpod logout`` (containers-auth.json)."""

from __future__ import annotations

import sys

import click

from rpod.cli.common import parse_bool_flag, write
from rpod.errors import UsageError

app = click.Group()


@app.command("login")
@click.argument("registry", required=False, metavar="REGISTRY")
@click.option("--username", "-u", help="Username for the registry")
@click.option("--password", "-p", help="Password for the registry")
@click.option("--password-stdin", is_flag=True, help="Take the password from stdin")
@click.option("--authfile", help="Path of the authentication file")
@click.option("--tls-verify", help="Require HTTPS and verify certificates")
@click.option("--cert-dir", help="Directory with TLS certificates")
@click.option("--get-login", is_flag=True, help="Print the user name stored for the registry")
def login(registry: str | None, username: str | None, password: str | None, password_stdin: bool,
          authfile: str | None, tls_verify: str | None, cert_dir: str | None, get_login: bool) -> None:
    """Log in to a container registry (the credentials are checked before they are stored)."""
    from rpod.engine import images

    host = images.login_registry(registry)
    if get_login:
        write(images.login_user(host, authfile) + "\n")
        return
    if password_stdin:
        if password:
            raise UsageError("--password and --password-stdin are mutually exclusive")
        password = sys.stdin.readline().rstrip("\n")
    if not username:
        if not sys.stdin.isatty():
            raise UsageError("a username is needed: use --username (stdin is not a terminal)")
        username = input("Username: ")
    if password is None:
        if not sys.stdin.isatty():
            raise UsageError("a password is needed: use --password-stdin (stdin is not a terminal)")
        import getpass

        password = getpass.getpass("Password: ")
    images.login(host, username, password, authfile=authfile, tls_verify=parse_bool_flag(tls_verify, "--tls-verify"),
                 cert_dir=cert_dir)
    write("Login Succeeded!\n")


@app.command("logout")
@click.argument("registry", required=False, metavar="REGISTRY")
@click.option("--authfile", help="Path of the authentication file")
@click.option("--all", "-a", "all_", is_flag=True, help="Remove the credentials of every registry")
def logout(registry: str | None, authfile: str | None, all_: bool) -> None:
    """Log out of a container registry."""
    from rpod.engine import images

    if not registry and not all_:
        raise UsageError("a registry (or --all) must be given")
    if all_:
        images.logout(None, authfile)
        write("Removed login credentials for all registries\n")
        return
    host = images.login_registry(registry)
    images.logout(host, authfile)
    write(f"Removed login credentials for {host}\n")
