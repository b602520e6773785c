"""Tensor parallelism on the host (no GPU, no torch): the shards of imported checkpoint weights hold exactly
the whole weight, row partials add up to the whole product, and mixgemm.parallel's layers (their sharding,
bias and input slicing, and the combination their collectives perform) reproduce x @ W^T + b when each
rank's product is a float64 NumPy reference (simulate_ranks with linear_fn)."""
import subprocess
import sys

import numpy as np
import pytest

import mixgemm
from mixgemm import parallel
from mixgemm.parallel import ColumnParallelLinear, RowParallelLinear, simulate_ranks

from ._checkpoints import exact_weight, random_gptq

M, K, G = 128, 1024, 128          # count 4: 32 rows / 256 columns (two groups) per rank
TOKENS = [1, 7, 64, 256]


def _weight(kind, seed=0, g=G, act_order=False):
    """(host QuantizedWeight from the GPTQ importer, its exact fp32 weight): s4 or u4 with zero points."""
    rng = np.random.default_rng(seed)
    t, q, z, s, g_idx = random_gptq(rng, M, K, g, 4, symmetric=(kind == "s4"), act_order=act_order)
    qw = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], g_idx=t.get("g_idx"))
    assert qw.weight == kind and (qw.zero_points is not None) == (kind == "u4")
    return qw, exact_weight(q, s, z, g_idx)


def host_linear(x, qw, bias=None):
    """float64 x @ dequantize(qw)^T (+ bias): the reference product of one rank."""
    y = np.asarray(x, np.float64) @ mixgemm.dequantize(qw).astype(np.float64).T
    return y if bias is None else y + np.asarray(bias, np.float64)


def _close(a, b, tol=1e-12):
    """Relative to the largest magnitude: float64 sums in another order differ by ~1e-16."""
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = float(np.abs(b).max()) or 1.0
    err = float(np.abs(np.asarray(a, np.float64) - b).max()) / scale
    assert err <= tol, f"max relative difference {err:.3e} > {tol:.0e}"


def _x(n, seed=1, batch=None):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(((n,) if batch is None else tuple(batch)) + (K,))


def _bias(seed=2):
    return np.random.default_rng(seed).standard_normal(M).astype(np.float16)


@pytest.mark.parametrize("count", [2, 4])
@pytest.mark.parametrize("kind", ["s4", "u4"])
def test_shards_dequantize_to_the_whole_weight_exactly(kind, count):
    qw, w = _weight(kind, seed=count)
    whole = mixgemm.dequantize(qw)
    np.testing.assert_array_equal(whole, w)
    cols = [mixgemm.dequantize(qw.shard(0, r, count)) for r in range(count)]
    rows = [mixgemm.dequantize(qw.shard(1, r, count)) for r in range(count)]
    assert all(c.shape == (M // count, K) for c in cols) and all(r.shape == (M, K // count) for r in rows)
    np.testing.assert_array_equal(np.concatenate(cols, axis=0), whole)
    np.testing.assert_array_equal(np.concatenate(rows, axis=1), whole)


@pytest.mark.parametrize("count", [2, 4])
@pytest.mark.parametrize("kind", ["s4", "u4"])
def test_row_partials_sum_to_the_whole_product(kind, count):
    qw, w = _weight(kind, seed=10 + count)
    ks = K // count
    for n in TOKENS:
        x = _x(n, seed=n)
        ref = x @ w.astype(np.float64).T
        partials = [x[:, r * ks:(r + 1) * ks] @ mixgemm.dequantize(qw.shard(1, r, count)).astype(np.float64).T
                    for r in range(count)]
        _close(sum(partials), ref)
        # ... and no partial alone is the product (the check above can fail).
        assert float(np.abs(partials[0] - ref).max()) > 1e-3 * float(np.abs(ref).max())


@pytest.mark.parametrize("count", [1, 2, 4])
@pytest.mark.parametrize("kind", ["s4", "u4"])
@pytest.mark.parametrize("mode", ["column", "row"])
def test_simulated_ranks_reproduce_the_whole_layer(mode, kind, count):
    qw, w = _weight(kind, seed=20 + count)
    b = _bias()
    wd = w.astype(np.float64)
    for n, batch in [(1, None), (7, None), (64, None), (256, None), (None, (2, 3))]:
        x = _x(n, seed=count, batch=batch)
        ref = x @ wd.T
        for bias in (None, b):
            want = ref if bias is None else ref + bias.astype(np.float64)
            y, parts = simulate_ranks(qw, x, count, mode, bias, linear_fn=host_linear, return_parts=True)
            assert y.shape == x.shape[:-1] + (M,) and len(parts) == count
            _close(y, want)
            if mode == "column":      # rank r computed output features [r*M/count, (r+1)*M/count)
                ms = M // count
                for r, p in enumerate(parts):
                    assert p.shape == x.shape[:-1] + (ms,)
                    _close(p, want[..., r * ms:(r + 1) * ms])
            else:                     # partials carry no bias; it is added once after the sum
                _close(sum(parts), ref)


def test_column_gather_layout_matches_what_all_gather_into_tensor_writes():
    # all_gather_into_tensor stacks each rank's [n, cols] block along dim 0; the layer turns that into
    # the output's last dim. Distinct values per (rank, token, column) make any misplacement visible.
    for world, lead, cols in [(2, (1,), 3), (4, (5,), 2), (3, (2, 3), 4), (2, (0,), 4)]:
        n = int(np.prod(lead))
        blocks = [np.arange(n * cols).reshape(n, cols) + 1000 * r for r in range(world)]
        y = parallel._rank_major_to_last_dim(np.concatenate(blocks, axis=0), world, lead, cols)
        want = np.concatenate([blk.reshape(*lead, cols) for blk in blocks], axis=-1)
        assert y.shape == want.shape
        np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("count", [2, 4])
def test_layers_hold_the_shards_and_bias_slices(count):
    qw, _ = _weight("u4", seed=3)
    b = _bias()
    ms, ks = M // count, K // count
    for r in range(count):
        col = ColumnParallelLinear(qw, b, rank=r, world_size=count)
        row = RowParallelLinear(qw, b, rank=r, world_size=count)
        for layer, dim in ((col, 0), (row, 1)):
            want = qw.shard(dim, r, count)
            for name in ("packed", "scales", "zeros", "zero_points"):
                assert getattr(layer.weight, name).tobytes() == getattr(want, name).tobytes(), name
            assert layer.nbytes == want.nbytes + layer.bias.size * 2
        np.testing.assert_array_equal(col.bias, b[r * ms:(r + 1) * ms])
        np.testing.assert_array_equal(row.bias, b)
        assert (col.in_features, col.out_features, col.out_features_per_rank) == (K, M, ms)
        assert (row.in_features, row.in_features_per_rank, row.out_features) == (K, ks, M)
        assert not np.shares_memory(col.bias, b) and not np.shares_memory(row.bias, b)
        # Built from this rank's shard: the same layer (bias given whole or as the local slice).
        for bias in (b, b[r * ms:(r + 1) * ms].copy()):
            pre = ColumnParallelLinear(qw.shard(0, r, count), bias, rank=r, world_size=count, weight_is_shard=True)
            assert pre.weight.packed.tobytes() == col.weight.packed.tobytes()
            np.testing.assert_array_equal(pre.bias, col.bias)
            assert pre.out_features == M
        pre = RowParallelLinear(qw.shard(1, r, count), b, rank=r, world_size=count, weight_is_shard=True)
        assert pre.weight.packed.tobytes() == row.weight.packed.tobytes() and pre.in_features == K


def test_row_layer_takes_the_full_input_or_its_slice():
    qw, _ = _weight("s4", seed=4)
    count, ks = 4, K // 4
    x = _x(5)
    for r in range(count):
        layer = RowParallelLinear(qw, rank=r, world_size=count, linear_fn=host_linear)
        part = layer.local_input(x)
        assert part.shape == (5, ks) and part.flags.c_contiguous
        np.testing.assert_array_equal(part, x[:, r * ks:(r + 1) * ks])
        assert layer.local_input(part) is part
        np.testing.assert_array_equal(layer.local_forward(part), layer.local_forward(x))
        explicit = RowParallelLinear(qw, rank=r, world_size=count, input_is_parallel=True)
        with pytest.raises(ValueError, match=rf"input_is_parallel: x must have shape \[\.\.\., {ks}\]"):
            explicit.local_input(x)
        full_only = RowParallelLinear(qw, rank=r, world_size=count, input_is_parallel=False)
        with pytest.raises(ValueError, match=rf"\[\.\.\., {K}\] \(the full input\)"):
            full_only.local_input(part)
    with pytest.raises(ValueError, match=rf"x must have shape \[\.\.\., {K}\] \(the full input\) or \[\.\.\., {ks}\]"):
        RowParallelLinear(qw, rank=0, world_size=count).local_input(_x(2)[:, :100])
    with pytest.raises(ValueError, match=rf"x must have shape \[\.\.\., {K}\]"):
        ColumnParallelLinear(qw, rank=0, world_size=count).local_forward(part)


def test_act_order_weights_shard_when_groups_are_whole():
    # Act-order checkpoint whose two input halves each hold whole groups (shuffled inside): both layers work.
    rng = np.random.default_rng(5)
    t, q, z, s, _ = random_gptq(rng, M, K, G)
    halves = ([0, 2, 5, 7], [1, 3, 4, 6])
    g_idx = np.concatenate([rng.permutation(np.repeat(h, G)) for h in halves]).astype(np.int32)
    qw = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], g_idx=g_idx)
    assert qw.act_perm is not None
    w = exact_weight(q, s, z, g_idx).astype(np.float64)
    x = _x(9)
    for mode in ("column", "row"):
        _close(simulate_ranks(qw, x, 2, mode, linear_fn=host_linear), x @ w.T)
    with pytest.raises(ValueError, match="do not form whole quantization groups"):
        RowParallelLinear(qw, rank=0, world_size=4)


# ---------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls,count,msg", [
    (ColumnParallelLinear, 3, "out_features M=128 must split into parts of a multiple of 16 rows"),
    (ColumnParallelLinear, 16, "multiple of 16 rows"),                   # 8 rows per rank
    (RowParallelLinear, 3, "in_features K=1024 must split into whole quantization groups of 128"),
    (RowParallelLinear, 16, "whole quantization groups of 128"),         # 64 columns: half a group
])
def test_splits_that_do_not_divide_raise_naming_the_constraint(cls, count, msg):
    qw, _ = _weight("s4")
    with pytest.raises(ValueError, match=msg):
        cls(qw, rank=0, world_size=count)
    with pytest.raises(ValueError, match=msg):
        simulate_ranks(qw, _x(1), count, "column" if cls is ColumnParallelLinear else "row", linear_fn=host_linear)


def test_per_channel_weights_are_column_parallel_only():
    qw, _ = _weight("u4", g=K)
    ColumnParallelLinear(qw, rank=1, world_size=2)
    with pytest.raises(ValueError, match="per-channel"):
        RowParallelLinear(qw, rank=1, world_size=2)


def test_bad_arguments_raise():
    qw, _ = _weight("s4")
    b = _bias()
    with pytest.raises(TypeError, match="weight must be a mixgemm.QuantizedWeight"):
        ColumnParallelLinear(np.zeros((M, K)), rank=0, world_size=2)
    with pytest.raises(ValueError, match="pass both rank= and world_size="):
        RowParallelLinear(qw, rank=0)
    with pytest.raises(ValueError, match=r"rank must be in \[0, 2\)"):
        ColumnParallelLinear(qw, rank=2, world_size=2)
    with pytest.raises(ValueError, match="world_size must be at least 1"):
        ColumnParallelLinear(qw, rank=0, world_size=0)
    with pytest.raises(TypeError, match="rank must be an int"):
        ColumnParallelLinear(qw, rank=0.0, world_size=2)
    with pytest.raises(ValueError, match=r"bias must have shape \[128\], got \[64\]"):
        ColumnParallelLinear(qw, b[:64].copy(), rank=0, world_size=2)       # the local length needs weight_is_shard
    with pytest.raises(ValueError, match=r"bias must have shape \[128\] or \[64\]"):
        ColumnParallelLinear(qw.shard(0, 0, 2), b[:32].copy(), rank=0, world_size=2, weight_is_shard=True)
    with pytest.raises(ValueError, match=r"bias must have shape \[128\]"):
        RowParallelLinear(qw, b[:64].copy(), rank=0, world_size=2)
    with pytest.raises(TypeError, match="bias has dtype float32, expected float16"):
        RowParallelLinear(qw, b.astype(np.float32), rank=0, world_size=2)
    with pytest.raises(ValueError, match="mode must be 'column' or 'row'"):
        simulate_ranks(qw, _x(1), 2, "rows", linear_fn=host_linear)
    with pytest.raises(ValueError, match="count must be at least 1"):
        simulate_ranks(qw, _x(1), 0, "row", linear_fn=host_linear)


def test_collectives_need_torch_distributed():
    # Without rank=/world_size= the layer asks the process group; with world_size > 1, forward() needs it.
    qw, _ = _weight("s4")
    with pytest.raises(RuntimeError, match="torch.distributed"):
        ColumnParallelLinear(qw)
    x = _x(3)
    for cls in (ColumnParallelLinear, RowParallelLinear):
        layer = cls(qw, rank=0, world_size=2, linear_fn=host_linear)
        with pytest.raises(RuntimeError, match="torch.distributed"):
            layer(x)
        one = cls(qw, _bias(), rank=0, world_size=1, linear_fn=host_linear)   # one rank: no collective at all
        _close(one(x), host_linear(x, qw, _bias()))


def test_importing_the_module_loads_no_framework():
    code = ("import sys, mixgemm; assert 'mixgemm.parallel' not in sys.modules; import mixgemm.parallel; "
            "print(int('torch' in sys.modules))")
    assert subprocess.check_output([sys.executable, "-c", code], text=True).split() == ["0"]
