"""Host overhead of mixgemm.linear from PyTorch: eager calls vs the same calls replayed in a CUDA graph.

Issue target: a call adds <= 10 us over the kernel time when not in a graph. We time many back-to-back
eager calls on a small problem (the GPU finishes each call faster than the host issues the next, so
the loop is host-bound) and compare with the graph-replayed time of the same calls.
Usage: python bench/host_overhead.py [--calls 2000]
"""
import argparse
import statistics
import time

import torch

import mixgemm
from mixgemm.bench import time_rotating


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args()
    w = torch.randn(4096, 4096, device="cuda", dtype=torch.float16) / 64
    x = torch.randn(1, 4096, device="cuda", dtype=torch.float16)
    qw = mixgemm.quantize(w, bits=4, group_size=128)
    out = torch.empty(1, 4096, device="cuda", dtype=torch.float16)
    for alloc in (False, True):
        fn = (lambda: mixgemm.linear(x, qw)) if alloc else (lambda: mixgemm.linear(x, qw, out=out))
        for _ in range(50):
            fn()
        torch.cuda.synchronize()
        # The median of 7 loops: one loop's time moved by 50-100% between two runs on one machine
        # (fourteenth session: 4.9 / 12.5 us with out=), with the host's scheduling.
        loops = []
        for _ in range(7):
            t0 = time.perf_counter()
            for _ in range(args.calls):
                fn()
            torch.cuda.synchronize()
            loops.append((time.perf_counter() - t0) / args.calls * 1e6)
        eager_us = statistics.median(loops)
        graph_us = time_rotating(torch, [fn], calls=200)
        print(f"linear(x, qw{'' if alloc else ', out=out'}): eager {eager_us:.1f} us/call (median of 7 loops, "
              f"{min(loops):.1f}-{max(loops):.1f}), graph {graph_us:.1f} us/call, host overhead {eager_us - graph_us:.1f} us")


if __name__ == "__main__":
    main()
