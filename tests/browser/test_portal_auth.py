"""The portal without a browser: sign-in is required, wrong passwords and cross-site posts are
refused, clerks do not see the audit trail, and what a user does is attributed to them."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import CLERK, CLINICIAN, Network

pytestmark = pytest.mark.e2e


def _login(network: Network, name: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=network.a.url, timeout=60)
    r = client.post("/portal/login", data={"username": name, "password": password})
    assert r.status_code == 303
    return client


def test_sign_in_is_required_and_checked(network: Network) -> None:
    anon = httpx.Client(base_url=network.a.url, timeout=30)
    assert anon.get("/portal/").headers["location"].endswith("/portal/login")
    assert anon.get("/portal/api/me").status_code == 401
    page = anon.get("/portal/login")
    assert page.status_code == 200 and 'for="password"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]

    wrong = _login(network, CLINICIAN[0], "not the password")
    assert wrong.cookies.get("imx_portal") is None
    assert wrong.get("/portal/api/me").status_code == 401

    forged = httpx.Client(base_url=network.a.url, cookies={"imx_portal": "e30.deadbeef"})
    assert forged.get("/portal/api/me").status_code == 401

    ok = _login(network, *CLINICIAN)
    assert ok.get("/portal/api/me").json()["name"] == CLINICIAN[0]
    # A cross-site form cannot add the portal's header.
    assert ok.post("/portal/api/patients/search", json={}).status_code == 403


def test_search_is_attributed_and_clerks_cannot_read_the_audit(network: Network) -> None:
    p = network.patient
    clerk = _login(network, *CLERK)
    found = clerk.post(
        "/portal/api/patients/search",
        headers={"X-Imx-Portal": "1"},
        json={
            "given": p.given,
            "family": p.family,
            "birth_date": p.birth_date.isoformat(),
            "purpose": "EMERGENCY",
        },
    )
    assert found.status_code == 200, found.text
    assert [m["organization"] for m in found.json()["patients"]] == ["Community B"]
    assert clerk.get("/portal/api/audit").status_code == 403

    admin = _login(network, *CLINICIAN)
    events = admin.get("/portal/api/audit").json()
    mine = [e for e in events if e["user"] == CLERK[0]]
    assert any(e["transaction"] == "ITI-55" for e in mine)  # the XCPD the search sent
    assert any(e["event"] == "portal patient search" and e["purpose"] == "EMERGENCY" for e in mine)
    assert [
        o["name"] for o in admin.get("/portal/api/directory").json() if o["name"] == "Community B"
    ] == ["Community B"]
    assert admin.get("/portal/api/health").json()["home_community_id"].endswith("2026.101")
