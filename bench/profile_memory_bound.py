"""Drive one memory-bound problem through chosen kernels for Nsight Compute (bench/profile.sh).

Each kernel is launched a few times on a fresh weight so that ncu's "--launch-skip" can skip warm-up.
Usage: python bench/profile_memory_bound.py M K group N kernel [kernel ...]
"""
import sys

import torch

import mixgemm


def main() -> None:
    m, k, g, n = (int(v) for v in sys.argv[1:5])
    names = sys.argv[5:]
    torch.manual_seed(0)
    w = torch.randn(m, k, device="cuda", dtype=torch.float16) / k ** 0.5
    qw = mixgemm.quantize(w, bits=4, group_size=g)
    x = torch.randn(n, k, device="cuda", dtype=torch.float16)
    ref = x.float() @ mixgemm.dequantize(qw).T
    for name in names:
        for _ in range(3):
            y = mixgemm.linear(x, qw, kernel=name)
        torch.cuda.synchronize()
        err = float((y.float() - ref).norm() / ref.norm())
        print(f"{name}: rel err {err:.2e}", flush=True)


if __name__ == "__main__":
    main()
