"""End-to-end test of the Space in a real headless Chromium (Playwright + Debian's /usr/bin/chromium).

The app is started as a user starts it (``python space/app.py``, no environment variable: the bundled
default pipeline), then used as a visitor would: a preset, statements by hand, a few-step sampler,
Generate; the ECG images must appear and every offered download must arrive and be readable.
A screenshot goes to ``artifacts/space_e2e.png``.  Runs whenever chromium and playwright are installed.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

from sssd_hf.app import presets, statement_label
from sssd_hf.export import EXPORT_FORMATS, read_npz
from sssd_hf.schedulers.samplers import SAMPLERS

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "artifacts")
GENERATE_TIMEOUT_MS = 240_000

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (install Debian's chromium: apt-get install -y chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, space_server):
    context = browser.new_context(viewport={"width": 1400, "height": 1600}, accept_downloads=True)
    page = context.new_page()
    page.goto(space_server, wait_until="domcontentloaded")
    page.locator("#generate").wait_for(timeout=120_000)
    yield page
    context.close()


def group_of(page, code):
    """The checkbox of statement ``code``, in whichever group box the page shows it."""
    return page.locator("[id^=statements-]").get_by_label(statement_label(code), exact=True)


def test_pick_generate_view_and_download(page, tmp_path, bundled_label_names):
    import wfdb

    expect = sync_api.expect
    expect(page.locator("#model-source")).to_contain_text("default_pipeline")
    # A preset of the served model fills in its statements.
    name, codes = next((n, c) for n, c in presets(bundled_label_names) if "SR" not in c)
    page.locator("#preset input").click()
    page.get_by_role("option", name=name, exact=True).click()
    for code in codes:
        expect(group_of(page, code)).to_be_checked()
    # Then pick by hand instead: sinus rhythm only.
    for code in codes:
        group_of(page, code).uncheck()
    group_of(page, "SR").check()
    page.locator("#sampler").get_by_label(SAMPLERS["dpm"].label).check()
    steps = page.locator("#steps input[type=number]")
    expect(steps).to_have_value(str(SAMPLERS["dpm"].default_steps))  # the registry's default
    steps.fill("5")
    steps.press("Enter")
    page.locator("#seed input").fill("11")

    page.locator("#generate").click()
    image = page.locator("#gallery img").first
    image.wait_for(timeout=GENERATE_TIMEOUT_MS)
    expect(page.locator("#summary")).to_contain_text("2 ECG(s)")
    expect(page.locator("#summary")).to_contain_text("5 steps, seed 11")
    page.wait_for_function("img => img.complete && img.naturalWidth > 1000", arg=image.element_handle())

    saved = {}
    for fmt, spec in EXPORT_FORMATS.items():
        file_name = spec.file_name.format(stem="sssd_ecg")
        with page.expect_download() as download_info:
            page.locator(f"#downloads a[download='{file_name}']").click()
        saved[fmt] = tmp_path / file_name
        download_info.value.save_as(saved[fmt])
        assert saved[fmt].stat().st_size > 0
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "space_e2e.png"), full_page=True)

    with zipfile.ZipFile(saved["wfdb"]) as archive:
        assert archive.testzip() is None
        archive.extractall(tmp_path / "records")
    records = sorted(p.stem for p in (tmp_path / "records").glob("*.hea"))
    assert records == ["ecg_0000", "ecg_0001"]
    for name in records:
        record = wfdb.rdrecord(str(tmp_path / "records" / name))
        assert record.n_sig == 12 and record.sig_len == 1000 and record.fs == 100
        assert "statements: SR" in record.comments and "seed: 11" in record.comments
    npz = read_npz(saved["npz"])
    assert npz["ecgs"].shape == (2, 12, 1000) and np.isfinite(npz["ecgs"]).all()
    assert npz["metadata"]["settings"]["num_inference_steps"] == 5
    for path in saved.values():
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                assert archive.testzip() is None and len(archive.namelist()) >= 2


def test_missing_statements_show_a_message_not_a_traceback(page):
    page.locator("#generate").click()
    page.get_by_text("Pick at least one statement").first.wait_for(timeout=60_000)
    assert "Traceback" not in page.content()
    assert page.locator("#gallery img").count() == 0
