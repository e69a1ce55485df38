"""``loopgan demo``: the main job on the embedded default, as one self-contained HTML report.

No data, no GPU, no download: every bundled GANSynth model renders a batch of loops and a smooth latent walk (with
its descriptor figure and the smoothness measure), and a real recording bundled with audioflux goes through two
specrep round trips. Audio and figures are embedded in the HTML as base64 data URIs, so the report is one file
that works offline; the walks are also written beside it as ``walk-<model>.ogg``.
"""

from __future__ import annotations

import base64
import html
import io
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

import specrep
from gan_plugins.representation import Representation

__all__ = ["gansynth_models", "run_demo"]

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1180px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; } h3 { margin-top: 1.4em; }
img { max-width: 100%; border: 1px solid #ddd; } audio { width: 100%; max-width: 520px; display: block; }
.loops { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 0.4em 1em; }
.loops figure { margin: 0; } figcaption { font-size: 0.85em; color: #555; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; }
td { text-align: right; } td:first-child, td:nth-child(2) { text-align: left; } .note { color: #555; }
"""


def gansynth_models() -> list[str]:
    """Names of the bundled GANSynth generators."""
    from gan_plugins.pretrained import available_pretrained, pretrained_info

    return [n for n in available_pretrained() if pretrained_info(n).get("plugin") == "gansynth"]


def _audio_uri(wave: np.ndarray, sample_rate: int) -> str:
    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(wave, dtype=np.float32), -1.0, 1.0), sample_rate, format="OGG",
             subtype="VORBIS")
    return "data:audio/ogg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _image_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _audio(wave: np.ndarray, sample_rate: int) -> str:
    return f'<audio controls preload="auto" src="{_audio_uri(wave, sample_rate)}"></audio>'


def _img(path: Path, alt: str) -> str:
    return f'<img src="{_image_uri(path)}" alt="{html.escape(alt)}">'


def _loops_sheet(loops: np.ndarray, sample_rate: int, path: Path, title: str) -> Path:
    from specrep.plotting import SpectrogramPanel, plot_spectrogram_sheet, spectrogram_db

    db = spectrogram_db(loops, specrep.STFTParams(sample_rate=sample_rate, n_fft=1024, hop_length=256))
    top = float(db.max())
    panels = [SpectrogramPanel(d, f"loop {i}", seconds=loops.shape[-1] / sample_rate, max_khz=sample_rate / 2000,
                               vmin=top - 80, vmax=top) for i, d in enumerate(db)]
    return plot_spectrogram_sheet(panels, path, columns=4, title=title, dpi=80)


class _Stages:
    """Progress over the demo's stages (tqdm on stderr) and their wall times."""

    def __init__(self, names: list[str], progress: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=len(names), desc="demo", unit="stage", disable=not progress)
        self.times: dict[str, float] = {}

    def run(self, name: str, fn, *args, **kwargs):
        self.bar.set_postfix_str(name)
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        self.times[name] = time.perf_counter() - start
        self.bar.update(1)
        return out

    def close(self) -> None:
        self.bar.close()


def _model_section(name: str, seconds: float, n_loops: int, tmp: Path, out: Path, stages: _Stages,
                   quick: bool) -> tuple[str, dict]:
    from gan_plugins.io.model import load_model
    from gan_plugins.latent.analysis import plot_walk
    from gan_plugins.latent.render import render_latents, render_walk
    from gan_plugins.latent.smoothness import measure_smoothness
    from gan_plugins.latent.walks import make_walk
    from gan_plugins.pretrained import pretrained_info

    model = load_model(name).require_audio("the demo")
    sr = model.sample_rate
    z = model.latent(n_loops, seed=0)
    loops = stages.run(f"{name}: {n_loops} loops", render_latents, model, z)
    sheet = _loops_sheet(loops, sr, tmp / f"{name}-loops.png", f"{name}: {n_loops} random loops (dB)")
    walk = make_walk("spline", model.z_dim, seed=0)
    render = stages.run(f"{name}: {seconds:g} s walk", render_walk, model, walk, seconds, progress=False)
    specrep.io.save(out / f"walk-{name}.ogg", render.wave, sr)
    t = np.linspace(0.0, render.seconds, 20 * render.loops.shape[0] + 1)
    figure = stages.run(f"{name}: walk figure", plot_walk, render, tmp / f"{name}-walk.png",
                        dense_latents=walk(t).numpy(), dense_times=t,
                        title=f"{name}: spline walk, {walk.speed:g} anchors per minute, seed 0")
    options = dict(kinds=("spline",), eps=(0.125,), n_paths=1, steps=2, n_ref=6) if quick else \
        dict(kinds=("spline", "ou", "lerp"), eps=(0.03125, 0.125), n_paths=2, steps=4, n_ref=32)
    smooth = stages.run(f"{name}: smoothness", measure_smoothness, model, progress=False, **options)
    joins = render.join_report()
    levels = render.join_levels_db()
    facts = {"joins": len(joins), "max_join_ratio": max((j["join"] / j["inside"] for j in joins), default=0.0),
             "max_level_db": float(np.abs(levels).max()) if levels.size else 0.0}
    info = pretrained_info(name)
    players = "".join(f"<figure>{_audio(w, sr)}<figcaption>loop {i}</figcaption></figure>"
                      for i, w in enumerate(loops))
    body = f"""
<h2>{html.escape(name)}</h2>
<p class="note">{html.escape(info.get("description", ""))}</p>
<h3>{n_loops} random loops</h3>
<div class="loops">{players}</div>
{_img(sheet, f"{name} loop spectrograms")}
<h3>A {render.seconds:g} s smooth walk</h3>
{_audio(render.wave, sr)}
<p>{render.loops.shape[0]} loops, one latent each, taken every {render.loop_seconds:g} s along a spherical
Catmull-Rom spline through random anchors ({walk.speed:g} anchors per minute); joins are
{render.crossfade / sr:g} s equal-power crossfades ending on the bar line. Measured on this render: at the
{facts["joins"]} joins the largest sample-to-sample step is {facts["max_join_ratio"]:.2f}&times; the largest inside
the adjoining loops, and the crossfade windows are within {facts["max_level_db"]:.1f} dB of the loops' level.</p>
{_img(figure, f"{name} walk figure")}
"""
    return body, {"smoothness": smooth, "join": facts, "seconds": render.seconds}


def _roundtrip_section(tmp: Path, stages: _Stages) -> str:
    wave_np, sr = specrep.io.load("example:guitar_chord1", sample_rate=16000)
    wave = torch.from_numpy(wave_np)
    rows = []
    for name in ("mag-if", "mag-gl"):
        chain = specrep.chain(name, sample_rate=sr)

        def trip(chain=chain):
            with torch.no_grad():
                return chain.inverse(chain(wave), length=wave.shape[-1])

        rebuilt = stages.run(f"round trip {name}", trip)
        params = specrep.STFTParams(sample_rate=sr, n_fft=1024, hop_length=256)
        snr = specrep.metrics.snr_db(wave, rebuilt).item()
        sc = specrep.metrics.spectral_convergence_db(wave, rebuilt, params).item()
        fig = specrep.plotting.plot_roundtrip(wave, rebuilt, sr, tmp / f"roundtrip-{name}.png",
                                              title=f"{name}: SNR {snr:.1f} dB, spectral convergence {sc:.1f} dB")
        how = ("STFT -> log-magnitude + instantaneous frequency and back: an exact inverse"
               if Representation.parse(name).is_if else
               "log-magnitude only; phase rebuilt by PGHI + fast Griffin-Lim")
        rows.append(f"<h3>{name}</h3><p>{how}. SNR {snr:.1f} dB, spectral convergence {sc:.1f} dB.</p>"
                    f"{_audio(rebuilt.numpy(), sr)}{_img(fig, f'round trip {name}')}")
    return (f"<h2>specrep round trip of a real recording</h2><p>example:guitar_chord1 (bundled with audioflux), "
            f"{wave.shape[-1] / sr:.1f} s at {sr} Hz.</p>{_audio(wave_np, sr)}" + "".join(rows))


def _smoothness_section(results: dict, tmp: Path) -> str:
    from gan_plugins.latent.smoothness import plot_smoothness, smoothness_table

    fig = plot_smoothness({k: v for k, v in results.items()}, tmp / "smoothness.png")
    eps = results[next(iter(results))]["eps"][-1]
    table = smoothness_table(results, eps)
    rows = [r.strip("|").split("|") for r in table.splitlines()]
    head = "".join(f"<th>{html.escape(c.strip())}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in r) + "</tr>" for r in rows[2:])
    first = results[next(iter(results))]
    return f"""
<h2>How smooth is the latent space?</h2>
<p>For short steps along each kind of path, the change of the sound between consecutive points: a vector of six
descriptors (loudness, centroid, flatness, bandwidth, rolloff, onset rate; each in units of its spread over random
loops) and the log-mel spectrogram. Steps are in anchor units (1 = the distance between two independent random
latents). "Random jumps" moves to an independent latent at every step. Ratios below are at a step of {eps:g}
anchors, the step between consecutive loops of the walks above (lower = smoother); measured here on
{first["n_paths"]} path(s) &times; {first["steps"]} steps per kind, a small sample: the full measurement is
<code>python benchmarks/bench_walks.py</code> (docs/results/latent-walks.md).</p>
<table><tr>{head}</tr>{body}</table>
{_img(fig, "smoothness figure")}
"""


def run_demo(out: str | Path = "out/demo", *, seconds: float = 32.0, n_loops: int = 8, quick: bool = False,
             progress: bool = True) -> Path:
    """Render the demo and write ``out/report.html``; returns its path.

    Parameters
    ----------
    out : folder (created)
    seconds : float > 0
        Length of each model's walk.
    n_loops : int > 0
        Loops per model in the batch.
    quick : bool
        A token smoothness measurement (1 spline path x 2 steps, 6 reference loops) so the report renders fast,
        for tests; its numbers mean little.
    """
    from specrep.errors import ParameterError, check_positive_int

    check_positive_int("n", n_loops)
    if not seconds > 0:
        raise ParameterError(f"seconds={seconds!r} must be > 0")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    models = gansynth_models()
    if not models:
        raise ParameterError("no bundled GANSynth model found (loopgan pretrained)")
    start = time.perf_counter()
    names = [f"{m}: {s}" for m in models for s in ("loops", "walk", "walk figure", "smoothness")]
    stages = _Stages(names + ["round trip mag-if", "round trip mag-gl"], progress)
    sections, results = [], {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for name in models:
            body, facts = _model_section(name, seconds, n_loops, tmp, out, stages, quick)
            sections.append(body)
            results[name] = facts["smoothness"]
        smooth = _smoothness_section(results, tmp)
        roundtrip = _roundtrip_section(tmp, stages)
        stages.close()
        elapsed = time.perf_counter() - start
        page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>specrep + gan_plugins demo</title>
<link rel="icon" href="data:,"><style>{_CSS}</style></head><body>
<h1>specrep + gan_plugins: what the bundled models sound like</h1>
<p>Everything on this page was rendered on this machine in {elapsed:.0f} s by <code>loopgan demo</code>, from the
models shipped in the package: no data, no GPU, no download. Audio and figures are embedded in this file.</p>
<h2>What you are hearing</h2>
<p>The bundled GANSynth generators were trained on procedural electronic loops (house, techno, breakbeat, electro,
drum and bass; 2 s, 16 kHz). <b>gansynth-mel-gl</b> generates mel magnitudes only and its audio is rebuilt by phase
reconstruction (PGHI + Griffin-Lim): clear spectra, a slightly smeared, phasey attack. <b>gansynth-mel-if</b>
generates magnitude and instantaneous frequency, decoded by integrating the IF: no phase retrieval, crisp timing,
but 128 mel bands share one IF per band, so the high end is speckled and noisy. The two <b>-lmms</b> models are
the same recipes trained on real electronic music instead: one-bar loops cut at the estimated tempo from 23 demo
songs of the LMMS project (house, techno, reggaeton, chiptune; docs/results/real-music.md).</p>
<p>Each <b>walk</b> plays one 2 s loop per latent; the latent moves along a smooth path on the sphere where the
Gaussian prior has its mass, so consecutive bars differ a little and the groove, timbre and density drift
gradually over half a minute, instead of jumping as a playlist of random loops would. The descriptor curves under
each walk show that drift; the smoothness section measures it against linear interpolation and random jumps.</p>
{"".join(sections)}
{smooth}
{roundtrip}
<h2>Timings</h2><table><tr><th>stage</th><th>seconds</th></tr>
{"".join(f"<tr><td>{html.escape(k)}</td><td>{v:.1f}</td></tr>" for k, v in stages.times.items())}
<tr><td>total</td><td>{elapsed:.1f}</td></tr></table>
</body></html>
"""
    path = out / "report.html"
    with specrep.io.atomic_write(path, "w") as fh:
        fh.write(page)
    return path
