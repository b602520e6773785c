#!/usr/bin/env bash
# One command for the lent (offline) H100: build mixgemm from this checkout, run the GPU tests, run
# the benchmark. Logs go to $OUT (or ./gpu_out). Usage, from the repository root:
#   MIXGEMM_KERNELS='*' STEPS="build test bench" bash bench/gpu_check.sh
# Needs the nvidia-cutlass wheel in .whl/ (pip download --no-deps -d .whl nvidia-cutlass==4.2.0.0);
# nanobind and scikit-build-core come from the machine's own Python (--no-build-isolation).
set -uo pipefail
OUT=${OUT:-$PWD/gpu_out}
mkdir -p "$OUT"
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
    test)
      $PY -m pytest tests -q -x -p no:cacheprovider ${PYTEST_ARGS:-} 2>&1 | tee "$OUT/pytest.log" | tail -25
      ;;
    bench)
      $PY -m mixgemm bench ${BENCH_ARGS:-} --out "$OUT/results.jsonl" 2>"$OUT/bench_progress.log" | tee "$OUT/bench.txt"
      ;;
  esac
done
