#!/usr/bin/env bash
# train_dim on the synthetic set, --device cpu against --device cuda, same seed and flags: the
# per-epoch losses in log.jsonl must agree within a tolerance. Exit 77 (CTest: skipped) when this
# nidim or this machine has no CUDA device.
# Usage: test_train_dim_cuda.sh <path to train_dim>
#
# Tolerance: each step agrees to ~1e-4 (tests/cuda/test_training.cpp); over 3 epochs of 32 steps the
# two trajectories drift apart slowly (Adam's first steps are sign-like, so a gradient at the
# rounding-noise level can move a weight differently), so an epoch's mean loss may differ by a few
# percent: |cuda - cpu| <= 0.05 + 0.03 |cpu|.
set -u
bin="$1"
work="$(mktemp -d "${TMPDIR:-/tmp}/train_dim_cuda.XXXXXX")"
trap 'rm -rf "$work"' EXIT
args=(--dataset synthetic --encoder mlp --mlp-hidden 64,64 --critic-hidden 64 --batch 128 --epochs 3
      --eval-every 0 --no-quick-metrics --progress never --loader-workers 0 --seed 3)

if ! "$bin" "${args[@]}" --device cuda --out "$work/cuda" > "$work/cuda.log" 2>&1; then
  if grep -q -e "0 CUDA device" -e "built without CUDA" "$work/cuda.log"; then
    echo "skipped: no CUDA device ($(tail -1 "$work/cuda.log"))"
    exit 77
  fi
  echo "FAIL: train_dim --device cuda: $(tail -3 "$work/cuda.log")"
  exit 1
fi
"$bin" "${args[@]}" --device cpu --out "$work/cpu" > "$work/cpu.log" 2>&1 || { echo "FAIL: cpu run: $(tail -3 "$work/cpu.log")"; exit 1; }

python3 - "$work/cpu/log.jsonl" "$work/cuda/log.jsonl" <<'PY'
import json, sys
def losses(path):
    return [l["loss"] for l in map(json.loads, open(path)) if l.get("type") == "epoch"]
cpu, cuda = losses(sys.argv[1]), losses(sys.argv[2])
if len(cpu) != 3 or len(cuda) != 3:
    print(f"FAIL: expected 3 epochs, got cpu {len(cpu)}, cuda {len(cuda)}"); sys.exit(1)
bad = 0
for e, (a, b) in enumerate(zip(cpu, cuda), 1):
    ok = abs(a - b) <= 0.05 + 0.03 * abs(a)
    print(f"{'ok' if ok else 'FAIL'}: epoch {e}: loss cpu {a:.5f}, cuda {b:.5f}")
    bad += not ok
sys.exit(1 if bad else 0)
PY
