"""Tensor parallelism across GPUs with torch.distributed (NCCL): mixgemm.parallel's column- and row-parallel
layers on N ranks against the single-GPU result of the unsharded weight, on every rank.

Run on a machine with N >= 2 Hopper GPUs, from the repository root:

    torchrun --nproc-per-node=2 -m pytest tests/distributed -q -p no:cacheprovider
    torchrun --nproc-per-node=4 tests/distributed/test_tp_torchrun.py        # the same, as a script

Everything else (plain pytest, CI, one GPU, no torch) skips these tests with the reason. NCCL's NVLink
multicast (NVLS) is kept off: NCCL_NVLS_ENABLE=0 unless the environment sets it.

Every rank builds the same weights and inputs from the same seeds (NumPy on the host, then the GPU) and
checks them against each other first. Per weight type (int4 with and without zero points, fp16 and
bf16, g=128), shape and token count 1..256:
- column-parallel: the gathered output matches the fp32 (float64) reference x @ W^T + b and the single-GPU
  linear() of the unsharded weight within the kernels' tolerance, and is bit-identical to every shard's
  linear() computed on this GPU and concatenated (the gather copies; the kernels are deterministic), when
  all ranks have the same GPU model;
- row-parallel: the all-reduced output matches the reference and the single-GPU result within tolerance,
  and, on 2 ranks, equals the fp16/bf16 sum of the two partials bit for bit (a + b is a single rounding
  whatever the order), else within rounding of it;
- a column (no gather) -> row (parallel input) MLP matches x @ W1^T @ W2^T.
Failures are collected on every rank and compared after each test, so that no rank leaves a collective
that the others still wait in.
"""
from __future__ import annotations

import datetime
import hashlib
import os
import sys

import numpy as np
import pytest

import mixgemm

G = 128
TOKENS = [1, 7, 16, 64, 100, 256]
SHAPES = [(4096, 4096), (1536, 2048)]          # M, K: splits into 2, 4 and 8 ranks
TYPES = [("s4", "float16"), ("u4", "float16"), ("s4", "bfloat16"), ("u4", "bfloat16")]
TOL = {"float16": 4e-3, "bfloat16": 2e-2}      # relative Frobenius, as tests/gpu/_util.py


def _skip_reason() -> str:
    """Empty when this process is a torchrun rank with its own GPU, else why the tests skip."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return ("not launched by torchrun (run: torchrun --nproc-per-node=N -m pytest tests/distributed "
                "on a machine with N >= 2 GPUs)")
    try:
        import torch
        import torch.distributed as dist
    except ImportError:
        return "PyTorch is not installed"
    if not dist.is_available():
        return "this PyTorch has no torch.distributed"
    if not torch.cuda.is_available():
        return "no CUDA GPU is visible"
    world = int(os.environ["WORLD_SIZE"])
    if world < 2:
        return f"WORLD_SIZE={world}: tensor parallelism needs at least 2 ranks"
    gpus = torch.cuda.device_count()
    if gpus < 2:
        return f"{gpus} GPU visible: tensor parallelism needs at least 2"
    local = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    if gpus < local:
        return f"{local} ranks on this node but only {gpus} GPUs: each rank needs its own"
    if torch.cuda.get_device_capability() != (9, 0):
        return f"GPU {torch.cuda.get_device_name()} is not sm90"
    return ""


SKIP = _skip_reason()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(bool(SKIP), reason=SKIP)]


def init_distributed():
    """(rank, world_size): NCCL process group on this rank's GPU (NVLS off unless set), created once."""
    import torch
    import torch.distributed as dist
    os.environ.setdefault("NCCL_NVLS_ENABLE", "0")
    if not dist.is_initialized():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group("nccl", timeout=datetime.timedelta(minutes=5))
    return dist.get_rank(), dist.get_world_size()


@pytest.fixture(scope="module")
def tp():
    import torch.distributed as dist
    rank, world = init_distributed()
    if os.environ.get("NCCL_NVLS_ENABLE") != "0" and rank == 0:
        print(f"warning: NCCL_NVLS_ENABLE={os.environ['NCCL_NVLS_ENABLE']} (set in the environment); "
              "these tests expect NVLink multicast off", file=sys.stderr)
    yield rank, world
    dist.barrier()
    dist.destroy_process_group()


class Failures:
    """Check results collected on every rank; ``raise_if_any`` compares them across ranks (a collective:
    every rank must call it the same number of times)."""

    def __init__(self):
        self.items = []

    def check(self, ok, msg):
        if not ok:
            self.items.append(msg)

    def raise_if_any(self):
        import torch.distributed as dist
        all_items = [None] * dist.get_world_size()
        dist.all_gather_object(all_items, self.items)
        bad = [f"rank {r}: {m}" for r, items in enumerate(all_items) for m in items]
        if bad:
            pytest.fail(f"{len(bad)} failed checks:\n" + "\n".join(bad[:40]))


def _rel_err(y, ref):
    import torch
    y = y.double()
    if torch.isnan(y).any():
        return float("inf")
    return float(torch.linalg.norm(y - ref) / torch.linalg.norm(ref))


def _same_bits(a, b):
    import torch
    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(a.view(torch.int16), b.view(torch.int16))


def host_weight(kind, act, m, k, seed):
    """A host QuantizedWeight [m, k] (CPU torch tensors: NumPy has no bfloat16), g=128, imported from plain
    int4 values: s4, or u4 with integer zero points; the same on every rank for the same seed."""
    import torch
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 256, size=(m, k // 2), dtype=np.uint8)      # two int4 values per byte
    groups = k // G
    s = rng.uniform(0.5, 2.0, size=(groups, m)) * rng.choice([-1, 1], size=(groups, m)) / (8 * np.sqrt(k))
    z = torch.from_numpy(rng.integers(0, 16, size=(groups, m))) if kind == "u4" else None
    qw = mixgemm.from_plain(torch.from_numpy(q), torch.from_numpy(s.astype(np.float32)), z, bits=4, act_dtype=act)
    assert qw.weight == kind and not qw.packed.is_cuda
    return qw


def _cuda(a):
    return a.cuda()


def _bytes(a):
    import torch
    return a.contiguous().view(torch.uint8).numpy().tobytes()


def _inputs(torch, n, k, act, seed):
    x = np.random.default_rng(seed).standard_normal((n, k)).astype(np.float32)
    return torch.from_numpy(x).cuda().to(getattr(torch, act))


def _bias(torch, m, act, seed):
    b = np.random.default_rng(seed).standard_normal(m).astype(np.float32) * 0.5
    return torch.from_numpy(b).cuda().to(getattr(torch, act))


def _all_same_gpu_model():
    import torch
    import torch.distributed as dist
    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    mine = (props.name, props.multi_processor_count)
    every = [None] * dist.get_world_size()
    dist.all_gather_object(every, mine)
    return all(e == mine for e in every)


def _runnable(kind, act, shapes, n):
    return all(mixgemm.explain(m, n, k, G, kind, act)["kernel"] for m, k in shapes)


def test_every_rank_builds_the_same_weights_and_inputs(tp):
    import torch
    import torch.distributed as dist
    rank, world = tp
    h = hashlib.sha256()
    for i, (kind, act) in enumerate(TYPES):
        for j, (m, k) in enumerate(SHAPES):
            qw = host_weight(kind, act, m, k, seed=100 * i + j)
            for a in (qw.packed, qw.scales, qw.zeros, qw.zero_points):
                if a is not None:
                    h.update(_bytes(a))
            h.update(_bytes(_inputs(torch, 7, k, act, seed=j).cpu()))
    every = [None] * world
    dist.all_gather_object(every, h.hexdigest())
    assert len(set(every)) == 1, f"ranks built different weights or inputs: {every}"


def _unsharded_case(torch, f, kind, act, shape, dim, world, bias_seed):
    """The (type, shape) case's host weight, its copy on this GPU, that copy's fp64 dequantization, a
    bias, and the copy's `world` shards along `dim` (0: output rows, column-parallel; 1: input columns,
    row-parallel); checks (into f) that the dequantized shards concatenate to the dequantized weight."""
    m, k = shape
    host = host_weight(kind, act, m, k, seed=100 * TYPES.index((kind, act)) + SHAPES.index(shape))
    qw = host.apply(_cuda)
    wd = mixgemm.dequantize(qw).double()
    bias = _bias(torch, m, act, seed=bias_seed)
    shards = [qw.shard(dim, r, world) for r in range(world)]
    f.check(torch.equal(torch.cat([mixgemm.dequantize(s) for s in shards], dim=dim), mixgemm.dequantize(qw)),
            f"dequantized {('column', 'row')[dim]} shards concatenated != dequantized weight")
    return host, qw, wd, bias, shards


def _run_against_unsharded(f, what, layer, x, qw, wd, bias, act):
    """layer(x) checked (into f) for shape and dtype and against the fp64 reference and the single-GPU
    call of the unsharded weight; returns (y, ref, single)."""
    n, m = x.shape[0], qw.shape[0]
    ref = x.double() @ wd.T + bias.double()
    single = mixgemm.linear(x, qw, bias=bias)
    y = layer(x)
    f.check(y.shape == (n, m) and y.dtype == x.dtype, f"{what}: output {tuple(y.shape)} {y.dtype}")
    e_ref, e_single = _rel_err(y, ref), _rel_err(y, single.double())
    f.check(e_ref < TOL[act], f"{what}: rel err vs fp64 reference {e_ref:.2e}")
    f.check(e_single < TOL[act], f"{what}: rel err vs single-GPU linear {e_single:.2e}")
    return y, ref, single


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{m}x{k}" for m, k in SHAPES])
@pytest.mark.parametrize("kind,act", TYPES, ids=[f"{w}-{a}" for w, a in TYPES])
def test_column_parallel_matches_the_unsharded_weight(tp, kind, act, shape):
    import torch
    from mixgemm.parallel import ColumnParallelLinear
    rank, world = tp
    m, k = shape
    ms = m // world
    f = Failures()
    host, qw, wd, bias, shards = _unsharded_case(torch, f, kind, act, shape, 0, world, bias_seed=1)
    # From the host weight (sharded on the host, the shard moved) and from the GPU weight.
    layer = ColumnParallelLinear(host, bias.cpu(), device="cuda")
    local = ColumnParallelLinear(qw, bias, gather_output=False)
    f.check(torch.equal(layer.weight.packed, local.weight.packed), "host- and GPU-sharded weights differ")
    bitwise = _all_same_gpu_model()
    for n in TOKENS:
        if not _runnable(kind, act, [(m, k), (ms, k)], n):
            continue
        x = _inputs(torch, n, k, act, seed=n)
        what = f"{kind}/{act} {m}x{k} world={world} N={n}"
        y, ref, single = _run_against_unsharded(f, what, layer, x, qw, wd, bias, act)
        f.check(_rel_err(single, ref) < TOL[act], f"{what}: single-GPU linear itself is off")
        f.check(_same_bits(local(x), y[:, rank * ms:(rank + 1) * ms]), f"{what}: gather_output=False part differs")
        if bitwise:
            parts = [mixgemm.linear(x, s, bias=bias[r * ms:(r + 1) * ms].contiguous()) for r, s in enumerate(shards)]
            f.check(_same_bits(y, torch.cat(parts, dim=1)),
                    f"{what}: gathered output != the shards' outputs computed on this GPU, concatenated")
    f.raise_if_any()


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{m}x{k}" for m, k in SHAPES])
@pytest.mark.parametrize("kind,act", TYPES, ids=[f"{w}-{a}" for w, a in TYPES])
def test_row_parallel_matches_the_unsharded_weight(tp, kind, act, shape):
    import torch
    from mixgemm.parallel import RowParallelLinear
    rank, world = tp
    m, k = shape
    ks = k // world
    f = Failures()
    _, qw, wd, bias, shards = _unsharded_case(torch, f, kind, act, shape, 1, world, bias_seed=2)
    layer = RowParallelLinear(qw, bias)
    for n in TOKENS:
        if not _runnable(kind, act, [(m, k), (m, ks)], n):
            continue
        x = _inputs(torch, n, k, act, seed=1000 + n)
        what = f"{kind}/{act} {m}x{k} world={world} N={n}"
        y, ref, _ = _run_against_unsharded(f, what, layer, x, qw, wd, bias, act)
        # The partial sums, computed here for every rank: the all-reduce adds them (in x's dtype).
        partials = [mixgemm.linear(x[:, r * ks:(r + 1) * ks].contiguous(), s) for r, s in enumerate(shards)]
        total = partials[0]
        for p in partials[1:]:
            total = total + p
        total = total + bias
        if world == 2:
            f.check(_same_bits(y, total), f"{what}: all-reduced output != fp16/bf16 sum of the two partials + bias "
                                          "(expected bit for bit: a + b is one rounding in any order)")
        else:
            e_sum = _rel_err(y, total.double())
            f.check(e_sum < TOL[act] / 4, f"{what}: rel err vs the partials' sum {e_sum:.2e}")
        y_split = layer(x[:, rank * ks:(rank + 1) * ks].contiguous())     # already-split input
        f.check(_rel_err(y_split, ref) < TOL[act], f"{what}: pre-split input result off")
    f.raise_if_any()


@pytest.mark.parametrize("kind,act", TYPES[:2], ids=[f"{w}-{a}" for w, a in TYPES[:2]])
def test_column_then_row_mlp(tp, kind, act):
    import torch
    from mixgemm.parallel import ColumnParallelLinear, RowParallelLinear
    rank, world = tp
    k, m1, m2 = 2048, 4096, 2048
    qw1 = host_weight(kind, act, m1, k, seed=7).apply(_cuda)
    qw2 = host_weight(kind, act, m2, m1, seed=8).apply(_cuda)
    up = ColumnParallelLinear(qw1, gather_output=False)
    down = RowParallelLinear(qw2, input_is_parallel=True)
    f = Failures()
    for n in (1, 16, 256):
        if not _runnable(kind, act, [(m1 // world, k), (m2, m1 // world)], n):
            continue
        x = _inputs(torch, n, k, act, seed=n)
        h = up(x)
        f.check(h.shape == (n, m1 // world), f"N={n}: column part shape {tuple(h.shape)}")
        y = down(h)
        ref = (x.double() @ mixgemm.dequantize(qw1).double().T).to(x.dtype).double() @ mixgemm.dequantize(qw2).double().T
        e = _rel_err(y, ref)
        f.check(e < 2 * TOL[act], f"{kind}/{act} MLP world={world} N={n}: rel err {e:.2e}")
    f.raise_if_any()


def test_layer_built_for_another_rank_refuses_to_run(tp):
    import torch
    from mixgemm.parallel import ColumnParallelLinear
    rank, world = tp
    qw = host_weight("s4", "float16", 1536, 2048, seed=9)
    other = (rank + 1) % world
    layer = ColumnParallelLinear(qw, rank=other, world_size=world, device="cuda")
    with pytest.raises(ValueError, match=f"built for rank {other} of {world}, but this process is rank {rank}"):
        layer(_inputs(torch, 4, 2048, "float16", seed=0))


if __name__ == "__main__":   # torchrun --nproc-per-node=N tests/distributed/test_tp_torchrun.py
    sys.exit(pytest.main([os.path.abspath(__file__), "-q", "-p", "no:cacheprovider"] + sys.argv[1:]))
