#!/usr/bin/env bash
# train_dim from the command line: --help, one-line errors for bad flags and missing data, and
# Ctrl-C (SIGINT) followed by --resume ending with the same weights as an uninterrupted run.
# Also: the laplace prior end to end through eval_dm, and the CIFAR-10 plumbing on fake binary
# batches. Usage: test_train_dim.sh <train_dim> <eval_dm>; run by CTest.
set -u
bin="$1"
eval_bin="${2:-}"
work="$(mktemp -d "${TMPDIR:-/tmp}/train_dim_test.XXXXXX")"
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# 1. --help lists the flags.
out="$("$bin" --help 2>&1)" && [[ "$out" == *"--prior"* && "$out" == *"--resume"* && "$out" == *"--critic"* ]] \
  && pass "--help" || fail "--help"

# 2. Bad input: non-zero status, one line on stderr naming the flag or file.
expect_error() {  # expect_error <fragment> <args...>
  local fragment="$1"; shift
  local err status
  err="$("$bin" "$@" --out "$work/bad" --progress never 2>&1 >/dev/null)"; status=$?
  local lines; lines="$(printf '%s\n' "$err" | grep -c .)"
  if [[ $status -ne 0 && "$err" == *"$fragment"* && $lines -eq 1 ]]; then pass "error for $*: $err"
  else fail "expected one error line with '$fragment' for $* (status $status, $lines lines): $err"; fi
}
expect_error "prior 'cauchy'" --dataset synthetic --prior cauchy
expect_error "--batch" --dataset synthetic --batch 1
expect_error "give the noise level once" --dataset synthetic --sigma 0.1 --p 0.1
expect_error "--epsilon is the uniform" --dataset synthetic --epsilon 0.1
expect_error "no/such/dir" --dataset mnist --data-dir no/such/dir
expect_error "dataset 'imagenet'" --dataset imagenet
expect_error "device 'gpu'" --dataset synthetic --device gpu
if ! nvidia-smi > /dev/null 2>&1; then expect_error "--device cuda" --dataset synthetic --device cuda; fi
expect_error "config.json" --resume "$work/none"

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

echo "$failures failures"
[[ $failures -eq 0 ]]
