"""Render one procedural loop per style to this folder: int16 WAV + log-magnitude spectrogram PNG, plus a montage.

Run from the repository root: ``.venv/bin/python docs/examples/loops/make_examples.py``.
"""

from pathlib import Path

import numpy as np
import soundfile as sf

from gan_plugins.data.loops.plots import plot_spectrograms
from gan_plugins.data.procedural.generator import synthesize_loops
from gan_plugins.data.procedural.styles import STYLES

HERE = Path(__file__).resolve().parent
SAMPLE_RATE = 16000
SECONDS = 4.0
SEED = 7


def main() -> None:
    waves, titles = [], []
    for style in STYLES:
        audio, labels = synthesize_loops(1, seconds=SECONDS, sample_rate=SAMPLE_RATE, seed=SEED, styles=[style])
        label = labels[0]
        title = f"{style} {label['bpm']:.1f} BPM, {label['bars']:g} bars, {label['key']}, bass {label['bass']}"
        sf.write(HERE / f"{style}.wav", np.round(audio[0] * 32767).astype(np.int16), SAMPLE_RATE, subtype="PCM_16")
        plot_spectrograms([audio[0]], SAMPLE_RATE, HERE / f"{style}.png", titles=[title], columns=1, dpi=80)
        waves.append(audio[0])
        titles.append(title)
        print(title)
    plot_spectrograms(waves, SAMPLE_RATE, HERE / "montage.png", titles=titles, columns=2, dpi=70)


if __name__ == "__main__":
    main()
