"""A clinician in a real (headless Debian Chromium) browser: signs in on A, finds the patient
across the network, retrieves a CT study that lives in community B into A, and the viewer
draws a CT slice: checked on the pixels of a screenshot, not only on the DOM."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.browser.conftest import ARTIFACTS, CLINICIAN, Network

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium "
        "(apt-get install chromium; `make test` as root installs it)",
    ),
]
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _stats(png: bytes) -> tuple[float, float, int]:
    """(std of grey levels, share of non-black pixels, number of distinct grey levels)."""
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64)
    return float(grey.std()), float((grey > 10).mean()), len(np.unique(grey))


def test_search_retrieve_and_view_a_study_from_another_community(network: Network) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    ARTIFACTS.mkdir(exist_ok=True)
    p = network.patient
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.set_default_timeout(60_000)

            page.goto(f"{network.a.url}/portal/")
            page.get_by_label("User name").fill(CLINICIAN[0])
            page.get_by_label("Password").fill(CLINICIAN[1])
            page.get_by_role("button", name="Sign in").click()

            page.get_by_label("Given name").fill(p.given)
            page.get_by_label("Family name").fill(p.family)
            page.get_by_label("Birth date").fill(p.birth_date.isoformat())
            page.get_by_label("Birth date").press("Enter")  # the keyboard submits the form
            page.get_by_role("button", name="Show timeline").click()

            row = page.locator("#timeline tbody tr").filter(has_text="Community B").first
            sync_api.expect(row).to_contain_text("study")
            view = row.get_by_role("button", name="View study")
            sync_api.expect(view).to_be_disabled()  # not in A's store yet
            row.get_by_role("button", name="Retrieve to my PACS").click()
            sync_api.expect(row.locator("progress")).to_be_visible()
            sync_api.expect(row).to_contain_text("done: 24 / 24 images")
            page.screenshot(path=str(ARTIFACTS / "portal-timeline.png"), full_page=True)
            view.click()

            canvas = page.locator("#image")
            sync_api.expect(canvas).to_have_attribute("data-rendered", "7")  # the middle of 12
            sync_api.expect(
                page.get_by_role("list", name="Series").get_by_role("button")
            ).to_have_count(2)
            page.keyboard.press("ArrowDown")
            sync_api.expect(canvas).to_have_attribute("data-rendered", "8")
            std, lit, levels = _stats(canvas.screenshot())
            assert std > 20 and 0.1 < lit < 0.95 and levels > 32, (std, lit, levels)

            # Lung window: the same slice, drawn differently.
            page.keyboard.press("1")
            sync_api.expect(page.get_by_role("button", name="CT lung")).to_have_attribute(
                "aria-pressed", "true"
            )
            lung = canvas.screenshot()
            assert abs(_stats(lung)[1] - lit) > 0.02 or abs(_stats(lung)[0] - std) > 2

            page.keyboard.press("3")
            page.keyboard.press("h")
            sync_api.expect(page.locator("#header-table")).to_contain_text("(0008,0060)")
            # Both series thumbnails came back from WADO-RS /rendered and decoded.
            page.wait_for_function(
                "[...document.querySelectorAll('#series img')]"
                ".every(i => i.complete && i.naturalWidth === 96)"
            )
            shot = page.screenshot(full_page=True)
            (ARTIFACTS / "portal.png").write_bytes(shot)
            (ARTIFACTS / "portal-slice.png").write_bytes(canvas.screenshot())

            # The administrator's pages: who looked at which patient, and the peers' health.
            page.get_by_role("link", name="Audit").click()
            audit = page.locator("#audit-list tbody tr").filter(has_text="portal study viewed")
            sync_api.expect(audit.first).to_contain_text(CLINICIAN[0])
            page.screenshot(path=str(ARTIFACTS / "portal-audit.png"), full_page=True)
            page.get_by_role("link", name="Node health").click()
            sync_api.expect(page.locator("#health-body")).to_contain_text("Community B")
            page.get_by_role("link", name="Directory").click()
            sync_api.expect(page.locator("#directory-list")).to_contain_text("RAD-75")
            assert not errors, errors
        finally:
            browser.close()

    # A's audit trail names the clinician for the network search and the view.
    events = network.a.call(network.a.services.audit.list_events(limit=500))  # type: ignore[union-attr]
    by_user = {(e.event, e.transaction) for e in events if e.requester_user_id == CLINICIAN[0]}
    assert ("portal study viewed", "portal") in by_user
    assert any(t == "ITI-55" for _, t in by_user) and any(
        t == "RAD-75" or t == "ITI-39" for _, t in by_user
    ), by_user
