"""mixgemm.parallel's layers with real torch.distributed collectives, on the CPU: 2 and 4 processes on the
gloo backend, each rank's product a float64 reference (linear_fn), weights from the GPTQ importer.

This checks what a single-process simulation cannot: the process-group plumbing, all_gather's layout as
the layer reads it back, the all-reduce and the bias added once after it, and subgroups. The kernels
themselves are the GPU tests' business (tests/gpu/test_parallel_sim.py, tests/distributed/).
Skips without PyTorch.
"""
import datetime
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")

import mixgemm  # noqa: E402
from mixgemm.parallel import ColumnParallelLinear, RowParallelLinear, simulate_ranks  # noqa: E402

from ._checkpoints import exact_weight, random_gptq  # noqa: E402

if not dist.is_available():   # pragma: no cover - PyTorch built without distributed
    pytest.skip("this PyTorch has no torch.distributed", allow_module_level=True)

M, K, G = 128, 1024, 128
M1 = 512                          # an MLP: W1 [M1, K] column-parallel, W2 [M, M1] row-parallel


def torch_linear(x, qw, bias=None):
    """float64 x @ dequantize(qw)^T (+ bias) for CPU tensors: the reference product of one rank."""
    y = x.double() @ torch.from_numpy(mixgemm.dequantize(qw)).double().T
    return y if bias is None else y + bias.double()


def _weight(kind, m, k, seed):
    t, q, z, s, _ = random_gptq(np.random.default_rng(seed), m, k, G, 4, symmetric=(kind == "s4"))
    qw = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"])
    return qw, torch.from_numpy(exact_weight(q, s, z)).double()


def _close(a, b, what, tol=1e-12):
    assert a.shape == b.shape, f"{what}: shape {tuple(a.shape)} != {tuple(b.shape)}"
    err = float((a.double() - b.double()).abs().max()) / (float(b.double().abs().max()) or 1.0)
    assert err <= tol, f"{what}: max relative difference {err:.3e} > {tol:.0e}"


def _same(a, b, what):
    assert a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b), f"{what}: not bit-identical"


def _checks(rank, world):
    """Every rank runs this with the same seeds: the same weights and inputs everywhere."""
    for kind in ("s4", "u4"):
        qw, w = _weight(kind, M, K, seed=1)
        bias = torch.from_numpy(np.random.default_rng(2).standard_normal(M).astype(np.float16))
        col = ColumnParallelLinear(qw, bias, linear_fn=torch_linear)
        part = ColumnParallelLinear(qw, bias, gather_output=False, linear_fn=torch_linear)
        row = RowParallelLinear(qw, bias, linear_fn=torch_linear)
        assert (col.rank, col.world_size, row.rank, row.world_size) == (rank, world, rank, world)
        ms, ks = M // world, K // world
        for shape in [(1, K), (7, K), (64, K), (256, K), (2, 3, K)]:
            x = torch.from_numpy(np.random.default_rng(shape[0]).standard_normal(shape))
            ref = x @ w.T
            want = ref + bias.double()
            what = f"{kind} world={world} x{list(shape)}"
            y = col(x)
            _close(y, want, "column " + what)
            # The gather is a copy: exactly the single-process simulation's concatenation.
            _same(y, simulate_ranks(qw, x, world, "column", bias, linear_fn=torch_linear), "column " + what)
            _same(part(x), y[..., rank * ms:(rank + 1) * ms], "column gather_output=False " + what)
            y = row(x)
            _close(y, want, "row " + what)
            _close(row(x[..., rank * ks:(rank + 1) * ks].contiguous()), want, "row, pre-split input " + what)
            sim = simulate_ranks(qw, x, world, "row", bias, linear_fn=torch_linear)
            if world == 2:   # a + b does not depend on the order: the all-reduce must give the same bits
                _same(y, sim, "row " + what)
            else:
                _close(y, sim, "row " + what, tol=1e-14)

    # An MLP as Megatron splits it: column (no gather) -> row (parallel input) = x @ W1^T @ W2^T.
    qw1, w1 = _weight("u4", M1, K, seed=3)
    qw2, w2 = _weight("s4", M, M1, seed=4)
    up = ColumnParallelLinear(qw1, gather_output=False, linear_fn=torch_linear)
    down = RowParallelLinear(qw2, input_is_parallel=True, linear_fn=torch_linear)
    x = torch.from_numpy(np.random.default_rng(5).standard_normal((9, K)))
    _close(down(up(x)), (x @ w1.T) @ w2.T, f"column -> row MLP world={world}")

    # A layer built for another rank than this process's refuses to run its collective (on every rank,
    # before any collective, so nobody waits).
    wrong = ColumnParallelLinear(qw, rank=(rank + 1) % world, world_size=world, linear_fn=torch_linear)
    with pytest.raises(ValueError, match=f"built for rank {(rank + 1) % world} of {world}, but this process "
                                         f"is rank {rank} of {world}"):
        wrong(x)

    if world == 4:   # two subgroups of two ranks: each layer works inside its own group
        groups = [dist.new_group([0, 1]), dist.new_group([2, 3])]
        mine = groups[rank // 2]
        qw, w = _weight("u4", M, K, seed=6)
        col = ColumnParallelLinear(qw, group=mine, linear_fn=torch_linear)
        row = RowParallelLinear(qw, group=mine, linear_fn=torch_linear)
        assert (col.rank, col.world_size) == (rank % 2, 2)
        x = torch.from_numpy(np.random.default_rng(7 + rank // 2).standard_normal((5, K)))   # differs per group
        _same(col(x), simulate_ranks(qw, x, 2, "column", linear_fn=torch_linear), "column in a subgroup")
        _same(row(x), simulate_ranks(qw, x, 2, "row", linear_fn=torch_linear), "row in a subgroup")
        _close(row(x), x @ w.T, "row in a subgroup")


def _worker(rank, world, store):
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=120))
    try:
        _checks(rank, world)
        dist.barrier()
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("world", [2, 4])
def test_layers_with_gloo_collectives(world, tmp_path):
    import torch.multiprocessing as mp
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    mp.spawn(_worker, args=(world, str(tmp_path / "store")), nprocs=world, join=True)
