"""Tensor parallelism simulated on one GPU: every rank's part of mixgemm.parallel's layers runs here
(mixgemm.parallel.simulate_ranks: the layers' own sharding, bias and input slicing, and the combination
their all-gather / all-reduce perform), for 2 and 4 ranks, int4 with and without zero points, g=128.

- The shards hold the weight exactly: dequantize of the column (row) shards, concatenated along dim 0
  (dim 1), is bit-identical to dequantize of the whole weight, on the GPU.
- Column- and row-parallel results match the fp32 (here float64) reference x @ W^T + b of the unsharded
  weight within the kernels' tolerance, and the single-GPU linear() result of the unsharded weight.
  Not bit-identical: the kernel (tile, split-K) is chosen per shape, and the row-parallel partials are
  rounded to fp16/bf16 before they are summed.
The multi-process version with NCCL is tests/distributed/test_tp_torchrun.py (torchrun).
"""
import math

import numpy as np
import pytest

import mixgemm
from mixgemm.parallel import ColumnParallelLinear, RowParallelLinear, simulate_ranks

from ..cpu._checkpoints import random_gptq
from ._util import TOL, rel_err

pytestmark = pytest.mark.gpu

M, K, G = 1024, 2048, 128        # 4 ranks: 256 output rows / 512 input columns (4 groups) each
TOKENS = [1, 7, 64, 256]
CASES = [("s4", "float16", "quantize"), ("u4", "float16", "quantize"), ("s4", "bfloat16", "quantize"),
         ("u4", "bfloat16", "quantize"), ("s4", "float16", "gptq"), ("u4", "float16", "gptq")]


def _weight(torch, kind, act, source, seed):
    """A CUDA QuantizedWeight [M, K], g=128: RTN-quantized on the GPU, or imported from a GPTQ checkpoint
    (u4: integer zero points, dequantize exact)."""
    if source == "quantize":
        gen = torch.Generator(device="cuda").manual_seed(seed)
        w = (torch.randn(M, K, device="cuda", generator=gen) / math.sqrt(K)).to(getattr(torch, act))
        return mixgemm.quantize(w, bits=4, group_size=G, symmetric=(kind == "s4")), None
    t, q, z, s, _ = random_gptq(np.random.default_rng(seed), M, K, G, 4, symmetric=(kind == "s4"))
    host = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], act_dtype=act)
    assert host.weight == kind
    return host.apply(lambda a: torch.from_numpy(a).cuda()), host


def _runnable(qw, count, n):
    """Whether this build has a kernel for the whole weight and for both kinds of shard at N tokens."""
    shapes = [(M, K), (M // count, K), (M, K // count)]
    return all(mixgemm.explain(m, n, k, G, qw.weight, qw.act_dtype)["kernel"] for m, k in shapes)


@pytest.mark.parametrize("count", [2, 4])
@pytest.mark.parametrize("kind,act,source", CASES)
def test_simulated_tensor_parallel_layers(kind, act, source, count):
    import torch
    qw, _ = _weight(torch, kind, act, source, seed=count)
    assert (qw.zeros is not None) == (kind == "u4")
    wd = mixgemm.dequantize(qw)
    for dim in (0, 1):
        parts = [mixgemm.dequantize(qw.shard(dim, r, count)) for r in range(count)]
        assert torch.equal(torch.cat(parts, dim=dim), wd), f"dim {dim} shards do not dequantize to the whole"
    wd = wd.double()
    dtype = getattr(torch, act)
    gen = torch.Generator(device="cuda").manual_seed(100 + count)
    bias = torch.randn(M, device="cuda", generator=gen).to(dtype)
    ms = M // count
    ran = 0
    for n in TOKENS:
        if not _runnable(qw, count, n):
            continue
        ran += 1
        x = torch.randn(n, K, device="cuda", generator=gen).to(dtype)
        for b in (None, bias):
            ref = x.double() @ wd.T + (0 if b is None else b.double())
            single = mixgemm.linear(x, qw, bias=b)
            what = f"{kind}/{act}/{source} count={count} N={n} bias={b is not None}"
            assert rel_err(torch, single, ref) < TOL[act], f"single GPU {what}"
            col = simulate_ranks(qw, x, count, "column", b)
            assert col.shape == (n, M) and col.dtype == dtype
            assert rel_err(torch, col, ref) < TOL[act], f"column-parallel vs fp64 reference, {what}"
            assert rel_err(torch, col, single.double()) < TOL[act], f"column-parallel vs single GPU, {what}"
            for r in range(count):       # each rank's columns where they belong
                sl = slice(r * ms, (r + 1) * ms)
                assert rel_err(torch, col[:, sl], ref[:, sl]) < TOL[act], f"column-parallel rank {r}, {what}"
            row = simulate_ranks(qw, x, count, "row", b)
            assert row.shape == (n, M) and row.dtype == dtype
            assert rel_err(torch, row, ref) < TOL[act], f"row-parallel vs fp64 reference, {what}"
            assert rel_err(torch, row, single.double()) < TOL[act], f"row-parallel vs single GPU, {what}"
    if not ran:
        pytest.skip(f"no {kind}/{act} g={G} kernels for these shapes in this build")


def test_layers_move_host_shards_to_the_gpu():
    """A host checkpoint weight is sharded on the host and only the shard moves (device=); the moved
    layer computes what the simulation's rank computes, bit for bit (same kernel, same data)."""
    import torch
    count, n = 2, 16
    _, host = _weight(torch, "u4", "float16", "gptq", seed=7)
    if not _runnable(host, count, n):
        pytest.skip("no u4/f16 g=128 kernel for these shapes in this build")
    qw = host.apply(lambda a: torch.from_numpy(a).cuda())
    bias_host = np.random.default_rng(8).standard_normal(M).astype(np.float16)
    bias = torch.from_numpy(bias_host).cuda()
    x = torch.randn(n, K, device="cuda").half()
    _, col_parts = simulate_ranks(qw, x, count, "column", bias, return_parts=True)
    _, row_parts = simulate_ranks(qw, x, count, "row", bias, return_parts=True)
    for r in range(count):
        col = ColumnParallelLinear(host, bias_host, rank=r, world_size=count, device="cuda")
        row = RowParallelLinear(host, bias_host, rank=r, world_size=count, device=torch.cuda.current_device())
        for layer in (col, row):
            for name in ("packed", "scales", "zeros", "zero_points"):
                assert getattr(layer.weight, name).is_cuda, name
            assert layer.bias.is_cuda
        assert torch.equal(col.local_forward(x), col_parts[r])
        assert torch.equal(row.local_forward(x), row_parts[r])
    ref = x.double() @ torch.from_numpy(mixgemm.dequantize(host)).cuda().double().T + bias.double()
    assert rel_err(torch, simulate_ranks(qw, x, count, "row", bias), ref) < TOL["float16"]


def test_row_parallel_rounding_stays_within_the_single_gpu_bound():
    """The row-parallel sum rounds each partial to fp16 and adds in fp16: its error should stay of the
    order of the single-GPU kernel's (a few ulps), not grow with K. A loose factor over the single-GPU
    error, measured on a long K where the partials are large."""
    import torch
    kind, count, n = "s4", 4, 64
    qw, _ = _weight(torch, kind, "float16", "quantize", seed=9)
    if not _runnable(qw, count, n):
        pytest.skip("no s4/f16 g=128 kernel for these shapes in this build")
    x = torch.randn(n, K, device="cuda").half()
    ref = x.double() @ mixgemm.dequantize(qw).double().T
    e_single = rel_err(torch, mixgemm.linear(x, qw), ref)
    e_row = rel_err(torch, simulate_ranks(qw, x, count, "row"), ref)
    # fp16 rounding of 4 partials of about half the output's magnitude, then 3 fp16 additions.
    assert e_row < max(4 * e_single, 2e-3), f"row-parallel error {e_row:.2e} vs single GPU {e_single:.2e}"
