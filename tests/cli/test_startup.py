"""Start-up: `--help` and argument errors answer without importing torch, scipy or numpy (issue 30: <= 0.5 s)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_PROBE = """
import json, sys
from {module} import main
try:
    main({argv!r})
except SystemExit:
    pass
print(json.dumps(sorted(m for m in ("torch", "scipy", "numpy", "matplotlib") if m in sys.modules)))
"""


def _heavy_modules(module: str, argv: list[str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", _PROBE.format(module=module, argv=argv)], capture_output=True,
                         text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module, argv", [
    ("loopgan_cli.loopgan", ["--help"]),
    ("loopgan_cli.loopgan", ["data", "prepare", "--help"]),
    ("loopgan_cli.loopgan", ["walk", "--help"]),
    ("loopgan_cli.loopgan", ["train"]),                        # an argument error: --loss and --out missing
    ("loopgan_cli.loopgan", ["data", "synth", "x.npy", "--n", "2", "--styles", "polka"]),
    ("loopgan_cli.specrep_cli", ["--help"]),
    ("loopgan_cli.specrep_cli", ["roundtrip"]),                # missing argument
    ("loopgan_cli.specrep_cli", ["roundtrip", "no-such-file.wav"]),
    ("loopgan_cli.specrep_cli", ["analyze", "no-such-file.wav"]),
])
def test_help_and_argument_errors_import_no_heavy_library(module, argv):
    assert _heavy_modules(module, argv) == []


def test_import_specrep_is_lazy_and_names_resolve_as_before():
    code = ("import sys, specrep; light = 'torch' not in sys.modules; import specrep.chain; "
            "from specrep.chain import Chain; import specrep.blocks; "
            "print(light, callable(specrep.chain) and specrep.chain.__name__ == 'chain', specrep.Chain is Chain, "
            "specrep.chain('mel-gl').n_channels, sorted(set(specrep.__all__) - set(dir(specrep))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["True", "True", "True", "1", "[]"]


def test_the_cli_choices_spelled_out_match_the_library():
    from gan_plugins.data.loops import prepare, storage
    from gan_plugins.data.procedural import generator, styles
    from gan_plugins.latent.walks import KINDS
    from loopgan_cli.loopgan_data import CHOICES
    from loopgan_cli.loopgan_walk import TRAJECTORIES

    assert CHOICES == {"align": prepare.ALIGNS, "normalize": prepare.NORMALIZE, "remainder": prepare.REMAINDERS,
                       "dtype": storage.DTYPES, "tempo_mode": generator.TEMPO_MODES, "styles": tuple(styles.STYLES)}
    assert TRAJECTORIES == tuple(KINDS)
