"""Sustained fp16 / bf16 tensor throughput of cuBLAS on one large GEMM: the tensor floor of a call
under the H100's 700 W power cap (docs/notes/floors.md; log: bench/results/dev/h100-sxm-floors.txt at f276478).

A 64-token call of a large layer does 2*M*K*64 flops; at this rate they alone take flops / rate,
whatever the kernel does about its bytes. Needs torch and a GPU. Run: python3 bench/dev/tensor_rate.py
"""
import time

import torch

SIZE = 8192          # 8192^3: compute-bound for cuBLAS
GEMMS_PER_GRAPH = 10
LOAD_SECONDS = 2.0   # replays before timing, as the bench's warm-up: the clocks the power cap leaves


def sustained_seconds_per_gemm(dtype: torch.dtype) -> float:
    a = torch.randn(SIZE, SIZE, device="cuda", dtype=dtype)
    b = torch.randn(SIZE, SIZE, device="cuda", dtype=dtype)
    c = torch.empty(SIZE, SIZE, device="cuda", dtype=dtype)
    graph = torch.cuda.CUDAGraph()
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        for _ in range(3):
            torch.matmul(a, b, out=c)
        torch.cuda.synchronize()
        with torch.cuda.graph(graph):
            for _ in range(GEMMS_PER_GRAPH):
                torch.matmul(a, b, out=c)
    t0 = time.time()
    while time.time() - t0 < LOAD_SECONDS:
        graph.replay()
        torch.cuda.synchronize()
    times = []
    for _ in range(7):
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        graph.replay()
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1) * 1e-3 / GEMMS_PER_GRAPH)
    return sorted(times)[len(times) // 2]


if __name__ == "__main__":
    for dt in (torch.float16, torch.bfloat16):
        t = sustained_seconds_per_gemm(dt)
        print(f"{dt} {SIZE}^3 GEMM sustained: {t * 1e6:.1f} us, {2 * SIZE ** 3 / t / 1e12:.0f} TFLOP/s")
