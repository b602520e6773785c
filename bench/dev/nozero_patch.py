"""Timing experiment (not for the package): copy src/ to a scratch folder with the decode kernel's zero-point
box removed (zeros stay unloaded, so uint4 results are wrong; only the time counts). Usage:
  python3 bench/dev/nozero_patch.py /tmp/src_nz && nvcc ... -I/tmp/src_nz bench/dev/decode_dev.cu"""
import shutil
import sys

dst = sys.argv[1]
shutil.copytree("src", dst, dirs_exist_ok=True)
path = f"{dst}/kernels/decode_gemm.cuh"
s = open(path).read()
old_tx = "static constexpr int kTxBytes = kXBytes + kWBytes + kSBytes;"
new_tx = "static constexpr int kTxBytes = kXBytes + kWBytes + 2 * kTileM * 2;"
old_ld = "if constexpr (Zero) sm90::tma_load_2d(sdst + 2 * G::kTileM * 2, &maps.z"
assert s.count(old_tx) == 1 and s.count(old_ld) == 1
s = s.replace(old_tx, new_tx).replace(old_ld, "if constexpr (false) sm90::tma_load_2d(sdst + 2 * G::kTileM * 2, &maps.z")
open(path, "w").write(s)
