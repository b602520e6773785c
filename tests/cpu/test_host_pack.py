"""The library's block-wise host packer against the reference's offset-table packer."""
import numpy as np
import pytest

from mixgemm import _host, reference as ref

RANGES = {"s4": (-8, 7), "u4": (0, 15), "s8": (-128, 127)}


@pytest.mark.parametrize("weight", ["s4", "u4", "s8"])
@pytest.mark.parametrize("m,k", [(16, 16), (48, 96), (64, 512), (272, 128)])
def test_pack_matches_reference_and_unpacks(weight, m, k):
    lo, hi = RANGES[weight]
    q = np.random.default_rng(m * k).integers(lo, hi + 1, size=(m, k)).astype(np.int8)
    bits = 8 if weight == "s8" else 4
    packed = _host.pack(q, bits)
    assert packed.dtype == np.uint8 and packed.shape == (m * k * bits // 8,)
    np.testing.assert_array_equal(packed, ref.pack_ref(q, weight))
    np.testing.assert_array_equal(_host.unpack(packed, m, k, bits, signed=weight != "u4"), q)


@pytest.mark.parametrize("bits", [4, 8])
def test_blocks_slice_along_both_axes(bits):
    # Sharding relies on this: viewed as [K/16, M/16, bytes per block], a block-aligned slice of W is
    # the matching slice of the packed bytes.
    m, k = 64, 128
    q = np.random.default_rng(bits).integers(0, 1 << bits, size=(m, k)).astype(np.uint8)
    blocks = _host.pack(q, bits).reshape(k // 16, m // 16, _host.bytes_per_block(bits))
    np.testing.assert_array_equal(blocks[:, 1:3].reshape(-1), _host.pack(q[16:48], bits))
    np.testing.assert_array_equal(blocks[2:6].reshape(-1), _host.pack(q[:, 32:96], bits))


def test_unaligned_shapes_are_refused():
    with pytest.raises(ValueError, match="multiples of 16"):
        _host.pack(np.zeros((24, 32), np.int8), 4)


def test_dequantize_forms():
    q = np.array([[0, 15] * 8] * 16, dtype=np.int8)
    s = np.full((1, 16), 0.5, np.float32)
    z = np.full((1, 16), 3, np.uint8)
    np.testing.assert_array_equal(_host.dequantize(q, s, None, z), 0.5 * (q.astype(np.float32) - 3))
    np.testing.assert_array_equal(_host.dequantize(q, s, np.full((1, 16), -1.5, np.float32), None),
                                  0.5 * q.astype(np.float32) - 1.5)
