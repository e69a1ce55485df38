"""Keys, scales, chord progressions and voicings for the procedural loops.

A key is a root MIDI note in the bass register plus a seven-note mode. Chords are stacked thirds on a scale degree
(triads or sevenths); a progression is one chord per bar, cycling every four bars. Degrees are 0-based
(0 = the tonic, 5 = the sixth).
"""

from __future__ import annotations

import numpy as np

from specrep.errors import ParameterError

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
}
#: Four-bar progressions (degrees) common in dance music; the one-chord vamp is the most common of all.
PROGRESSIONS: tuple[tuple[int, ...], ...] = (
    (0, 0, 0, 0), (0, 0, 0, 0), (0, 5, 6, 4), (0, 3, 4, 3), (0, 6, 5, 6), (0, 3, 0, 4), (0, 5, 3, 4),
)
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def degree_pitch(root: int, mode: str, degree: int) -> int:
    """MIDI pitch of a scale degree (any integer; 7 is the octave)."""
    if mode not in SCALES:
        raise ParameterError(f"mode={mode!r} is not one of {', '.join(SCALES)}")
    scale = SCALES[mode]
    octave, step = divmod(degree, len(scale))
    return root + 12 * octave + scale[step]


def chord(root: int, mode: str, degree: int, *, size: int = 4) -> np.ndarray:
    """Stacked-thirds chord on ``degree``.

    Parameters
    ----------
    root : int
        MIDI note of the key's tonic (the register of the result follows it).
    mode : str
        A key of :data:`SCALES`.
    degree : int
        Scale degree of the chord root (0-based).
    size : int in [3, 5]
        3 = triad, 4 = seventh chord, 5 = ninth chord.

    Returns
    -------
    np.ndarray of int, shape (size,), ascending MIDI notes.
    """
    if not 3 <= size <= 5:
        raise ParameterError(f"size={size} must be 3 (triad), 4 (seventh) or 5 (ninth)")
    return np.array([degree_pitch(root, mode, degree + 2 * k) for k in range(size)])


def key_name(root: int, mode: str) -> str:
    """Human-readable key, e.g. ``"A minor"``."""
    return f"{NOTE_NAMES[root % 12]} {mode}"
