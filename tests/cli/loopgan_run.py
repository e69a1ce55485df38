"""Shared by the loopgan CLI tests: run a command in-process, and the one-line-error contract for bad input."""

from __future__ import annotations

from loopgan_cli import loopgan


def run(capsys, *argv):
    """``loopgan ARGV`` in this process -> ``(exit code, stdout, stderr)`` (argparse's SystemExit included)."""
    try:
        code = loopgan.main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, pattern):
    """Bad input: non-zero exit, exactly one ``loopgan ...: error: ...`` line containing ``pattern``, no traceback."""
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("loopgan") and ": error: " in lines[0] and pattern in lines[0], lines[0]
    assert "Traceback" not in err
