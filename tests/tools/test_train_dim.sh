#!/usr/bin/env bash
# train_dim from the command line: --help, one-line errors for bad flags and missing data, and
# Ctrl-C (SIGINT) followed by --resume ending with the same weights as an uninterrupted run.
# Also: the laplace prior end to end through eval_dm, and the CIFAR-10 plumbing on fake binary
# batches. Usage: test_train_dim.sh <train_dim> <eval_dm>; run by CTest.
set -u
bin="$(realpath "$1")"
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
eval_bin="${2:+$(realpath "$2")}"
work="$(mktemp -d "${TMPDIR:-/tmp}/train_dim_test.XXXXXX")"
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# 1. --help lists the flags.
out="$("$bin" --help 2>&1)" && [[ "$out" == *"--prior"* && "$out" == *"--resume"* && "$out" == *"--critic"* ]] \
  && pass "--help" || fail "--help"

# 2. Bad input: non-zero status, one line on stderr naming the flag or file, and no run directory
# left behind.
expect_error_raw() {  # expect_error_raw <fragment> <args...>: the arguments as given
  local fragment="$1"; shift
  local err status
  err="$("$bin" "$@" --progress never 2>&1 >/dev/null)"; status=$?
  local lines; lines="$(printf '%s\n' "$err" | grep -c .)"
  if [[ $status -ne 0 && "$err" == *"$fragment"* && $lines -eq 1 ]]; then pass "error for $*: $err"
  else fail "expected one error line with '$fragment' for $* (status $status, $lines lines): $err"; fi
}
expect_error() {  # expect_error <fragment> <args...>: a new run in $work/bad, which must not appear
  expect_error_raw "$@" --out "$work/bad"
  if [[ -e "$work/bad" ]]; then fail "$* left $work/bad behind"; rm -rf "$work/bad"; fi
}
expect_error "prior 'cauchy'" --dataset synthetic --prior cauchy
expect_error "--batch" --dataset synthetic --batch 1
expect_error "give the noise level once" --dataset synthetic --sigma 0.1 --p 0.1
expect_error "--epsilon is the uniform" --dataset synthetic --epsilon 0.1
expect_error "no/such/dir" --dataset mnist --data-dir no/such/dir
expect_error "dataset 'imagenet'" --dataset imagenet
expect_error "device 'gpu'" --dataset synthetic --device gpu
if ! nvidia-smi > /dev/null 2>&1; then expect_error "--device cuda" --dataset synthetic --device cuda; fi
expect_error_raw "no config.json there" --resume "$work/none"
expect_error "--epochs must be >= 1, got 0" --dataset synthetic --epochs 0
expect_error "--tile-rows must be >= 0" --dataset synthetic --tile-rows -4
expect_error "--sigma is the additive noise's level" --dataset synthetic --sigma 0.3 --noise-form vp
expect_error "must be finite" --dataset synthetic --lr inf
expect_error "--threads must be in [0, 4096]" --dataset synthetic --threads -1
expect_error "quick metrics' kNN classifier needs at least 5" --dataset synthetic --limit-train 3 --batch 2
expect_error "noise level --sigma inf must be finite and > 0" --dataset synthetic --sigma inf
# A flag that the run would not use is refused rather than recorded in config.json.
expect_error "--head-dim: applies to --critic dot or cosine only" --dataset synthetic --head-dim 8
expect_error "--dv-ema: applies to --bound dv only" --dataset synthetic --bound nwj --dv-ema 0.5
expect_error "--kernel-bandwidth: applies to --critic gaussian only" --dataset synthetic --critic dot --kernel-bandwidth 1
expect_error "--data-dir: applies to --dataset mnist, fashion-mnist, cifar10 or cifar100 only" --dataset synthetic --data-dir "$work"
expect_error "--mlp-hidden: applies to --encoder mlp only" --dataset synthetic --mlp-hidden 8
expect_error "--uniform-squash: applies to --prior uniform only" --dataset synthetic --uniform-squash sigmoid
expect_error "--metric-subsample: applies to runs with quick metrics" --dataset synthetic --no-quick-metrics --metric-subsample 32
expect_error "--critic-lr: applies to a critic with parameters" --dataset synthetic --critic dot --critic-lr 0.01
expect_error "--encoder 'MLP': expected convnet or mlp" --dataset synthetic --encoder MLP --mlp-hidden 8
expect_error "device 'CUDA': expected cpu, cuda or cuda:N" --dataset synthetic --device CUDA --tf32
# --out through a symbolic link and "..": where the file system puts it (ls, eval_dm agree).
mkdir -p "$work/sl/deep" "$work/sl/e" && ln -s "$work/sl/deep" "$work/sl/e/ln"
"$bin" --dataset synthetic --encoder mlp --mlp-hidden 8 --critic-hidden 8 --batch 64 --epochs 1 --no-quick-metrics \
  --progress never --out "$work/sl/e/ln/../run" > "$work/sl.log" 2>&1
[[ -f "$work/sl/run/config.json" && ! -e "$work/sl/e/run" ]] && pass "--out link/../run: where the file system resolves it" \
  || fail "--out link/../run: $(tail -1 "$work/sl.log"); $(ls "$work/sl" "$work/sl/e")"
mkdir -p "$work/users" && echo mine > "$work/users/notes.txt"
expect_error_raw "--out $work/users: the directory is not empty" --dataset synthetic --out "$work/users/new/.."
[[ ! -e "$work/users/new" && ! -e "$work/users/.lock" ]] && pass "--out x/new/..: refused as x, nothing made" \
  || fail "--out x/new/.. left $(ls -A "$work/users")"
mkdir -p "$work/isdir"
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  mkdir -p "$work/isdir/$f"
done
expect_error "train-images-idx3-ubyte.gz: is a directory" --dataset mnist --data-dir "$work/isdir"
# A directory with files of its own is not overwritten.
mkdir -p "$work/mine" && echo "my weights" > "$work/mine/model.safetensors"
expect_error_raw "not empty and holds no run (model.safetensors" --dataset synthetic --out "$work/mine"
[[ "$(cat "$work/mine/model.safetensors")" == "my weights" ]] && pass "--out: a user's file is left alone" \
  || fail "--out overwrote a file in a directory that held no run"

# 2b. --out may name a directory whose parents do not exist yet (as runs/ in a fresh clone).
"$bin" --dataset synthetic --encoder mlp --mlp-hidden 16 --critic-hidden 16 --batch 64 --epochs 1 \
  --eval-every 0 --no-quick-metrics --progress never --loader-workers 0 --out "$work/new/nested/run" \
  > "$work/nested.log" 2>&1 && [[ -f "$work/new/nested/run/config.json" ]] \
  && pass "--out with missing parent directories" \
  || fail "--out with missing parent directories: $(tail -1 "$work/nested.log")"

# 3. SIGINT mid-run, then --resume: the same weights as a run that was never interrupted.
args=(--dataset synthetic --encoder mlp --mlp-hidden 64,64 --critic-hidden 64 --batch 128 --epochs 6
      --eval-every 0 --no-quick-metrics --progress never --loader-workers 0 --seed 3)
"$bin" "${args[@]}" --out "$work/whole" > /dev/null 2>&1 || fail "uninterrupted run"
"$bin" "${args[@]}" --checkpoint-every 7 --out "$work/parts" > "$work/parts.log" 2>&1 &
pid=$!
for _ in $(seq 200); do [[ -f "$work/parts/checkpoint/checkpoint.safetensors" ]] && break; sleep 0.05; done
kill -INT "$pid"
wait "$pid"; status=$?
if [[ $status -eq 130 ]] && grep -q "Resume with" "$work/parts.log"; then
  pass "SIGINT: status 130, checkpoint written"
  "$bin" --resume "$work/parts" --progress never > "$work/resume.log" 2>&1 || fail "resume: $(tail -2 "$work/resume.log")"
elif [[ $status -eq 0 ]]; then
  echo "note: the run finished before the signal arrived; nothing to resume"
else
  fail "SIGINT: status $status: $(tail -3 "$work/parts.log")"
fi
if cmp -s "$work/whole/model.safetensors" "$work/parts/model.safetensors"; then pass "interrupted + resumed == uninterrupted (model.safetensors identical)"
else fail "model.safetensors differs between the interrupted+resumed run and the uninterrupted one"; fi

# 3b. What --resume accepts: only --epochs and --progress; never fewer epochs than trained; a
# finished run is left as it is; a run stopped before its first checkpoint starts again.
expect_error_raw "--limit-train cannot be given with it" --resume "$work/whole" --limit-train 100
expect_error_raw "has trained 6 epoch(s) already" --resume "$work/whole" --epochs 5
expect_error_raw "--data-dir: $work/whole trains on the synthetic data set" --resume "$work/whole" --data-dir "$work"
inode="$(stat -c %i "$work/whole/config.json")"  # a rewrite (temporary + rename) makes a new one
"$bin" --resume "$work/whole" --epochs 6 --progress never > /dev/null 2>&1
[[ "$(stat -c %i "$work/whole/config.json")" == "$inode" ]] && pass "--resume of a finished run leaves config.json alone" \
  || fail "--resume --epochs 6 of a finished 6-epoch run rewrote config.json"
cp "$work/whole/model.safetensors" "$work/whole_model.before"
out="$("$bin" --resume "$work/whole" --progress never 2>&1)"; status=$?
if [[ $status -eq 0 && "$out" == *"is complete (6 epoch(s)"* ]] && cmp -s "$work/whole_model.before" "$work/whole/model.safetensors"
then pass "--resume of a finished run: says so, changes nothing"
else fail "--resume of a finished run (status $status): $out"; fi
mkdir -p "$work/early" && cp "$work/whole/config.json" "$work/early/"
"$bin" --resume "$work/early" --progress never > "$work/early.log" 2>&1 || fail "resume before any checkpoint: $(tail -1 "$work/early.log")"
if grep -q "no checkpoint yet" "$work/early.log" && cmp -s "$work/whole/model.safetensors" "$work/early/model.safetensors"
then pass "--resume before the first checkpoint starts over (same weights as the whole run)"
else fail "--resume before the first checkpoint: $(tail -2 "$work/early.log")"; fi

# 3c. One process per run directory: a second run with the same --out, or a --resume of the run
# still going, is refused. A temporary left by a killed writer is removed by the next process.
"$bin" --dataset synthetic --encoder mlp --mlp-hidden 64,64 --critic-hidden 64 --batch 128 --epochs 400 \
  --eval-every 0 --no-quick-metrics --progress never --loader-workers 0 --out "$work/busy" > "$work/busy.log" 2>&1 &
pid=$!
for _ in $(seq 200); do [[ -f "$work/busy/config.json" ]] && break; sleep 0.05; done
expect_error_raw "in use by another process" --resume "$work/busy"
expect_error_raw "holds a run that is still going" --dataset synthetic --out "$work/busy"
kill -INT "$pid"; wait "$pid"
sleep 0 & dead=$!; wait "$dead"  # a process id that no longer runs
stale="$work/busy/checkpoint/checkpoint.safetensors.tmp.$dead"
touch "$stale" || fail "cannot make $stale"
# Kept evaluations are written first: a kill can leave a temporary there too.
mkdir -p "$work/busy/evaluations/epoch_9000"
stale_eval="$work/busy/evaluations/epoch_9000/embeddings_test.npy.tmp.$dead"
touch "$stale_eval" || fail "cannot make $stale_eval"
"$bin" --resume "$work/busy" --epochs 401 --progress never > "$work/busy2.log" 2>&1 || fail "resume busy: $(tail -1 "$work/busy2.log")"
[[ ! -e "$stale" ]] && pass "a dead writer's temporary file is removed" || fail "$stale was left in place"
[[ ! -e "$stale_eval" ]] && pass "a dead writer's temporary in evaluations/ is removed" || fail "$stale_eval was left in place"

# 3e. A run records its data folder as an absolute path: it resumes from another working
# directory; data that moved are named with --data-dir. Printed commands are quoted for the shell.
mkdir -p "$work/cwd2"
/usr/bin/python3 - "$work/cwd2/idx" <<'PY' || fail "could not write the IDX files"
import gzip, os, random, struct, sys
d = sys.argv[1]
os.makedirs(d)
rng = random.Random(1)
for prefix, n in [("train", 256), ("t10k", 64)]:
    labels = bytes(rng.randrange(10) for _ in range(n))
    pixels = bytes(rng.randrange(256) for _ in range(n * 784))
    with gzip.open(f"{d}/{prefix}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, n, 28, 28) + pixels)
    with gzip.open(f"{d}/{prefix}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, n) + labels)
PY
small=(--encoder mlp --mlp-hidden 16 --critic-hidden 16 --batch 64 --no-quick-metrics --progress never --loader-workers 0)
# Test images of another size than the training ones, and a named pipe for a data file: refused
# before training, naming the folder / the file (a pipe used to hang the loader).
mkdir -p "$work/odd" "$work/pipe"
cp "$work/cwd2/idx/"train-* "$work/odd/" && cp "$work/cwd2/idx/"t10k-labels* "$work/odd/"
/usr/bin/python3 - "$work/odd" <<'PY' || fail "could not write the 32x32 IDX file"
import gzip, struct, sys
with gzip.open(f"{sys.argv[1]}/t10k-images-idx3-ubyte.gz", "wb") as f:
    f.write(struct.pack(">IIII", 2051, 64, 32, 32) + bytes(64 * 1024))
PY
expect_error "the test images are 1x32x32 (channels x height x width) but the training images 1x28x28" \
  --dataset mnist --data-dir "$work/odd" --encoder mlp --batch 64
cp "$work/cwd2/idx/"* "$work/pipe/" && rm "$work/pipe/train-labels-idx1-ubyte.gz" && mkfifo "$work/pipe/train-labels-idx1-ubyte.gz"
expect_error "train-labels-idx1-ubyte.gz: is not a regular file" --dataset mnist --data-dir "$work/pipe" --encoder mlp --batch 64
# --noise-form additive without a level: the additive equivalent of the default p (sigma = 0.1).
"$bin" --dataset synthetic "${small[@]}" --epochs 1 --noise-form additive --out "$work/additive" > "$work/additive.log" 2>&1 \
  || fail "additive run: $(tail -1 "$work/additive.log")"
/usr/bin/python3 -c 'import json, math, sys; n = json.load(open(sys.argv[1]))["noise"]; sys.exit(0 if n["form"] == "additive" and n["sigma"] == 0.1 and abs(n["p"] - 0.1 / math.sqrt(1.01)) < 1e-15 else 1)' \
  "$work/additive/config.json" && pass "--noise-form additive defaults to sigma = 0.1" \
  || fail "--noise-form additive default: $(grep -A5 '"noise"' "$work/additive/config.json")"
(cd "$work/cwd2" && "$bin" --dataset mnist --data-dir idx "${small[@]}" --epochs 1 --out "my run/") > "$work/cwd2.log" 2>&1 \
  || fail "mnist-shaped run: $(tail -1 "$work/cwd2.log")"
grep -q "\"data_dir\": \"$work/cwd2/idx\"" "$work/cwd2/my run/config.json" && pass "config.json: the data folder, absolute" \
  || fail "config.json's data_dir: $(grep data_dir "$work/cwd2/my run/config.json")"
grep -q "evaluate with: eval_dm 'my run'\$" "$work/cwd2.log" && pass "printed command quoted for the shell" \
  || fail "printed command: $(grep 'evaluate with' "$work/cwd2.log")"
# The run's model.safetensors loads into bench/torch_dim.py's PyTorch model (the same ConvNet,
# normalization and joint critic) with strict key matching, and gives the run's test embeddings.
"$bin" --dataset mnist --data-dir "$work/cwd2/idx" --batch 32 --epochs 1 --limit-train 96 --no-quick-metrics \
  --progress never --loader-workers 0 --out "$work/torch_load" > "$work/torch_load.log" 2>&1 \
  || fail "convnet run: $(tail -1 "$work/torch_load.log")"
if /usr/bin/python3 - "$src" "$work" <<'PY'
import sys
import numpy as np, torch
src, work = sys.argv[1], sys.argv[2]
sys.path[:0] = [f"{src}/bench", f"{src}/tests/fixtures/nn"]
import safetensors_py, torch_dim
state, _ = safetensors_py.load(f"{work}/torch_load/model.safetensors")
model = torch_dim.DimModel(2, "gaussian", "mlp")
model.load_state_dict(state, strict=True)
x, labels = torch_dim.load_mnist(f"{work}/cwd2/idx", "test")
got = torch_dim.embed_all(model, x)
want = np.load(f"{work}/torch_load/embeddings_test.npy")
assert np.array_equal(labels, np.load(f"{work}/torch_load/labels_test.npy"))
err = np.abs(got - want).max()
print(f"PyTorch loaded {len(state)} tensors; max |embedding difference| {err:.3g}")
# float32 convolutions summed in another order (PyTorch's im2col/GEMM vs nidim's): about 1e-7
# here; 1e-5 leaves room for other BLAS kernels, far below what a wrong weight would change.
sys.exit(0 if np.allclose(got, want, rtol=1e-5, atol=1e-5) else 1)
PY
then pass "model.safetensors loads strictly into bench/torch_dim.py's model, same embeddings"
else fail "model.safetensors in PyTorch"; fi
(cd / && "$bin" --resume "$work/cwd2/my run" --epochs 2 --progress never) > "$work/cwd2b.log" 2>&1 \
  && pass "resumed from another working directory" || fail "resume from /: $(tail -1 "$work/cwd2b.log")"
mv "$work/cwd2/idx" "$work/cwd2/moved"
expect_error_raw "its data folder $work/cwd2/idx is not there; if the data moved, give --data-dir" --resume "$work/cwd2/my run" --epochs 3
"$bin" --resume "$work/cwd2/my run" --epochs 3 --data-dir "$work/cwd2/moved/" --progress never > "$work/cwd2c.log" 2>&1 \
  && grep -q "\"data_dir\": \"$work/cwd2/moved\"," "$work/cwd2/my run/config.json" \
  && pass "--resume with --data-dir: data that moved" || fail "--resume --data-dir: $(tail -1 "$work/cwd2c.log")"
expect_error_raw "--resume: the run directory's name is empty" --resume ""

# 3d. Runs started together without --out get directories of their own.
mkdir -p "$work/cwd" && (cd "$work/cwd" && for seed in 1 2 3; do
  "$bin" --dataset synthetic --encoder mlp --mlp-hidden 16 --critic-hidden 16 --batch 64 --epochs 1 \
    --no-quick-metrics --progress never --loader-workers 0 --threads 1 --seed $seed > /dev/null 2>&1 &
done; wait)
seeds="$(cat "$work"/cwd/runs/*/config.json 2>/dev/null | grep -o '"seed": [0-9]*' | sort | tr '\n' ' ')"
[[ "$seeds" == '"seed": 1 "seed": 2 "seed": 3 ' ]] && pass "three runs at once: three directories" \
  || fail "three runs at once left the configs: $seeds ($(ls "$work/cwd/runs"))"

# 4. A change-of-variables prior: train_dim exports Laplace(0, 1) coordinates, eval_dm maps them back.
"$bin" --dataset synthetic --encoder mlp --mlp-hidden 32 --critic-hidden 32 --batch 64 --epochs 1 --prior laplace \
  --no-quick-metrics --progress never --out "$work/laplace" > /dev/null 2>&1 || fail "laplace run"
if [[ -n "$eval_bin" ]]; then
  if "$eval_bin" "$work/laplace" --quiet --no-plots --repetitions 32 > "$work/eval.log" 2>&1 \
     && grep -q '"prior": *"laplace"' "$work/laplace/metrics.json"; then pass "eval_dm reads a laplace run"
  else fail "eval_dm on the laplace run: $(tail -2 "$work/eval.log")"; fi
fi

# 5. CIFAR-10 plumbing: 3x32x32 images through the ConvNet and SimCLR's augmentations, from fake
# binary batches (records: 1 label byte + 3072 pixel bytes).
mkdir -p "$work/cifar"
/usr/bin/python3 - "$work/cifar" <<'PY'
import os, random, sys
random.seed(0)
for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]:
    with open(os.path.join(sys.argv[1], name + ".bin"), "wb") as f:
        for _ in range(40):
            f.write(bytes([random.randrange(10)]) + bytes(random.randrange(256) for _ in range(3072)))
PY
if "$bin" --dataset cifar10 --data-dir "$work/cifar" --batch 32 --epochs 1 --dim 8 --critic dot \
     --no-quick-metrics --progress never --out "$work/cifar_run" > "$work/cifar.log" 2>&1 \
   && [[ -f "$work/cifar_run/embeddings_test.npy" ]]; then pass "cifar10 plumbing (fake batches)"
else fail "cifar10 run: $(tail -3 "$work/cifar.log")"; fi

# 6. CIFAR-100: records of a coarse (0..19) and a fine (0..99) label byte + 3072 pixel bytes in
# train.bin and test.bin; the run's labels are the fine ones, in file order.
mkdir -p "$work/cifar100"
/usr/bin/python3 - "$work/cifar100" <<'PY'
import os, random, sys
random.seed(1)
# Classes 0-11 in training, 0-15 in the test set (4 classes unseen in training), each with its
# own brightness, so that a kNN on the embeddings gets some right and the unseen ones wrong.
for name, n, classes in [("train", 96, 12), ("test", 40, 16)]:
    fine = [random.randrange(classes) for _ in range(n)]
    with open(os.path.join(sys.argv[1], name + ".bin"), "wb") as f:
        for y in fine:
            f.write(bytes([y // 5, y]) + bytes(y * 15 + random.randrange(10) for _ in range(3072)))
    with open(os.path.join(sys.argv[1], name + ".fine"), "w") as f:
        f.write(" ".join(map(str, fine)))
PY
# With the quick metrics on: the training rows do not hold all 100 classes, and a test row of a
# class no training row has counts as wrong (the run used to fail at its evaluation).
if "$bin" --dataset cifar100 --data-dir "$work/cifar100" --batch 32 --epochs 1 --dim 4 --critic dot \
     --metric-repetitions 8 --progress never --out "$work/cifar100_run" > "$work/cifar100.log" 2>&1 \
   && grep -q '"knn_accuracy"' "$work/cifar100_run/log.jsonl" \
   && /usr/bin/python3 -c "
import numpy as np, sys
d = sys.argv[1]
for s in ('train', 'test'):
    got = np.load(f'{d}/cifar100_run/labels_{s}.npy')
    want = np.array(open(f'{d}/cifar100/{s}.fine').read().split(), dtype=np.int32)
    assert np.array_equal(got, want), (s, got[:8], want[:8])
    assert np.load(f'{d}/cifar100_run/embeddings_{s}.npy').shape == (len(want), 4)
" "$work"; then pass "cifar100 plumbing (fake files): fine labels in file order"
else fail "cifar100 run: $(tail -3 "$work/cifar100.log")"; fi
# The quick kNN accuracy is eval_dm's (the same 5-NN, classes coded from the training rows, a
# test row of an unseen class wrong), which scikit-learn's fixtures check.
if [[ -n "$eval_bin" ]]; then
  "$eval_bin" "$work/cifar100_run" --quiet --no-plots --repetitions 8 --out "$work/cifar100_eval" > /dev/null 2>&1 \
    && /usr/bin/python3 -c "
import json, sys
log = [json.loads(l) for l in open(sys.argv[1] + '/cifar100_run/log.jsonl')]
quick = [l['knn_accuracy'] for l in log if 'knn_accuracy' in l][-1]
full = json.load(open(sys.argv[1] + '/cifar100_eval/metrics.json'))['classifiers']['knn']['accuracy']
print('quick kNN', quick, 'eval_dm kNN', full)
sys.exit(0 if abs(quick - full) <= 1e-12 and 0 < quick < 1 else 1)
" "$work" && pass "cifar100: the quick kNN accuracy equals eval_dm's" || fail "cifar100 quick kNN against eval_dm"
fi
expect_error "cifar100 needs --data-dir" --dataset cifar100
expect_error "--augment-sigma: applies to --dataset mnist, fashion-mnist or synthetic (grey images" --dataset cifar100 --data-dir "$work/cifar100" --augment-sigma 0.5

echo "$failures failures"
[[ $failures -eq 0 ]]
