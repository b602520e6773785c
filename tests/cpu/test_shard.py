"""QuantizedWeight.shard(): byte-identical to quantizing/importing the slice; clear errors otherwise."""
import numpy as np
import pytest

import mixgemm
from mixgemm import reference as ref

from ._checkpoints import pack_plain4, random_awq, random_gptq

M, K = 64, 512


def _same(a, b):
    """Two QuantizedWeights hold identical metadata and identical bytes in every array."""
    assert (a.shape, a.group_size, a.weight, a.act_dtype) == (b.shape, b.group_size, b.weight, b.act_dtype)
    for name in ("packed", "scales", "zeros", "zero_points", "act_perm"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and x.shape == y.shape, name
            assert x.tobytes() == y.tobytes(), name


def _owns_its_arrays(part, whole):
    for name in ("packed", "scales", "zeros", "zero_points", "act_perm"):
        a = getattr(part, name)
        if a is not None:
            assert a.flags.c_contiguous and not np.shares_memory(a, getattr(whole, name)), name


def _gptq_slice(t, bits, rows=None, cols=None, g=None, g_idx=None):
    """The GPTQ tensors of W[rows, cols] (cols: whole groups in the k // g grouping unless g_idx is given)."""
    pf = 32 // bits
    qw, qz, s = t["qweight"], t["qzeros"], t["scales"]
    if rows is not None:
        r0, r1 = rows
        qw, qz, s = qw[:, r0:r1], qz[:, r0 // pf:r1 // pf], s[:, r0:r1]
    if cols is not None:
        c0, c1 = cols
        qw = qw[c0 // pf:c1 // pf]
        if g_idx is None:
            qz, s = qz[c0 // g:c1 // g], s[c0 // g:c1 // g]
    return dict(qweight=np.ascontiguousarray(qw), qzeros=np.ascontiguousarray(qz), scales=np.ascontiguousarray(s))


@pytest.mark.parametrize("count", [1, 2, 4])
@pytest.mark.parametrize("g", [32, 64, 128])
@pytest.mark.parametrize("bits,symmetric", [(4, False), (4, True), (8, True)])
def test_gptq_shards_equal_imported_slices(bits, symmetric, g, count):
    rng = np.random.default_rng(hash((bits, symmetric, g, count)) % 2**32)
    t, *_ = random_gptq(rng, M, K, g, bits, symmetric)
    qw = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], bits=bits)
    ms, ks = M // count, K // count
    for i in range(count):
        part = qw.shard(0, i, count)
        _same(part, mixgemm.from_gptq(**_gptq_slice(t, bits, rows=(i * ms, (i + 1) * ms)), bits=bits))
        _owns_its_arrays(part, qw)
        part = qw.shard(1, i, count)
        _same(part, mixgemm.from_gptq(**_gptq_slice(t, bits, cols=(i * ks, (i + 1) * ks), g=g), bits=bits))
        _owns_its_arrays(part, qw)
    whole = mixgemm.dequantize(qw)
    np.testing.assert_array_equal(np.concatenate([mixgemm.dequantize(qw.shard(0, i, count)) for i in range(count)]),
                                  whole)
    np.testing.assert_array_equal(np.concatenate([mixgemm.dequantize(qw.shard(1, i, count)) for i in range(count)],
                                                 axis=1), whole)


@pytest.mark.parametrize("g", [64, 128])
def test_awq_shards_equal_imported_slices(g):
    rng = np.random.default_rng(g)
    t, *_ = random_awq(rng, M, K, g)
    qw = mixgemm.from_awq(**t)
    _same(qw.shard(0, 1, 2), mixgemm.from_awq(t["qweight"][:, 4:8].copy(), t["qzeros"][:, 4:8].copy(),
                                              t["scales"][:, 32:].copy()))
    gs = K // 2 // g
    _same(qw.shard(1, 1, 2), mixgemm.from_awq(t["qweight"][K // 2:].copy(), t["qzeros"][gs:].copy(),
                                              t["scales"][gs:].copy()))


def test_plain_and_quantized_weights_shard_like_their_slices():
    rng = np.random.default_rng(3)
    q = rng.integers(-8, 8, size=(M, K))
    s = (rng.uniform(0.5, 2, size=(K // 64, M)) / 64).astype(np.float16)
    qw = mixgemm.from_plain(pack_plain4(q), s)
    _same(qw.shard(0, 3, 4), mixgemm.from_plain(pack_plain4(q[48:]), s[:, 48:].copy()))
    _same(qw.shard(1, 2, 4), mixgemm.from_plain(pack_plain4(q[:, 256:384]), s[4:6].copy()))
    # A weight quantized here (no integer zero points): RTN works per row and group, so slices match.
    w = rng.standard_normal((M, K)).astype(np.float32)
    for weight in ("s4", "u4", "s8"):
        def host_quantize(w):
            q, sc, z = ref.quantize_ref(w, weight, 128, "float16")
            return mixgemm.QuantizedWeight(ref.pack_ref(q, weight), sc.astype(np.float16),
                                           None if z is None else z.astype(np.float16), w.shape, 128, weight,
                                           "float16")
        full = host_quantize(w)
        _same(full.shard(0, 1, 2), host_quantize(np.ascontiguousarray(w[32:])))
        _same(full.shard(1, 1, 2), host_quantize(np.ascontiguousarray(w[:, 256:])))


def _grouped_act_order(rng, g, halves_groups):
    """g_idx whose two halves of input columns each hold whole groups (given per half), shuffled inside."""
    half = K // 2
    g_idx = np.empty(K, dtype=np.int32)
    for h, groups in enumerate(halves_groups):
        g_idx[h * half:(h + 1) * half] = rng.permutation(np.repeat(groups, g))
    return g_idx


@pytest.mark.parametrize("halves_groups", [([0, 1, 2, 3], [4, 5, 6, 7]), ([0, 2, 5, 7], [1, 3, 4, 6])])
def test_act_order_shards_along_in_features_when_groups_are_whole(halves_groups):
    rng = np.random.default_rng(4)
    g = 64
    t, *_ = random_gptq(rng, M, K, g)
    g_idx = _grouped_act_order(rng, g, halves_groups)
    qw = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], g_idx=g_idx)
    assert qw.act_perm is not None
    for i, groups in enumerate(halves_groups):
        part = qw.shard(1, i, 2)
        # The checkpoint of this slice: its columns, its groups' zeros/scales, g_idx renumbered 0..G'-1.
        c0, c1 = i * K // 2, (i + 1) * K // 2
        local_g = np.searchsorted(groups, g_idx[c0:c1]).astype(np.int32)
        sl = _gptq_slice(t, 4, cols=(c0, c1), g_idx=local_g)
        sl["qzeros"], sl["scales"] = t["qzeros"][groups].copy(), t["scales"][groups].copy()
        _same(part, mixgemm.from_gptq(**sl, g_idx=local_g))
        _owns_its_arrays(part, qw)
        np.testing.assert_array_equal(mixgemm.dequantize(part), mixgemm.dequantize(qw)[:, c0:c1])


def test_act_order_shards_along_out_features():
    rng = np.random.default_rng(5)
    t, *_ = random_gptq(rng, M, K, 128, act_order=True)
    qw = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], g_idx=t["g_idx"])
    part = qw.shard(0, 1, 4)
    _same(part, mixgemm.from_gptq(**_gptq_slice(t, 4, rows=(16, 32)), g_idx=t["g_idx"]))
    np.testing.assert_array_equal(mixgemm.dequantize(part), mixgemm.dequantize(qw)[16:32])


def test_act_order_with_split_groups_cannot_shard_along_in_features():
    rng = np.random.default_rng(6)
    t, *_ = random_gptq(rng, M, K, 64, act_order=True)
    qw = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], g_idx=t["g_idx"])
    with pytest.raises(ValueError, match="act-order .* do not form whole quantization groups"):
        qw.shard(1, 0, 2)
    _same(qw.shard(1, 0, 1), qw)     # the whole weight is always whole groups


@pytest.mark.parametrize("args,exc,msg", [
    ((2, 0, 2), ValueError, "dim must be 0"),
    ((-1, 0, 2), ValueError, "dim must be 0"),
    ((0, 2, 2), ValueError, r"index must be in \[0, 2\)"),
    ((0, -1, 2), ValueError, r"index must be in \[0, 2\)"),
    ((0, 0, 0), ValueError, "count must be at least 1"),
    ((0.0, 0, 2), TypeError, "dim must be an int"),
    ((0, 0, 2.0), TypeError, "count must be an int"),
    ((0, 0, 8), ValueError, "multiple of 16 rows"),        # 64 / 8 = 8 rows
    ((0, 0, 3), ValueError, "multiple of 16 rows"),
    ((1, 0, 8), ValueError, "whole quantization groups of 128"),   # 512 / 8 = 64 columns
    ((1, 0, 3), ValueError, "whole quantization groups"),
])
def test_impossible_splits_raise(args, exc, msg):
    rng = np.random.default_rng(7)
    t, *_ = random_gptq(rng, M, K, 128)
    qw = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"])
    with pytest.raises(exc, match=msg):
        qw.shard(*args)


def test_splits_below_the_kernels_k_step_raise():
    rng = np.random.default_rng(8)
    t, *_ = random_gptq(rng, M, K, 32)
    qw = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"])
    with pytest.raises(ValueError, match="32 in_features; mixgemm kernels need a multiple of 64"):
        qw.shard(1, 0, 16)


def test_per_channel_weights_split_only_along_out_features():
    rng = np.random.default_rng(9)
    t, *_ = random_gptq(rng, M, K, K)
    qw = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"])
    with pytest.raises(ValueError, match="per-channel"):
        qw.shard(1, 0, 2)
    _same(qw.shard(1, 0, 1), qw)
    _same(qw.shard(0, 1, 2), mixgemm.from_gptq(**_gptq_slice(t, 4, rows=(32, 64))))


def test_shard_round_trips_through_a_state_dict():
    rng = np.random.default_rng(10)
    t, *_ = random_gptq(rng, M, K, 64, act_order=True)
    part = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], g_idx=t["g_idx"]).shard(0, 0, 2)
    _same(mixgemm.QuantizedWeight.from_state_dict(part.state_dict()), part)
