"""The API front end without a service: routing (versioned, unversioned, libpod falling back to
Docker handlers), Docker's stream frames, create bodies to run options, URIs, the fast start path."""

from __future__ import annotations

import struct

import pytest

from rpod.api import app, convert, service, streams
from rpod.api.http import HTTPError


def _find(method: str, path: str) -> str:
    app._load_handlers()
    fn, params = app.find(method, path)
    return f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__} {params}"


def test_routes_versioned_unversioned_and_libpod() -> None:
    assert _find("GET", "/v1.41/containers/json") == "docker_containers.list_containers {}"
    assert _find("GET", "/containers/json") == "docker_containers.list_containers {}"
    assert _find("GET", "/v1.24/containers/abc/json") == "docker_containers.inspect {'ref': 'abc'}"
    assert _find("GET", "/v4.3.1/libpod/containers/json") == "libpod.list_containers {}"
    assert _find("GET", "/v5.0.0/libpod/exec/x1/json") == "docker_exec.inspect {'sid': 'x1'}"  # falls back
    assert _find("HEAD", "/_ping") == "docker_other.ping {}"
    assert _find("GET", "/images/127.0.0.1:5000/a/b:1/json") == \
        "docker_images.inspect {'name': '127.0.0.1:5000/a/b:1'}"
    assert _find("DELETE", "/v1.41/images/alpine") == "docker_images.remove {'name': 'alpine'}"
    with pytest.raises(HTTPError) as e:
        app.find("GET", "/v1.41/nonesuch")
    assert e.value.status == 404
    with pytest.raises(HTTPError) as e:
        app.find("PATCH", "/containers/json")
    assert e.value.status == 405


def test_multiplexed_frames_and_raw_tty() -> None:
    assert streams.frame(1, b"hi\n") == b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"
    assert streams.encode("stderr", b"x", tty=False)[:1] == b"\x02"
    assert struct.unpack(">BxxxL", streams.encode("stdout", b"abc", False)[:8]) == (1, 3)
    assert streams.encode("stderr", b"raw", tty=True) == b"raw"


def test_docker_create_body_to_run_options() -> None:
    body = {"Image": "alpine", "Cmd": ["sh", "-c", "true"], "Env": ["A=1"], "Labels": {"l": "v"},
            "Tty": True, "OpenStdin": True, "WorkingDir": "/w", "User": "1000", "Entrypoint": ["/bin/x"],
            "ExposedPorts": {"80/tcp": {}}, "StopSignal": "SIGINT",
            "HostConfig": {"AutoRemove": True, "Binds": ["/src:/dst:ro"], "RestartPolicy": {"Name": "no"},
                           "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                                            "53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
                                            "81/tcp": [{"HostIp": "", "HostPort": ""}]},
                           "CapAdd": ["NET_ADMIN"], "Memory": 1048576},
            "NetworkingConfig": {"EndpointsConfig": {"proj_default": {"Aliases": ["web"]}}}}
    f = convert.run_options(body, "/named")
    assert f["image"] == "alpine" and f["command"] == ["sh", "-c", "true"] and f["name"] == "named"
    assert f["entrypoint"] == '["/bin/x"]' and f["env"] == ["A=1"] and f["labels"] == ["l=v"]
    assert f["tty"] and f["interactive"] and f["rm"] and f["detach"]
    assert f["publish"] == ["8080:80/tcp", "127.0.0.1::53/udp", "81/tcp"]
    assert f["volumes"] == ["/src:/dst:ro"] and f["cap_add"] == ["NET_ADMIN"] and f["memory"] == "1048576"
    assert f["network"] == "proj_default" and f["network_alias"] == ["web"]
    assert f["workdir"] == "/w" and f["user"] == "1000" and f["stop_signal"] == "SIGINT"
    assert "restart" not in f
    with pytest.raises(HTTPError):
        convert.run_options({"Cmd": ["x"]}, None)
    with pytest.raises(HTTPError):
        convert.run_options({"Image": "a", "Env": 5}, None)


def test_uris() -> None:
    assert service.parse_uri("unix:///run/x.sock") == ("unix", service.Path("/run/x.sock"))
    assert service.parse_uri("unix:rel.sock") == ("unix", service.Path("rel.sock"))
    assert service.parse_uri("tcp://127.0.0.1:8080") == ("tcp", ("127.0.0.1", 8080))
    assert service.parse_uri("tcp:localhost:1") == ("tcp", ("localhost", 1))
    for bad in ("ftp://x", "unix://", "tcp://h:port"):
        with pytest.raises(Exception, match="URI|scheme"):
            service.parse_uri(bad)


def test_fast_start_path_only_for_the_service() -> None:
    assert service.fast_main(["ps"]) is None
    assert service.fast_main(["system", "info"]) is None
    assert service.fast_main(["system", "service", "--bogus"]) is None  # the CLI explains it
    assert service.fast_main(["--log-level", "nope", "system", "service"]) is None
    assert service.fast_main(["system", "service", "ftp://x"]) == 125
