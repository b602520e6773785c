"""Helpers for GPU tests: fresh random problems and the fp32 dequantize-then-matmul reference."""
from __future__ import annotations

import math

# Relative Frobenius tolerance: the kernels dequantize in the activation dtype (s*q + z' rounded
# to fp16/bf16 before the MMA) and round the output; fp32 accumulation otherwise.
TOL = {"float16": 4e-3, "bfloat16": 2e-2}


def make_problem(torch, m, k, n, group, weight, act, seed, batch=None, device="cuda"):
    g = torch.Generator(device=device).manual_seed(seed)
    dtype = getattr(torch, act)
    w = (torch.randn(m, k, device=device, generator=g) / math.sqrt(k)).to(dtype)
    shape = (n, k) if batch is None else tuple(batch) + (k,)
    x = torch.randn(*shape, device=device, generator=g).to(dtype)
    import mixgemm
    bits = 8 if weight == "s8" else 4
    qw = mixgemm.quantize(w, bits=bits, group_size=group, symmetric=(weight != "u4"))
    return w, x, qw


def reference(torch, x, qw, bias=None):
    import mixgemm
    wd = mixgemm.dequantize(qw).double()
    y = x.double().reshape(-1, x.shape[-1]) @ wd.T
    if bias is not None:
        y = y + bias.double()
    return y.reshape(*x.shape[:-1], wd.shape[0])


def rel_err(torch, y, ref):
    y = y.double()
    assert not torch.isnan(y).any(), "output has NaN (unwritten or poisoned elements)"
    return float(torch.linalg.norm(y - ref) / torch.linalg.norm(ref))
