"""The studio's HTTP API without a browser: validation (4xx JSON errors, the server keeps answering), bounded
history, GANSpace edits, slerp end points, WAV downloads. One real server on a free loopback port per module."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request

import numpy as np
import pytest
import soundfile as sf
import torch

from gan_plugins.apps.studio import StudioServer
from gan_plugins.apps.studio.state import ModelSession, StudioError
from gan_plugins.io.model import load_model

MODEL = "gansynth-mel-if"  # the faster decoder (no phase reconstruction)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return load_model(MODEL)


@pytest.fixture(scope="module")
def server(model):
    session = ModelSession(MODEL, model, key=("test",), history_size=6, n_components=4)
    srv = StudioServer([session], port=0).start()
    yield srv
    srv.stop()


def _call(server, path, body=None, *, raw: bytes | None = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(server.url.rstrip("/") + path, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            payload = resp.read()
            return resp.status, resp.headers, payload
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def _json(server, path, body=None, **kw):
    status, _, payload = _call(server, path, body, **kw)
    return status, json.loads(payload)


def test_info_and_page_are_served_from_the_package(server):
    status, info = _json(server, "/api/info")
    assert status == 200 and info["models"][0]["name"] == MODEL
    assert info["models"][0]["loop_samples"] == 32000
    for path in ("/", "/static/studio.js", "/static/studio.css"):
        status, headers, payload = _call(server, path)
        assert status == 200 and len(payload) > 500
    page = _call(server, "/")[2].decode()
    assert "http://" not in page and "https://" not in page  # nothing from a CDN


BAD = [
    ("/api/edit", {"base": 1, "sliders": [3.5]}, 400, "out of range"),
    ("/api/edit", {"base": 1, "sliders": [float("nan")]}, 400, "finite"),
    ("/api/edit", {"base": 1, "sliders": [0.0] * 5}, 400, "give 1 to 4"),
    ("/api/draw", {"count": 10**9}, 400, "out of range"),
    ("/api/draw", {"count": "many"}, 400, "integer"),
    ("/api/draw", {"count": True}, 400, "integer"),
    ("/api/draw", {"model": "../../gansynth-mel-gl"}, 404, "unknown model"),
    ("/api/draw", {"model": "nope", "count": 1}, 404, "unknown model"),
    ("/api/draw", {"seed": -1}, 400, "out of range"),
    ("/api/interpolate", {"a": 1, "b": 2, "t": 1.5}, 400, "out of range"),
    ("/api/interpolate", {"a": 1, "b": 2}, 400, "required"),
    ("/api/walk", {"entries": list(range(1, 40))}, 400, "give 2 to 8"),
    ("/api/walk", {"entries": [1, 2], "step_seconds": 1e9}, 400, "out of range"),
    ("/api/edit", {"base": 10**6, "sliders": [0.0]}, 404, "not in the history"),
]


@pytest.mark.parametrize("path,body,status,words", BAD)
def test_bad_requests_get_a_4xx_and_the_server_keeps_answering(server, path, body, status, words):
    got, answer = _json(server, path, body)
    assert got == status and words in answer["error"]
    assert _json(server, "/api/info")[0] == 200


@pytest.mark.parametrize("raw,status", [(b"{bad", 400), (b"[1, 2]", 400), (b"\xff\xfe", 400),
                                        (b" " * (64 * 1024 + 1), 413)])
def test_malformed_and_oversized_bodies(server, raw, status):
    got, answer = _json(server, "/api/draw", raw=raw)
    assert got == status and answer["error"]
    assert _json(server, "/api/info")[0] == 200


@pytest.mark.parametrize("name", ["../x.wav", "..%2Fx.wav", "%2Fetc%2Fpasswd.wav", "a/b.wav", "..wav.wav", "x.exe",
                                  "a%00.wav", "x" * 70 + ".wav", ".hidden.wav"])
def test_download_names_with_paths_are_refused(server, name):
    status, draw = _json(server, "/api/draw", {"count": 1})
    assert status == 200
    entry = draw["entries"][0]["id"]
    got, _, payload = _call(server, f"/api/download?entry={entry}&name={name}")
    assert got == 400 and "download name" in json.loads(payload)["error"]
    got, _, _ = _call(server, f"/api/download?entry={entry}&name=ok_loop-1.wav")
    assert got == 200


@pytest.fixture(scope="module")
def entry(server):
    status, draw = _json(server, "/api/draw", {"count": 1, "seed": 21})
    assert status == 200
    return draw["entries"][0]["id"]


# what the name check must refuse: a "..", a folder (raw or encoded), nothing before ".wav", no ".wav" at the end,
# a hidden file, 65 characters, a space; URL-quoted here so the server sees exactly these names
REFUSED = ["a..b.wav", "../x.wav", "x/y.wav", ".wav", "x", "loop.wav.txt", "loopwav", "loop.WAVE", ".x.wav",
           "x" * 61 + ".wav", "my loop.wav", "x\\y.wav"]
ACCEPTED = ["a.wav", "loop_1-b.v2.wav", "X9.wav", "x" * 60 + ".wav"]  # the last: exactly 64 characters


@pytest.mark.parametrize("name", REFUSED)
def test_download_name_check_refuses(server, entry, name):
    from urllib.parse import quote

    got, _, payload = _call(server, f"/api/download?entry={entry}&name={quote(name, safe='')}")
    assert got == 400 and "download name" in json.loads(payload)["error"]


@pytest.mark.parametrize("name", ACCEPTED)
def test_download_name_check_accepts_plain_names(server, entry, name):
    got, headers, payload = _call(server, f"/api/download?entry={entry}&name={name}")
    assert got == 200 and headers["Content-Disposition"] == f'attachment; filename="{name}"'
    assert sf.read(io.BytesIO(payload))[1] == 16000


def test_download_without_a_name_is_named_after_the_model_and_loop(server, entry):
    got, headers, _ = _call(server, f"/api/download?entry={entry}")
    assert got == 200 and headers["Content-Disposition"] == f'attachment; filename="{MODEL}-{entry}.wav"'


def test_an_image_model_is_refused_with_the_studio_error():
    with pytest.raises(StudioError, match="dcgan-mnist is a dcgan model .*the studio needs an audio model"):
        ModelSession("dcgan-mnist", load_model("dcgan-mnist"))


def test_unknown_routes_static_files_and_methods(server):
    assert _call(server, "/static/../app.py")[0] == 404
    assert _call(server, "/static/state.py")[0] == 404
    assert _call(server, "/api/nothing")[0] == 404
    assert _call(server, "/api/draw")[0] == 405  # GET on a POST route
    assert _json(server, "/api/info")[0] == 200


def test_download_is_a_wav_of_the_loop(server):
    _, draw = _json(server, "/api/draw", {"count": 2, "seed": 5})
    entry = draw["entries"][1]
    status, headers, payload = _call(server, f"/api/download?entry={entry['id']}&name=my-loop.wav")
    assert status == 200 and headers["Content-Disposition"] == 'attachment; filename="my-loop.wav"'
    wave, sr = sf.read(io.BytesIO(payload), dtype="float32")
    assert sr == 16000 and wave.shape == (32000,) and np.abs(wave).max() > 0.05
    same = _call(server, entry["url"])[2]
    assert same == payload  # the page's player and the download serve the same loop
    spec = entry["spectrogram"]
    assert spec["rows"] * spec["frames"] == len(spec["data"]) and 0 <= min(spec["data"]) <= max(spec["data"]) <= 255


def test_history_is_bounded(model):
    session = ModelSession(MODEL, model, history_size=3, n_components=2)
    first = session.draw(2, seed=1)
    session.draw(2, seed=2)
    assert len(session.history()) == 3
    with pytest.raises(StudioError) as err:
        session.entry(first[0].id)
    assert err.value.status == 404
    assert session.entry(first[1].id).id == first[1].id


def test_edit_moves_along_the_cached_directions(model):
    session = ModelSession(MODEL, model, key=("edit-test",), n_components=3)
    d = session.directions()
    assert session.directions() is d  # computed once, cached
    assert d.method == "activations" and d.vectors.shape == (3, 256)
    assert all(a >= b for a, b in zip(d.explained, d.explained[1:], strict=False))
    base = session.draw(1, seed=7)[0]
    same = session.edit(base.id, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(same.wave, base.wave)
    moved = session.edit(base.id, [0.0, 2.0])
    torch.testing.assert_close(moved.z, base.z + 2.0 * d.vectors[1], rtol=0, atol=1e-6)
    assert np.sqrt(np.mean((moved.wave - base.wave) ** 2)) > 1e-3
    # a principal direction moves the activations it was found in more than a random direction of the same norm
    g = session.model.generator
    with torch.no_grad():
        a0 = g.seed(base.z[None]).flatten()
        along = (g.seed((base.z + d.vectors[0])[None]).flatten() - a0).norm()
        rnd = torch.randn(256, generator=torch.Generator().manual_seed(3))
        rnd = rnd / rnd.norm() * d.vectors[0].norm()
        across = (g.seed((base.z + rnd)[None]).flatten() - a0).norm()
    assert along > 2 * across


@pytest.mark.slow  # ~4 s on a shared 2-core CPU
def test_interpolation_end_points_are_the_two_loops(model):
    session = ModelSession(MODEL, model, n_components=2)
    a, b = session.draw(2, seed=11)
    def rel(x, y):
        return float(np.sqrt(np.mean((x - y) ** 2) / np.mean(y**2)))

    # slerp's normalise-and-rescale rounds z by ~1e-7, which the IF integration carries to ~1e-4 of the wave
    assert rel(session.interpolate(a.id, b.id, 0.0).wave, a.wave) < 1e-3
    assert rel(session.interpolate(a.id, b.id, 1.0).wave, b.wave) < 1e-3
    assert rel(a.wave, b.wave) > 0.5
    mid = session.interpolate(a.id, b.id, 0.5)
    assert mid.origin == {"kind": "interpolate", "a": a.id, "b": b.id, "t": 0.5}
    torch.testing.assert_close(mid.z.norm(), 0.5 * (a.z.norm() + b.z.norm()))


def test_walk_through_history_entries(server):
    _, draw = _json(server, "/api/draw", {"count": 2, "seed": 9})
    ids = [e["id"] for e in draw["entries"]]
    status, walk = _json(server, "/api/walk", {"entries": ids, "step_seconds": 2})
    assert status == 200 and walk["seconds"] == pytest.approx(4.0)
    status, _, payload = _call(server, walk["url"])
    wave, sr = sf.read(io.BytesIO(payload), dtype="float32")
    assert sr == 16000 and wave.shape == (64000,)


def test_only_loopback_by_default(model):
    session = ModelSession(MODEL, model, n_components=1)
    with pytest.raises(StudioError, match="not a loopback"):
        StudioServer([session], host="0.0.0.0", port=0)
    with pytest.raises(StudioError, match="port"):
        StudioServer([session], port=70000)
