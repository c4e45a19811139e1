"""Docker Engine API: ``/build``, ``/images/{name}/push``, ``/images/get``, ``/images/load``
(the engine's build and ship verbs; JSON progress lines as Docker's legacy builder and pusher)."""

from __future__ import annotations

from typing import Any

from rpod.api.docker_images import _creds
from rpod.api.http import Connection, HTTPError, Request
from rpod.api.routes import route
from rpod.engine import api_support as eng


def _json_map(req: Request, name: str) -> dict[str, str]:
    value = req.qjson(name, {}) or {}
    if not isinstance(value, dict):
        raise HTTPError(400, f"{name}: expected a JSON object")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


@route("POST", "/build")
def build(req: Request, conn: Connection) -> Any:
    tags = req.qlist("t")
    args = dict(dockerfile=req.q("dockerfile") or "Dockerfile", tags=tags, build_args=_json_map(req, "buildargs"),
                labels=_json_map(req, "labels"), target=req.q("target"), no_cache=req.qbool("nocache"),
                pull=req.qbool("pull"), quiet=req.qbool("q"), rm=req.qbool("rm", True),
                force_rm=req.qbool("forcerm"), platform=req.q("platform"))
    conn.start_stream(200, "application/json")

    def emit(line: str) -> None:
        if not args["quiet"]:
            conn.write_json({"stream": line if line.endswith("\n") else line + "\n"})

    try:
        result = eng.build(req.body_chunks(), emit, **args)  # type: ignore[arg-type]
    except Exception as e:
        req.drain()
        conn.write_json({"errorDetail": {"message": str(e)}, "error": str(e)})
        conn.end()
        return None
    conn.write_json({"aux": {"ID": "sha256:" + result.image_id}})
    if not args["quiet"]:
        conn.write_json({"stream": f"Successfully built {result.image_id[:12]}\n"})
        for t in tags:
            conn.write_json({"stream": f"Successfully tagged {t}\n"})
    conn.end()
    return None


@route("POST", "/images/{name:path}/push")
def push(req: Request, conn: Connection, name: str) -> Any:
    tag = req.q("tag")
    ref = f"{name}:{tag}" if tag and "@" not in name else name
    eng.image(ref)  # a missing image is a 404 before any stream
    conn.start_stream(200, "application/json")
    repo = ref.rsplit(":", 1)[0] if ":" in ref.rsplit("/", 1)[-1] else ref
    conn.write_json({"status": f"The push refers to repository [{repo}]"})

    def emit(d: dict[str, Any]) -> None:
        if d.get("status") in ("Download complete", "Already exists"):
            conn.write_json({"status": "Pushed" if d["status"] == "Download complete" else "Layer already exists",
                             "progressDetail": {}, "id": d.get("id", "")})

    try:
        digest = eng.push(ref, emit, _creds(req))
    except Exception as e:
        conn.write_json({"errorDetail": {"message": str(e)}, "error": str(e)})
        conn.end()
        return None
    shown = tag or "latest"
    conn.write_json({"status": f"{shown}: digest: {digest} size: 0"})
    conn.write_json({"progressDetail": {}, "aux": {"Tag": shown, "Digest": digest, "Size": 0}})
    conn.end()
    return None


@route("GET", "/images/get")
def get_many(req: Request, conn: Connection) -> Any:
    names = req.qlist("names")
    if not names:
        raise HTTPError(400, "names is required")
    return send_archive(conn, names)


@route("GET", "/images/{name:path}/get")
def get_one(req: Request, conn: Connection, name: str) -> Any:
    return send_archive(conn, [name])


def send_archive(conn: Connection, names: list[str]) -> None:
    """A docker-archive of the images ``names`` (each checked first: a missing one is a 404)."""
    for n in names:
        eng.image(n)
    chunks = eng.save(names)
    conn.start_stream(200, "application/x-tar")
    for c in chunks:
        conn.write(c)
    conn.end()


@route("POST", "/images/load")
def load(req: Request, conn: Connection) -> Any:
    names = eng.load(req.body_chunks(), lambda d: None)
    conn.start_stream(200, "application/json")
    for n in names:
        conn.write_json({"stream": f"Loaded image: {n}\n"})
    conn.end()
    return None
