"""A client for the OCI distribution API (``/v2/``): manifests, blobs, uploads, tags.

The transport (TLS, scheme probe, retries, auth, errors) is ``rpod.image.registry_session``;
``requests`` is imported lazily: importing this module stays cheap for the CLI.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlencode, urljoin

from rpod.errors import DigestMismatch, ManifestUnknown, RegistryError
from rpod.image.mediatypes import MANIFEST_ACCEPT, sniff_manifest_type
from rpod.image.registry_session import (  # noqa: F401 - parse_challenges: part of this module's API
    _HASHES,
    MAX_MANIFEST_SIZE,
    RegistrySession,
    _add_query,
    _LimitedReader,
    _read_limited,
    _ref_string,
    parse_challenges,
)

if TYPE_CHECKING:  # pragma: no cover
    import requests


@dataclass(frozen=True)
class Manifest:
    """A manifest or index as served: exact bytes, media type, and digest (computed from the bytes)."""

    content: bytes
    media_type: str
    digest: str

    def json(self) -> dict[str, Any]:
        doc = json.loads(self.content)
        if not isinstance(doc, dict):
            raise RegistryError(f"manifest {self.digest} is not a JSON object")
        return doc


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    """``algorithm:hex`` of ``data``."""
    h = _HASHES.get(algorithm)
    if h is None:
        raise DigestMismatch(
            f"unsupported digest algorithm {algorithm!r}", hint="use sha256, sha384 or sha512"
        )
    return f"{algorithm}:{h(data).hexdigest()}"


# --------------------------------------------------------------------------- blobs
class BlobStream:
    """An open blob download.  ``partial`` is True when the server honoured the Range (206)."""

    def __init__(self, response: requests.Response, offset: int, digest: str, where: str):
        self._response = response
        self.digest = digest
        self.offset = offset if response.status_code == 206 else 0
        self.partial = response.status_code == 206
        self._where = where
        self.size: int | None = None  # total size of the blob
        content_range = response.headers.get("Content-Range", "")
        m = re.match(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", content_range)
        if self.partial and m:
            self.offset = int(m.group(1))
            if m.group(3) != "*":
                self.size = int(m.group(3))
        elif not self.partial:
            length = response.headers.get("Content-Length")
            if length and length.isdigit():
                self.size = int(length)

    def iter_chunks(self, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The (remaining) bytes of the blob, as they arrive."""
        import requests
        import urllib3

        try:
            # raw bytes: never undo a Content-Encoding some storage backends put on .tar.gz blobs
            for chunk in self._response.raw.stream(chunk_size, decode_content=False):
                if chunk:
                    yield chunk
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as e:
            raise RegistryError(f"download of {self.digest} from {self._where} failed: {e}") from e

    def read(self, limit: int | None = None) -> bytes:
        """Everything left (at most ``limit`` bytes; more is an error)."""
        out = bytearray()
        for chunk in self.iter_chunks(1 << 16):
            out += chunk
            if limit is not None and len(out) > limit:
                raise RegistryError(f"blob {self.digest} from {self._where} is larger than {limit} bytes")
        return bytes(out)

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> BlobStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RegistryClient(RegistrySession):
    """Talks to one registry (``host[:port]``; ``docker.io`` means Docker Hub's API host)."""

    # ------------------------------------------------------------------ API
    def ping(self) -> None:
        """Check that the registry speaks the v2 API (probes the scheme and auth)."""
        self._probe()

    def check_login(self) -> None:
        """Verify the credentials, as ``login`` must before storing them.

        Basic auth: ``GET /v2/`` with them; Bearer: a token obtained with them.
        Raises ``RegistryAuthError`` when the registry rejects them.
        """
        self._probe()
        if self._challenge is None:
            return  # the registry asks for no authentication at all
        where = f"{self.registry}: login"
        resp = self.request("GET", "/v2/", what=where)
        with resp:
            if resp.status_code >= 400 and resp.status_code != 404:
                raise self._status_error(resp, where)

    def get_manifest(
        self, repo: str, reference: str, accept: tuple[str, ...] | list[str] | None = None
    ) -> Manifest:
        """Fetch the manifest (or index) ``repo:reference``; verify it when ``reference`` is a digest."""
        where = _ref_string(self.registry, repo, reference)
        headers = {"Accept": ", ".join(accept or MANIFEST_ACCEPT)}
        resp = self.request(
            "GET", f"/v2/{repo}/manifests/{reference}", repo=repo, what=where, headers=headers, stream=True
        )
        with resp:
            if resp.status_code == 404:
                raise ManifestUnknown(
                    f"{where}: manifest unknown (no such image or tag in the registry)",
                    hint="check the repository name and the tag",
                )
            if resp.status_code != 200:
                raise self._status_error(resp, where)
            length = resp.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > MAX_MANIFEST_SIZE:
                raise RegistryError(
                    f"{where}: manifest of {length} bytes is larger than the {MAX_MANIFEST_SIZE} rpod accepts"
                )
            content = _read_limited(resp, MAX_MANIFEST_SIZE, where)
            header_type = resp.headers.get("Content-Type")
            header_digest = resp.headers.get("Docker-Content-Digest", "")
        digest = compute_digest(content)
        if ":" in reference:  # by digest: the bytes must hash to it
            got = compute_digest(content, reference.partition(":")[0])
            if got != reference:
                raise DigestMismatch(
                    f"{where}: the registry sent a manifest whose digest is {got}",
                    hint="the registry or a proxy altered the content; do not trust this image",
                )
        if header_digest.startswith("sha256:") and header_digest != digest:
            raise DigestMismatch(
                f"{where}: manifest digest {digest} does not match the registry's Docker-Content-Digest {header_digest}",
                hint="the registry or a proxy altered the content; do not trust this image",
            )
        return Manifest(content, sniff_manifest_type(content, header_type), digest)

    def head_manifest(
        self, repo: str, reference: str, accept: tuple[str, ...] | list[str] | None = None
    ) -> str | None:
        """The digest the registry reports for ``repo:reference`` (HEAD), or None when unknown."""
        where = _ref_string(self.registry, repo, reference)
        headers = {"Accept": ", ".join(accept or MANIFEST_ACCEPT)}
        with self.request(
            "HEAD", f"/v2/{repo}/manifests/{reference}", repo=repo, what=where, headers=headers
        ) as resp:
            if resp.status_code == 404:
                return None
            if resp.status_code != 200:
                raise self._status_error(resp, where)
            return resp.headers.get("Docker-Content-Digest") or None

    def open_blob(self, repo: str, digest: str, offset: int = 0) -> BlobStream:
        """Start downloading blob ``digest``; from byte ``offset`` with a Range request when > 0."""
        where = f"{self.registry}/{repo}@{digest}"
        headers = {"Accept-Encoding": "identity"}
        if offset > 0:
            headers["Range"] = f"bytes={offset}-"
        resp = self.request(
            "GET", f"/v2/{repo}/blobs/{digest}", repo=repo, what=where, headers=headers, stream=True
        )
        if resp.status_code in (200, 206):
            return BlobStream(resp, offset, digest, where)
        with resp:
            if resp.status_code == 404:
                raise RegistryError(
                    f"{where}: blob unknown to the registry", hint="the image is incomplete on the registry"
                )
            if resp.status_code == 416:
                raise RegistryError(f"{where}: the registry cannot resume at byte {offset} (416)")
            raise self._status_error(resp, where)

    def fetch_blob(self, repo: str, digest: str, max_size: int = 64 << 20) -> bytes:
        """A small blob (config), verified against ``digest``."""
        with self.open_blob(repo, digest) as stream:
            data = stream.read(max_size)
        got = compute_digest(data, digest.partition(":")[0])
        if got != digest:
            raise DigestMismatch(f"{self.registry}/{repo}@{digest}: downloaded content has digest {got}")
        return data

    def blob_exists(self, repo: str, digest: str) -> bool:
        """Whether the registry has blob ``digest`` in ``repo``."""
        where = f"{self.registry}/{repo}@{digest}"
        with self.request("HEAD", f"/v2/{repo}/blobs/{digest}", repo=repo, what=where) as resp:
            if resp.status_code == 200:
                return True
            if resp.status_code == 404:
                return False
            raise self._status_error(resp, where)

    def _start_upload(
        self, repo: str, where: str, query: str = "", extra_scopes: tuple[str, ...] = ()
    ) -> Any:
        resp = self.request(
            "POST",
            f"/v2/{repo}/blobs/uploads/{query}",
            repo=repo,
            actions="pull,push",
            extra_scopes=extra_scopes,
            what=where,
            retry=False,
            headers={"Content-Length": "0"},
        )
        return resp

    def _upload_location(self, resp: requests.Response, where: str) -> str:
        loc = resp.headers.get("Location")
        if not loc:
            raise RegistryError(f"{where}: registry {self.registry} gave no upload location")
        return urljoin(resp.url, loc)

    def push_blob(
        self, repo: str, digest: str, fileobj: IO[bytes], size: int, chunk_size: int | None = None
    ) -> str:
        """Upload ``size`` bytes of ``fileobj`` as blob ``digest``: one PUT, or PATCH chunks of ``chunk_size``."""
        where = f"{self.registry}/{repo}@{digest}"
        with self._start_upload(repo, where) as resp:
            if resp.status_code != 202:
                raise self._status_error(resp, where)
            location = self._upload_location(resp, where)
        push = {"repo": repo, "actions": "pull,push", "what": where, "retry": False}
        if chunk_size and size > chunk_size:
            sent = 0
            while sent < size:
                chunk = fileobj.read(min(chunk_size, size - sent))
                if not chunk:
                    raise RegistryError(f"{where}: source ended after {sent} of {size} bytes")
                headers = {
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{sent}-{sent + len(chunk) - 1}",
                    "Content-Length": str(len(chunk)),
                }
                with self.request("PATCH", location, data=chunk, headers=headers, **push) as resp:
                    if resp.status_code != 202:
                        raise self._status_error(resp, where)
                    location = self._upload_location(resp, where)
                sent += len(chunk)
            body: Any = b""
            headers = {"Content-Length": "0"}
        else:
            body = _LimitedReader(fileobj, size)
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        with self.request(
            "PUT", _add_query(location, digest=digest), data=body, headers=headers, **push
        ) as resp:
            if resp.status_code not in (201, 204):
                raise self._status_error(resp, where)
        return digest

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Cross-repository mount of ``digest`` from ``from_repo``; False when the registry declined."""
        where = f"{self.registry}/{repo}@{digest}"
        query = "?" + urlencode({"mount": digest, "from": from_repo})
        with self._start_upload(repo, where, query, extra_scopes=(f"repository:{from_repo}:pull",)) as resp:
            if resp.status_code == 201:
                return True
            if resp.status_code != 202:
                raise self._status_error(resp, where)
            location = self._upload_location(resp, where)
        with contextlib.suppress(RegistryError):  # cancel the upload session it opened instead
            self.request("DELETE", location, repo=repo, actions="pull,push", what=where, retry=False).close()
        return False

    def push_manifest(self, repo: str, reference: str, content: bytes, media_type: str) -> str:
        """PUT a manifest under ``reference`` (tag or digest); return its digest."""
        where = _ref_string(self.registry, repo, reference)
        digest = compute_digest(content)
        headers = {"Content-Type": media_type}
        resp = self.request(
            "PUT",
            f"/v2/{repo}/manifests/{reference}",
            repo=repo,
            actions="pull,push",
            what=where,
            data=content,
            headers=headers,
        )
        with resp:
            if resp.status_code not in (200, 201, 202):
                raise self._status_error(resp, where)
            header = resp.headers.get("Docker-Content-Digest")
        if header and header.startswith("sha256:") and header != digest:
            raise DigestMismatch(
                f"{where}: the registry stored the manifest as {header}, rpod computed {digest}"
            )
        return digest

    def list_tags(self, repo: str, page_size: int | None = None) -> list[str]:
        """Every tag of ``repo``, following ``Link: <...>; rel="next"`` pagination."""
        where = f"{self.registry}/{repo}"
        url = f"/v2/{repo}/tags/list" + (f"?n={page_size}" if page_size else "")
        tags: list[str] = []
        seen: set[str] = set()
        while url:
            with self.request("GET", url, repo=repo, what=where) as resp:
                if resp.status_code == 404:
                    raise ManifestUnknown(f"{where}: repository unknown to the registry")
                if resp.status_code != 200:
                    raise self._status_error(resp, where)
                try:
                    doc = resp.json()
                except ValueError as e:
                    raise RegistryError(f"{where}: tag list is not valid JSON") from e
                tags.extend(doc.get("tags") or [])
                nxt = resp.links.get("next", {}).get("url")
                url = urljoin(resp.url, nxt) if nxt else ""
            if url in seen:
                break
            seen.add(url)
        return tags


__all__ = ["BlobStream", "Manifest", "RegistryClient", "parse_challenges"]
