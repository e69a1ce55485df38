"""The audio models' feature representation as one typed value: a frequency scale and a phase treatment.

A config stores the representation as its preset name (``"mel-if"``: what :func:`specrep.chain` takes and what
``config.json`` and every checkpoint hold, unchanged); code reads it through :class:`Representation` instead of
testing the string by suffix (``endswith("if")``, ``startswith("mel")``), which about ten places did before and
which a new preset name (``"cqt-if"``, say) would have silently misread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from specrep.errors import ParameterError

__all__ = ["PHASES", "REPRESENTATIONS", "SCALES", "Representation"]

#: frequency scales: linear STFT bins or mel bands
SCALES = ("mag", "mel")
#: phase treatments: reconstructed from the magnitude (Griffin-Lim / PGHI) or carried as instantaneous frequency
PHASES = ("gl", "if")
#: the preset names, in the order the studies list them
REPRESENTATIONS = tuple(f"{s}-{p}" for s in SCALES for p in PHASES)


@dataclass(frozen=True)
class Representation:
    """A feature representation: ``scale`` (``"mag"`` linear bins, ``"mel"`` bands) and ``phase`` (``"gl"``:
    magnitude only, phase reconstructed at synthesis; ``"if"``: a second channel of instantaneous frequency, exact
    inverse by cumulative sum).

    ``str(rep)`` is the preset name (``"mel-if"``), which is what configs store.
    """

    scale: Literal["mag", "mel"]
    phase: Literal["gl", "if"]

    def __post_init__(self) -> None:
        if self.scale not in SCALES or self.phase not in PHASES:
            raise ParameterError(f"representation {self.scale}-{self.phase} is not one of {', '.join(REPRESENTATIONS)}")

    @classmethod
    def parse(cls, value: str | Representation) -> Representation:
        """``"mel-if"`` (or a :class:`Representation`) -> :class:`Representation`.

        Raises
        ------
        ParameterError
            If ``value`` is not one of :data:`REPRESENTATIONS`.
        """
        if isinstance(value, Representation):
            return value
        if not isinstance(value, str) or value not in REPRESENTATIONS:
            raise ParameterError(f"representation={value!r} must be one of {', '.join(REPRESENTATIONS)}")
        scale, phase = value.split("-")
        return cls(scale, phase)  # type: ignore[arg-type]

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Representation:
        """The representation a config names (its ``"representation"`` key)."""
        if "representation" not in config:
            raise ParameterError("config has no 'representation' (not an audio model's config)")
        return cls.parse(config["representation"])

    @property
    def is_mel(self) -> bool:
        """Rows are mel bands (else linear STFT bins)."""
        return self.scale == "mel"

    @property
    def is_if(self) -> bool:
        """Channel 1 is instantaneous frequency: synthesis integrates it, exactly (else the phase is
        reconstructed from the magnitude)."""
        return self.phase == "if"

    @property
    def channels(self) -> int:
        """Feature channels: log-magnitude, plus IF when :attr:`is_if`."""
        return 2 if self.is_if else 1

    @property
    def rows(self) -> str:
        """What the feature rows are, for axis labels: ``"mel bands"`` or ``"bins"``."""
        return "mel bands" if self.is_mel else "bins"

    @property
    def synthesis(self) -> str:
        """How audio is made from it, in words (reports and axis titles)."""
        return "cumulative sum of IF" if self.is_if else "phase reconstruction"

    def __str__(self) -> str:
        return f"{self.scale}-{self.phase}"
