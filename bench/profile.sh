#!/usr/bin/env bash
# Nsight Compute profile of memory-bound calls on the GPU machine (after `STEPS=install|build`).
# Writes $OUT/ncu_<case>.txt: the details page, then the warp-stall samples and the pipe and DRAM
# metrics from the raw page (the .ncu-rep files stay in /tmp: they are large). Usage:
#   OUT=/tmp/p bash bench/profile.sh "3584 8192 64 16" "57344 8192 128 16"
# Each case is "M K group N". KERNELS (env) lists the catalog entries to profile (default: the stock
# 128x16 tile and the 16-token decode entry); each runs three times and the third launch is profiled
# (warm caches and TMA descriptors). The clocks are left as they are (--clock-control none), as the
# bench runs them.
set -uo pipefail
OUT=${OUT:-$PWD/gpu_out}
mkdir -p "$OUT"
KERNELS=${KERNELS:-"cutlass_s4_f16_128x16x64_c1x1_streamk_stauto decode_s4_f16_128x16x64_wgmma_w4x2_g1_p1_s8_stage"}
for case in "$@"; do
  for kernel in $KERNELS; do
    tag=$(echo "$case $kernel" | tr ' ' '_')
    ncu --clock-control none --target-processes all -k "regex:device_kernel|decode_wgmma_kernel|decode_kernel" \
        --launch-skip 2 --launch-count 1 --set full --import-source no -f -o "/tmp/ncu_$tag" \
        python3 bench/profile_memory_bound.py $case $kernel > "$OUT/ncu_$tag.log" 2>&1
    ncu --import "/tmp/ncu_$tag.ncu-rep" --page details > "$OUT/ncu_$tag.txt" 2>&1
    ncu --import "/tmp/ncu_$tag.ncu-rep" --page raw --csv > "/tmp/ncu_$tag.csv" 2>&1
    python3 - "/tmp/ncu_$tag.csv" >> "$OUT/ncu_$tag.txt" <<'PY'
import csv
import sys

rows = list(csv.reader(open(sys.argv[1])))
names, values = rows[0], rows[-1]   # header, units, then one row per profiled launch
print("\n# raw page: warp-stall samples, pipes, DRAM")
keep = ("pcsamp_warps_issue_stalled", "pipe_tensor", "inst_executed_pipe", "dram__bytes_read.sum", "gpu__time_duration.sum")
for name, value in zip(names, values):
    if any(k in name for k in keep):
        print(name, value)
PY
    echo "== $case $kernel"
    grep -E "Duration|DRAM Throughput|Compute \(SM\)|Issue Slots Busy|No Eligible|Registers Per|Achieved Occupancy" "$OUT/ncu_$tag.txt" | head -8
    grep -E "pcsamp_warps_issue_stalled_[a-z_]+ " "$OUT/ncu_$tag.txt" | grep -v not_issued | sort -k2 -n -r | head -6
  done
done
