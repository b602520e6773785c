"""One kernel on 70b.down at 64 tokens under different timing regimes (thirteenth session).

The bench (mixgemm.bench.time_rotating) replays a CUDA graph for ~50 ms before timing it; under that
sustained load the H100 runs at its 700 W power cap. This script times the library's two-producer
128x64 decode kernel and the stock 256x64 tile with 2 or 3 weight copies rotated, 20 or 40 calls per
graph, plain launches, and uniformly random packed bytes, to show how much the regime moves the number
(docs/notes/measuring.md, "The power cap"). Needs an H100 and torch; not part of the package or the tests.
"""
import math

import torch

import mixgemm
from mixgemm.bench import time_rotating

M, K, GROUP, N = 8192, 28672, 128, 64
KERNELS = ["decode_s4_f16_128x64x64_wgmma_w8x1_g1_p2_s8_stage", "cutlass_s4_f16_256x64x64_c1x1_streamk_stauto"]


def copy_of(q):
    return mixgemm.QuantizedWeight(q.packed.clone(), q.scales.clone(), None, q.shape, q.group_size, q.weight,
                                   q.act_dtype)


def plain_us(fns, calls=40, reps=7):
    """Median microseconds per call of `calls` launches without a graph."""
    for f in fns:
        f()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(reps):
        start.record()
        for i in range(calls):
            fns[i % len(fns)]()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1000 / calls)
    return sorted(times)[reps // 2]


def main():
    for kern in KERNELS:
        torch.manual_seed(0)
        w = torch.randn(M, K, device="cuda", dtype=torch.float16) / math.sqrt(K)
        qw0 = mixgemm.quantize(w, bits=4, group_size=GROUP)
        del w
        x = torch.randn(N, K, device="cuda", dtype=torch.float16)
        outs = [torch.empty(N, M, device="cuda", dtype=torch.float16) for _ in range(2)]
        for copies in (2, 3):
            qws = [qw0] + [copy_of(qw0) for _ in range(copies - 1)]
            fns = [(lambda q=q, o=outs[i % 2]: mixgemm.linear(x, q, out=o, kernel=kern)) for i, q in enumerate(qws)]
            print(kern, "copies", copies, "graph", round(time_rotating(torch, fns, calls=max(len(fns), 20)), 2), flush=True)
            print(kern, "copies", copies, "graph40", round(time_rotating(torch, fns, calls=40), 2), flush=True)
            print(kern, "copies", copies, "plain", round(plain_us(fns), 2), flush=True)
        for q in qws:   # uniformly random packed bytes instead of quantised-normal weights
            q.packed.view(torch.uint8).copy_(
                torch.randint(0, 256, q.packed.view(torch.uint8).shape, device="cuda", dtype=torch.uint8))
        print(kern, "uniform bytes graph", round(time_rotating(torch, fns, calls=40), 2), flush=True)
        del qws, fns, qw0
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
