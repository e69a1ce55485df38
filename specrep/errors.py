"""Exception hierarchy of specrep.

Every error a user can cause by passing a bad value is a :class:`ParameterError`; its message names the parameter
and the offending value (``n_fft=1000 must be a power of two``) so a CLI can print it as one line.
"""

from __future__ import annotations


class SpecrepError(Exception):
    """Base class of every error raised on purpose by specrep."""


class ParameterError(SpecrepError, ValueError):
    """A parameter or an input has an invalid value, type or shape."""


class AudioFileError(SpecrepError, OSError):
    """An audio file is missing, empty, corrupt, not audio, or holds non-finite samples."""


def check_positive_int(name: str, value, *, allow_none: bool = False) -> None:
    """Raise :class:`ParameterError` unless ``value`` is an int > 0 (or None when ``allow_none``)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ParameterError(f"{name}={value!r} must be a positive integer")


def check_power_of_two(name: str, value) -> None:
    """Raise :class:`ParameterError` unless ``value`` is a positive power of two."""
    check_positive_int(name, value)
    if value & (value - 1):
        raise ParameterError(f"{name}={value} must be a power of two")


def check_positive_float(name: str, value, *, strict: bool = True) -> None:
    """Raise :class:`ParameterError` unless ``value`` is a finite number > 0 (>= 0 when not ``strict``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}={value!r} must be a number") from None
    if v != v or v in (float("inf"), float("-inf")) or (v <= 0 if strict else v < 0):
        raise ParameterError(f"{name}={value!r} must be a finite number {'>' if strict else '>='} 0")


def check_choice(name: str, value, choices) -> None:
    """Raise :class:`ParameterError` unless ``value`` is one of ``choices``."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ParameterError(f"{name}={value!r} is not one of {listed}")
