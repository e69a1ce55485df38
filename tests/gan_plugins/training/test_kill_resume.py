"""Kill and resume under fire: a real ``loopgan train`` process is SIGKILLed at seeded random moments and resumed.

One run is killed four times: during start-up (before any checkpoint exists, so it is started afresh as a user
would), twice while a checkpoint is being written (the process is frozen with SIGSTOP as soon as the write is seen
in flight, and killed only if it is still inside the write) and once at a random moment inside a step. After every
kill, before the restart, ``last.pt`` must load, its step must never go backwards and must cover every checkpoint the
killed process had finished (log row ``s`` is written after the checkpoint of step ``s - 1`` returned). The run must
reach its final step with the weights, optimiser state, data position and log of an uninterrupted run of the same
command, and no temporary file of a killed writer may be left behind.

A 40-image ``.npy`` data set (5 batches an epoch) keeps start-up short and makes the resumed data stream cross
epoch boundaries. ~30 s on 2 idle cores; the cost is the process start-ups (torch import), not training.
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_plugins.io.checkpoint import LAST, load_checkpoint, save_checkpoint

pytestmark = pytest.mark.slow  # SIGKILLs real training runs (~17 s)

SEED = 20240610  # the kill schedule; a failure message names the schedule it ran
STEPS = 16
SETTINGS = {"width": 4, "batch_size": 8, "ckpt_every": 1, "sample_every": 0, "log_every": 1, "grid_size": 4}
# one thread per process: the uninterrupted and the killed runs compute alike, and the 2 CI cores are not oversold
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
TIMEOUT = 150.0  # hang guard for the whole test (it takes ~30 s on 2 idle cores, ~50 s on 2 busy ones)


def _loopgan() -> list[str]:
    script = Path(sys.executable).with_name("loopgan")
    if script.is_file():
        return [str(script)]
    found = shutil.which("loopgan")
    return [found] if found else [sys.executable, "-m", "loopgan_cli.loopgan"]


def _start(run: Path, data: Path, *, resume: bool, log: Path) -> subprocess.Popen:
    cmd = [*_loopgan(), "train", "dcgan", "--data", str(data), "--loss", "hinge", "--out", str(run),
           "--steps", str(STEPS), "--no-progress"]
    for key, value in SETTINGS.items():
        cmd += ["--set", f"{key}={value}"]
    if resume:
        cmd.append("--resume")
    with open(log, "w") as out:
        return subprocess.Popen(cmd, env=ENV, stdout=out, stderr=subprocess.STDOUT)


def _logged_steps(run: Path) -> list[int]:
    """Steps of the complete rows of log.csv (a row being appended right now is ignored)."""
    try:
        text = (run / "log.csv").read_text()
    except FileNotFoundError:
        return []
    lines = text.split("\n")[1:-1]  # header; the last piece is "" or a partial row
    return [int(float(line.split(",", 1)[0])) for line in lines if line]


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "log.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _fail(proc: subprocess.Popen, log: Path, what: str) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    pytest.fail(f"{what} (exit {proc.returncode}); its output:\n{log.read_text()[-3000:]}")


def _wait_for_step(proc: subprocess.Popen, run: Path, step: int, log: Path, deadline: float) -> None:
    while (_logged_steps(run) or [0])[-1] < step:
        if proc.poll() is not None or time.monotonic() > deadline:
            _fail(proc, log, f"the run never logged step {step}")
        time.sleep(0.001)


def _kill_inside_save(proc: subprocess.Popen, run: Path, log: Path, deadline: float) -> str:
    """SIGKILL ``proc`` while it is writing a checkpoint; returns what showed the write in flight.

    The write is seen as its temporary file ``.last.pt.tmp<pid>`` (or, should the writer ever write ``last.pt``
    in place, as ``last.pt`` shrinking). The process is frozen at once (SIGSTOP, then waited for until it is
    stopped) and killed only if the write is still in flight while it is frozen; otherwise it is let go and the
    next checkpoint (one per step) is tried.
    """
    tmp, last = run / f".{LAST}.tmp{proc.pid}", run / LAST
    full = last.stat().st_size if last.exists() else 0

    def in_flight() -> str:
        if tmp.exists():
            return "temporary file"
        try:
            return "last.pt written in place" if last.stat().st_size < full - 1024 else ""
        except FileNotFoundError:
            return "last.pt written in place"

    while proc.poll() is None and time.monotonic() < deadline:
        if in_flight():
            os.kill(proc.pid, signal.SIGSTOP)
            _, status = os.waitpid(proc.pid, os.WUNTRACED)  # SIGSTOP is asynchronous: wait until it is frozen
            assert os.WIFSTOPPED(status), f"the run ended while it was writing a checkpoint (status {status})"
            seen = in_flight()
            if seen:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return seen
            os.kill(proc.pid, signal.SIGCONT)
    _fail(proc, log, "no kill landed inside a checkpoint write")
    return ""


def _same_state(got: dict, want: dict, where: str = "") -> None:
    assert type(got) is type(want), where
    if isinstance(want, torch.Tensor):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6, msg=where)
    elif isinstance(want, dict):
        assert set(got) == set(want), where
        for key in want:
            _same_state(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same_state(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert abs(got - want) <= 1e-6, where
    else:
        assert got == want, where


def test_save_removes_temporary_files_of_dead_writers_only(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: its pid names no process (a reused pid only keeps the file)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        for pid in (dead.pid, alive.pid):
            (tmp_path / f".{LAST}.tmp{pid}").write_bytes(b"PK half a checkpoint")
        (tmp_path / f".{LAST}.tmpnotapid").write_bytes(b"")
        save_checkpoint({"format": 1, "step": 3}, tmp_path / LAST)
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == sorted([f".{LAST}.tmp{alive.pid}", f".{LAST}.tmpnotapid", LAST]), names
        assert load_checkpoint(tmp_path / LAST)["step"] == 3
    finally:
        alive.kill()
        alive.wait()


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    deadline = time.monotonic() + TIMEOUT
    data = tmp_path / "digits.npy"
    np.save(data, np.random.default_rng(0).integers(0, 256, (40, 28, 28), dtype=np.uint8))
    straight_dir, run = tmp_path / "straight", tmp_path / "killed"
    # the uninterrupted run, side by side with the killed one
    straight = _start(straight_dir, data, resume=False, log=tmp_path / "straight.out")

    rng = random.Random(SEED)
    plan = [("start-up", rng.uniform(0.2, 1.5)), ("checkpoint write", rng.randint(2, 4)),
            ("random", rng.randint(6, 8), rng.uniform(0.0, 0.03)), ("checkpoint write", rng.randint(10, 13))]
    ckpt_step, history, inside = -1, [], 0
    procs = [straight]
    try:
        for i, (kind, *when) in enumerate(plan):
            log = tmp_path / f"killed{i}.out"
            resume = (run / LAST).exists()
            proc = _start(run, data, resume=resume, log=log)
            procs.append(proc)
            if kind == "start-up":
                time.sleep(when[0])
                if proc.poll() is not None:
                    _fail(proc, log, "the run ended before its start-up kill")
                proc.kill()
                proc.wait()
            else:
                # a step this process has not logged yet, so that the kill lands in this process's training
                step = max(when[0], (_logged_steps(run) or [0])[-1] + 1)
                _wait_for_step(proc, run, step, log, deadline)
                if kind == "random":
                    time.sleep(when[1])
                    proc.kill()
                    proc.wait()
                else:
                    inside += 1
                    when = [step, _kill_inside_save(proc, run, log, deadline)]
            logged = _logged_steps(run)
            last_row = logged[-1] if logged else 0
            if (run / LAST).exists():
                state = load_checkpoint(run / LAST)  # never a corrupt checkpoint
                now = int(state["step"])
            else:
                assert ckpt_step <= 0, f"kill {i} ({kind}): last.pt of step {ckpt_step} disappeared"
                now = 0
            history.append((kind, when, resume, last_row, now))
            assert now >= ckpt_step, f"checkpoint went back from step {ckpt_step} to {now}: {history}"
            # row s is appended after the checkpoint of step s - 1 returned, before that of step s is written
            assert last_row - 1 <= now <= last_row, f"a finished checkpoint is lost: {history}"
            if kind == "checkpoint write":
                # the write in flight was that of the last logged step (or the final re-save of the last step)
                assert now == last_row - 1 or now == last_row == STEPS, f"killed writing step {last_row}: {history}"
            ckpt_step = now

        log = tmp_path / "final.out"
        final = _start(run, data, resume=(run / LAST).exists(), log=log)
        procs.append(final)
        try:
            final.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _fail(final, log, "the resumed run did not finish in time")
        if final.returncode != 0:
            _fail(final, log, "the resumed run failed")
        try:
            straight.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _fail(straight, tmp_path / "straight.out", "the uninterrupted run did not finish in time")
        assert straight.returncode == 0, (tmp_path / "straight.out").read_text()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    assert inside >= 1 and sum(resumed for _, _, resumed, _, _ in history) >= 2, history
    got, want = load_checkpoint(run / LAST), load_checkpoint(straight_dir / LAST)
    assert got["step"] == want["step"] == STEPS
    for key in ("generator", "discriminator", "ema"):  # the weights first, for a readable failure
        _same_state(got[key], want[key], f"{key} (kills: {history})")
    _same_state(got, want, f"checkpoint (kills: {history})")  # optimisers, RNG states, data position, ...
    rows, base = _rows(run), _rows(straight_dir)
    assert [int(r["step"]) for r in rows] == list(range(1, STEPS + 1)), f"log.csv steps (kills: {history})"
    for r, b in zip(rows, base, strict=True):
        for col in b:
            if col != "seconds":
                assert abs(float(r[col]) - float(b[col])) <= 1e-6, f"log.csv step {b['step']} {col}: {history}"
    leftovers = sorted(p.name for p in run.iterdir() if ".tmp" in p.name)
    assert not leftovers, f"temporary files of killed writers left behind: {leftovers} (kills: {history})"
