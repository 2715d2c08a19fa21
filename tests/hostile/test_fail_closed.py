"""Fail closed: a secret a peer echoes back is masked everywhere we keep or send text; a second
daemon on the same state refuses to start."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from pathlib import Path

import yaml

from tests.hostile.stubs import HostileServer
from tests.test_daemon import SCRIPT, free_port

TENANT = "4a7c2e10-5b3d-4f6e-9a81-2c3d4e5f6a70"
SECRET = "echo-me-Zq8~xV2pL4wN-secret"


def echoing_entra(line: str, sock: socket.socket, stopping: threading.Event) -> None:
    """Discovery as Entra answers it; the token endpoint refuses and quotes the client secret."""
    base = f"https://127.0.0.1:{sock.getsockname()[1]}/{TENANT}"
    if "openid-configuration" in line:
        status, body = (
            "200 OK",
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "issuer": f"{base}/v2.0",
            },
        )
    else:
        status, body = (
            "401 Unauthorized",
            {
                "error": "invalid_client",
                "error_description": f"AADSTS7000215: Invalid client secret provided: '{SECRET}'.",
                "error_codes": [7000215],
            },
        )
    data = json.dumps(body).encode()
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    sock.sendall(head.encode() + data)


def write_config(tmp_path: Path, server: HostileServer) -> Path:
    data = {
        "tenants": [
            {
                "name": "contoso",
                "tenant_id": TENANT,
                "endpoints": {"authority": server.url, "powerbi": server.url},
                "ca_bundle": str(server.bundle),
                "credential": {"type": "client_secret", "client_id": "c1", "client_secret": SECRET},
                "sources": [{"type": "powerbi", "mode": "admin"}],
            }
        ],
        "sinks": [{"name": "file", "type": "jsonl", "path": str(tmp_path / "out.jsonl")}],
        "incidents": {"group_wait": "0s"},
        "state": {"path": str(tmp_path / "state")},
        "health": {"listen": f"127.0.0.1:{free_port()}"},
        "log": {"format": "json", "level": "debug"},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_a_secret_echoed_by_the_token_endpoint_is_masked_everywhere(tmp_path: Path) -> None:
    with HostileServer(echoing_entra) as server:
        done = subprocess.run(
            [SCRIPT, "once", "--config", str(write_config(tmp_path, server))],
            capture_output=True,
            timeout=120,
        )
    assert (tmp_path / "out.jsonl").exists(), done.stderr.decode(errors="replace")[-3000:]
    out = (tmp_path / "out.jsonl").read_text(encoding="utf-8")
    assert "7000215" in out and "***" in out  # the failure was notified, with the echo masked
    stored = b"".join(p.read_bytes() for p in (tmp_path / "state").iterdir())
    for where, text in [
        ("stdout", done.stdout),
        ("stderr", done.stderr),
        ("db", stored),
        ("jsonl", out.encode()),
    ]:
        assert SECRET.encode() not in text, where


def test_a_second_daemon_on_the_same_state_refuses(tmp_path: Path) -> None:
    with HostileServer(echoing_entra) as server:
        config = write_config(tmp_path, server)
        first = subprocess.Popen([SCRIPT, "run", "--config", str(config)], stderr=subprocess.PIPE)
        try:
            lock = tmp_path / "state" / "state.lock"
            for _ in range(300):
                if lock.exists() and lock.read_text().strip():
                    break
                first.wait(0.1) if first.poll() is not None else threading.Event().wait(0.1)
            second = subprocess.run([SCRIPT, "once", "--config", str(config)], capture_output=True, text=True)
        finally:
            first.terminate()
            first.wait(30)
    assert second.returncode == 2
    assert second.stdout == "" and second.stderr.count("\n") == 1
    assert (
        "state.path: " in second.stderr
        and f"in use by another aadsts-enricher (pid {first.pid})" in second.stderr
    )
