"""Where a mixgemm.linear call's host time goes (a probe): the eager call, the
compiled core's launch alone, the fast path's pieces and torch's allocation calls, each the median of
7 loops of 4000 calls (4096x4096 int4, N=1). Needs torch and an H100. Log (docs/notes/host-overhead.md):
bench/results/dev/h100-sxm-host-costs.txt at ab1fe8d. Run: python3 bench/dev/host_costs.py
"""
import statistics
import time

import torch

import mixgemm
from mixgemm import _linear as L
from mixgemm import _C
w = torch.randn(4096, 4096, device="cuda", dtype=torch.float16) / 64
x = torch.randn(1, 4096, device="cuda", dtype=torch.float16)
qw = mixgemm.quantize(w, bits=4, group_size=128)
out = torch.empty(1, 4096, device="cuda", dtype=torch.float16)
mixgemm.linear(x, qw); mixgemm.linear(x, qw, out=out); torch.cuda.synchronize()
name, ws = L._selection_cache[(4096, 1, 4096, 128, "s4", "float16", False, None, 0)]
raw = torch._C._cuda_getCurrentRawStream
args = (name, qw.packed.data_ptr(), qw.scales.data_ptr(), 0, x.data_ptr(), 0, out.data_ptr(), 0, 0, 4096, 1, 4096,
        128, L.WEIGHT_CODES["s4"], L.ACT_CODES["float16"], 0, raw(0))
def bench(label, fn, n=4000):
    res = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(n): fn()
        torch.cuda.synchronize()
        res.append((time.perf_counter() - t0) / n * 1e6)
    print(f"{label:55s} {statistics.median(res):6.2f} us  (min {min(res):.2f})", flush=True)
bench("linear(x, qw, out=out)", lambda: mixgemm.linear(x, qw, out=out))
bench("linear(x, qw)", lambda: mixgemm.linear(x, qw))
bench("_C.gemm_ptr(precomputed args)", lambda: _C.gemm_ptr(*args))
bench("_torch_fast_path(x, qw, None, out)", lambda: L._torch_fast_path(x, qw, None, out))
bench("torch.empty(shape, dtype=, device=x.device)", lambda: torch.empty((1, 4096), dtype=torch.float16, device=x.device))
bench("torch.empty(shape, dtype=, device=int)", lambda: torch.empty((1, 4096), dtype=torch.float16, device=0))
bench("x.new_empty(shape)", lambda: x.new_empty((1, 4096)))
bench("_weight_signature(qw)", lambda: L._weight_signature(qw))
bench("x.device", lambda: x.device)
bench("x checks (is_cuda, dtype, dim, shape, contiguous, get_device, data_ptr)",
      lambda: (x.is_cuda, x.dtype, x.dim(), x.shape[-1], x.is_contiguous(), x.get_device(), x.data_ptr()))
bench("raw stream", lambda: raw(0))
bench("empty python loop body", lambda: None)
args0 = args[:10] + (0,) + args[11:]
bench("_C.gemm_ptr(N=0: checks only, no launch)", lambda: _C.gemm_ptr(*args0))
bench("_C.explain-free: L._select cached", lambda: L._select(qw, 1, False, None, 0))
