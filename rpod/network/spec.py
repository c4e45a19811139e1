"""``--network`` words shared by the container options and the network plan."""

from __future__ import annotations

from rpod.errors import UsageError

NETWORK_MODES = ("none", "host", "slirp4netns", "private", "ns", "pasta")


def split_network(value: str) -> tuple[str, dict[str, str]]:
    """Podman 4's ``NAME:alias=a,ip=x,mac=y,interface_name=z`` → (NAME, options); other
    ``--network`` values (``slirp4netns:...``, ``container:X``) come back unchanged."""
    mode, sep, rest = value.partition(":")
    if not sep or mode in NETWORK_MODES or mode == "container" or "," in mode:
        return value, {}
    opts: dict[str, str] = {}
    aliases: list[str] = []
    for item in filter(None, rest.split(",")):
        key, eq, val = item.partition("=")
        if not eq or key not in ("alias", "ip", "ip6", "mac", "interface_name"):
            raise UsageError(f"invalid option {item!r} for network {mode}",
                             hint="use alias=NAME, ip=ADDR, ip6=ADDR, mac=MAC or interface_name=NAME")
        if key == "alias":
            aliases.append(val)
        else:
            opts[key] = val
    if aliases:
        opts["alias"] = ",".join(aliases)
    return mode, opts
