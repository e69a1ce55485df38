"""The base class of every error gan_plugins raises on purpose.

``except GanError`` catches a plugin that is unknown or broken, a corrupt checkpoint, a bad dataset, a diverged run;
it derives from :class:`specrep.errors.SpecrepError`, so one ``except SpecrepError`` still covers the whole toolkit
(the CLIs print it as one line). Invalid arguments raise :class:`specrep.errors.ParameterError` everywhere.
"""

from __future__ import annotations

from specrep.errors import SpecrepError

__all__ = ["GanError"]


class GanError(SpecrepError):
    """An error of the GAN side (plugins, training, checkpoints, datasets, metrics)."""
