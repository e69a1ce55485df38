"""The electronic-music styles the procedural generator knows: tempo, swing, rhythm templates, harmony, sounds.

A rhythm template is a 16-character string, one character per sixteenth note of a 4/4 bar (index 0 = the
downbeat, 4/8/12 = beats 2/3/4). Characters:

=======  ============================  ==================
char     probability of a hit          velocity
=======  ============================  ==================
``X``    1                             1.0 (accent)
``x``    1                             0.8
``g``    1                             0.4 (ghost note)
``1-9``  0.1 – 0.9                     0.7
``.``    0                             —
=======  ============================  ==================

Each voice of a style has several alternative templates; one is drawn per loop, then realised bar by bar
(:mod:`.patterns`). The templates are the textbook patterns of each genre: four-on-the-floor with
off-beat hats (house, techno), the syncopated kick of a breakbeat, the 808 electro kick and 16th hats, the two-step
kick (beats 1 and 3+) of drum & bass at ~170 BPM.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from specrep.errors import ParameterError

STEPS_PER_BAR = 16
#: Drum voices in mixing order; "bass" and "chords" are the tonal voices.
DRUMS = ("kick", "snare", "clap", "chat", "ohat", "ride", "tom", "perc")
VOICES = DRUMS + ("bass", "chords")
#: Sounds of the "perc" voice, bass synth patches (see :mod:`gan_plugins.data.procedural.generator`) and chord kinds.
PERC_SOUNDS = ("rim", "cowbell")
BASS_PATCHES = ("pluck", "sub", "acid", "square", "reese")
CHORD_KINDS = ("stab", "pad", "none")

_PROBABILITY = {"X": 1.0, "x": 1.0, "g": 1.0, ".": 0.0} | {str(d): d / 10 for d in range(1, 10)}
_VELOCITY = {"X": 1.0, "x": 0.8, "g": 0.4, ".": 0.0} | {str(d): 0.7 for d in range(1, 10)}


def parse_template(template: str) -> tuple[np.ndarray, np.ndarray]:
    """Hit probabilities and velocities of a 16-step template string.

    Returns
    -------
    probability, velocity : np.ndarray, shape (16,), float64
    """
    if len(template) != STEPS_PER_BAR or any(c not in _PROBABILITY for c in template):
        raise ParameterError(f"rhythm template {template!r} must be 16 characters from 'Xxg.1-9'")
    return (np.array([_PROBABILITY[c] for c in template]), np.array([_VELOCITY[c] for c in template]))


@dataclass(frozen=True)
class Style:
    """One genre's musical and sonic choices.

    Attributes
    ----------
    name : str
    bpm : (float, float)
        Typical tempo range in beats per minute.
    swing : (float, float)
        Range of the delay of every second sixteenth, as a fraction of a sixteenth (0.33 ≈ triplet shuffle).
    rhythms : dict[str, tuple[str, ...]]
        Alternative templates for every voice in :data:`VOICES`.
    modes : tuple[str, ...]
        Scales to draw from (names in :data:`gan_plugins.data.procedural.harmony.SCALES`).
    bass_patches : tuple[str, ...]
        Bass sounds to draw from (:data:`BASS_PATCHES`).
    chord_kinds : tuple[str, ...]
        Chord parts to draw from (:data:`CHORD_KINDS`).
    kick_decay : (float, float)
        Range of the kick's amplitude decay in seconds (short and punchy ... long 808 boom).
    kick_drive : (float, float)
        Range of the kick's saturation.
    perc_sounds : tuple[str, ...]
        Sounds the "perc" voice draws from (:data:`PERC_SOUNDS`).
    """

    name: str
    bpm: tuple[float, float]
    swing: tuple[float, float]
    rhythms: dict[str, tuple[str, ...]] = field(repr=False)
    modes: tuple[str, ...]
    bass_patches: tuple[str, ...]
    chord_kinds: tuple[str, ...]
    kick_decay: tuple[float, float]
    kick_drive: tuple[float, float]
    perc_sounds: tuple[str, ...] = ("rim",)

    def __post_init__(self):
        missing = [v for v in VOICES if not self.rhythms.get(v)]
        if missing:
            raise ParameterError(f"style {self.name!r} has no rhythm template for {', '.join(missing)}")
        for templates in self.rhythms.values():
            for t in templates:
                parse_template(t)
        if not 0 < self.bpm[0] <= self.bpm[1]:
            raise ParameterError(f"style {self.name!r}: bpm range {self.bpm} must be ascending and positive")
        bad = [p for p in self.bass_patches if p not in BASS_PATCHES]
        bad += [c for c in self.chord_kinds if c not in CHORD_KINDS]
        bad += [p for p in self.perc_sounds if p not in PERC_SOUNDS]
        if bad:
            raise ParameterError(f"style {self.name!r}: unknown sound(s) {', '.join(bad)}")


_SILENT = "................"

STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        Style(
            name="house", bpm=(118.0, 128.0), swing=(0.0, 0.25),
            rhythms={
                "kick": ("X...X...X...X...", "X...X...X...X..2"),
                "snare": (_SILENT, "....3.......3..."),
                "clap": ("....X.......X...",),
                "chat": ("..x...x...x...x.", "3.x33.x33.x33.x3", "g.x.g.x.g.x.g.x."),
                "ohat": ("..x...x...x...x.", _SILENT),
                "ride": (_SILENT, _SILENT, "..x...x...x...x."),
                "tom": (_SILENT, _SILENT, "...........2..2."),
                "perc": (_SILENT, "...3..3.......3.", ".......x......4."),
                "bass": ("..x...x...x...x.", "..x..x.x..x..x.x", "..x.x.....x.x..."),
                "chords": ("..x.......x.....", "...x..x...x..x..", "x......x..x....."),
            },
            modes=("minor", "dorian", "major"), bass_patches=("pluck", "sub"), chord_kinds=("stab", "stab", "pad"),
            kick_decay=(0.18, 0.3), kick_drive=(1.0, 2.0), perc_sounds=("rim", "cowbell"),
        ),
        Style(
            name="techno", bpm=(120.0, 132.0), swing=(0.0, 0.08),
            rhythms={
                "kick": ("X...X...X...X...", "X...X...X...X.2."),
                "snare": (_SILENT, "....2.......2..."),
                "clap": ("....x.......x...", _SILENT),
                "chat": ("ggXgggXgggXgggXg", "..X...X...X...X.", "7.X77.X77.X77.X7"),
                "ohat": ("..x...x...x...x.", _SILENT),
                "ride": ("..x...x...x...x.", _SILENT, "x.x.x.x.x.x.x.x."),
                "tom": (_SILENT, "......2.....2..."),
                "perc": (_SILENT, "...x..x.....3...", "..3..3..3..3..3."),
                "bass": (".xx..xx..xx..xx.", ".xxx.xxx.xxx.xxx", "..x...x...x...x."),
                "chords": ("...x.....x......", "..x.....x....x..", _SILENT),
            },
            modes=("minor", "phrygian"), bass_patches=("acid", "sub", "pluck"), chord_kinds=("none", "stab"),
            kick_decay=(0.2, 0.4), kick_drive=(1.5, 4.0),
        ),
        Style(
            name="breakbeat", bpm=(120.0, 136.0), swing=(0.0, 0.12),
            rhythms={
                "kick": ("X.........X.....", "X.X.......X..3..", "X......x..X....."),
                "snare": ("....X..g.g..X..g", "....X.......X...", "....X..3.3..X.3."),
                "clap": (_SILENT, "....3.......3..."),
                "chat": ("x.x.x.x.x.x.x.x.", "x3x.x3x.x3x.x3x3"),
                "ohat": ("..............x.", "......2.......3."),
                "ride": (_SILENT, _SILENT, "x...x...x...x..."),
                "tom": (_SILENT, "............2.2."),
                "perc": (_SILENT, "...3.....3....3.", "......x......x.."),
                "bass": ("x.....x...x..x..", "x..x......x.x..."),
                "chords": ("x.....x.........", "...x......x.....", _SILENT),
            },
            modes=("minor", "dorian"), bass_patches=("square", "pluck", "reese"), chord_kinds=("stab", "none"),
            kick_decay=(0.15, 0.25), kick_drive=(1.0, 2.5), perc_sounds=("rim", "cowbell"),
        ),
        Style(
            name="electro", bpm=(118.0, 132.0), swing=(0.0, 0.05),
            rhythms={
                "kick": ("X.....X...X.....", "X..x......X..x..", "X.....X.X......."),
                "snare": ("....X.......X...", _SILENT),
                "clap": ("....X.......X...",),
                "chat": ("xgxgxgxgxgxgxgxg", "x.x.x.x.x.x.x.x."),
                "ohat": (_SILENT, "..............x."),
                "ride": (_SILENT,),
                "tom": (_SILENT, "......3.....3..3", "..........2.3.4."),
                "perc": ("...x..x...x.....", "..x..x....x..x..", _SILENT),
                "bass": ("x.xx..x.x.xx..x.", "xx.x.x.xx.x..x.x"),
                "chords": ("x.....x.........", _SILENT),
            },
            modes=("minor", "phrygian"), bass_patches=("square", "acid"), chord_kinds=("stab", "none"),
            kick_decay=(0.3, 0.6), kick_drive=(1.0, 1.8), perc_sounds=("cowbell", "rim"),
        ),
        Style(
            name="dnb", bpm=(160.0, 180.0), swing=(0.0, 0.05),
            rhythms={
                "kick": ("X.........X.....", "X.........X..3..", "X.X.......X....."),
                "snare": ("....X.......X...", "....X..g.3..X..g"),
                "clap": (_SILENT,),
                "chat": ("x.x.x.x.x.x.x.x.", "x3x3x3x3x3x3x3x3"),
                "ohat": ("..............2.", "......3.......3."),
                "ride": (_SILENT, "x.x.x.x.x.x.x.x.", "x...x...x...x..."),
                "tom": (_SILENT,),
                "perc": (_SILENT, _SILENT, "...3......3....."),
                "bass": ("x.........x.....", "x.....x...x....."),
                "chords": ("x...............",),
            },
            modes=("minor", "dorian"), bass_patches=("reese", "sub"), chord_kinds=("pad", "none"),
            kick_decay=(0.12, 0.2), kick_drive=(1.0, 2.0),
        ),
    )
}
