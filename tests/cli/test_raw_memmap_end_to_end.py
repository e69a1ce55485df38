"""The seed's kind of file end to end: a raw float32 memmap (no header, no sidecar) trains, samples and evaluates
from the CLI, and training never changes a byte of the data."""

import hashlib
import json

import numpy as np
import pytest

from gan_plugins.data.procedural.generator import synthesize_loops
from loopgan_cli.loopgan import main

SR, N, SAMPLES = 16000, 16, 1600
TINY = ["n_fft=256", "hop_length=64", "n_mels=32", "frames=32", "gl_n_iter=2", "representation=mel-gl",
        "batch_size=4", "sample_every=0", "ckpt_every=0", "grid_size=4", "width_max=8", "width_base=8", "z_dim=8"]


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def seed_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seed")
    audio, _ = synthesize_loops(N, seconds=SAMPLES / SR, sample_rate=SR, seed=7)
    audio.astype(np.float32).tofile(folder / "loops.f32")           # raw: no header, no sidecar
    np.save(folder / "bare.npy", audio.astype(np.float32))           # a bare .npy: no sidecar
    return folder


def _run(argv, capsys):
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.slow  # trains: ~27 s on a shared 2-core CPU
def test_raw_memmap_trains_samples_evaluates_and_stays_untouched(seed_files, tmp_path, capsys):
    raw = seed_files / "loops.f32"
    flags = ["--shape", f"{N},{SAMPLES}", "--dtype", "float32", "--sample-rate", str(SR)]
    rc, out, err = _run(["data", "info", str(raw), *flags], capsys)
    assert rc == 0 and f"{N} loops" in out, err
    desc = tmp_path / "seed.json"  # the descriptor lives elsewhere: the data folder is never written to
    rc, out, err = _run(["data", "describe", str(raw), str(desc), *flags], capsys)
    assert rc == 0, err
    before = _digest(seed_files)
    run = tmp_path / "run"
    rc, out, err = _run(["train", "gansynth", "--data", str(desc), "--loss", "wgan-gp", "--out", str(run),
                         "--steps", "2", "--no-progress", *[a for kv in TINY for a in ("--set", kv)]], capsys)
    assert rc == 0 and "to step 2" in out, err
    assert _digest(seed_files) == before  # bytes, names and count of the data files unchanged
    assert json.loads((run / "config.json").read_text())["loop_samples"] == SAMPLES
    rc, out, err = _run(["sample", str(run), "-n", "6", "-o", str(tmp_path / "fake")], capsys)
    assert rc == 0 and len(list((tmp_path / "fake").glob("*.wav"))) == 6, err
    for real in ([str(raw), *flags], [str(desc)], [str(seed_files / "bare.npy"), "--sample-rate", str(SR)]):
        rc, out, err = _run(["evaluate", "--real", real[0], "--fake", str(tmp_path / "fake"), *real[1:], "-k", "2",
                             "--json"], capsys)
        assert rc == 0, err
        report = json.loads(out)
        assert report["n_real"] == N and report["n_fake"] == 6 and report["sample_rate"] == SR
        assert np.isfinite(report["fake_scores"]["fdd"])
    # a raw memmap as the generated side, described by the same flags, against a dataset that describes itself
    rc, out, err = _run(["evaluate", "--real", str(desc), "--fake", str(raw), *flags, "-k", "2", "--json"], capsys)
    assert rc == 0 and json.loads(out)["n_fake"] == N, err
    assert _digest(seed_files) == before


def test_bare_npy_without_its_rate_is_one_line_naming_the_flag(seed_files, tmp_path, capsys):
    rc, out, err = _run(["evaluate", "--real", str(seed_files / "bare.npy"), "--fake", str(seed_files / "bare.npy")],
                        capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "--sample-rate" in err and "Traceback" not in err
    rc, out, err = _run(["evaluate", "--real", str(seed_files / "loops.f32"), "--fake", str(seed_files / "bare.npy"),
                         "--sample-rate", str(SR)], capsys)
    assert rc == 2 and "--shape" in err and len(err.strip().splitlines()) == 1
    rc, out, err = _run(["train", "gansynth", "--data", str(seed_files / "loops.f32"), "--loss", "wgan-gp", "--out",
                         str(tmp_path / "r"), "--steps", "1", "--no-progress"], capsys)
    assert rc == 2 and "loopgan data describe" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow  # trains two steps twice: ~20 s on a shared 2-core CPU
@pytest.mark.parametrize("kind", ["raw", "bare"])
def test_train_takes_the_source_flags_and_records_a_descriptor(kind, seed_files, tmp_path, capsys):
    data, flags = {"raw": (seed_files / "loops.f32", ["--shape", f"{N},{SAMPLES}", "--dtype", "float32"]),
                   "bare": (seed_files / "bare.npy", [])}[kind]
    before = _digest(seed_files)
    run = tmp_path / "run"
    argv = ["train", "gansynth", "--data", str(data), *flags, "--sample-rate", str(SR), "--loss", "wgan-gp",
            "--out", str(run), "--no-progress", *[a for kv in TINY for a in ("--set", kv)]]
    rc, out, err = _run([*argv, "--steps", "1"], capsys)
    assert rc == 0 and "to step 1" in out, err
    config = json.loads((run / "config.json").read_text())
    assert config["data"] == str(run / "data-source.json") and config["loop_samples"] == SAMPLES
    desc = json.loads((run / "data-source.json").read_text())
    assert desc["sample_rate"] == SR and (run / desc["path"]).resolve() == data.resolve()
    assert desc["shape"] == ([N, SAMPLES] if kind == "raw" else None)
    rc, out, err = _run([*argv, "--steps", "2", "--resume"], capsys)  # the same command line resumes
    assert rc == 0 and "to step 2" in out, err
    assert _digest(seed_files) == before


def test_train_source_flag_errors_are_one_line(seed_files, tmp_path, capsys):
    from gan_plugins.data.procedural.synth_dataset import write_synth_dataset

    base = ["train", "gansynth", "--loss", "wgan-gp", "--steps", "1", "--no-progress"]
    rc, _, err = _run([*base, "--data", str(seed_files / "bare.npy"), "--out", str(tmp_path / "a")], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "a plain .npy" in err and "--sample-rate" in err and "interrupted" not in err
    rc, _, err = _run([*base, "--data", str(seed_files / "loops.f32"), "--shape", f"{N},{SAMPLES}", "--dtype",
                       "float32", "--out", str(tmp_path / "b")], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "needs --sample-rate" in err
    rc, _, err = _run([*base, "--data", str(seed_files / "loops.f32"), "--shape", f"{N},{SAMPLES + 1}", "--dtype",
                       "float32", "--sample-rate", str(SR), "--out", str(tmp_path / "c")], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "bytes, but shape" in err
    described = write_synth_dataset(tmp_path / "own.npy", n=4, seconds=0.1, seed=0, progress=False)
    rc, _, err = _run([*base, "--data", str(described), "--sample-rate", str(SR), "--out", str(tmp_path / "d")],
                      capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "opens by itself" in err
    assert not any((tmp_path / r).exists() for r in "abcd")  # a refused source leaves no run folder behind
