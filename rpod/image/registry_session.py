"""The transport under ``rpod.image.registry.RegistryClient``: one ``requests.Session`` per
registry, its TLS setup, scheme probe, retries, authentication and error mapping.

* Scheme: HTTPS.  When the registry is insecure (registries.conf) or ``tls_verify=False``,
  certificate checks are off and, if HTTPS cannot connect or handshake, plain HTTP is used
  (as containers/image does).  The scheme is probed once with ``GET /v2/``.
* TLS trust: ``*.crt`` CA files (added to the system trust), ``*.cert``/``*.key`` client
  certificates from ``--cert-dir`` or ``$XDG_CONFIG_HOME/containers/certs.d/HOST[:PORT]``,
  ``/etc/containers/certs.d/HOST[:PORT]`` and ``/etc/docker/certs.d/HOST[:PORT]``.
* Auth: requests go out anonymously (or with the token the ``/v2/`` probe said is needed);
  a 401 is answered per its ``WWW-Authenticate`` challenge — Bearer: a token from the realm
  for ``repository:REPO:ACTIONS`` (cached per scope until it expires), Basic: the
  credentials.  A second 401 is a :class:`RegistryAuthError`.  The ``Authorization`` header
  is a per-request header, so requests drops it when a redirect leaves the host (blob GETs
  are often redirected to storage).
* Transient failures (connection errors, timeouts, 429, 5xx) of idempotent requests are
  retried with exponential back-off.

``requests`` is imported lazily: importing this module stays cheap for the CLI.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from rpod.errors import DigestMismatch, RegistryAuthError, RegistryError, RpodError
from rpod.image.auth import Credentials

if TYPE_CHECKING:  # pragma: no cover
    import requests


MAX_MANIFEST_SIZE = 4 << 20
DEFAULT_USER_AGENT = "rpod/1.0.0"
DEFAULT_TIMEOUT = (15.0, 60.0)  # connect, read (seconds)
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
DOCKER_HUB_API = "registry-1.docker.io"
SYSTEM_CERT_DIRS = (Path("/etc/containers/certs.d"), Path("/etc/docker/certs.d"))
_HASHES = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}



# --------------------------------------------------------------------------- challenges
_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


def parse_challenges(header: str) -> list[tuple[str, dict[str, str]]]:
    """Parse ``WWW-Authenticate`` into ``[(scheme_lower, {param: value})]``."""
    out: list[tuple[str, dict[str, str]]] = []
    pos = 0
    header = header or ""
    while pos < len(header):
        m = re.compile(r"\s*,?\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)").match(header, pos)
        if not m or not m.group(1):
            break
        scheme = m.group(1).lower()
        pos = m.end()
        params: dict[str, str] = {}
        while True:
            pm = _PARAM_RE.match(header, pos)
            if not pm:
                break
            value = pm.group(2)
            value = re.sub(r"\\(.)", r"\1", value) if value is not None else pm.group(3)
            params[pm.group(1).lower()] = value
            pos = pm.end()
        out.append((scheme, params))
    return out


# --------------------------------------------------------------------------- client
@dataclass
class _Token:
    value: str
    expires: float


class RegistrySession:
    """Talks to one registry (``host[:port]``; ``docker.io`` means Docker Hub's API host): the
    plumbing every request of ``RegistryClient`` goes through."""
    """Talks to one registry (``host[:port]``; ``docker.io`` means Docker Hub's API host)."""

    def __init__(
        self,
        registry: str,
        *,
        insecure: bool = False,
        tls_verify: bool | None = None,
        credentials: Credentials | None = None,
        certs_dir: Path | str | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retries: int = 4,
        backoff: float = 0.2,
    ):
        import requests

        self.registry = registry
        self.host = DOCKER_HUB_API if registry in ("docker.io", "index.docker.io") else registry
        self.credentials = credentials
        verify = tls_verify if tls_verify is not None else not insecure
        self.skip_verify = not verify
        self.allow_http = self.skip_verify
        self.timeout = timeout
        self.retries = max(1, retries)
        self.backoff = backoff
        self._scheme: str | None = None
        self._challenge: tuple[str, dict[str, str]] | None = None
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._ca_bundle: Any = None
        self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent
        self.session.headers["Docker-Distribution-API-Version"] = "registry/2.0"
        self._setup_tls(Path(certs_dir) if certs_dir else None)

    # ------------------------------------------------------------------ TLS
    def cert_dirs(self, certs_dir: Path | None = None) -> list[Path]:
        """Directories searched for this registry's certificates, in order."""
        if certs_dir is not None:
            return [certs_dir]
        xdg = os.environ.get("XDG_CONFIG_HOME")
        user = (Path(xdg) if xdg else Path.home() / ".config") / "containers" / "certs.d"
        return [base / self.registry for base in (user, *SYSTEM_CERT_DIRS)]

    def _setup_tls(self, certs_dir: Path | None) -> None:
        if self.skip_verify:
            self.session.verify = False
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        cas: list[Path] = []
        for d in self.cert_dirs(certs_dir):
            try:
                files = sorted(d.iterdir())
            except OSError:
                continue
            for f in files:
                if f.suffix == ".crt":
                    cas.append(f)
                elif f.suffix == ".cert":
                    key = f.with_suffix(".key")
                    if not key.exists():
                        raise RegistryError(f"client certificate {f} has no matching key {key.name}")
                    self.session.cert = (str(f), str(key))
                elif f.suffix == ".key" and not f.with_suffix(".cert").exists():
                    raise RegistryError(f"client key {f} has no matching certificate {f.stem}.cert")
        if cas and not self.skip_verify:
            self.session.verify = self._bundle(cas)

    def _bundle(self, cas: list[Path]) -> str:
        """A CA file with the system trust plus ``cas`` (kept for the client's lifetime)."""
        import ssl

        parts: list[bytes] = []
        paths = ssl.get_default_verify_paths()
        for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
            if candidate and os.path.isfile(candidate):
                parts.append(Path(candidate).read_bytes())
                break
        else:
            with contextlib.suppress(ImportError):
                import certifi

                parts.append(Path(certifi.where()).read_bytes())
        for ca in cas:
            try:
                parts.append(ca.read_bytes())
            except OSError as e:
                raise RegistryError(f"cannot read CA certificate {ca}: {e.strerror}") from e
        bundle = tempfile.NamedTemporaryFile(prefix="rpod-ca-", suffix=".pem")  # noqa: SIM115 - lives with self
        bundle.write(b"\n".join(parts))
        bundle.flush()
        self._ca_bundle = bundle
        return bundle.name

    def close(self) -> None:
        self.session.close()
        if self._ca_bundle is not None:
            self._ca_bundle.close()
            self._ca_bundle = None

    def __enter__(self) -> RegistrySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing
    def _base(self) -> str:
        if self._scheme is None:
            self._probe()
        return f"{self._scheme}://{self.host}"

    def url(self, path: str) -> str:
        return self._base() + path

    def _probe(self) -> None:
        """Find the scheme (HTTPS, or HTTP when allowed) and the auth challenge with ``GET /v2/``."""
        with self._probe_lock:
            if self._scheme is None:
                self._probe_locked()

    def _probe_locked(self) -> None:
        import requests

        schemes = ["https", "http"] if self.allow_http else ["https"]
        last: Exception | None = None
        for scheme in schemes:
            try:
                resp = self._send_retrying("GET", f"{scheme}://{self.host}/v2/", auth_header=None)
            except requests.exceptions.SSLError as e:
                last = e
                continue
            except requests.exceptions.ConnectionError as e:
                last = e
                continue
            with resp:
                if resp.status_code == 401:
                    challenges = parse_challenges(resp.headers.get("WWW-Authenticate", ""))
                    self._challenge = _pick_challenge(challenges)
                elif resp.status_code >= 400 and resp.status_code != 404:
                    raise self._status_error(resp, f"{self.registry}: ping /v2/")
            self._scheme = scheme
            return
        hint = None
        reason = _short(last)
        if isinstance(last, requests.exceptions.SSLError) and "WRONG_VERSION_NUMBER" in reason:
            reason = "it answers in plain HTTP, not HTTPS"
            hint = (f"if you trust the network: --tls-verify=false, or in registries.conf: [[registry]] "
                    f'location = "{self.registry}" insecure = true')
        elif isinstance(last, requests.exceptions.SSLError):
            hint = (
                "add the registry's CA to ~/.config/containers/certs.d/HOST:PORT/ca.crt, or use "
                "--tls-verify=false / mark it insecure in registries.conf if you trust the network"
            )
        raise RegistryError(f"cannot reach registry {self.registry}: {reason}", hint=hint)

    def _send_retrying(
        self,
        method: str,
        url: str,
        *,
        auth_header: str | None,
        retry: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """One HTTP request, retried with back-off on transient failures when ``retry``."""
        import requests

        headers = dict(kwargs.pop("headers", None) or {})
        if auth_header:
            headers["Authorization"] = auth_header
        kwargs.setdefault("timeout", self.timeout)
        # explicit: a session-level verify loses to $REQUESTS_CA_BUNDLE (requests' trust_env rules)
        kwargs.setdefault("verify", self.session.verify)
        attempts = self.retries if retry else 1
        for attempt in range(attempts):
            try:
                resp = self.session.request(method, url, headers=headers, **kwargs)
            except requests.exceptions.SSLError:
                raise
            except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                    requests.exceptions.MissingSchema, requests.exceptions.TooManyRedirects,
                    requests.exceptions.InvalidHeader) as e:
                # a bad port in the name, or a registry redirecting somewhere impossible: no retry
                raise RegistryError(f"cannot reach registry {self.registry}: {_bad_url(e, url)}") from e
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
                if attempt + 1 >= attempts:
                    raise
                time.sleep(self.backoff * (2**attempt))
                continue
            if resp.status_code in TRANSIENT_STATUS and attempt + 1 < attempts:
                delay = self.backoff * (2**attempt)
                retry_after = resp.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    delay = max(delay, min(float(retry_after), 10.0))
                resp.close()
                time.sleep(delay)
                continue
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        repo: str | None = None,
        actions: str = "pull",
        extra_scopes: tuple[str, ...] = (),
        retry: bool = True,
        what: str = "",
        **kwargs: Any,
    ) -> requests.Response:
        """An authenticated request; returns any non-401 response (the caller maps statuses)."""
        import requests

        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        scopes = ([f"repository:{repo}:{actions}"] if repo else []) + list(extra_scopes)
        where = what or f"{self.registry}"
        try:
            auth = self._auth_header(scopes, where) if self._challenge else None
            resp = self._send_retrying(method, url, auth_header=auth, retry=retry, **kwargs)
            if resp.status_code != 401:
                return resp
            challenges = parse_challenges(resp.headers.get("WWW-Authenticate", ""))
            resp.close()
            challenge = _pick_challenge(challenges)
            if challenge is None:
                raise RegistryAuthError(
                    f"{where}: registry {self.registry} refused access (401) without an authentication challenge",
                    hint=f"run 'rpod login {self.registry}'",
                )
            if challenge[0] == "basic" and (auth is not None or self.credentials is None):
                raise self._auth_failed(where)
            self._challenge = challenge
            if challenge[0] == "bearer":
                scopes = _merge_scopes(scopes, challenge[1].get("scope"))
                self._forget_token(scopes)
            body = kwargs.get("data")
            if body is not None and not isinstance(body, bytes | bytearray | dict):
                if not getattr(body, "rewindable", False):
                    raise self._auth_failed(where)  # a streamed body cannot be sent twice
                body.seek(0)
            auth = self._auth_header(scopes, where)
            resp = self._send_retrying(method, url, auth_header=auth, retry=retry, **kwargs)
            if resp.status_code == 401:
                resp.close()
                raise self._auth_failed(where)
            return resp
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as e:
            raise RegistryError(f"{where}: cannot reach registry {self.registry}: {_short(e)}") from e
        except requests.exceptions.RequestException as e:
            raise RegistryError(f"{where}: request to registry {self.registry} failed: {_short(e)}") from e

    # ------------------------------------------------------------------ auth
    def _auth_failed(self, where: str) -> RegistryAuthError:
        """A 401: the registry's (Docker distribution's) error text, as Podman shows it; who was
        refused goes into the hint."""
        if self.credentials is None:
            return RegistryAuthError(
                f"{where}: unauthorized: authentication required",
                hint=f"registry {self.registry} wants credentials: run 'rpod login {self.registry}' "
                     "(or pass --creds USER:PASSWORD)",
            )
        return RegistryAuthError(
            f"{where}: unauthorized: authentication required",
            hint=f"registry {self.registry} rejected the credentials of {self.credentials.username!r}; "
                 f"check them with 'rpod login {self.registry}'",
        )

    def _auth_header(self, scopes: list[str], where: str) -> str | None:
        assert self._challenge is not None
        scheme, params = self._challenge
        if scheme == "basic":
            if self.credentials is None or not self.credentials.username:
                return None  # try anonymously; a 401 then says to log in
            import base64

            raw = f"{self.credentials.username}:{self.credentials.password}".encode()
            return "Basic " + base64.b64encode(raw).decode()
        key = " ".join(sorted(scopes))
        with self._lock:
            tok = self._tokens.get(key)
            if tok is not None and tok.expires > time.time():
                return f"Bearer {tok.value}"
        token = self._fetch_token(params, scopes, where)
        with self._lock:
            self._tokens[key] = token
        return f"Bearer {token.value}"

    def _forget_token(self, scopes: list[str]) -> None:
        with self._lock:
            self._tokens.pop(" ".join(sorted(scopes)), None)

    def _fetch_token(self, params: dict[str, str], scopes: list[str], where: str) -> _Token:
        import requests

        realm = params.get("realm")
        if not realm:
            raise RegistryAuthError(
                f"{where}: registry {self.registry} sent a Bearer challenge without a realm"
            )
        if urlsplit(realm).scheme not in ("http", "https"):
            raise RegistryAuthError(
                f"{where}: registry {self.registry} sent an invalid token realm {realm!r}"
            )
        query: list[tuple[str, str]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        query += [("scope", s) for s in scopes]
        creds = self.credentials
        try:
            if creds is not None and creds.identity_token:
                form = dict(query)
                form.update(
                    grant_type="refresh_token",
                    refresh_token=creds.identity_token,
                    client_id="rpod",
                    scope=" ".join(scopes),
                )
                resp = self._send_retrying("POST", realm, auth_header=None, data=form)
            else:
                auth = None
                if creds is not None and creds.username:
                    import base64

                    query.append(("account", creds.username))
                    auth = "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
                resp = self._send_retrying("GET", realm, auth_header=auth, params=query)
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as e:
            raise RegistryError(f"{where}: cannot reach the token service {realm}: {_short(e)}") from e
        with resp:
            if resp.status_code in (401, 403):
                raise self._auth_failed(where)
            if resp.status_code != 200:
                raise RegistryAuthError(
                    f"{where}: token service {realm} answered {resp.status_code} {_error_detail(resp)}".rstrip()
                )
            try:
                doc = resp.json()
            except ValueError as e:
                raise RegistryAuthError(f"{where}: token service {realm} sent invalid JSON") from e
        value = doc.get("token") or doc.get("access_token")
        if not isinstance(value, str) or not value:
            raise RegistryAuthError(f"{where}: token service {realm} sent no token")
        expires_in = doc.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 60.0
        return _Token(value, time.time() + max(lifetime - 10.0, lifetime / 2))

    # ------------------------------------------------------------------ errors
    def _status_error(self, resp: requests.Response, where: str) -> RpodError:
        detail = _error_detail(resp)
        codes = _error_codes(resp)
        if resp.status_code in (401, 403) or "DENIED" in codes or "UNAUTHORIZED" in codes:
            return RegistryAuthError(
                f"{where}: access denied by registry {self.registry} ({resp.status_code}{': ' + detail if detail else ''})",
                hint=f"check that the repository exists and that you may access it ('rpod login {self.registry}')",
            )
        if resp.status_code in (400, 404) and "DIGEST_INVALID" in codes:
            return DigestMismatch(
                f"{where}: registry {self.registry} says the content does not match its digest"
            )
        return RegistryError(
            f"{where}: registry {self.registry} answered {resp.status_code} {resp.reason or ''}".rstrip()
            + (f": {detail}" if detail else "")
        )


# --------------------------------------------------------------------------- helpers
class _LimitedReader:
    """File-like view of the first ``size`` bytes of ``fileobj`` (so requests streams it)."""

    def __init__(self, fileobj: IO[bytes], size: int):
        self._f = fileobj
        self._size = self._left = self.len = size
        try:
            self._start: int | None = fileobj.tell() if fileobj.seekable() else None
        except (AttributeError, OSError):
            self._start = None
        self.rewindable = self._start is not None

    def seek(self, pos: int) -> None:
        """Rewind to the beginning (``pos`` must be 0); only when the source is seekable."""
        if pos != 0 or self._start is None:
            raise OSError("upload body cannot be rewound")
        self._f.seek(self._start)
        self._left = self.len = self._size

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._f.read(n)
        self._left -= len(data)
        self.len = self._left
        return data

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(1 << 20):
            yield chunk


def _pick_challenge(challenges: list[tuple[str, dict[str, str]]]) -> tuple[str, dict[str, str]] | None:
    for wanted in ("bearer", "basic"):
        for scheme, params in challenges:
            if scheme == wanted:
                return scheme, params
    return None


def _merge_scopes(scopes: list[str], extra: str | None) -> list[str]:
    out = list(scopes)
    for s in (extra or "").split():
        if s not in out:
            out.append(s)
    return out


def _add_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return urlunsplit(parts._replace(query=query))


def _read_limited(resp: requests.Response, limit: int, where: str) -> bytes:
    import requests

    out = bytearray()
    try:
        for chunk in resp.iter_content(1 << 16):
            out += chunk
            if len(out) > limit:
                raise RegistryError(f"{where}: manifest is larger than the {limit} bytes rpod accepts")
    except (requests.exceptions.RequestException, OSError) as e:
        raise RegistryError(f"{where}: reading the manifest failed: {e}") from e
    return bytes(out)


def _ref_string(registry: str, repo: str, reference: str) -> str:
    return f"{registry}/{repo}{'@' if ':' in reference else ':'}{reference}"


def _error_json(resp: requests.Response) -> list[dict[str, Any]]:
    try:
        doc = json.loads(resp.content[:65536] or b"{}")
    except (ValueError, RuntimeError):
        return []
    errors = doc.get("errors") if isinstance(doc, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _error_codes(resp: requests.Response) -> set[str]:
    return {str(e.get("code", "")).upper() for e in _error_json(resp)}


def _error_detail(resp: requests.Response) -> str:
    return "; ".join(str(e.get("message") or e.get("code")) for e in _error_json(resp))


def _bad_url(e: BaseException, url: str) -> str:
    """Why ``url`` could not be requested, in one phrase (``invalid port`` for ``host:99999``)."""
    from urllib.parse import urlsplit

    try:
        _ = urlsplit(url).port
    except ValueError:
        return "invalid port"
    text = str(e)
    return text.splitlines()[0][:200] if text else e.__class__.__name__


def _short(e: BaseException | None) -> str:
    """A readable one-line reason from a requests/urllib3 exception chain."""
    if e is None:
        return "unknown error"
    text = str(e)
    m = re.search(
        r"\[SSL: [^\]]+\][^'()\"]*|Connection refused|Name or service not known|timed out|Temporary failure in name resolution",
        text,
    )
    return m.group(0).strip() if m else text[:300]
