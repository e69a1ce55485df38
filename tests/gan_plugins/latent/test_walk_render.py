"""Walk rendering: equal-power gains, grid-aligned joins without clicks, constant level, and a bundled model's walk."""

from __future__ import annotations

import numpy as np
import pytest

from gan_plugins.latent.render import (
    declick,
    equal_power_gains,
    join_loops,
    join_steps,
    limit_steps,
    render_walk,
    smooth_gain,
)
from gan_plugins.latent.walks import make_walk
from specrep.errors import ParameterError

L = 4000


def _noise_loops(n, seed=0, length=L):
    return np.random.default_rng(seed).standard_normal((n, length)).astype(np.float32) * 0.2


@pytest.mark.parametrize("n", [1, 7, 8000])
def test_equal_power_gains(n):
    g_out, g_in = equal_power_gains(n)
    np.testing.assert_allclose(g_out**2 + g_in**2, 1.0, atol=1e-12)
    assert (np.diff(g_out) <= 0).all() and (np.diff(g_in) >= 0).all()
    if n > 100:
        assert g_out[0] > 0.999 and g_in[0] < 0.01 and g_out[-1] < 0.01 and g_in[-1] > 0.999
        np.testing.assert_allclose(g_out, g_in[::-1], atol=1e-12)  # symmetric


def test_join_is_on_the_grid_and_untouched_outside_the_crossfade():
    loops = _noise_loops(3)
    wave = join_loops(loops, 1000, compensate=False)
    assert wave.shape == (3 * L,)
    np.testing.assert_array_equal(wave[: L - 1000], loops[0, : L - 1000])
    np.testing.assert_array_equal(wave[L: 2 * L - 1000], loops[1, : L - 1000])
    np.testing.assert_array_equal(wave[2 * L:], loops[2])
    g_out, g_in = equal_power_gains(1000)
    np.testing.assert_allclose(wave[L - 1000: L], g_out * loops[0, -1000:] + g_in * loops[1, -1000:], atol=1e-6)


def test_equal_power_keeps_the_level_of_uncorrelated_loops():
    loops = _noise_loops(2, length=64000)
    wave = join_loops(loops, 32000, compensate=False)
    mix = wave[32000:64000]
    assert 10 * np.log10(np.mean(mix**2) / np.mean(loops[:, 32000:] ** 2)) == pytest.approx(0.0, abs=0.1)
    # in every quarter of the crossfade, not just on average
    for q in np.split(mix, 4):
        assert 10 * np.log10(np.mean(q**2) / np.mean(loops**2)) == pytest.approx(0.0, abs=0.3)


def test_compensation_joins_identical_loops_seamlessly():
    loop = _noise_loops(1)[0]
    wave = join_loops(np.stack([loop, loop]), 1000, compensate=True)
    np.testing.assert_allclose(wave, np.tile(loop, 2), atol=1e-5)
    plain = join_loops(np.stack([loop, loop]), 1000, compensate=False)
    assert np.abs(plain - np.tile(loop, 2)).max() > 0.1  # equal power alone would swell identical loops by 3 dB


def test_declick_ramps_both_ends():
    loops = np.ones((2, 1000), np.float32)
    out = declick(loops, 64)
    assert out[:, 0].max() == 0.0 and out[:, -1].max() == 0.0
    assert (np.diff(out[0, :64]) > 0).all() and np.abs(np.diff(out[0])).max() < 0.05
    np.testing.assert_array_equal(out[:, 64:-64], 1.0)


def test_limit_steps_caps_every_step_and_touches_little():
    x = np.zeros(2000, np.float32)
    x[1000] = 1.0
    y = limit_steps(x, 0.4)
    assert np.abs(np.diff(y)).max() <= 0.4
    np.testing.assert_array_equal(y[:900], 0.0)
    np.testing.assert_array_equal(y[1100:], 0.0)


def test_bad_crossfade_is_refused():
    with pytest.raises(ParameterError):
        join_loops(_noise_loops(2), 0)
    with pytest.raises(ParameterError):
        join_loops(_noise_loops(2), L + 1)


@pytest.fixture(scope="module")
def mel_if():
    from gan_plugins.io.model import load_model

    return load_model("gansynth-mel-if")


@pytest.fixture(scope="module")
def walk_render(mel_if):
    return render_walk(mel_if, make_walk("spline", mel_if.z_dim, seed=0), 8.0, progress=False)


def test_bundled_walk_has_no_click_at_any_join(walk_render):
    r = walk_render
    assert r.loops.shape == (4, 32000) and r.wave.shape == (4 * 32000,)
    joins = r.join_report()
    assert len(joins) == 3
    for j in joins:  # the acceptance test: no step at a join larger than inside the adjoining loops
        assert j["join"] <= j["inside"]
    # and the join region is really where the two loops meet, not somewhere quiet by accident
    rows = join_steps(r.wave, r.loops, r.crossfade)
    assert rows == joins


def test_bundled_walk_keeps_its_level_through_joins(walk_render):
    levels = walk_render.join_levels_db()
    assert np.abs(levels).max() < 2.0


def test_bundled_walk_is_grid_aligned(walk_render):
    r = walk_render
    dec = declick(r.loops, r.declick)
    for i in range(4):  # away from the crossfade each bar is exactly its loop
        seg = slice(i * 32000 + 300, (i + 1) * 32000 - r.crossfade - 300)
        np.testing.assert_array_equal(r.wave[seg], dec[i, 300: 32000 - r.crossfade - 300])


def _logmel_db(loops):
    import torch

    import specrep

    chain = specrep.chain("mel-gl", sample_rate=16000, n_fft=1024, hop_length=256, n_mels=64, n_iter=0)
    with torch.no_grad():
        db = chain(torch.from_numpy(np.ascontiguousarray(loops)))[:, 0].numpy() * (20 / np.log(10))
    return np.maximum(db, db.max() - 80)


def test_consecutive_walk_loops_are_neighbours(walk_render, mel_if):
    import torch

    from gan_plugins.latent.render import render_latents

    z = torch.from_numpy(walk_render.latents).double()
    cos = (z[1:] * z[:-1]).sum(-1) / (z[1:].norm(dim=-1) * z[:-1].norm(dim=-1))
    angles = torch.arccos(cos).numpy()
    assert (angles < 0.8).all()  # 1/4 anchor per loop; independent latents are ~pi/2 apart
    rand = render_latents(mel_if, torch.randn(4, 256, generator=torch.Generator().manual_seed(9)))

    def step(loops):
        mel = _logmel_db(loops)
        return np.sqrt(((mel[1:] - mel[:-1]) ** 2).mean())

    assert step(walk_render.loops) < 0.7 * step(rand)


def test_every_bar_line_starts_from_silence(walk_render):
    r = walk_render
    for i in range(1, 4):  # the declicked wrap: the new loop fades in from exactly 0 at its bar line
        assert r.wave[i * 32000] == 0.0
        assert np.abs(np.diff(r.wave[i * 32000 - 8: i * 32000 + 8])).max() < 0.1
    assert r.wave[0] == 0.0


def test_limiter_removes_a_step_made_by_two_coinciding_transients():
    loops = _noise_loops(2) * 0.05
    loops[:, L - 500:] += 0.5  # both loops jump by 0.5 at the same bar position, mid-crossfade
    inside = np.abs(np.diff(loops, axis=-1)).max(-1)
    plain = join_loops(loops, 1000, compensate=False)  # (identical steps correlate; isolate the limiter)
    assert join_steps(plain, loops, 1000)[0]["join"] > 1.2 * inside.max()  # the sum steps further than either
    limited = join_loops(loops, 1000, compensate=False, limit=[inside.max()])
    row = join_steps(limited, loops, 1000)[0]
    assert row["join"] <= row["inside"]
    np.testing.assert_array_equal(limited[: L - 1000 - 300], plain[: L - 1000 - 300])  # only near the step


def test_render_walk_refuses_bad_seconds_declick_and_walks(mel_if):
    for bad in (0.0, -2.0, float("nan")):
        with pytest.raises(ParameterError, match="seconds"):
            render_walk(mel_if, make_walk("spline", 256), bad, progress=False)
    for bad in (-0.001, float("nan"), 1.01, "4ms"):  # a loop is 2 s: at most 1 s of fade at each end
        with pytest.raises(ParameterError, match="declick_s"):
            render_walk(mel_if, make_walk("spline", 256), 2.0, declick_s=bad, progress=False)
    with pytest.raises(ParameterError, match="z_dim"):
        render_walk(mel_if, make_walk("spline", 32), 2.0, progress=False)


def test_render_walk_refuses_an_image_model():
    from gan_plugins.io.model import NotAnAudioModel, load_model

    with pytest.raises(NotAnAudioModel, match="dcgan-mnist .*a walk needs an audio model"):
        render_walk(load_model("dcgan-mnist"), make_walk("spline", 100), 2.0, progress=False)


@pytest.mark.parametrize("declick_s", [0.0123, 0.0])
def test_declick_length_is_seconds_times_the_sample_rate(mel_if, declick_s):
    """The fade at each wrap point lasts ``round(declick_s * sample_rate)`` samples: 0.0123 s at 16 kHz is 197
    (truncating would give 196), and the rendered wave is faded over exactly those samples."""
    r = render_walk(mel_if, make_walk("spline", mel_if.z_dim, seed=1), 4.0, declick_s=declick_s, progress=False)
    ramp = round(declick_s * 16000)
    assert r.sample_rate == 16000 and r.declick == ramp
    length, n = r.loops.shape[-1], r.loops.shape[0]
    # the start of the first bar and the end of the last are in no crossfade: only the declick and the walk's one
    # overall gain (<= 1, against clipping) touch them
    clear = slice(ramp, length - r.crossfade - 300)
    gain = float(np.dot(r.wave[clear], r.loops[0, clear]) / np.dot(r.loops[0, clear], r.loops[0, clear]))
    assert 0.5 < gain <= 1.0 + 1e-6
    np.testing.assert_allclose(r.wave[clear], gain * r.loops[0, clear], rtol=1e-5, atol=1e-6)
    fade = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)  # raised cosine from exactly 0 to just below 1
    np.testing.assert_allclose(r.wave[:ramp], gain * fade * r.loops[0, :ramp], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r.wave[(n - 1) * length + length - ramp:],
                               gain * fade[::-1] * r.loops[-1, length - ramp:], rtol=1e-5, atol=1e-6)
    if ramp:
        assert r.wave[0] == 0.0 and abs(r.loops[0, 0]) > 0.05  # faded to silence, not silent by itself
        half = ramp // 2  # half-way through the fade the loop plays at about half its level
        assert r.wave[half] == pytest.approx(gain * fade[half] * r.loops[0, half], rel=1e-5, abs=1e-6)
    else:
        assert r.wave[0] == pytest.approx(gain * r.loops[0, 0], rel=1e-6)  # no fade at all


def test_smooth_gain_keeps_every_loop_below_full_scale_without_per_loop_jumps():
    peaks = np.array([0.5, 2.0, 0.7, 0.7, 0.7, 1.25, 0.9])
    loops = np.zeros((len(peaks), 100))
    loops[:, 50] = peaks  # each loop's peak at its centre
    gain = smooth_gain(loops, headroom=1.0)
    need = np.minimum(1.0, 1.0 / peaks)
    # by hand: at each centre, the smallest need of the loop and its neighbours
    expected_centres = [0.5, 0.5, 0.5, 1.0, 0.8, 0.8, 0.8]
    np.testing.assert_allclose(gain[:, 50], expected_centres, atol=1e-12)
    assert (gain <= need[:, None] + 1e-12).all()  # never above what the loop under it needs: no clipping
    assert np.abs(loops * gain).max() <= 1.0 + 1e-12
    # linear between centres: the step from sample to sample is at most the centre difference / loop length
    assert np.abs(np.diff(gain.ravel())).max() <= 0.5 / 100 + 1e-12
    # loops that never exceed full scale keep their level
    np.testing.assert_allclose(smooth_gain(loops * 0.1), 1.0)
