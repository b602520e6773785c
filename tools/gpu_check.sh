#!/usr/bin/env bash
# One command for the lent (offline) H100: build mixgemm from this checkout, run the GPU tests, run
# the benchmark. Logs go to $OUT (or ./gpu_out). Usage, from the repository root:
#   MIXGEMM_KERNELS='*' STEPS="build test bench" bash tools/gpu_check.sh
# Steps: build (from source), install (a prebuilt wheel from .prebuilt/), smoke, test, dev (the decode
# development harness, modes in DEV_MODES), equiv (dispatch rule table vs the old heuristic), sass (md5
# per kernel function), bench.
# Needs the nvidia-cutlass wheel in .whl/ (pip download --no-deps -d .whl nvidia-cutlass==4.2.0.0);
# nanobind and scikit-build-core come from the machine's own Python (--no-build-isolation).
# Optional, to save device time:
#  - the wheels of pytest-xdist and execnet in .whl/ (pip download --no-deps -d .whl pytest-xdist execnet):
#    the test step then runs PYTEST_WORKERS (4) processes on the one GPU. The whole suite took 135 s
#    that way on an H100 (2026-11-26), against more than 470 s for the GPU tests alone in one process;
#    every GPU test makes its own data, and the hang and crash tests run their bodies in child processes.
#  - a wheel built here for the machine's Python, used by the install step instead of the build step
#    (~250 s on 16 cores). With ccache warm from CI it takes seconds:
#      CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1 pip wheel . --no-build-isolation --no-deps -w .prebuilt
set -uo pipefail
OUT=${OUT:-$PWD/gpu_out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# Every path below is relative to the repository root (this script lives in tools/).
cd "$(dirname "$0")/.." || exit 1
export PYTHONUNBUFFERED=1
STEPS=${STEPS:-"build test bench"}
PY=python3
if ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv | tee "$OUT/gpu.txt"
nvcc --version | tail -1 | tee -a "$OUT/gpu.txt"

for step in $STEPS; do
  case $step in
    build)
      start=$(date +%s)
      MIXGEMM_JOBS=${MIXGEMM_JOBS:-16} MIXGEMM_BUILD_TESTS=ON \
        $PY -m pip install --no-build-isolation --no-deps -v . -Cbuild-dir=build/gpu > "$OUT/build.log" 2>&1
      rc=$?
      echo "build rc=$rc in $(( $(date +%s) - start )) s" | tee -a "$OUT/gpu.txt"
      if [ $rc -ne 0 ]; then grep -n -i -m 40 "error" "$OUT/build.log"; tail -30 "$OUT/build.log"; exit $rc; fi
      (cd build/gpu && ctest --output-on-failure) > "$OUT/ctest.log" 2>&1; tail -3 "$OUT/ctest.log"
      ;;
    install)
      # A wheel built elsewhere for this machine's Python (e.g. the full catalog, built with ccache).
      $PY -m pip install -q --no-deps --force-reinstall .prebuilt/mixgemm-*.whl 2>&1 | tail -3
      $PY -c "import mixgemm; print(len(mixgemm.kernels()), 'kernels installed')" | tee -a "$OUT/gpu.txt"
      ;;
    smoke)
      # Import after torch (as users do) and run one call of each family; on a crash, a native backtrace.
      cat > /tmp/smoke.py <<'PY'
import torch, mixgemm
print(mixgemm.explain(3584, 16, 8192, 64)["kernel"])
w = torch.randn(3584, 8192, device="cuda", dtype=torch.float16) / 90
x = torch.randn(16, 8192, device="cuda", dtype=torch.float16)
qw = mixgemm.quantize(w, bits=4, group_size=64)
for n in (1, 16, 256):
    y = mixgemm.linear(x[:n].contiguous(), qw)
    ref = x[:n].float() @ mixgemm.dequantize(qw).T
    print(n, mixgemm.explain(3584, n, 8192, 64)["kernel"], float((y.float() - ref).norm() / ref.norm()))
PY
      $PY /tmp/smoke.py 2>&1 | tee "$OUT/smoke.log" | tail -8
      if [ ${PIPESTATUS[0]} -ne 0 ] && command -v cuda-gdb >/dev/null; then
        cuda-gdb -batch -ex run -ex bt --args $PY /tmp/smoke.py > "$OUT/smoke_gdb.log" 2>&1
        grep -A 30 -m1 "signal SIG" "$OUT/smoke_gdb.log" | head -40
      fi
      ;;
    test)
      XDIST=""
      $PY -c "import xdist" 2>/dev/null && XDIST="-n ${PYTEST_WORKERS:-4}"
      $PY -m pytest tests -q -p no:cacheprovider $XDIST --durations=15 ${PYTEST_ARGS:-} 2>&1 | tee "$OUT/pytest.log" | tail -25
      # The leak check reads device-wide memory, which the other workers move: it skips under xdist
      # and runs here on its own.
      [ -n "$XDIST" ] && $PY -m pytest tests/gpu/test_concurrency.py -q -p no:cacheprovider -k no_leak 2>&1 \
        | tee "$OUT/pytest_leak.log" | tail -3
      ;;
    dev)
      # The decode development harness (bench/dev/decode_dev.cu): one compile, then each mode in DEV_MODES.
      $PY src/catalog/generate.py --out /tmp/decode_dev_gen --kernels 'decode_*' > /dev/null || exit 1
      nvcc -std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -Isrc -I/tmp/decode_dev_gen -o /tmp/decode_dev \
        bench/dev/decode_dev.cu src/runtime/occupancy.cu \
        > "$OUT/dev_build.log" 2>&1 || { tail -20 "$OUT/dev_build.log"; exit 1; }
      for mode in ${DEV_MODES:-check kgroups wgmma}; do
        timeout ${DEV_TIMEOUT:-120} /tmp/decode_dev "$mode" > "$OUT/dev_$mode.txt" 2>&1
        echo "dev $mode rc=$? ($(grep -c 'BAD\|NaN' "$OUT/dev_$mode.txt") bad lines)" | tee -a "$OUT/gpu.txt"
      done
      ;;
    equiv)
      # The rule table against the heuristic it replaced, with this GPU's occupancy (bench/dev/dispatch_equivalence.cpp).
      c++ -std=c++17 -O2 -Isrc -Ibuild/gpu/generated -I"$(dirname "$(which nvcc)")/../include" \
        bench/dev/dispatch_equivalence.cpp build/gpu/libmixgemm_core.a -L"$(dirname "$(which nvcc)")/../lib64" \
        -lcudart_static -ldl -lpthread -lrt -o /tmp/dispatch_equivalence > "$OUT/equiv_build.log" 2>&1 \
        || { tail -20 "$OUT/equiv_build.log"; exit 1; }
      /tmp/dispatch_equivalence 0 > "$OUT/equiv.txt" 2>&1; echo "equiv rc=$?: $(tail -1 "$OUT/equiv.txt")" | tee -a "$OUT/gpu.txt"
      ;;
    sass)
      # One md5 per kernel function of the installed module's SASS (names included), for before/after checks.
      so=$($PY -c "import mixgemm._C as c; print(c.__file__)")
      cuobjdump -sass "$so" > /tmp/module.sass 2>&1
      $PY - /tmp/module.sass > "$OUT/sass_md5.txt" <<'PY'
import hashlib, re, sys
text = open(sys.argv[1]).read()
for chunk in [c for c in re.split(r"\n(?=\s*Function : )", text)[1:] if "Function :" in c]:
    name = re.search(r"Function : (\S+)", chunk).group(1)
    print(hashlib.md5(chunk.strip().encode()).hexdigest(), name)
PY
      echo "sass: $(wc -l < "$OUT/sass_md5.txt") kernel functions, md5 of all: $(md5sum < "$OUT/sass_md5.txt" | cut -c1-12)" | tee -a "$OUT/gpu.txt"
      ;;
    bench)
      $PY -m mixgemm bench ${BENCH_ARGS:-} --out "$OUT/results.jsonl" 2>"$OUT/bench_progress.log" | tee "$OUT/bench.txt"
      ;;
  esac
done
