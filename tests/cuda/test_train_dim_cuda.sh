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

status=0
python3 - "$work/cpu/log.jsonl" "$work/cuda/log.jsonl" <<'PY' || status=1
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

# Bits on the GPU. cuDNN's timed search may choose other convolution algorithms in another
# process, so a run keeps its choices in checkpoint/cudnn_algorithms.txt: a resumed run adopts
# them, and a new run given them (--cudnn-algorithms) repeats the run bit for bit. A ConvNet run
# stopped after one epoch and resumed must end with the weights, bit for bit, of one run of two
# epochs given its algorithms. MNIST-shaped IDX files of our own (blobs on a dark background, 4
# classes), so no download is needed.
python3 - "$work/mnist" <<'PY' || { echo "FAIL: could not write the IDX files"; exit 1; }
import gzip, os, random, struct, sys
d = sys.argv[1]
os.makedirs(d)
rng = random.Random(5)
def write(prefix, n):
    pixels, labels = bytearray(), bytearray()
    for _ in range(n):
        k = rng.randrange(4)
        cy, cx = 8 + 12 * (k // 2) + rng.randrange(-2, 3), 8 + 12 * (k % 2) + rng.randrange(-2, 3)
        for r in range(28):
            for c in range(28):
                v = max(0.0, 1.0 - ((r - cy) ** 2 + (c - cx) ** 2) / 40.0) + 0.1 * rng.random()
                pixels.append(min(255, int(255 * v)))
        labels.append(k)
    with gzip.open(f"{d}/{prefix}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, n, 28, 28) + bytes(pixels))
    with gzip.open(f"{d}/{prefix}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, n) + bytes(labels))
write("train", 512)
write("t10k", 128)
PY
conv=(--dataset mnist --data-dir "$work/mnist" --encoder convnet --batch 128 --eval-every 0
      --no-quick-metrics --progress never --loader-workers 0 --seed 4 --device cuda)
"$bin" "${conv[@]}" --epochs 1 --out "$work/part" > "$work/part.log" 2>&1 ||
  { echo "FAIL: convnet run, first epoch: $(tail -3 "$work/part.log")"; exit 1; }
algorithms="$work/part/checkpoint/cudnn_algorithms.txt"
choices=$(( $(wc -l < "$algorithms") - 1 ))
if (( choices < 3 )); then
  echo "FAIL: $algorithms holds $choices choices (expected one per convolution pass)"
  status=1
fi
"$bin" "${conv[@]}" --epochs 2 --cudnn-algorithms "$algorithms" --out "$work/whole" > "$work/whole.log" 2>&1 ||
  { echo "FAIL: convnet run of 2 epochs: $(tail -3 "$work/whole.log")"; exit 1; }
"$bin" --resume "$work/part" --epochs 2 --progress never > "$work/resume.log" 2>&1 ||
  { echo "FAIL: resume: $(tail -3 "$work/resume.log")"; exit 1; }
if cmp -s "$work/whole/model.safetensors" "$work/part/model.safetensors"; then
  echo "ok: convnet on cuda, 1 epoch + resume = 2 epochs, bit for bit ($choices cuDNN choices kept)"
else
  echo "FAIL: convnet on cuda: the resumed run's weights differ from the uninterrupted run's"
  status=1
fi
# Choices written by another cuDNN or device: a resumed run says it cannot promise the bits, and
# --cudnn-algorithms refuses them.
sed -i '1s/.*/nidim cudnn algorithms 1, cudnn 0, device elsewhere/' "$algorithms"
"$bin" --resume "$work/part" --epochs 3 --progress never > "$work/resume2.log" 2>&1 ||
  { echo "FAIL: second resume: $(tail -3 "$work/resume2.log")"; exit 1; }
foreign="not used (written for 'nidim cudnn algorithms 1, cudnn 0, device elsewhere'"
if grep -q "$foreign" "$work/resume2.log"; then
  echo "ok: a resumed run names a foreign cudnn_algorithms.txt and does not use it"
else
  echo "FAIL: no note about the foreign cudnn_algorithms.txt: $(head -3 "$work/resume2.log")"
  status=1
fi
if "$bin" "${conv[@]}" --epochs 1 --cudnn-algorithms "$algorithms" --out "$work/refused" > "$work/refused.log" 2>&1; then
  echo "FAIL: --cudnn-algorithms took a foreign file"
  status=1
elif grep -q "error: --cudnn-algorithms .*written for 'nidim cudnn algorithms 1, cudnn 0" "$work/refused.log"; then
  echo "ok: --cudnn-algorithms refuses a foreign file with one line"
else
  echo "FAIL: --cudnn-algorithms on a foreign file: $(tail -1 "$work/refused.log")"
  status=1
fi
exit "$status"
