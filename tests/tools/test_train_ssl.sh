#!/usr/bin/env bash
# train_dim --method simclr / vicreg from the command line: one-line errors for flags the method
# would not use, --no-noise, and scripts/table1 end to end on the synthetic set (two levels,
# each trained, probed by eval_dm --probe and tabulated; a second call skips both runs).
# Usage: test_train_ssl.sh <train_dim> <eval_dm>; run by CTest.
set -u
bin="$(realpath "$1")"
eval_bin="$(realpath "$2")"
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/train_ssl_test.XXXXXX")"
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

expect_error() {  # expect_error <fragment> <args...>: one stderr line, status != 0, no directory
  local fragment="$1"; shift
  local err status
  err="$("$bin" "$@" --progress never --out "$work/bad" 2>&1 >/dev/null)"; status=$?
  local lines; lines="$(printf '%s\n' "$err" | grep -c .)"
  if [[ $status -ne 0 && "$err" == *"$fragment"* && $lines -eq 1 ]]; then pass "error for $*: $err"
  else fail "expected one error line with '$fragment' for $* (status $status, $lines lines): $err"; fi
  if [[ -e "$work/bad" ]]; then fail "$* left $work/bad behind"; rm -rf "$work/bad"; fi
}
expect_error "--method 'byol': expected dim, simclr or vicreg" --method byol --dataset synthetic
expect_error "--critic: applies to --method dim only" --method simclr --dataset synthetic --critic dot
expect_error "--vicreg-weights: applies to --method vicreg only" --method simclr --dataset synthetic --vicreg-weights 1,1,1
expect_error "--vicreg-weights '25,25': expected three" --method vicreg --dataset synthetic --encoder mlp --vicreg-weights 25,25
expect_error "--p: applies to runs with noise" --method simclr --dataset synthetic --no-noise --p 0.1
expect_error "--feature-dim: applies to --method simclr or vicreg with --encoder convnet or mlp" --method simclr --dataset synthetic --feature-dim 64
expect_error "--encoder resnet18 is the SSL methods' backbone" --dataset synthetic --encoder resnet18
expect_error "--projector-hidden: applies to --method simclr or vicreg" --dataset synthetic --projector-hidden 64
expect_error "no noise at all is --no-noise" --dataset synthetic --p 0
expect_error "--warmup-epochs must be in" --method vicreg --dataset synthetic --encoder mlp --warmup-epochs -1

small=(--encoder mlp --mlp-hidden 64 --feature-dim 32 --projector-hidden 64 --batch 64 --epochs 2
       --warmup-epochs 1 --progress never --metric-repetitions 32)
for method in simclr vicreg; do
  out="$work/table-$method"
  log="$work/table-$method.log"
  if /usr/bin/python3 "$src/scripts/table1" --method "$method" --dataset synthetic --levels none,0.2 \
       --out "$out" --bin "$(dirname "$bin")" --eval-args "--probe-epochs 3 --repetitions 64" \
       -- "${small[@]}" --dim 16 > "$log" 2>&1; then
    pass "table1 --method $method"
  else
    fail "table1 --method $method: $(tail -3 "$log")"; continue
  fi
  [[ -f "$out/p0.2/features_test.npy" && -f "$out/no-noise/features_test.npy" ]] \
    && pass "$method runs write features_{train,test}.npy" || fail "$method: no features files"
  rows="$(grep -c "^| $method |" "$out/table.md")"
  [[ "$rows" -eq 2 ]] && pass "$method: two rows in table.md" || fail "$method: $rows rows in table.md"
  # Every row has probe accuracies; the noise row of SimCLR has a certificate, VICReg's none.
  /usr/bin/python3 - "$out/table.json" "$method" <<'PY' && pass "$method: table values" || fail "$method: table values"
import json, sys
rows = json.load(open(sys.argv[1]))
assert all(0 <= r["linear_top1"] <= 1 and 0 <= r["knn_top5"] <= 1 for r in rows), rows
noisy = [r for r in rows if r["p"] == 0.2][0]
plain = [r for r in rows if r["p"] is None][0]
assert plain["kl_upper_bound"] is None, plain
if sys.argv[2] == "simclr":
    assert abs(noisy["capacity"] - (-16 * __import__("math").log(0.2))) < 1e-9, noisy
    assert noisy["kl_upper_bound"] is not None and plain["mi_estimate"] is not None
else:
    assert noisy["kl_upper_bound"] is None and "VICReg" in noisy["certificate_note"], noisy
PY
  # Again: both runs are complete and evaluated, so nothing is trained or evaluated.
  if /usr/bin/python3 "$src/scripts/table1" --method "$method" --dataset synthetic --levels none,0.2 \
       --out "$out" --bin "$(dirname "$bin")" > "$log" 2>&1 && ! grep -q "table1: .*train_dim\|table1: .*eval_dm" "$log"; then
    pass "$method: a second table1 call skips the finished runs"
  else
    fail "$method: a second table1 call ran something: $(grep 'table1: ' "$log" | head -2)"
  fi
done

echo "$failures failure(s)"
[[ $failures -eq 0 ]]
