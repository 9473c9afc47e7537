"""End-to-end test of the Space in a real headless Chromium (Playwright + Debian's chromium).

Starts ``python space/app.py`` on 127.0.0.1 with the tiny demo model, uses the page as a
visitor would (preset, statements, sampler, steps, Generate), waits for the ECG image,
downloads the WFDB zip and reads it with ``wfdb.rdrecord``.  A screenshot is saved as
``artifacts/space_e2e.png``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = REPO_ROOT / "artifacts"
START_TIMEOUT_S = 180
GENERATE_TIMEOUT_MS = 180_000

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (install Debian's chromium: apt-get install -y chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytest.importorskip("gradio", reason="gradio is not installed (pip install gradio)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The Space running in a subprocess; yields its URL and stops it afterwards."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("space") / "server.log"
    env = {k: v for k, v in os.environ.items() if k != "SSSD_ECG_MODEL"}
    env.update(SSSD_ECG_DEMO_TINY="1", HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    url = f"http://127.0.0.1:{port}/"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, str(REPO_ROOT / "space" / "app.py"), "--host", "127.0.0.1",
                                    "--port", str(port)], cwd=REPO_ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the Space exited with code {process.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the Space did not answer on {url} within {START_TIMEOUT_S} s:\n"
                            f"{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1500}, accept_downloads=True)
    page = context.new_page()
    page.goto(server, wait_until="domcontentloaded")
    page.locator("#generate").wait_for(timeout=60_000)
    yield page
    context.close()


def test_generate_view_and_download_wfdb(page, tmp_path):
    import wfdb

    expect = sync_api.expect
    # A preset fills in the statements.
    page.locator("#preset input").click()
    page.get_by_role("option", name="Atrial fibrillation").click()
    expect(page.locator("#statements-rhythm").get_by_label("AFIB - atrial fibrillation")).to_be_checked()
    # Then pick statements by hand: sinus rhythm + normal ECG instead.
    page.locator("#statements-rhythm").get_by_label("AFIB - atrial fibrillation").uncheck()
    page.locator("#statements-rhythm").get_by_label("SR - sinus rhythm").check()
    page.locator("#statements-diagnostic").get_by_label("NORM - normal ECG").check()
    page.locator("#sampler").get_by_label("DDIM (few steps)").check()
    expect(page.locator("#steps input[type=number]")).to_have_value("50")  # the sampler's default
    steps = page.locator("#steps input[type=number]")
    steps.fill("3")
    steps.press("Enter")
    page.locator("#seed input").fill("11")

    page.locator("#generate").click()
    image = page.locator("#gallery img").first
    image.wait_for(timeout=GENERATE_TIMEOUT_MS)
    expect(page.locator("#summary")).to_contain_text("2 ECG(s)")
    page.wait_for_function("img => img.complete && img.naturalWidth > 1000", arg=image.element_handle())

    with page.expect_download() as download_info:
        page.locator("#downloads a[download='sssd_ecg_wfdb.zip']").click()
    zip_path = tmp_path / "download.zip"
    download_info.value.save_as(zip_path)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "space_e2e.png"), full_page=True)

    with zipfile.ZipFile(zip_path) as archive:
        assert archive.testzip() is None
        archive.extractall(tmp_path / "records")
    records = sorted(p.stem for p in (tmp_path / "records").glob("*.hea"))
    assert records == ["ecg_0000", "ecg_0001"]
    for name in records:
        record = wfdb.rdrecord(str(tmp_path / "records" / name))
        assert record.n_sig == 12 and record.sig_len == 1000 and record.fs == 100
        assert record.sig_name[:3] == ["I", "II", "III"]
        assert "statements: SR,NORM" in record.comments
    settings = json.loads((tmp_path / "records" / "metadata.json").read_text())["settings"]
    assert settings["scheduler"] == "DDIMScheduler"
    assert settings["num_inference_steps"] == 3 and settings["seed"] == 11


def test_missing_statements_show_a_message_not_a_traceback(page):
    page.locator("#generate").click()
    message = page.get_by_text("Pick at least one statement")
    message.first.wait_for(timeout=60_000)
    assert "Traceback" not in page.content()
    assert page.locator("#gallery img").count() == 0
