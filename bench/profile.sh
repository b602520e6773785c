#!/usr/bin/env bash
# Nsight Compute profile of memory-bound calls on the GPU machine (after `STEPS=install|build`).
# Writes $OUT/ncu_<case>.txt (details page) and .ncu-rep files. Usage:
#   OUT=/tmp/p bash bench/profile.sh "3584 8192 64 16" "57344 8192 128 16"
# KERNELS (env) lists the catalog entries to profile (default: the stock 128x16 and the decode n16 entry).
set -uo pipefail
OUT=${OUT:-$PWD/gpu_out}
mkdir -p "$OUT"
KERNELS=${KERNELS:-"cutlass_s4_f16_128x16x64_c1x1_streamk decode_s4_f16_128x16x16_c1x1_clusterk"}
for case in "$@"; do
  tag=$(echo "$case" | tr ' ' '_')
  # Every launch of the two kernels (3 each) is profiled; compare the later ones (warm caches, TMA descriptors).
  ncu --target-processes all -k "regex:decode_kernel|device_kernel" --launch-count 6 \
      --set full --import-source no -f -o "$OUT/ncu_$tag" \
      python3 bench/profile_memory_bound.py $case $KERNELS > "$OUT/ncu_$tag.log" 2>&1
  ncu --import "$OUT/ncu_$tag.ncu-rep" --page details > "$OUT/ncu_$tag.txt" 2>&1
  grep -E "^  [a-z_]+.*\(|Duration|DRAM Throughput|Memory Throughput|Achieved Occupancy|Registers Per|Theoretical Occ|Issue Slots Busy|No Eligible|Block Limit|Waves Per SM|Dynamic Shared" "$OUT/ncu_$tag.txt" | head -60
done
