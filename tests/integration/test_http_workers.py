"""``http.workers``: extra `imx serve` processes answer on the same socket, and go with it."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from imx.model.patient_discovery import InstanceIdentifier, PatientDemographics, PersonName
from imx.settings import Settings
from imx.transactions.iti55_xcpd import TRANSACTION
from imx.transactions.iti55_xcpd.request import build_request
from imx.wire.addressing import build_request_headers
from imx.wire.soap import build_envelope
from imx.wire.xml import serialize

SOAP = ("application/soap+xml; charset=UTF-8; "
        'action="urn:hl7-org:v3:PRPA_IN201305UV02:CrossGatewayPatientDiscovery"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid and b"--worker-fd" in (entry / "cmdline").read_bytes():
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait(predicate: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


@contextlib.contextmanager
def _serve(tmp: Path, workers: int) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _free_port()
    cfg = tmp / "imx.toml"
    cfg.write_text(f"[http]\nport = {port}\nworkers = {workers}\n[dimse]\nenabled = false\n"
                   "[api]\nenabled = false\n[portal]\nenabled = false\n"
                   f'[storage]\ndata_dir = "{tmp / "data"}"\n')
    proc = subprocess.Popen([sys.executable, "-m", "imx", "serve", "--config", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=(tmp / "serve.log").open("wb"),
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            assert proc.poll() is None, (tmp / "serve.log").read_text()
            return False

        _wait(up, 60)
        yield proc, url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def _xcpd(url: str) -> httpx.Response:
    body = build_request(
        message_id=InstanceIdentifier(root="1.2.3.4", extension="m1"),
        created_at=dt.datetime.now(dt.UTC), sender_device_id="1.2.3.4.1",
        sender_home_community_id="1.2.3.4", receiver_device_id="1.2.3.5",
        query_id=InstanceIdentifier(root="1.2.3.4.2", extension="q1"),
        demographics=PatientDemographics(names=(PersonName(given=("Ana",), family="Smith"),),
                                         gender="F", birth_date=dt.date(1970, 1, 2)))
    envelope = build_envelope(body, build_request_headers(
        TRANSACTION.request_action, f"{url}/xcpd", "urn:uuid:0b0c5a54-1b1e-4c59-9e7e-5a1f0e9d0c11"))
    return httpx.post(f"{url}/xcpd", content=serialize(envelope),
                      headers={"content-type": SOAP}, timeout=10)


def test_a_worker_answers_while_the_primary_is_frozen_and_leaves_with_it(tmp_path: Path) -> None:
    with _serve(tmp_path, workers=2) as (proc, url):
        _wait(lambda: len(_children(proc.pid)) == 1)
        (worker,) = _children(proc.pid)
        assert _xcpd(url).status_code == 200
        time.sleep(3)  # the worker has opened the node and accepts too
        os.kill(proc.pid, signal.SIGSTOP)  # only the worker can accept now
        try:
            answer = _xcpd(url)
            assert answer.status_code == 200
            assert b"PRPA_IN201306UV02" in answer.content
            assert httpx.get(f"{url}/healthz", timeout=5).json()["status"] == "ok"
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)  # a graceful stop takes the workers along
        proc.wait(30)
        _wait(lambda: not _alive(worker), 20)


def test_a_worker_whose_primary_was_killed_exits(tmp_path: Path) -> None:
    with _serve(tmp_path, workers=2) as (proc, _url):
        _wait(lambda: len(_children(proc.pid)) == 1)
        (worker,) = _children(proc.pid)
        proc.kill()
        proc.wait(10)
        _wait(lambda: not _alive(worker), 20)


def test_workers_refuse_to_start_beside_the_json_api_and_portal() -> None:
    problems = Settings(http={"workers": 2}).problems()
    assert any("http.workers" in p and "api.enabled=false" in p for p in problems)
    assert not [p for p in Settings(http={"workers": 2}, api={"enabled": False},
                                    portal={"enabled": False}).problems() if "workers" in p]


@pytest.mark.parametrize("workers", [0, 33])
def test_worker_count_is_bounded(workers: int) -> None:
    with pytest.raises(ValueError, match="workers"):
        Settings(http={"workers": workers})
