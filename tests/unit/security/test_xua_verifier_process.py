"""The XUA gate in a child process (security/xua/verifier_process.py): the same verdicts as
inline, and no request refused or lost when the child dies, hangs or is closed."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
from collections.abc import AsyncIterator, Callable

import pytest
from lxml import etree

from imx.security.xua import SecurityHeaderError, TrustConfig, VerifiedAssertion
from imx.security.xua import verifier_process as vp
from imx.security.xua.verifier_process import VerifierProcess, verify_headers
from imx.wire.soap import header_blocks
from imx.wire.xml import parse_xml
from tests.integration.test_soap_trust import XSW, header, message
from tests.support.xua_pki import pki

HCID = "urn:oid:1.3.6.1.4.1.21367.2026.1.1"


def config() -> TrustConfig:
    return TrustConfig(trust_anchors=(pki().ca.cert,), audiences=frozenset({HCID}))


def headers_of(env: etree._Element) -> tuple[etree._Element, ...]:
    # parsed from bytes, as the SOAP edge does
    return header_blocks(parse_xml(etree.tostring(env)))


def outcome(run: Callable[[], VerifiedAssertion]) -> tuple[object, ...]:
    try:
        v = run()
    except SecurityHeaderError as exc:
        return ("refused", exc.fault, exc.detail)
    return ("ok", v.assertion_id, v.subject_id, v.organization_id, v.purpose_of_use, v.role,
            v.audiences, v.signer_certificate_sha256, v.signer_certificate)


async def child_outcome(verifier: VerifierProcess, blocks: tuple[etree._Element, ...],
                        now: dt.datetime) -> tuple[object, ...]:
    try:
        v = await verifier.verify(blocks, now)
    except SecurityHeaderError as exc:
        return ("refused", exc.fault, exc.detail)
    return ("ok", v.assertion_id, v.subject_id, v.organization_id, v.purpose_of_use, v.role,
            v.audiences, v.signer_certificate_sha256, v.signer_certificate)


async def ready(verifier: VerifierProcess) -> VerifierProcess:
    verifier.start()
    for _ in range(300):
        if verifier.ready:
            return verifier
        await asyncio.sleep(0.02)
    raise AssertionError("the verifier process did not start")


@pytest.fixture
async def verifier() -> AsyncIterator[VerifierProcess]:
    v = await ready(VerifierProcess(config()))
    try:
        yield v
    finally:
        await v.aclose()


def _cases() -> dict[str, etree._Element]:
    cases = {"valid": message(header(audience=(HCID,)))}
    for name, (mutate, _) in XSW.items():
        env = message(header(audience=(HCID,)))
        mutate(env)
        cases[name] = env
    cases["wrong-audience"] = message(header(audience=("urn:oid:9.9.9",)))
    cases["expired"] = message(header(audience=(HCID,), at=dt.datetime.now(dt.UTC)
                                      - dt.timedelta(hours=1)))
    cases["no-security-header"] = message(None)
    return cases


CASES = _cases()


@pytest.mark.parametrize("name", list(CASES))
async def test_the_child_reaches_the_inline_verdict(verifier: VerifierProcess, name: str) -> None:
    blocks, now = headers_of(CASES[name]), dt.datetime.now(dt.UTC)
    expected = outcome(lambda: verify_headers(blocks, trust=config(), now=now))
    before = verifier.inline_count
    assert await child_outcome(verifier, blocks, now) == expected
    assert verifier.inline_count == before  # the child answered
    if name == "valid":
        assert expected[0] == "ok"
    else:
        assert expected[0] == "refused"


async def test_requests_in_flight_together_each_get_their_own_verdict(
        verifier: VerifierProcess) -> None:
    now = dt.datetime.now(dt.UTC)
    good, bad = headers_of(CASES["valid"]), headers_of(CASES["xsw2-forged-duplicate-before-signed"])
    results = await asyncio.gather(*(child_outcome(verifier, good if i % 2 else bad, now)
                                     for i in range(40)))
    assert {r[0] for r in results[1::2]} == {"ok"}
    assert {r[0] for r in results[0::2]} == {"refused"}
    assert verifier.inline_count == 0


async def test_a_killed_child_costs_no_request_and_is_started_again(
        verifier: VerifierProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vp, "_RESTART_AFTER_S", 0.0)
    blocks, now = headers_of(CASES["valid"]), dt.datetime.now(dt.UTC)
    first = verifier.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    for _ in range(200):  # the loop notices the closed pipe
        if verifier.pid != first:
            break
        await asyncio.sleep(0.01)
    answer = await child_outcome(verifier, blocks, now)
    assert answer[0] == "ok" and verifier.inline_count >= 1  # answered here meanwhile
    await ready(verifier)
    assert verifier.pid not in (None, first)
    before = verifier.inline_count
    assert (await child_outcome(verifier, blocks, now))[0] == "ok"
    assert verifier.inline_count == before  # the new child answers


async def test_a_hung_child_is_replaced_after_its_timeout(
        verifier: VerifierProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vp, "_RESTART_AFTER_S", 0.0)
    verifier.timeout_s = 0.3
    blocks, now = headers_of(CASES["valid"]), dt.datetime.now(dt.UTC)
    hung = verifier.pid
    assert hung is not None
    os.kill(hung, signal.SIGSTOP)
    try:
        answer = await child_outcome(verifier, blocks, now)
    finally:
        with contextlib.suppress(ProcessLookupError):  # killed by the verifier, as it should
            os.kill(hung, signal.SIGCONT)
    assert answer[0] == "ok" and verifier.inline_count == 1
    with pytest.raises(ChildProcessError):  # killed and reaped
        os.waitpid(hung, os.WNOHANG)
    await child_outcome(verifier, blocks, now)  # starts the next one
    await ready(verifier)
    assert verifier.pid not in (None, hung)


async def test_close_stops_the_child() -> None:
    verifier = await ready(VerifierProcess(config()))
    pid = verifier.pid
    assert pid is not None
    await verifier.aclose()
    assert verifier.pid is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    # still answers, inline
    blocks = headers_of(CASES["valid"])
    assert (await child_outcome(verifier, blocks, dt.datetime.now(dt.UTC)))[0] == "ok"
