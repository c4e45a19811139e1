"""``rpod login`` and ``rpod logout`` (containers-auth.json)."""

from __future__ import annotations

import sys

import click

from rpod.cli.common import parse_bool_flag, write
from rpod.errors import RegistryAuthError, UsageError

app = click.Group()


def _registry_host(value: str) -> str:
    host = value.removeprefix("https://").removeprefix("http://").rstrip("/")
    return "docker.io" if host in ("index.docker.io", "registry-1.docker.io") else host


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
    from rpod.image.auth import Credentials, credentials_for, store_credentials

    if not registry:
        from rpod.registries import load_registries_config

        search = load_registries_config().unqualified_search_registries
        if not search:
            raise UsageError("no registry given and no unqualified-search-registries configured")
        registry = search[0]
    host = _registry_host(registry)
    if get_login:
        creds = credentials_for(host, authfile=authfile)
        if creds is None:
            raise RegistryAuthError(f"not logged into {host}")
        write(creds.username + "\n")
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
    from rpod.image.registry import RegistryClient
    from rpod.registries import load_registries_config

    insecure = load_registries_config().is_insecure(host)
    client = RegistryClient(host, insecure=insecure, tls_verify=parse_bool_flag(tls_verify, "--tls-verify"),
                            credentials=Credentials(username, password), certs_dir=cert_dir)
    try:
        client.check_login()
    finally:
        client.close()
    store_credentials(host, username, password, authfile=authfile)
    write("Login Succeeded!\n")


@app.command("logout")
@click.argument("registry", required=False, metavar="REGISTRY")
@click.option("--authfile", help="Path of the authentication file")
@click.option("--all", "-a", "all_", is_flag=True, help="Remove the credentials of every registry")
def logout(registry: str | None, authfile: str | None, all_: bool) -> None:
    """Log out of a container registry."""
    from rpod.image.auth import remove_credentials

    if not registry and not all_:
        raise UsageError("a registry (or --all) must be given")
    if all_:
        remove_credentials(None, authfile=authfile, all=True)
        write("Removed login credentials for all registries\n")
        return
    host = _registry_host(registry)
    if not remove_credentials(host, authfile=authfile):
        raise RegistryAuthError(f"not logged into {host}")
    write(f"Removed login credentials for {host}\n")
