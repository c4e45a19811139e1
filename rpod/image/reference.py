"""Image references (``[registry/]repository[:tag][@digest]``), parsed as Docker and containers/image do.

Grammar (distribution/reference)::

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [domain "/"] path-component ["/" path-component]*
    domain     := host [":" port]          host: DNS name, IPv4, or [IPv6]
    path-component := [a-z0-9]+ (([._]|__|-+) [a-z0-9]+)*
    tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest     := algorithm ":" hex        (sha256: exactly 64 lowercase hex digits)

The first ``/``-separated component is a registry when it contains ``.`` or
``:``, is ``localhost``, or has upper-case letters; otherwise the name is a
*short name* and :attr:`Reference.registry` is ``""`` — registries.conf decides
where it comes from (:mod:`rpod.image.registries_conf`).  ``index.docker.io`` is spelled
``docker.io`` and single-component names on ``docker.io`` get ``library/``.
"""

from __future__ import annotations

import re

from rpod.errors import InvalidReference
from rpod.records import record, replace

DOCKER_HUB = "docker.io"
DEFAULT_TAG = "latest"
NAME_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
PATH_RE = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
DOMAIN_RE = re.compile(rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?")
TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
DIGEST_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_HEX64 = re.compile(r"[a-f0-9]{64}")
_DIGEST_HEX_LEN = {"sha256": 64, "sha384": 96, "sha512": 128}


def validate_tag(tag: str) -> str:
    """Return ``tag`` or raise :class:`InvalidReference`."""
    if not TAG_RE.fullmatch(tag):
        raise InvalidReference(
            f"invalid tag {tag!r}: a tag is 1-128 characters of letters, digits, '_', '.' and '-', "
            "and cannot start with '.' or '-'"
        )
    return tag


def validate_digest(digest: str) -> str:
    """Return ``digest`` (``algorithm:hex``) or raise :class:`InvalidReference`."""
    if not DIGEST_RE.fullmatch(digest):
        raise InvalidReference(
            f"invalid digest {digest!r}: expected ALGORITHM:HEX, e.g. sha256:<64 hex digits>"
        )
    algo, _, hexpart = digest.partition(":")
    want = _DIGEST_HEX_LEN.get(algo)
    if want is not None and (len(hexpart) != want or hexpart != hexpart.lower()):
        raise InvalidReference(f"invalid digest {digest!r}: {algo} needs exactly {want} lowercase hex digits")
    return digest


def is_digest(value: str) -> bool:
    """True when ``value`` is a well-formed ``algorithm:hex`` digest."""
    try:
        validate_digest(value)
    except InvalidReference:
        return False
    return True


def looks_like_domain(component: str) -> bool:
    """The registry-detection rule of Docker: ``.`` or ``:`` inside, ``localhost``, or upper case."""
    return "." in component or ":" in component or component == "localhost" or component != component.lower()


@record(frozen=True)
class Reference:
    """A parsed image reference.  ``registry`` is ``""`` for a short name (user gave none)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def is_short(self) -> bool:
        """True when the user gave no registry (resolve it with registries.conf)."""
        return not self.registry

    @property
    def name(self) -> str:
        """``registry/repository`` (just the repository for a short name)."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    @property
    def tag_or_default(self) -> str | None:
        """The tag, ``latest`` when neither tag nor digest was given, ``None`` for a digest-only reference."""
        if self.tag is None and self.digest is None:
            return DEFAULT_TAG
        return self.tag

    @property
    def manifest_ref(self) -> str:
        """What to ask the registry for: the digest when there is one, else the tag (default ``latest``)."""
        return self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        out = self.name
        tag = self.tag_or_default
        if tag is not None:
            out += f":{tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def with_tag(self, tag: str | None) -> Reference:
        return replace(self, tag=validate_tag(tag) if tag is not None else None)

    def with_digest(self, digest: str | None) -> Reference:
        return replace(self, digest=validate_digest(digest) if digest is not None else None)

    def qualified(self, registry: str) -> Reference:
        """This reference on ``registry`` (a short name made full; ``library/`` added on docker.io)."""
        return _normalize(registry, self.repository, self.tag, self.digest)


def _normalize(registry: str, repository: str, tag: str | None, digest: str | None) -> Reference:
    if registry == "index.docker.io":
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    return Reference(registry, repository, tag, digest)


def parse_reference(text: str) -> Reference:
    """Parse ``text`` into a :class:`Reference`; raise :class:`InvalidReference` with the reason."""
    if not text:
        raise InvalidReference("invalid reference format: empty image name")
    if text != text.strip() or any(c.isspace() for c in text):
        raise InvalidReference(f"invalid reference format {text!r}: whitespace is not allowed")
    if "://" in text:
        raise InvalidReference(
            f"invalid reference format {text!r}: remove the transport (e.g. 'docker://') and give REGISTRY/NAME[:TAG]"
        )
    rest, at, digest = text.partition("@")
    if at:
        validate_digest(digest)
    else:
        digest = None
    tag: str | None = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        validate_tag(tag)
    if not rest:
        raise InvalidReference(f"invalid reference format {text!r}: no repository name")

    registry = ""
    path = rest
    first, sep, remainder = rest.partition("/")
    if sep and looks_like_domain(first):
        registry, path = first, remainder
        if not DOMAIN_RE.fullmatch(registry):
            raise InvalidReference(
                f"invalid reference format {text!r}: {registry!r} is not a valid registry host[:port]"
            )
    if _HEX64.fullmatch(path) and not registry:
        raise InvalidReference(
            f"invalid repository name {text!r}: a 64-character hex string is an image ID, not a name"
        )
    if path != path.lower():
        raise InvalidReference(f"invalid reference format {text!r}: repository name must be lowercase")
    if not PATH_RE.fullmatch(path):
        raise InvalidReference(
            f"invalid reference format {text!r}: repository components are lowercase letters and digits "
            "separated by '.', '_', '__' or '-', joined by '/'"
        )
    if len(registry) + 1 + len(path) > NAME_MAX:
        raise InvalidReference(f"invalid reference format {text!r}: name longer than {NAME_MAX} characters")
    if not registry:
        return Reference("", path, tag, digest)
    return _normalize(registry, path, tag, digest)


def parse_qualified(text: str, default_registry: str = DOCKER_HUB) -> Reference:
    """Parse ``text`` the Docker way: a short name is placed on ``default_registry``."""
    ref = parse_reference(text)
    return ref.qualified(default_registry) if ref.is_short else ref


def validate_autoupdate_reference(image: str) -> None:
    """A container labelled for ``registry`` updates must name its image fully (domain, name,
    tag) on the docker transport (Podman's ``validateAutoUpdateImageReference``)."""
    from rpod.errors import UsageError

    transport, sep, rest = image.partition(":")
    if sep and transport in ("docker-archive", "oci-archive", "oci", "dir", "containers-storage", "docker-daemon"):
        raise UsageError(f'auto updates require the docker image transport but image is of transport "{transport}"')
    name = image.removeprefix("docker://")
    try:
        short = parse_reference(name).is_short
    except InvalidReference:
        return  # the image lookup reports it
    if short:
        raise UsageError(f'short name: auto updates require fully-qualified image reference: "{image}"')
