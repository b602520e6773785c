"""Checkpoint readers against packers written from the format definitions (tests/cpu/_checkpoints.py)."""
import numpy as np
import pytest

from mixgemm import formats

from ._checkpoints import pack_awq, pack_gptq


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("offset", [0, 1])
def test_gptq_round_trip_exact(bits, offset):
    rng = np.random.default_rng(bits * 10 + offset)
    k, n, g = 256, 64, 64
    q = rng.integers(0, 1 << bits, size=(k, n))
    z = rng.integers(offset, 1 << bits, size=(k // g, n))   # v1 cannot store z = 0
    s = rng.standard_normal((k // g, n)).astype(np.float16)
    qweight, qzeros = pack_gptq(q, z, bits, offset)
    q2, z2, s2 = formats.read_gptq(qweight, qzeros, s, bits=bits, zero_offset=offset)
    np.testing.assert_array_equal(q2, q.T)
    np.testing.assert_array_equal(z2, z)
    np.testing.assert_array_equal(s2, s.astype(np.float32))
    ref = s.astype(np.float32).repeat(g, axis=0) * (q - z.repeat(g, axis=0)).astype(np.float32)   # [K, N]
    np.testing.assert_array_equal(formats.dequantize_plain(q2, z2, s2), ref.T)


def test_awq_round_trip_exact():
    rng = np.random.default_rng(3)
    k, n, g = 256, 64, 128
    q = rng.integers(0, 16, size=(k, n))
    z = rng.integers(0, 16, size=(k // g, n))
    s = rng.standard_normal((k // g, n)).astype(np.float16)
    q2, z2, s2 = formats.read_awq(pack_awq(q), pack_awq(z), s)
    np.testing.assert_array_equal(q2, q.T)
    np.testing.assert_array_equal(z2, z)
    ref = s.astype(np.float32).repeat(g, axis=0) * (q - z.repeat(g, axis=0)).astype(np.float32)
    np.testing.assert_array_equal(formats.dequantize_plain(q2, z2, s2), ref.T)


def test_awq_order_is_the_documented_one():
    # column 1 sits in nibble 4, column 2 in nibble 1 (order 0 2 4 6 1 3 5 7)
    vals = np.zeros((1, 8), dtype=np.int64)
    vals[0, 1] = 0xA
    vals[0, 2] = 0x5
    word = int(pack_awq(vals).view(np.uint32)[0, 0])
    assert word == (0xA << 16) | (0x5 << 4)
    q, _, _ = formats.read_awq(pack_awq(vals), pack_awq(np.zeros((1, 8), dtype=np.int64)), np.ones((1, 8)))
    assert q[1, 0] == 0xA and q[2, 0] == 0x5


def test_g_idx_checks():
    q = np.zeros((256, 64), dtype=np.int64)
    z = np.ones((4, 64), dtype=np.int64)
    qw, qz = pack_gptq(q, z, 4)
    s = np.ones((4, 64), dtype=np.float16)
    formats.read_gptq(qw, qz, s, g_idx=np.arange(256) // 64)            # trivial mapping is fine
    with pytest.raises(ValueError, match="act-order"):
        formats.read_gptq(qw, qz, s, g_idx=np.random.default_rng(0).permutation(np.arange(256) // 64))
    with pytest.raises(ValueError, match="each of the 4 groups"):
        formats.read_gptq(qw, qz, s, g_idx=np.zeros(256, dtype=np.int64))
    with pytest.raises(ValueError, match="shape"):
        formats.read_gptq(qw, qz, s, g_idx=np.arange(10))


@pytest.mark.parametrize("call,exc,msg", [
    (lambda qw, qz, s: formats.read_gptq(qw.astype(np.float32), qz, s), TypeError, "qweight must be int32"),
    (lambda qw, qz, s: formats.read_gptq(qw, qz[:, :4], s), ValueError, "qzeros shape"),
    (lambda qw, qz, s: formats.read_gptq(qw, qz, s[:, :10]), ValueError, "scales must have shape"),
    (lambda qw, qz, s: formats.read_gptq(qw, qz, s, bits=3), ValueError, "bits"),
    (lambda qw, qz, s: formats.read_gptq(qw, qz[:3], s[:3]), ValueError, "do not divide"),
    (lambda qw, qz, s: formats.read_gptq(qw, qz, s, zero_offset=2), ValueError, "zero_offset"),
    (lambda qw, qz, s: formats.read_gptq(qw, qz, s.astype(np.int32)), TypeError, "floating"),
])
def test_malformed_gptq_inputs(call, exc, msg):
    q = np.zeros((256, 64), dtype=np.int64)
    z = np.ones((4, 64), dtype=np.int64)
    qw, qz = pack_gptq(q, z, 4)
    with pytest.raises(exc, match=msg):
        call(qw, qz, np.ones((4, 64), dtype=np.float16))


def test_zero_offset_overflow_is_reported():
    q = np.zeros((64, 8), dtype=np.int64)
    z = np.full((1, 8), 15, dtype=np.int64)
    qw, qz = pack_gptq(q, z, 4, zero_offset=0)   # stores 15 with no offset
    with pytest.raises(ValueError, match="zero_offset"):
        formats.read_gptq(qw, qz, np.ones((1, 8), dtype=np.float16), zero_offset=1)


def test_act_order_perm_groups_columns_stably():
    g_idx = np.array([1, 0, 1, 0, 0, 1])
    perm = formats.act_order_perm(g_idx, 6, 2)
    np.testing.assert_array_equal(perm, [1, 3, 4, 0, 2, 5])          # group 0's columns, then group 1's
    assert formats.act_order_perm(np.arange(6) // 3, 6, 2) is None   # already grouped: no permutation


@pytest.mark.parametrize("g_idx,exc,msg", [
    (np.array([0, 0, 1, 2]), ValueError, r"lie in \[0, 2\)"),
    (np.array([0, -1, 1, 1]), ValueError, r"lie in \[0, 2\)"),
    (np.array([0, 0, 0, 1]), ValueError, "not a permutation of the groups"),
    (np.array([0.0, 0.0, 1.0, 1.0]), TypeError, "g_idx must be an integer array"),
    (np.array([[0, 0, 1, 1]]), ValueError, r"shape \(4,\)"),
])
def test_act_order_perm_rejects_bad_g_idx(g_idx, exc, msg):
    with pytest.raises(exc, match=msg):
        formats.act_order_perm(g_idx, 4, 2)
