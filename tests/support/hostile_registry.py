"""A hostile OCI registry on 127.0.0.1: what an attacker (or a broken proxy) could serve.

Images are put in memory (``put_image``) with per-blob behaviours:

* ``endless``   the blob never ends (and has no Content-Length): the client must stop by itself
* ``wrong``     other bytes than the digest promises
* ``slow``      trickles a chunk every ``slow_delay`` s
* ``gate``      sends half, then waits for ``gate.set()`` (a test opens it at the moment it wants)
* ``redirect``  307 to a second server on another port (``side``), which serves the bytes and
                records any ``Authorization`` header it receives (it must never get one)

and per-manifest ones (``endless`` manifest, or a raw oversized/hostile body).  With
``username``/``password`` every ``/v2/`` request needs Basic auth.  ``served[path]`` counts the
bytes sent per request path, ``started`` has an Event per blob digest set when its GET starts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
CHUNK = 64 << 10


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Blob:
    data: bytes
    behaviour: str = ""  # "" | endless | wrong | slow | gate | redirect


@dataclass
class HostileState:
    blobs: dict[str, Blob] = field(default_factory=dict)
    manifests: dict[tuple[str, str], tuple[bytes, str, str]] = field(default_factory=dict)  # body, type, behaviour
    served: dict[str, int] = field(default_factory=dict)
    started: dict[str, threading.Event] = field(default_factory=dict)
    auth_seen_by_side: list[str] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    slow_delay: float = 0.05
    username: str | None = None
    password: str | None = None
    side_port: int = 0
    stop: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: HostileState
    side = False

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _authorized(self) -> bool:
        st = self.state
        if self.side or not st.username:
            return True
        want = "Basic " + base64.b64encode(f"{st.username}:{st.password}".encode()).decode()
        if self.headers.get("Authorization") == want:
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="hostile"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        st = self.state
        if self.side:
            auth = self.headers.get("Authorization")
            if auth:
                st.auth_seen_by_side.append(auth)
        elif not self._authorized():
            return
        path = self.path.split("?", 1)[0]
        if path == "/v2/" or path == "/v2":
            return self._send(200, b"{}", "application/json", head)
        parts = path.removeprefix("/v2/").split("/")
        if len(parts) >= 3 and parts[-2] == "manifests":
            key = ("/".join(parts[:-2]), parts[-1])
            if key not in st.manifests:
                return self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}',
                                  "application/json", head)
            body, mtype, behaviour = st.manifests[key]
            if behaviour == "endless" and not head:
                return self._endless(path, body, mtype)
            return self._send(200, body, mtype, head, extra={"Docker-Content-Digest": digest_of(body)})
        if len(parts) >= 3 and parts[-2] == "blobs":
            return self._blob(path, parts[-1], head)
        self._send(404, b"", "text/plain", head)

    def _send(self, code: int, body: bytes, ctype: str, head: bool, extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self._write(self.path, body)

    def _write(self, path: str, data: bytes) -> bool:
        try:
            self.wfile.write(data)
        except OSError:
            return False
        self.state.served[path] = self.state.served.get(path, 0) + len(data)
        return True

    def _endless(self, path: str, prefix: bytes, ctype: str) -> None:
        """No Content-Length, connection closed only by the client (or the server's stop)."""
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if not self._write(path, prefix):
            return
        zeros = b"\0" * CHUNK
        while not self.state.stop.is_set() and self._write(path, zeros):
            pass

    def _blob(self, path: str, digest: str, head: bool) -> None:
        st = self.state
        blob = st.blobs.get(digest)
        if blob is None:
            return self._send(404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}',
                              "application/json", head)
        st.started.setdefault(digest, threading.Event()).set()
        b = blob.behaviour
        if b == "redirect" and not self.side:
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{st.side_port}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if b == "endless" and not head:
            return self._endless(path, blob.data, "application/octet-stream")
        data = hashlib.sha256(blob.data).digest() * (len(blob.data) // 32 + 1) if b == "wrong" else blob.data
        data = data[:len(blob.data)]
        if b not in ("slow", "gate") or head:
            return self._send(200, data, "application/octet-stream", head,
                              extra={"Docker-Content-Digest": digest})
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if b == "gate":
            half = len(data) // 2
            if not self._write(path, data[:half]):
                return
            self.wfile.flush()
            st.gate.wait(120)
            self._write(path, data[half:])
            return
        for i in range(0, len(data), 1024):
            if st.stop.is_set() or not self._write(path, data[i:i + 1024]):
                return
            self.wfile.flush()
            time.sleep(st.slow_delay)


class HostileRegistry:
    """The server (``address``), its side server (another port, for redirects) and its state."""

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self.state = HostileState(username=username, password=password)
        main = type("H", (_Handler,), {"state": self.state})
        side = type("S", (_Handler,), {"state": self.state, "side": True})
        self._servers = [ThreadingHTTPServer(("127.0.0.1", 0), main), ThreadingHTTPServer(("127.0.0.1", 0), side)]
        for s in self._servers:
            s.daemon_threads = True
        self.state.side_port = self._servers[1].server_address[1]
        self.address = f"127.0.0.1:{self._servers[0].server_address[1]}"

    @property
    def username(self) -> str | None:
        return self.state.username

    @property
    def password(self) -> str | None:
        return self.state.password

    def start(self) -> HostileRegistry:
        for s in self._servers:
            threading.Thread(target=s.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.state.stop.set()
        self.state.gate.set()
        for s in self._servers:
            s.shutdown()
            s.server_close()

    # ------------------------------------------------------------------ content
    def blob(self, data: bytes, media_type: str, behaviour: str = "", size: bool = True) -> dict[str, Any]:
        """Serve ``data``; its descriptor (without ``size`` when ``size`` is False)."""
        d = digest_of(data)
        self.state.blobs[d] = Blob(data, behaviour)
        desc: dict[str, Any] = {"mediaType": media_type, "digest": d}
        if size:
            desc["size"] = len(data)
        return desc

    def put_manifest(self, repo: str, tag: str, body: bytes, media_type: str = OCI_MANIFEST,
                     behaviour: str = "") -> str:
        self.state.manifests[(repo, tag)] = (body, media_type, behaviour)
        self.state.manifests[(repo, digest_of(body))] = (body, media_type, behaviour)
        return digest_of(body)

    def put_image(self, repo: str, layers: Sequence[tuple[bytes, bytes, str]], *, tag: str = "latest",
                  config: dict[str, Any] | None = None, raw_config: bytes | None = None,
                  config_behaviour: str = "", config_size: bool = True,
                  layer_behaviours: Sequence[str] = (), layer_sizes: Sequence[bool] = ()) -> dict[str, Any]:
        """An image of ``layers`` — (blob bytes, uncompressed tar, media type) each — and ``config``
        (its ``config`` section; rootfs filled in) or ``raw_config`` as is.  Returns the manifest."""
        descs = [self.blob(blob, mtype, (layer_behaviours[i] if i < len(layer_behaviours) else ""),
                           size=layer_sizes[i] if i < len(layer_sizes) else True)
                 for i, (blob, _tar, mtype) in enumerate(layers)]
        if raw_config is None:
            doc = {"architecture": "amd64", "os": "linux", "config": config if config is not None else {},
                   "rootfs": {"type": "layers", "diff_ids": [digest_of(tar) for _b, tar, _m in layers]}}
            raw_config = json.dumps(doc).encode()
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": self.blob(raw_config, OCI_CONFIG, config_behaviour, size=config_size),
                    "layers": descs}
        self.put_manifest(repo, tag, json.dumps(manifest).encode())
        return manifest

    def served_bytes(self, digest: str) -> int:
        return sum(n for p, n in self.state.served.items() if p.endswith(digest))
