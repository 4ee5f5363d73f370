#!/usr/bin/env bash
# train_dim from the command line: --help, one-line errors for bad flags and missing data, and
# Ctrl-C (SIGINT) followed by --resume ending with the same weights as an uninterrupted run.
# Usage: test_train_dim.sh <path to train_dim>; run by CTest in a scratch directory.
set -u
bin="$1"
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

echo "$failures failures"
[[ $failures -eq 0 ]]
