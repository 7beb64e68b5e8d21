"""`imx directory ...` end to end: serve, token, load, publish, sync, find (directory down too)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from imx.cli.main import app

NODE = "1.3.6.1.4.1.21367.2026.42"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _serve(tmp: Path, db_url: str, admin_hash: str) -> Iterator[str]:
    port = _free_port()
    cfg = tmp / "imx.toml"
    cfg.write_text(f'[storage]\ndata_dir = "{tmp / "data"}"\n')
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "imx",
            "directory",
            "serve",
            "--config",
            str(cfg),
            "--database-url",
            db_url,
            "--port",
            str(port),
            "--admin-token-sha256",
            admin_hash,
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "serve.log").open("wb"),
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/metadata", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp / "serve.log").read_text()[-2000:])
            time.sleep(0.1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, ["directory", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_publish_sync_and_route_from_the_cache_when_the_directory_is_down(
    tmp_path: Path,
) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'directory.sqlite'}"
    cache = str(tmp_path / "directory-cache.sqlite")
    admin_hash = _run("hash-token", "admin-secret").strip()
    _run("load", "--database-url", db_url, "--synthetic", "200", "--seed", "3")
    token = _run("token", "--org", f"urn:oid:{NODE}", "--database-url", db_url).strip()
    spec = tmp_path / "publish.toml"
    spec.write_text(
        f'home_community_id = "urn:oid:{NODE}"\nname = "CLI Imaging"\n'
        'base_url = "https://cli.example.org"\npostal_code = "10001"\ncity = "New York"\n'
        'state = "NY"\ntransactions = ["ITI-55", "ITI-38", "ITI-39", "RAD-75"]\n'
        f'[[facilities]]\noid = "{NODE}.1"\nname = "CLI Imaging Queens"\npostal_code = "11101"\n'
    )

    with _serve(tmp_path, db_url, admin_hash) as url:
        published = _run("publish", "--file", str(spec), "--directory", url, "--token", token)
        assert f"Organization/{NODE}/_history/1" in published
        # someone else's token cannot publish over it
        other = _run("token", "--org", "1.2.840.77", "--database-url", db_url).strip()
        refused = CliRunner().invoke(
            app, ["directory", "publish", "--file", str(spec), "--directory", url, "--token", other]
        )
        assert refused.exit_code == 1 and "403" in refused.output
        synced = _run("sync", "--directory", url, "--cache", cache)
        assert "full sync: 206 received, 206 stored" in synced  # 200 + org + 4 endpoints + 1

    # The directory is gone; routing (and `find`) still answers from the cache.
    down = CliRunner().invoke(
        app, ["directory", "sync", "--directory", url, "--cache", cache, "--retries", "0"]
    )
    assert down.exit_code == 1 and "unreachable" in down.output
    found = json.loads(
        _run(
            "find",
            "--cache",
            cache,
            "--transaction",
            "RAD-75",
            "--near-zip",
            "10001",
            "--radius-miles",
            "10",
        )
    )
    names = [o["name"] for o in found]
    assert names[:2] == ["CLI Imaging", "CLI Imaging Queens"]
    assert found[1]["endpoints"][0]["address"].startswith("https://cli.example.org/")


def test_serve_refuses_to_bind_beyond_loopback_without_tls() -> None:
    result = CliRunner().invoke(app, ["directory", "serve", "--host", "0.0.0.0"])  # noqa: S104
    assert result.exit_code != 0
    assert "certfile" in result.output


@pytest.mark.parametrize("args", [["find", "--transaction", "ITI-99"]])
def test_bad_input_is_a_clear_error(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(app, ["directory", *args, "--cache", str(tmp_path / "c.sqlite")])
    assert result.exit_code == 1 and "unknown transaction" in result.output
