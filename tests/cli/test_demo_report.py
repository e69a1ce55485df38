"""``loopgan demo`` writes one self-contained HTML report that a real browser plays and shows without errors.

Loads the report in headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by Selenium) and checks:
no console errors, every ``<audio>`` has a duration > 0, every ``<img>`` has a natural width > 0. Skipped, with
the reason, where no browser is installed. The demo runs in its small test size (4 s walks, 2 loops per model).
"""

from __future__ import annotations

import re
import shutil

import pytest

from loopgan_cli import loopgan

pytestmark = pytest.mark.slow  # renders the demo at its test size: 10-55 s on a shared 2-core CPU


def _chromium():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        pytest.skip(f"selenium is not installed ({exc}); pip install selenium")
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not binary or not driver:
        pytest.skip("no headless browser: install Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        return webdriver.Chrome(service=Service(driver), options=options)
    except Exception as exc:  # noqa: BLE001 - a browser that does not start is an environment problem
        pytest.skip(f"chromium did not start: {str(exc).splitlines()[0]}")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert loopgan.main(["demo", "--out", str(out), "--seconds", "4", "-n", "2", "--quick", "--no-progress"]) == 0
    path = out / "report.html"
    assert path.is_file()
    return path


def test_report_is_self_contained(report):
    text = report.read_text()
    assert not re.search(r'(src|href)="(?!data:)', text)  # every resource is embedded
    assert text.count("<audio") >= 2 * 2 + 2 + 3  # loops + walks per model, round trips
    assert text.count("<img") >= 2 * 2 + 1 + 2
    for name in ("gansynth-mel-gl", "gansynth-mel-if", "gansynth-mel-gl-lmms", "gansynth-mel-if-lmms"):
        assert f"<h2>{name}</h2>" in text  # one section per bundled GANSynth model
    for sub in ("What you are hearing", "How smooth is the latent space?", "round trip"):
        assert sub in text


def test_every_embedded_file_decodes_completely(report):
    import base64
    import io

    import soundfile as sf
    from PIL import Image

    text = report.read_text()
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', text)
    audios = re.findall(r'<audio[^>]* src="data:audio/ogg;base64,([^"]+)"', text)
    assert images and audios
    for data in images:
        with Image.open(io.BytesIO(base64.b64decode(data))) as img:
            img.load()  # a truncated or corrupt PNG raises here; browsers may still show its top part
            assert img.width > 100 and img.height > 100
    for data in audios:
        wave, sr = sf.read(io.BytesIO(base64.b64decode(data)))
        assert sr == 16000 and len(wave) > sr and abs(wave).max() > 0.01


def test_report_plays_in_a_real_browser(report):
    browser = _chromium()
    try:
        browser.get(report.as_uri())
        browser.set_script_timeout(60)
        # wait until every audio element has its metadata (or failed), then read durations and image sizes
        durations = browser.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const audios = Array.from(document.querySelectorAll('audio'));
            const ready = a => new Promise(r => {
                if (a.readyState >= 1 || a.error) return r();
                a.addEventListener('loadedmetadata', r, {once: true});
                a.addEventListener('error', r, {once: true});
                a.load();
            });
            Promise.all(audios.map(ready)).then(() => done(audios.map(a => a.error ? -1 : a.duration)));
        """)
        widths = browser.execute_script(
            "return Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0);")
        logs = browser.get_log("browser")
    finally:
        browser.quit()
    assert durations and all(d > 0 for d in durations), durations
    assert widths and all(w > 0 for w in widths), widths
    errors = [e for e in logs if e.get("level") == "SEVERE"]
    assert not errors, errors
