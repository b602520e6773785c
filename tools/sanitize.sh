#!/usr/bin/env bash
# compute-sanitizer (memcheck, racecheck, synccheck) over every catalog entry at a few shapes (issue 5).
#
# Runs tools/sanitize_driver.py once per tool: every entry of mixgemm.kernels() (or those matching
# SANITIZE_KERNELS) at on-tile and off-tile shapes, with mixgemm's own kernels the only ones launched
# (data is copied from the host; see the driver's docstring). Logs go to $OUT/sanitize/<tool>.log
# (sanitizer report) and $OUT/sanitize/<tool>.driver.txt (one line per launch); a summary table is
# printed and appended to $OUT/sanitize/summary.txt. Exit code 1 if any tool reported an error, the
# driver failed, or a tool timed out.
#
# Usage, from the repository root with mixgemm importable (e.g. after tools/gpu_check.sh's build step):
#   bash tools/sanitize.sh                                        # memcheck, racecheck, synccheck
#   SANITIZE_TOOLS=memcheck bash tools/sanitize.sh                # one tool
#   SANITIZE_TOOLS=racecheck SANITIZE_KERNELS='decode_*' bash tools/sanitize.sh
# Environment:
#   OUT                logs under $OUT/sanitize (default ./gpu_out)
#   SANITIZE_TOOLS     space-separated tools (default "memcheck racecheck synccheck"; initcheck also works)
#   SANITIZE_KERNELS   comma-separated fnmatch patterns of entry names (default '*')
#   SANITIZE_SHAPES    full|small (default: small for racecheck, which is slow; full otherwise)
#   SANITIZE_TIMEOUT   seconds per tool (default 1500)
#   COMPUTE_SANITIZER  path to compute-sanitizer (default: PATH, then $CUDA_HOME/bin, /usr/local/cuda/bin)
#   PYTHON             interpreter (default python3)
set -uo pipefail
OUT=${OUT:-$PWD/gpu_out}
LOGDIR="$OUT/sanitize"
mkdir -p "$LOGDIR"
TOOLS=${SANITIZE_TOOLS:-"memcheck racecheck synccheck"}
KERNELS=${SANITIZE_KERNELS:-'*'}
TIMEOUT=${SANITIZE_TIMEOUT:-1500}
PY=${PYTHON:-python3}
HERE=$(cd "$(dirname "$0")" && pwd)

CS=${COMPUTE_SANITIZER:-}
if [ -z "$CS" ]; then
  for c in "$(command -v compute-sanitizer 2>/dev/null)" "${CUDA_HOME:-/nonexistent}/bin/compute-sanitizer" \
           /usr/local/cuda/bin/compute-sanitizer; do
    if [ -n "$c" ] && [ -x "$c" ]; then CS=$c; break; fi
  done
fi
if [ -z "$CS" ]; then echo "compute-sanitizer not found (set COMPUTE_SANITIZER)"; exit 2; fi
"$CS" --version | tail -1 | tee "$LOGDIR/version.txt"

# Every tensor its own cudaMalloc, so memcheck sees exact array bounds (not a caching-allocator segment).
export PYTORCH_NO_CUDA_MEMORY_CACHING=1
export PYTHONUNBUFFERED=1

summary="$LOGDIR/summary.txt"     # appended to, so that tools run one per invocation add up
echo "# $(date -u +%FT%TZ) tools='$TOOLS' kernels='$KERNELS'" >> "$summary"
printf "%-10s %8s %9s %7s %9s %10s %7s  %s\n" tool entries launches errors warnings driver_rc time_s log |
  tee -a "$summary"
status=0
for tool in $TOOLS; do
  shapes=${SANITIZE_SHAPES:-$([ "$tool" = racecheck ] && echo small || echo full)}
  log="$LOGDIR/$tool.log"
  drv="$LOGDIR/$tool.driver.txt"
  extra=()
  case $tool in
    memcheck) extra=(--leak-check no) ;;       # torch keeps allocations alive at exit by design
    racecheck) extra=(--racecheck-report all) ;;
  esac
  start=$(date +%s)
  timeout "$TIMEOUT" "$CS" --tool "$tool" --error-exitcode 97 --target-processes all --print-limit 200 \
    --log-file "$log" ${extra[@]+"${extra[@]}"} \
    "$PY" "$HERE/sanitize_driver.py" --shapes "$shapes" --kernels "$KERNELS" > "$drv" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  # "ERROR SUMMARY: N errors" (one per process); racecheck also prints
  # "RACECHECK SUMMARY: H hazards displayed (E errors, W warnings)".
  errors=$(grep -ho "ERROR SUMMARY: [0-9]* error" "$log" 2>/dev/null | awk '{s += $3} END {print s + 0}')
  # A process stopped by --error-exitcode may print reports ("========= Error: Potential RAW hazard
  # ...") without a summary that counts them: count the reports too and keep the larger number.
  reported=$(grep -c "^========= Error:" "$log" 2>/dev/null); reported=${reported:-0}
  [ "$reported" -gt "$errors" ] && errors=$reported
  warnings=$(grep -ho "([0-9]* errors, [0-9]* warnings)" "$log" 2>/dev/null | tr -d '(,' |
             awk '{s += $3} END {print s + 0}')
  [ "$tool" = racecheck ] || warnings="-"
  entries=$(grep '^entry ' "$drv" 2>/dev/null | awk '{print $2}' | sort -u | wc -l)
  launches=$(grep -c '^entry ' "$drv" 2>/dev/null); launches=${launches:-0}
  note=""
  if [ $rc -eq 124 ]; then note=" (TIMEOUT after ${TIMEOUT}s)"; fi
  if ! grep -q "ERROR SUMMARY\|RACECHECK SUMMARY" "$log" 2>/dev/null; then note="$note (no sanitizer summary in the log)"; fi
  printf "%-10s %8s %9s %7s %9s %10s %7s  %s%s\n" "$tool" "$entries" "$launches" "$errors" "$warnings" "$rc" \
    "$secs" "$log" "$note" | tee -a "$summary"
  if [ $rc -ne 0 ] || [ "${errors:-0}" -ne 0 ]; then
    status=1
    grep -m 5 -B 2 -A 12 "=========.*\(Invalid\|Race\|Barrier\|Error\|error\)" "$log" 2>/dev/null | head -60
    grep "FAIL\|Error\|error" "$drv" | head -10
    tail -5 "$drv"
  fi
done
echo "summary: $summary"
exit $status
