"""The typed feature representation: parsing, the config's key, every property, and refusal of unknown names."""

import pytest

from gan_plugins.models.features import default_mel_nnls_iter
from gan_plugins.representation import REPRESENTATIONS, Representation
from specrep.errors import ParameterError

#: name -> (is_mel, is_if, channels, rows, synthesis), written out by hand
EXPECTED = {
    "mag-gl": (False, False, 1, "bins", "phase reconstruction"),
    "mag-if": (False, True, 2, "bins", "cumulative sum of IF"),
    "mel-gl": (True, False, 1, "mel bands", "phase reconstruction"),
    "mel-if": (True, True, 2, "mel bands", "cumulative sum of IF"),
}


def test_the_four_presets_in_study_order():
    assert REPRESENTATIONS == ("mag-gl", "mag-if", "mel-gl", "mel-if")


@pytest.mark.parametrize("name", list(EXPECTED))
def test_parse_properties_and_round_trip(name):
    rep = Representation.parse(name)
    got = (rep.is_mel, rep.is_if, rep.channels, rep.rows, rep.synthesis)
    assert got == EXPECTED[name]
    assert str(rep) == name and Representation.parse(rep) is rep
    assert Representation.of({"representation": name, "z_dim": 8}) == rep
    assert default_mel_nnls_iter(name) == (0 if EXPECTED[name][1] else 50)


@pytest.mark.parametrize("bad", ["cqt-if", "mel_if", "MEL-IF", "mel", "", None, 3, "mel-if-x"])
def test_unknown_names_are_refused_in_one_line(bad):
    with pytest.raises(ParameterError, match="must be one of mag-gl, mag-if, mel-gl, mel-if") as err:
        Representation.parse(bad)
    assert "\n" not in str(err.value)


def test_refusals_of_configs_and_fields():
    with pytest.raises(ParameterError, match="no 'representation'"):
        Representation.of({"z_dim": 8})
    with pytest.raises(ParameterError, match="is not one of"):
        Representation("cqt", "if")
    with pytest.raises(ParameterError, match="is not one of"):
        Representation("mel", "pghi")
