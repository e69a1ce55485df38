"""``loopgan studio`` in a real browser: headless Chromium (the demo report test's set-up) drives the page served on a
free loopback port: load, draw, play looped, move a GANSpace slider, interpolate, download; the browser console
has no errors. Skipped, with the reason, where no browser is installed."""

from __future__ import annotations

import io
import urllib.request

import pytest
import soundfile as sf
from test_demo_report import _chromium  # the demo report test's browser set-up (same folder)

from gan_plugins.apps.studio import StudioServer
from gan_plugins.apps.studio.state import ModelSession
from gan_plugins.io.model import load_model

pytestmark = pytest.mark.slow  # drives a headless browser
MODEL = "gansynth-mel-gl"


@pytest.fixture(scope="module")
def studio():
    session = ModelSession(MODEL, load_model(MODEL), key=("browser-test",), n_components=4)
    server = StudioServer([session], port=0).start()
    yield server, session
    server.stop()


@pytest.fixture(scope="module")
def browser():
    driver = _chromium()
    yield driver
    driver.quit()


def _wait(driver, script, timeout=60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: d.execute_script(script))


def _current(driver):
    return driver.execute_script("return studio.current && {id: studio.current.id, origin: studio.current.origin}")


def test_studio_page_end_to_end(studio, browser):
    from selenium.webdriver.common.by import By

    server, session = studio
    browser.get(server.url)
    _wait(browser, "return document.getElementById('status').dataset.state === 'ready'")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#sliders input[type=range]")) == 4

    # draw: four loops in the history, the first selected and playing as a looped AudioBuffer of the loop's length
    browser.find_element(By.ID, "draw").click()
    _wait(browser, "return studio.playing && document.querySelectorAll('#history li').length === 4")
    assert browser.execute_script("return studio.source.loop && studio.buffer.length") == session.loop_samples
    first = _current(browser)
    assert first["origin"]["kind"] == "draw"
    painted = browser.execute_script(
        "const c = document.getElementById('spectrogram'); const d = c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data; let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i];"
        "return s")
    assert painted > 0

    # move a slider: a new loop edited from the base, read-outs updated
    browser.execute_script("const s = document.getElementById('pc0'); s.value = 2;"
                           "s.dispatchEvent(new Event('change'));")
    _wait(browser, "return studio.current.origin.kind === 'edit' && studio.busy === 0 && studio.playing")
    edited = _current(browser)
    assert edited["origin"]["base"] == first["id"] and edited["origin"]["sliders"][0] == pytest.approx(2.0)
    assert browser.find_element(By.ID, "current-id").text == f"#{edited['id']}"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#descriptors tr")) == 6

    # interpolate between the two loops marked A and B (the first two drawn)
    browser.execute_script("const s = document.getElementById('interp-t'); s.value = 0.25;"
                           "s.dispatchEvent(new Event('change'));")
    _wait(browser, "return studio.current.origin.kind === 'interpolate' && studio.busy === 0 && studio.playing")
    origin = _current(browser)["origin"]
    assert origin["t"] == pytest.approx(0.25) and origin["a"] != origin["b"]

    # download: fetch the WAV through the very URL of the page's download link
    link = browser.find_element(By.ID, "download")
    href = link.get_attribute("href")
    assert link.get_attribute("download").endswith(".wav") and "/api/download?" in href
    with urllib.request.urlopen(href, timeout=30) as resp:
        assert resp.headers["Content-Disposition"].startswith("attachment")
        wave, sr = sf.read(io.BytesIO(resp.read()), dtype="float32")
    assert sr == session.sample_rate and wave.shape == (session.loop_samples,) and abs(wave).max() > 0.01

    # a walk through two checked history entries
    boxes = browser.find_elements(By.CSS_SELECTOR, "#history .walk-pick")
    boxes[-1].click()
    boxes[-2].click()
    browser.execute_script("document.getElementById('walk-step').value = 2")
    browser.find_element(By.ID, "walk").click()
    _wait(browser, "return studio.walkUrl !== null && studio.busy === 0")
    assert browser.execute_script("return studio.lastError") is None

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
