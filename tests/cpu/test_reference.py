"""The NumPy reference: quantization math, packing layout, dequantization."""
import numpy as np
import pytest

from mixgemm import reference as ref


@pytest.mark.parametrize("weight", ["s4", "u4", "s8"])
@pytest.mark.parametrize("act", ["float16", "bfloat16"])
@pytest.mark.parametrize("group", [64, 128, 256])
def test_quantize_ref_ranges_and_error(weight, act, group):
    rng = np.random.default_rng(hash((weight, act, group)) % 2**32)
    m, k = 64, 256
    w = rng.standard_normal((m, k)).astype(np.float32)
    q, s, z = ref.quantize_ref(w, weight, group, act)
    lo, hi = {"s4": (-8, 7), "u4": (0, 15), "s8": (-128, 127)}[weight]
    assert q.min() >= lo and q.max() <= hi
    assert s.shape == (k // group, m) and (s > 0).all()
    assert (z is not None) == (weight == "u4")
    wd = ref.dequantize_ref(q, s, z, group)
    rel = np.linalg.norm(wd - w) / np.linalg.norm(w)
    # RTN error: about step/sqrt(12) per element; step = range / levels
    bound = {"s4": 0.2, "u4": 0.12, "s8": 0.01}[weight]
    assert rel < bound, rel
    assert np.isfinite(wd).all()


def test_round_to_bf16():
    v = np.array([1.0, 1.00390625, 1.01171875, -3.14159, 65504.0 * 4], dtype=np.float32)
    r = ref.round_to_act(v, "bfloat16")
    assert r[0] == 1.0
    assert r[1] == 1.0            # halfway, rounds to even
    assert r[2] == 1.015625       # halfway, rounds up to even
    assert abs(r[3] - v[3]) <= abs(v[3]) * 2**-8
    assert r[4] == 262144.0


@pytest.mark.parametrize("weight", ["s4", "u4", "s8"])
def test_pack_unpack_roundtrip(weight):
    rng = np.random.default_rng(1)
    m, k = 48, 96
    lo, hi = {"s4": (-8, 7), "u4": (0, 15), "s8": (-128, 127)}[weight]
    q = rng.integers(lo, hi + 1, size=(m, k)).astype(np.int8)
    packed = ref.pack_ref(q, weight)
    assert packed.dtype == np.uint8 and packed.size == m * k * (8 if weight == "s8" else 4) // 8
    np.testing.assert_array_equal(ref.unpack_ref(packed, m, k, weight), q)


@pytest.mark.parametrize("bits", [4, 8])
def test_layout_is_mma_fragment_order(bits):
    # Lane t's 8 values of each 16x16 block are stored at 8t..8t+7 (one 32/64-bit load per lane),
    # blocks tiled M-fastest.
    m, k = 32, 32
    off = ref.packed_offsets(m, k, bits)
    assert sorted(off.ravel()) == list(range(m * k))
    for t in range(32):
        r, c = t // 4, 2 * (t % 4)
        cells = [(r, c), (r, c + 1), (r + 8, c), (r + 8, c + 1), (r, c + 8), (r, c + 9), (r + 8, c + 8), (r + 8, c + 9)]
        got = sorted(int(off[i, j]) for i, j in cells)
        assert got == list(range(8 * t, 8 * t + 8))
    assert off[16, 0] - off[0, 0] == 256          # next block along M
    assert off[0, 16] - off[0, 0] == 256 * (m // 16)  # next block along K


def test_pack_rejects_unaligned_shapes():
    with pytest.raises(ValueError, match="multiples of 16"):
        ref.packed_offsets(40, 32, 4)
