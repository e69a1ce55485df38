"""The procedural electronic-loop synthesiser: drum voices, tonal voices, patterns, harmony, styles, mixing, and
the writer of a loop dataset from them (:mod:`.synth_dataset`). The embedded default data; no download."""
