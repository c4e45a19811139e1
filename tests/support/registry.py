"""Real local registries for integration tests.

``start_registry`` runs Debian's ``docker-registry`` (CNCF distribution 2.8) on 127.0.0.1 with a
random port and its storage in a temp dir, in one of three flavours:

* plain HTTP, no auth;
* TLS (certificate from a fixture-made CA) + htpasswd basic auth;
* Bearer tokens from ``TokenServer``, a small Docker-style token service (JWT ES256/RS256, x5c).

``FlakyProxy`` sits in front of a registry and fails, cuts or redirects blob downloads on demand.
``skopeo`` runs skopeo isolated from the user's configuration.
"""

from __future__ import annotations

import base64
import ctypes
import datetime as dt
import http.client
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOCALHOST = "127.0.0.1"


class MissingToolError(RuntimeError):
    """A program the test fixtures need is not installed."""


def require_tool(program: str, apt_package: str) -> str:
    """Absolute path of ``program``; raises ``MissingToolError`` naming the apt package otherwise."""
    found = shutil.which(program)
    if not found:
        raise MissingToolError(f"{program} not found in PATH: install it with `apt-get install {apt_package}`")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- certificates


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class CertAuthority:
    """A throw-away CA (EC P-256) that issues server and token-signing certificates."""

    def __init__(self, directory: Path, name: str = "rpod test CA") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                              key_encipherment=False, data_encipherment=False, key_agreement=False,
                              encipher_only=False, decipher_only=False),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.cert_path = directory / "ca.crt"
        self.cert_path.write_bytes(_pem(self.cert))

    def issue(self, common_name: str, *, server: bool, key_type: str = "ec") -> tuple[Any, x509.Certificate]:
        """A new key and a certificate for it signed by this CA.

        ``server=True`` gives a TLS server certificate for 127.0.0.1 and localhost (SANs);
        otherwise a digital-signature certificate (token signing).
        """
        key: Any = ec.generate_private_key(ec.SECP256R1()) if key_type == "ec" else rsa.generate_private_key(65537, 2048)
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([
                    x509.IPAddress(ipaddress.ip_address(LOCALHOST)),
                    x509.DNSName("localhost"),
                ]),
                critical=False,
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        return key, builder.sign(self.key, hashes.SHA256())

    def write_server_pair(self, name: str = "server") -> tuple[Path, Path]:
        """Issue a server certificate; write ``NAME.pem`` and ``NAME.key`` beside the CA."""
        key, cert = self.issue("localhost", server=True)
        cert_path = self.directory.parent / f"{name}.pem"
        key_path = self.directory.parent / f"{name}.key"
        cert_path.write_bytes(_pem(cert))
        key_path.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
        )
        key_path.chmod(0o600)
        return cert_path, key_path

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts exactly this CA."""
        return ssl.create_default_context(cafile=str(self.cert_path))


# --------------------------------------------------------------------------- token server


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parse_scope(scope: str) -> dict[str, Any]:
    """``repository:name:pull,push`` -> ``{"type", "name", "actions"}`` (name may contain ``/``)."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    return {"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]}


@dataclass
class TokenRequest:
    """One request the token server answered."""

    method: str
    path: str
    service: str | None
    scopes: list[str]
    account: str | None
    username: str | None  # from basic auth (GET) or the form (POST)
    authenticated: bool
    status: int
    granted: list[dict[str, Any]] = field(default_factory=list)
    authorization: str | None = None


class TokenServer:
    """Docker token service (``GET /token``, OAuth2 ``POST /token``) issuing registry JWTs.

    Valid ``users`` get every action they ask for; anonymous clients get ``pull`` only (and not
    even that for ``private_repos`` or when ``anonymous_pull`` is False); wrong credentials get 401.
    Every request is recorded in ``requests``.
    """

    def __init__(
        self,
        ca: CertAuthority,
        *,
        users: dict[str, str] | None = None,
        service: str = "rpod-test-registry",
        issuer: str = "rpod-test-token-issuer",
        alg: str = "ES256",
        expires_in: int = 300,
    ) -> None:
        if alg not in ("ES256", "RS256"):
            raise ValueError("alg must be ES256 or RS256")
        self.ca = ca
        self.users = dict(users or {})
        self.service, self.issuer, self.alg = service, issuer, alg
        self.expires_in = expires_in
        self.anonymous_pull = True
        self.private_repos: set[str] = set()
        self.requests: list[TokenRequest] = []
        self._lock = threading.Lock()
        self._key, cert = ca.issue("rpod token signer", server=False, key_type="ec" if alg == "ES256" else "rsa")
        self._x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle
    def start(self) -> TokenServer:
        """Listen on a random port of 127.0.0.1 (in a daemon thread)."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                server._handle(self)

            def do_POST(self) -> None:  # noqa: N802
                server._handle(self)

        self._httpd = ThreadingHTTPServer((LOCALHOST, 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="token-server", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def port(self) -> int:
        assert self._httpd is not None, "token server not started"
        return self._httpd.server_address[1]

    @property
    def realm(self) -> str:
        """The URL registries send clients to (``WWW-Authenticate: Bearer realm=...``)."""
        return f"http://{LOCALHOST}:{self.port}/token"

    @property
    def rootcertbundle(self) -> Path:
        """The CA bundle the registry must trust to verify token signatures."""
        return self.ca.cert_path

    def clear(self) -> None:
        """Forget recorded requests."""
        with self._lock:
            self.requests.clear()

    # -- tokens
    def make_token(self, access: list[dict[str, Any]], subject: str = "", *, lifetime: int | None = None,
                   audience: str | None = None, issuer: str | None = None) -> str:
        """A signed JWT granting ``access`` (overrides exist so tests can forge bad tokens)."""
        now = int(time.time())
        header = {"typ": "JWT", "alg": self.alg, "x5c": self._x5c}
        claims = {
            "iss": issuer or self.issuer,
            "sub": subject,
            "aud": audience or self.service,
            "exp": now + (self.expires_in if lifetime is None else lifetime),
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        if self.alg == "ES256":
            der = self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        else:
            signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def _grant(self, scopes: list[str], user: str | None) -> list[dict[str, Any]]:
        granted = []
        for scope in scopes:
            want = parse_scope(scope)
            if user is not None:
                actions = want["actions"]
            elif (want["type"] == "repository" and self.anonymous_pull
                  and want["name"] not in self.private_repos):
                actions = [a for a in want["actions"] if a == "pull"]
            else:
                actions = []
            granted.append({"type": want["type"], "name": want["name"], "actions": actions})
        return granted

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(h.path)
        query = urllib.parse.parse_qs(url.query)
        authorization = h.headers.get("Authorization")
        username = password = None
        if h.command == "POST":
            length = int(h.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(h.rfile.read(length).decode())
            query = {**query, **form}
            if form.get("grant_type", [""])[0] != "password":
                return self._reply(h, 400, {"error": "unsupported_grant_type"}, query, None, False, authorization)
            username, password = form.get("username", [None])[0], form.get("password", [""])[0]
        elif authorization and authorization.lower().startswith("basic "):
            raw = base64.b64decode(authorization.split(None, 1)[1]).decode()
            username, _, password = raw.partition(":")
        if url.path != "/token":
            return self._reply(h, 404, {"details": "not found"}, query, username, False, authorization)
        authenticated = username is not None and self.users.get(username) == password
        if username is not None and not authenticated:
            return self._reply(h, 401, {"details": "incorrect username or password"}, query, username, False,
                               authorization)
        scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
        granted = self._grant(scopes, username if authenticated else None)
        token = self.make_token(granted, subject=username or "")
        body = {"token": token, "access_token": token, "expires_in": self.expires_in,
                "issued_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        self._reply(h, 200, body, query, username, authenticated, authorization, granted)

    def _reply(self, h: BaseHTTPRequestHandler, status: int, body: dict[str, Any], query: dict[str, list[str]],
               username: str | None, authenticated: bool, authorization: str | None,
               granted: list[dict[str, Any]] | None = None) -> None:
        with self._lock:
            self.requests.append(TokenRequest(
                method=h.command, path=h.path, service=query.get("service", [None])[0],
                scopes=[s for v in query.get("scope", []) for s in v.split(" ") if s],
                account=query.get("account", [None])[0], username=username, authenticated=authenticated,
                status=status, granted=granted or [], authorization=authorization,
            ))
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        if status == 401:
            h.send_header("WWW-Authenticate", 'Basic realm="rpod test token server"')
        h.end_headers()
        h.wfile.write(data)


# --------------------------------------------------------------------------- registry


@dataclass
class Registry:
    """A running ``docker-registry``."""

    host: str
    port: int
    tls: bool
    workdir: Path
    process: subprocess.Popen[bytes]
    ca: CertAuthority | None = None
    username: str | None = None
    password: str | None = None
    token_server: TokenServer | None = None

    @property
    def address(self) -> str:
        """``HOST:PORT``, the registry part of image references."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.address}"

    @property
    def ca_path(self) -> Path | None:
        """The CA certificate clients must trust (TLS registries only)."""
        return self.ca.cert_path if self.ca else None

    @property
    def cert_dir(self) -> Path | None:
        """A directory holding only ``ca.crt`` (for ``--cert-dir`` / ``certs.d``)."""
        return self.ca.directory if self.ca else None

    @property
    def storage(self) -> Path:
        return self.workdir / "storage"

    @property
    def log_path(self) -> Path:
        return self.workdir / "registry.log"

    def log_tail(self, n: int = 30) -> str:
        """The last ``n`` lines of the registry's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def trust_in(self, config_home: Path) -> Path | None:
        """Install the CA as ``CONFIG_HOME/containers/certs.d/HOST:PORT/ca.crt`` (as Podman reads it)."""
        if not self.ca:
            return None
        dest = config_home / "containers" / "certs.d" / self.address
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.ca.cert_path, dest / "ca.crt")
        return dest / "ca.crt"

    def skopeo_args(self, side: str = "", *, creds: bool = True) -> list[str]:
        """TLS and credential flags for skopeo; ``side`` is ``src``, ``dest`` or ``""`` (inspect)."""
        prefix = f"--{side}-" if side else "--"
        args = [f"{prefix}cert-dir={self.cert_dir}"] if self.tls else [f"{prefix}tls-verify=false"]
        if creds and self.username:
            args.append(f"{prefix}creds={self.username}:{self.password}")
        return args

    def ssl_context(self) -> ssl.SSLContext | None:
        return self.ca.ssl_context() if self.ca else None

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                auth: bool = True, data: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request to the registry (``path`` starts with ``/v2/``).

        With ``auth`` the registry's credentials are used, answering a Bearer challenge through
        the token server like a client would. Returns (status, headers, body); never raises on
        HTTP error statuses.
        """
        hdrs = dict(headers or {})
        if auth and self.username and not self.token_server:
            hdrs["Authorization"] = _basic(self.username, self.password or "")
        status, rh, body = _urlopen(method, self.url + path, hdrs, data, self.ssl_context())
        challenge = rh.get("www-authenticate", "")
        if status == 401 and auth and challenge.lower().startswith("bearer "):
            params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
            query = {"service": params.get("service", "")}
            if params.get("scope"):
                query["scope"] = params["scope"]
            token_hdrs = {"Authorization": _basic(self.username, self.password or "")} if self.username else {}
            t_status, _, t_body = _urlopen("GET", params["realm"] + "?" + urllib.parse.urlencode(query),
                                           token_hdrs, None, None)
            if t_status != 200:
                return t_status, {}, t_body
            hdrs["Authorization"] = "Bearer " + json.loads(t_body)["token"]
            status, rh, body = _urlopen(method, self.url + path, hdrs, data, self.ssl_context())
        return status, rh, body

    def stop(self) -> None:
        """Terminate the registry process (storage is left for the temp dir's owner to remove)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.token_server:
            self.token_server.stop()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _urlopen(method: str, url: str, headers: dict[str, str], data: bytes | None,
             context: ssl.SSLContext | None, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    handlers: list[Any] = [urllib.request.HTTPSHandler(context=context)] if context else []
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def _htpasswd_line(user: str, password: str) -> str:
    htpasswd = require_tool("htpasswd", "apache2-utils")
    out = subprocess.run([htpasswd, "-Bbn", user, password], check=True, capture_output=True, text=True)
    return out.stdout.strip() + "\n"


def start_registry(
    workdir: Path,
    *,
    tls: bool = False,
    basic_auth: tuple[str, str] | None = None,
    token_server: TokenServer | None = None,
    token_user: tuple[str, str] | None = None,
) -> Registry:
    """Start ``docker-registry`` on 127.0.0.1 (random port) with storage under ``workdir``.

    ``tls`` serves HTTPS with a certificate from a new CA (``Registry.ca``); ``basic_auth``
    enables htpasswd (bcrypt) auth; ``token_server`` enables Bearer token auth against it
    (``token_user`` are the credentials tests should use). Waits until ``/v2/`` answers.
    """
    binary = require_tool("docker-registry", "docker-registry")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "storage").mkdir(exist_ok=True)
    ca = CertAuthority(workdir / "ca") if tls else None
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": False}},
        "storage": {
            "filesystem": {"rootdirectory": str(workdir / "storage")},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"secret": secrets.token_hex(16), "headers": {"X-Content-Type-Options": ["nosniff"]}},
    }
    if ca:
        cert, key = ca.write_server_pair()
        config["http"]["tls"] = {"certificate": str(cert), "key": str(key)}
    username = password = None
    if basic_auth:
        username, password = basic_auth
        htpasswd_path = workdir / "htpasswd"
        htpasswd_path.write_text(_htpasswd_line(username, password))
        config["auth"] = {"htpasswd": {"realm": "rpod-test-registry", "path": str(htpasswd_path)}}
    if token_server:
        username, password = token_user or (None, None)
        config["auth"] = {"token": {
            "realm": token_server.realm, "service": token_server.service,
            "issuer": token_server.issuer, "rootcertbundle": str(token_server.rootcertbundle),
        }}
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    last_error = ""
    for _attempt in range(5):
        port = free_port()
        config["http"]["addr"] = f"{LOCALHOST}:{port}"
        config_path = workdir / "config.yml"
        config_path.write_text(json.dumps(config, indent=1))  # JSON is valid YAML
        log = open(workdir / "registry.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen([binary, "serve", str(config_path)], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, preexec_fn=_die_with_parent)
        log.close()
        reg = Registry(LOCALHOST, port, tls, workdir, proc, ca, username, password, token_server)
        if _wait_ready(reg):
            return reg
        reg.stop()
        last_error = reg.log_tail()
    raise RuntimeError(f"docker-registry did not start (config {workdir / 'config.yml'}):\n{last_error}")


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the test process dies (no stray registries)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


def _wait_ready(reg: Registry, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if reg.process.poll() is not None:
            return False
        try:
            status, _, _ = _urlopen("GET", reg.url + "/v2/", {}, None, reg.ssl_context(), timeout=2)
            if status in (200, 401):
                return True
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.05)
    return False


# --------------------------------------------------------------------------- flaky proxy

_BLOB_PATH = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[a-z0-9]+:[a-f0-9]+)$")
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
               "transfer-encoding", "upgrade", "host"}


@dataclass
class ProxyRequest:
    """One request seen by the proxy (or by its redirect target)."""

    method: str
    path: str
    status: int
    authorization: str | None
    range: str | None
    action: str  # forwarded | failed | cut | redirected | served-redirect


class FlakyProxy:
    """An HTTP reverse proxy in front of a registry that misbehaves on blob GETs on demand.

    * ``fail_blobs(n)``: the next ``n`` blob GETs get 503;
    * ``cut_blobs(after, times)``: the next ``times`` blob GETs send headers and ``after`` bytes,
      then reset the connection;
    * ``redirect_blobs(times)``: blob GETs get a 307 to another origin (``redirect_host``, another
      port) that serves the blob like a pre-signed URL would, recording the ``Authorization``
      header it receives in ``redirected`` (it must be absent: clients must not forward creds).

    The proxy speaks plain HTTP whatever the upstream is.
    """

    def __init__(self, upstream: Registry, redirect_host: str = "localhost") -> None:
        self.upstream = upstream
        self.redirect_host = redirect_host
        self.requests: list[ProxyRequest] = []
        self.redirected: list[ProxyRequest] = []
        self._fail = 0
        self._fail_status = 503
        self._cut = 0
        self._cut_after = 0
        self._redirect: int | None = 0
        self._grants: dict[str, tuple[str, str | None]] = {}
        self._lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []

    # -- configuration
    def fail_blobs(self, n: int, status: int = 503) -> None:
        """Fail the next ``n`` blob GETs with ``status``."""
        with self._lock:
            self._fail, self._fail_status = n, status

    def cut_blobs(self, after: int, times: int = 1) -> None:
        """Reset the connection after ``after`` body bytes for the next ``times`` blob GETs."""
        with self._lock:
            self._cut, self._cut_after = times, after

    def redirect_blobs(self, times: int | None = None) -> None:
        """Redirect the next ``times`` blob GETs (``None``: all of them) to the other origin."""
        with self._lock:
            self._redirect = times

    def reset(self) -> None:
        """Back to a well-behaved proxy; forget recorded requests."""
        with self._lock:
            self._fail = self._cut = 0
            self._redirect = 0
            self.requests.clear()
            self.redirected.clear()

    # -- lifecycle
    def start(self) -> FlakyProxy:
        """Listen on two random ports of 127.0.0.1: the proxy and the redirect target."""
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            role = "proxy"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                proxy._handle(self, self.role)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _any  # noqa: N815

        class Target(Handler):
            role = "target"

        for handler in (Handler, Target):
            httpd = ThreadingHTTPServer((LOCALHOST, 0), handler)
            httpd.daemon_threads = True
            threading.Thread(target=httpd.serve_forever, args=(0.05,), name=f"flaky-{handler.role}",
                             daemon=True).start()
            self._servers.append(httpd)
        return self

    def stop(self) -> None:
        for httpd in self._servers:
            httpd.shutdown()
            httpd.server_close()
        self._servers.clear()

    @property
    def port(self) -> int:
        return self._servers[0].server_address[1]

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT`` of the proxy (use it as the registry in image references)."""
        return f"{LOCALHOST}:{self.port}"

    @property
    def redirect_origin(self) -> str:
        return f"http://{self.redirect_host}:{self._servers[1].server_address[1]}"

    # -- handling
    def _decide(self, h: BaseHTTPRequestHandler) -> str:
        if h.command != "GET" or not _BLOB_PATH.match(urllib.parse.urlsplit(h.path).path):
            return "forwarded"
        with self._lock:
            if self._fail > 0:
                self._fail -= 1
                return "failed"
            if self._cut > 0:
                self._cut -= 1
                return "cut"
            if self._redirect is None or self._redirect > 0:
                if self._redirect is not None:
                    self._redirect -= 1
                return "redirected"
        return "forwarded"

    def _record(self, h: BaseHTTPRequestHandler, status: int, action: str, into: list[ProxyRequest]) -> ProxyRequest:
        """Record a request before answering it (tests may look as soon as they have the answer)."""
        entry = ProxyRequest(h.command, h.path, status, h.headers.get("Authorization"), h.headers.get("Range"), action)
        with self._lock:
            into.append(entry)
        return entry

    def _handle(self, h: BaseHTTPRequestHandler, role: str) -> None:
        if role == "target":
            return self._serve_redirect(h)
        action = self._decide(h)
        if action == "failed":
            self._record(h, self._fail_status, action, self.requests)
            return _send_simple(h, self._fail_status, b'{"errors":[{"code":"UNAVAILABLE"}]}')
        if action == "redirected":
            nonce = secrets.token_hex(8)
            with self._lock:
                self._grants[nonce] = (h.path, h.headers.get("Authorization"))
            self._record(h, 307, action, self.requests)
            h.send_response(307)
            h.send_header("Location", f"{self.redirect_origin}/presigned/{nonce}")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return None
        body = _read_request_body(h)
        headers = [(k, v) for k, v in h.headers.items() if k.lower() not in _HOP_BY_HOP | {"content-length"}]
        entry = self._record(h, 0, action, self.requests)
        self._forward(h, h.command, h.path, headers, body, entry, cut_after=self._cut_after if action == "cut" else None)
        return None

    def _serve_redirect(self, h: BaseHTTPRequestHandler) -> None:
        nonce = urllib.parse.urlsplit(h.path).path.rsplit("/", 1)[-1]
        with self._lock:
            grant = self._grants.get(nonce)
        if grant is None or h.command not in ("GET", "HEAD"):
            self._record(h, 403, "served-redirect", self.redirected)
            return _send_simple(h, 403, b"unknown or expired pre-signed URL")
        path, upstream_auth = grant
        headers = [("Range", h.headers["Range"])] if h.headers.get("Range") else []
        if upstream_auth:
            headers.append(("Authorization", upstream_auth))
        entry = self._record(h, 0, "served-redirect", self.redirected)
        self._forward(h, h.command, path, headers, None, entry, cut_after=None)
        return None

    def _forward(self, h: BaseHTTPRequestHandler, method: str, path: str, headers: list[tuple[str, str]],
                 body: bytes | None, entry: ProxyRequest, cut_after: int | None) -> int:
        """Send the request upstream (repeated headers kept) and stream the answer back;
        ``entry.status`` is set to the upstream status before the body is sent (502 when the
        upstream failed before answering)."""
        up = self.upstream
        conn: http.client.HTTPConnection
        if up.tls:
            conn = http.client.HTTPSConnection(up.host, up.port, context=up.ssl_context(), timeout=60)
        else:
            conn = http.client.HTTPConnection(up.host, up.port, timeout=60)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", up.address)
            for k, v in headers:
                conn.putheader(k, v)
            if body is not None or method in ("PUT", "POST", "PATCH"):
                conn.putheader("Content-Length", str(len(body or b"")))
            conn.endheaders(body)
            resp = conn.getresponse()
            length = resp.getheader("Content-Length")
            data = None if (length is not None or method == "HEAD") else resp.read()
            entry.status = resp.status
            h.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() in _HOP_BY_HOP or k.lower() == "content-length":
                    continue
                if k.lower() == "location":
                    v = v.replace(up.url, f"http://{self.address}")
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)) if data is not None else (length or "0"))
            h.end_headers()
            if method == "HEAD":
                return resp.status
            if data is not None:
                h.wfile.write(data)
                return resp.status
            sent = 0
            while True:
                chunk = resp.read(65536)
                if not chunk:
                    break
                if cut_after is not None and sent + len(chunk) >= cut_after:
                    h.wfile.write(chunk[: cut_after - sent])
                    _reset_connection(h)
                    return resp.status
                h.wfile.write(chunk)
                sent += len(chunk)
            return resp.status
        except (OSError, http.client.HTTPException) as e:
            h.close_connection = True
            if entry.status == 0:  # nothing sent yet: tell the client
                entry.status = 502
                try:
                    _send_simple(h, 502, json.dumps({"errors": [{"code": "UPSTREAM", "message": str(e)}]}).encode())
                except OSError:
                    pass
            return 599
        finally:
            conn.close()


def _send_simple(h: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    _read_request_body(h)
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)


def _read_request_body(h: BaseHTTPRequestHandler) -> bytes | None:
    if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += h.rfile.read(size)
            h.rfile.readline()
    length = int(h.headers.get("Content-Length") or 0)
    return h.rfile.read(length) if length else None


def _reset_connection(h: BaseHTTPRequestHandler) -> None:
    """Abort the client connection with a TCP RST (SO_LINGER 0)."""
    sock = h.connection
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass
    h.close_connection = True


# --------------------------------------------------------------------------- skopeo


def skopeo(args: list[str], workdir: Path, *, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run ``skopeo --insecure-policy ARGS`` isolated from the user's containers configuration.

    Raises ``RuntimeError`` with skopeo's stderr when it fails.
    """
    binary = require_tool("skopeo", "skopeo")
    home = workdir / "skopeo-home"
    for sub in ("run", "tmp", "config"):
        (home / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    registries_conf = home / "registries.conf"
    if not registries_conf.exists():
        registries_conf.write_text("unqualified-search-registries = []\n")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "TMPDIR": str(home / "tmp"),
        "CONTAINERS_REGISTRIES_CONF": str(registries_conf),
    }
    proc = subprocess.run([binary, "--insecure-policy", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"skopeo {' '.join(args)} failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    return proc
