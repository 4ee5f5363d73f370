#!/bin/bash
# nidim/bench/stats/bench_eval_dm.sh: wall time and peak memory of whole eval_dm runs (issue 4,
# point 7). Not a test; prints one line per case.
#
#   bench/stats/bench_eval_dm.sh [BUILD_DIR] [WORK_DIR]
#
# Cases (data: seeded numpy draws, written once into WORK_DIR):
#   d2, d64   the default report on 60 000 train + 10 000 test float32 embeddings (10 classes,
#             standardized Gaussian clusters) with labels
#   hz        --exact on 20 000 x 16 float64 N(0, 1) rows (Henze-Zirkler and Mardia stream the
#             N^2/2 pairs: memory stays linear in N)
# Needs /usr/bin/python3 with numpy and GNU time (/usr/bin/time).
set -euo pipefail
build=${1:-build}
work=${2:-/tmp/nidim_bench_eval_dm}
tool="$build/bin/eval_dm"
[ -x "$tool" ] || { echo "bench_eval_dm: $tool not found (build the eval_dm target)" >&2; exit 1; }
mkdir -p "$work"
/usr/bin/python3 - "$work" <<'PY'
import os, sys
import numpy as np
work = sys.argv[1]
rng = np.random.default_rng(0)
for d in (2, 64):
    out = os.path.join(work, f"d{d}")
    if os.path.exists(os.path.join(out, "labels_test.npy")):
        continue
    os.makedirs(out, exist_ok=True)
    centers = rng.normal(0, 1.0, (10, d))
    for name, n in (("train", 60000), ("test", 10000)):
        y = rng.integers(0, 10, n)
        x = centers[y] * 0.7 + rng.normal(0, 0.7, (n, d))
        x = (x - x.mean(0)) / x.std(0)
        np.save(os.path.join(out, f"embeddings_{name}.npy"), x.astype(np.float32))
        np.save(os.path.join(out, f"labels_{name}.npy"), y.astype(np.int64))
hz = os.path.join(work, "hz_20000x16.npy")
if not os.path.exists(hz):
    np.save(hz, rng.normal(size=(20000, 16)))
PY
run() {
  local name=$1; shift
  local t
  t=$( { /usr/bin/time -f "%e %M" "$tool" "$@" --quiet > "$work/$name.log"; } 2>&1 | tail -1 )
  printf "%-4s %8.1f s wall  %8.1f MiB peak RSS   (eval_dm %s)\n" "$name" "${t% *}" \
    "$(echo "${t#* } / 1024" | bc -l)" "$*"
}
echo "threads: ${OMP_NUM_THREADS:-all} of $(nproc) cores"
run d2 "$work/d2" --out "$work/out_d2"
run d64 "$work/d64" --out "$work/out_d64"
run hz --test "$work/hz_20000x16.npy" --exact --no-distances --no-classifiers --no-plots --out "$work/out_hz"
