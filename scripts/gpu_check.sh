#!/usr/bin/env bash
# The GPU check of issue 31, to run once on a machine with a CUDA device (docs/results/gpu.md says what to record):
# the device, the `pytest -m cuda` suite, and a short GANSynth training under bf16 autocast with its time per step.
#
#   bash scripts/gpu_check.sh [OUT_DIR]      # default out/gpu-check; prints everything and keeps a copy in OUT_DIR
#
# Needs the CUDA build of torch (docs/scaling.md, "Installing the CUDA build of torch"). Exits non-zero when no CUDA
# device is visible, when a CUDA test fails or when the training fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
LOOPGAN=${LOOPGAN:-.venv/bin/loopgan}
OUT=${1:-out/gpu-check}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1

echo "== date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
"$PY" - <<'PYEOF'
import sys
import torch
print("== torch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version())
if not torch.cuda.is_available():
    sys.exit("gpu_check: no CUDA device visible to torch; nothing to check")
for i in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(i)
    print(f"== device {i}: {p.name}, {p.total_memory / 2**30:.1f} GiB, compute capability {p.major}.{p.minor}")
print("== bf16 supported:", torch.cuda.is_bf16_supported())
PYEOF
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true

echo "== pytest -m cuda"
"$PY" -m pytest -q -p no:cacheprovider -m cuda -rs

echo "== 50 GANSynth steps, CPU preset widths, amp=true (bf16 autocast on CUDA)"
"$LOOPGAN" data synth "$OUT/loops.npy" --n 256 --seconds 2 --seed 0 --no-progress
rm -rf "$OUT/run"
"$LOOPGAN" train gansynth --data "$OUT/loops.npy" --loss wgan-gp --out "$OUT/run" --steps 50 --no-progress \
    --set amp=true --set sample_every=0 --set ckpt_every=0 --set log_every=10
"$PY" - "$OUT/run" <<'PYEOF'
import csv, sys
rows = list(csv.DictReader(open(f"{sys.argv[1]}/log.csv")))
secs = [float(r["seconds"]) for r in rows]
print(f"== logged steps {[int(r['step']) for r in rows]}; loss_d {[round(float(r['loss_d']), 4) for r in rows]}")
if len(secs) >= 2:
    print(f"== seconds per step (steps {rows[0]['step']}-{rows[-1]['step']}): "
          f"{(secs[-1] - secs[0]) / (int(rows[-1]['step']) - int(rows[0]['step'])):.4f}")
PYEOF
echo "== done: copy the lines starting with == into docs/results/gpu.md"
