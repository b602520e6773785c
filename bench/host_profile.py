"""Where the host time of an eager mixgemm.linear call from PyTorch goes (cProfile, top functions).

Usage: python bench/host_profile.py [--calls 3000] [--n 1]
"""
import argparse
import cProfile
import pstats

import torch

import mixgemm


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--n", type=int, default=1)
    args = ap.parse_args()
    w = torch.randn(4096, 4096, device="cuda", dtype=torch.float16) / 64
    x = torch.randn(args.n, 4096, device="cuda", dtype=torch.float16)
    qw = mixgemm.quantize(w, bits=4, group_size=128)
    for _ in range(100):
        mixgemm.linear(x, qw)
    torch.cuda.synchronize()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(args.calls):
        mixgemm.linear(x, qw)
    prof.disable()
    torch.cuda.synchronize()
    st = pstats.Stats(prof)
    st.sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
