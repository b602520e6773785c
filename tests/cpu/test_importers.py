"""mixgemm.from_gptq / from_awq / from_plain on host (NumPy) arrays: exact values, layout, errors.

Checkpoints are written by the spec packers in _checkpoints.py; the expected weight is computed there
from the original integers, never through mixgemm's readers.
"""
import numpy as np
import pytest

import mixgemm
from mixgemm import _arrayops, reference as ref

from ._checkpoints import exact_weight, pack_plain4, random_awq, random_gptq

M, K = 32, 256
GROUPS = [32, 64, 128, K]          # K: per-channel


def _check_import(qw, q_signed_or_unsigned, z, s, g_idx, weight, act="float16"):
    """Everything an import must preserve, against the integers the checkpoint was made from."""
    m, k = qw.shape
    assert qw.weight == weight and qw.act_dtype == act
    s_act = ref.round_to_act(np.asarray(s, np.float32), act)
    zp = z if weight == "u4" else None
    if weight != "u4" and z is not None:
        q_signed_or_unsigned = q_signed_or_unsigned - z[np.arange(k) // qw.group_size if g_idx is None else g_idx].T
    # 1. the dequantized weight is bit-identical to the checkpoint's s * (q - z), in the original order
    expected = exact_weight(q_signed_or_unsigned, s_act, zp, g_idx)
    got = mixgemm.dequantize(qw)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(mixgemm.unpack(qw), q_signed_or_unsigned.astype(np.int8))
    # 2. the stored arrays: scales unchanged, z' = -s*z rounded like quantize(), integer z kept
    np.testing.assert_array_equal(qw.scales.astype(np.float32), s_act)
    if weight == "u4":
        np.testing.assert_array_equal(qw.zero_points, z)
        np.testing.assert_array_equal(qw.zeros.astype(np.float32), ref.round_to_act(-s_act * z, act))
    else:
        assert qw.zeros is None and qw.zero_points is None
    # 3. the packed bytes are the reference packing of the group-ordered columns
    perm = None if g_idx is None else np.argsort(g_idx, kind="stable")
    if perm is not None and np.array_equal(perm, np.arange(k)):
        perm = None
    assert (qw.act_perm is None) == (perm is None)
    stored = q_signed_or_unsigned if perm is None else q_signed_or_unsigned[:, perm]
    if perm is not None:
        np.testing.assert_array_equal(qw.act_perm, perm)
    np.testing.assert_array_equal(qw.packed, ref.pack_ref(stored.astype(np.int8), weight))
    # 4. what the kernels compute: s*q + z' on the stored columns, multiplied by x[..., act_perm]
    wk = ref.dequantize_ref(ref.unpack_ref(qw.packed, m, k, weight), qw.scales, qw.zeros, qw.group_size)
    wk_orig = wk if perm is None else wk[:, np.argsort(perm)]
    if weight == "u4":   # differs from the exact value by the rounding of z' = -s*z only (documented bound)
        grp = np.arange(k) // qw.group_size if g_idx is None else g_idx
        sz = (s_act * z)[grp].T
        bound = _half_ulp(sz, act) + np.abs(expected) * 2.0**-23
        assert np.all(np.abs(wk_orig - expected) <= bound)
    else:                # s * q: exact
        np.testing.assert_array_equal(wk_orig, expected)
    x = np.random.default_rng(0).standard_normal((3, k))
    xk = x if qw.act_perm is None else _arrayops.gather_columns(x, qw.act_perm, None, 0)
    np.testing.assert_allclose(xk @ wk.T.astype(np.float64), x @ wk_orig.T.astype(np.float64), rtol=1e-12, atol=1e-12)


def _half_ulp(v, act):
    """Half a unit in the last place of |v| in the activation dtype (fp16: 10 mantissa bits, bf16: 7)."""
    mant, tiny = (10, 2.0**-24) if act == "float16" else (7, 2.0**-133)
    with np.errstate(divide="ignore"):
        e = np.floor(np.log2(np.abs(v.astype(np.float64))))
    return np.maximum(2.0 ** (e - mant), tiny) / 2


@pytest.mark.parametrize("g", GROUPS)
@pytest.mark.parametrize("act_order", [False, True])
@pytest.mark.parametrize("offset", [0, 1])
@pytest.mark.parametrize("bits,symmetric", [(4, False), (4, True), (8, True)])
def test_gptq_imports_exactly(bits, symmetric, offset, act_order, g):
    rng = np.random.default_rng(hash((bits, symmetric, offset, act_order, g)) % 2**32)
    t, q, z, s, g_idx = random_gptq(rng, M, K, g, bits, symmetric, act_order, offset)
    qw = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], g_idx=t.get("g_idx"), bits=bits,
                           zero_offset=offset)
    assert qw.group_size == g and qw.shape == (M, K)
    weight = {(4, False): "u4", (4, True): "s4", (8, True): "s8"}[(bits, symmetric)]
    _check_import(qw, q, z, s, g_idx, weight)


def test_gptq_trivial_g_idx_stores_no_permutation():
    rng = np.random.default_rng(1)
    t, q, z, s, _ = random_gptq(rng, M, K, 64)
    qw = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], g_idx=(np.arange(K) // 64).astype(np.int32))
    assert qw.act_perm is None
    _check_import(qw, q, z, s, None, "u4")


def test_symmetric_flag():
    rng = np.random.default_rng(2)
    t, q, z, s, _ = random_gptq(rng, M, K, 64, symmetric=True)
    forced = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], symmetric=False)
    _check_import(forced, q, z, s, None, "u4")          # same values, kept as uint4 + zero points 8
    t, *_ = random_gptq(rng, M, K, 64, symmetric=False)
    with pytest.raises(ValueError, match="symmetric=True, but the zero points are not all 8"):
        mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], symmetric=True)


@pytest.mark.parametrize("g", GROUPS)
def test_awq_imports_exactly(g):
    rng = np.random.default_rng(g)
    t, q, z, s = random_awq(rng, M, K, g)
    qw = mixgemm.from_awq(t["qweight"], t["qzeros"], t["scales"])
    assert qw.group_size == g
    _check_import(qw, q, z, s, None, "u4")


def test_awq_with_symmetric_zero_points_maps_to_int4():
    from ._checkpoints import pack_awq
    rng = np.random.default_rng(5)
    q = rng.integers(0, 16, size=(M, K))
    z = np.full((K // 128, M), 8)
    s = (rng.uniform(0.5, 2, size=z.shape) / 64).astype(np.float16)
    qw = mixgemm.from_awq(pack_awq(q.T), pack_awq(z), s)
    _check_import(qw, q, z, s, None, "s4")


@pytest.mark.parametrize("g", GROUPS)
def test_plain_int4_signed(g):
    rng = np.random.default_rng(g + 1)
    q = rng.integers(-8, 8, size=(M, K))
    s = (rng.uniform(0.5, 2, size=(K // g, M)) / 64).astype(np.float16)
    qw = mixgemm.from_plain(pack_plain4(q), s, bits=4)
    _check_import(qw, q, None, s, None, "s4")


@pytest.mark.parametrize("g", GROUPS)
def test_plain_int4_with_zero_points(g):
    rng = np.random.default_rng(g + 2)
    q = rng.integers(0, 16, size=(M, K))
    z = rng.integers(0, 16, size=(K // g, M)).astype(np.uint8)
    s = (rng.uniform(0.5, 2, size=(K // g, M)) / 64).astype(np.float16)
    qw = mixgemm.from_plain(pack_plain4(q), s, zero_points=z, bits=4)
    _check_import(qw, q, z, s, None, "u4")


def test_plain_int4_low_nibble_first():
    q = np.zeros((16, 64), dtype=np.uint8)
    q[0, 0] = 0x21                         # column 0 = 1 (low nibble), column 1 = 2 (high nibble)
    qw = mixgemm.from_plain(q, np.ones((1, 16), np.float16), bits=4)
    vals = mixgemm.unpack(qw)
    assert vals[0, 0] == 1 and vals[0, 1] == 2 and not vals[1:].any() and not vals[0, 2:].any()
    q[0, 0] = 0xF8                         # signed: -8, -1
    vals = mixgemm.unpack(mixgemm.from_plain(q, np.ones((1, 16), np.float16), bits=4))
    assert vals[0, 0] == -8 and vals[0, 1] == -1


@pytest.mark.parametrize("g", [64, K])
def test_plain_int8(g):
    rng = np.random.default_rng(g + 3)
    q = rng.integers(-128, 128, size=(M, K)).astype(np.int8)
    s = (rng.uniform(0.5, 2, size=(K // g, M)) / 64).astype(np.float16)
    _check_import(mixgemm.from_plain(q, s, bits=8), q, None, s, None, "s8")
    qu = (q.astype(np.int16) + 128).astype(np.uint8)
    z = np.full((K // g, M), 128, dtype=np.uint8)
    _check_import(mixgemm.from_plain(qu, s, zero_points=z, bits=8), qu.astype(np.int64), z, s, None, "s8")


def test_plain_fp32_scales_round_to_act_dtype():
    rng = np.random.default_rng(7)
    q = rng.integers(-8, 8, size=(M, K))
    s = rng.uniform(0.001, 0.1, size=(K // 64, M)).astype(np.float32)
    with pytest.raises(ValueError, match="pass act_dtype"):
        mixgemm.from_plain(pack_plain4(q), s)
    qw = mixgemm.from_plain(pack_plain4(q), s, act_dtype="float16")
    _check_import(qw, q, None, s, None, "s4")            # _check_import rounds s to fp16 like the importer


def test_bfloat16_host_weights_need_ml_dtypes():
    rng = np.random.default_rng(8)
    t, q, z, s, _ = random_gptq(rng, M, K, 64)
    import importlib.util
    if importlib.util.find_spec("ml_dtypes") is None:
        with pytest.raises(TypeError, match="bfloat16"):
            mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], act_dtype="bfloat16")
        return
    qw = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], act_dtype="bfloat16")
    _check_import(qw, q, z, s, None, "u4", act="bfloat16")


def _gptq(**kw):
    rng = np.random.default_rng(11)
    t, *_ = random_gptq(rng, M, K, 64)
    args = dict(qweight=t["qweight"], qzeros=t["qzeros"], scales=t["scales"])
    args.update(kw)
    return args


def _gptq_with(name, fn):
    args = _gptq()
    args[name] = fn(args[name])
    return args


GPTQ_ERRORS = [
    (_gptq_with("qweight", lambda a: a.astype(np.float32)), TypeError, "qweight must be int32"),
    (_gptq_with("qweight", lambda a: a.astype(np.int64)), TypeError, "qweight must be int32"),
    (_gptq_with("qzeros", lambda a: a.astype(np.int16)), TypeError, "qzeros must be int32"),
    (_gptq_with("scales", lambda a: a.astype(np.int32)), TypeError, "scales must be floating"),
    (_gptq_with("qweight", lambda a: a.reshape(-1)), ValueError, "qweight must be 2-D"),
    (_gptq_with("qzeros", lambda a: a[:, :2]), ValueError, "qzeros shape"),
    (_gptq_with("scales", lambda a: a[:, :16]), ValueError, "scales must have shape"),
    (_gptq(bits=3), ValueError, "bits must be 4 or 8"),
    (_gptq(bits=16), ValueError, "bits must be 4 or 8"),
    (_gptq(bits=8), ValueError, "qzeros shape"),                           # 4-bit tensors read as 8-bit
    (dict(_gptq_with("qzeros", lambda a: a[:3]), scales=_gptq()["scales"][:3]), ValueError, "do not divide"),
    (_gptq(zero_offset=2), ValueError, "zero_offset"),
    (_gptq(g_idx=np.zeros(K, np.int32)), ValueError, "not a permutation of the groups"),
    (_gptq(g_idx=(np.arange(K) // 64 + 1).astype(np.int32)), ValueError, "g_idx values must lie"),
    (_gptq(g_idx=(np.arange(K) // 64).astype(np.float32)), TypeError, "g_idx must be an integer"),
    (_gptq(g_idx=np.arange(K // 2, dtype=np.int32) // 32), ValueError, "g_idx must have shape"),
    (_gptq(symmetric="yes"), ValueError, "symmetric must be"),
    (_gptq(symmetric=True), ValueError, "symmetric=True"),
    (_gptq(act_dtype="float32"), ValueError, "act_dtype must be"),
    (_gptq(qweight=None), ValueError, "qweight is required"),
]


@pytest.mark.parametrize("kw,exc,msg", GPTQ_ERRORS)
def test_malformed_gptq_inputs_raise_and_change_nothing(kw, exc, msg):
    before = {k: np.array(v, copy=True) for k, v in kw.items() if isinstance(v, np.ndarray)}
    with pytest.raises(exc, match=msg):
        mixgemm.from_gptq(**kw)
    for k, v in before.items():
        np.testing.assert_array_equal(kw[k], v)


def test_shapes_the_kernels_cannot_run_are_refused():
    rng = np.random.default_rng(12)
    t, *_ = random_gptq(rng, 24, K, 64)                   # M = 24
    with pytest.raises(ValueError, match="M=24 must be a multiple of 16"):
        mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"])
    t, *_ = random_gptq(rng, M, 96, 32)                   # K = 96
    with pytest.raises(ValueError, match="K=96 must be a multiple of 64"):
        mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"])


def test_asymmetric_int8_has_no_kernel():
    rng = np.random.default_rng(13)
    t, *_ = random_gptq(rng, M, K, 64, bits=8)
    with pytest.raises(ValueError, match="asymmetric int8"):
        mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], bits=8)
    q = rng.integers(0, 256, size=(M, K)).astype(np.uint8)
    with pytest.raises(ValueError, match="asymmetric int8"):
        mixgemm.from_plain(q, np.ones((4, M), np.float16), zero_points=np.full((4, M), 100, np.uint8), bits=8)


def test_malformed_awq_inputs():
    rng = np.random.default_rng(14)
    t, *_ = random_awq(rng, M, K, 64)
    with pytest.raises(TypeError, match="qweight must be int32"):
        mixgemm.from_awq(t["qweight"].astype(np.uint8), t["qzeros"], t["scales"])
    with pytest.raises(ValueError, match="qzeros shape"):
        mixgemm.from_awq(t["qweight"], t["qzeros"][:, :1], t["scales"])
    with pytest.raises(ValueError, match="scales must have shape"):
        mixgemm.from_awq(t["qweight"], t["qzeros"], t["scales"].T)
    with pytest.raises(ValueError, match="do not divide"):
        mixgemm.from_awq(t["qweight"], t["qzeros"][:3], t["scales"][:3])
    with pytest.raises(TypeError, match="scales must be floating"):
        mixgemm.from_awq(t["qweight"], t["qzeros"], t["scales"].astype(np.int16))


def _plain():
    rng = np.random.default_rng(15)
    q = pack_plain4(rng.integers(0, 16, size=(M, K)))
    return dict(q=q, scales=np.ones((4, M), np.float16), zero_points=np.full((4, M), 3, np.uint8), bits=4)


PLAIN_ERRORS = [
    (dict(_plain(), q=_plain()["q"].astype(np.int16)), TypeError, "q must be uint8"),
    (dict(_plain(), q=_plain()["q"].reshape(-1)), ValueError, "q must be 2-D"),
    (dict(_plain(), q=np.zeros((M, K), np.int8), bits=8), TypeError, "q must be uint8 for bits=8 with zero_points"),
    (dict(_plain(), q=np.zeros((M, K), np.uint8), bits=8, zero_points=None), TypeError, "q must be int8"),
    (dict(_plain(), bits=2), ValueError, "bits must be 4 or 8"),
    (dict(_plain(), scales=np.ones((4, M + 1), np.float16)), ValueError, "scales must have shape"),
    (dict(_plain(), scales=np.ones((4, M), np.int32)), TypeError, "scales must be floating"),
    (dict(_plain(), scales=np.ones((3, M), np.float16), zero_points=np.ones((3, M), np.uint8)), ValueError,
     "do not divide"),
    (dict(_plain(), zero_points=np.ones((4, M), np.float32)), TypeError, "zero_points must be an integer"),
    (dict(_plain(), zero_points=np.ones((2, M), np.uint8)), ValueError, "zero_points must have the shape"),
    (dict(_plain(), zero_points=np.full((4, M), 16, np.int32)), ValueError, r"zero_points must lie in \[0, 16\)"),
    (dict(_plain(), zero_points=None, symmetric=False), ValueError, "symmetric=False needs zero_points"),
    (dict(_plain(), q=_plain()["q"][:20]), ValueError, "scales must have shape"),
]


@pytest.mark.parametrize("kw,exc,msg", PLAIN_ERRORS)
def test_malformed_plain_inputs(kw, exc, msg):
    with pytest.raises(exc, match=msg):
        mixgemm.from_plain(**kw)


def test_host_weight_cannot_run_linear():
    rng = np.random.default_rng(16)
    t, *_ = random_gptq(rng, M, K, 64, act_order=True)
    qw = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], g_idx=t["g_idx"])
    with pytest.raises(TypeError, match="CUDA"):
        mixgemm.linear(np.zeros((1, K), np.float16), qw)


def test_apply_maps_every_array_and_checks_the_result():
    rng = np.random.default_rng(17)
    t, *_ = random_gptq(rng, M, K, 64, act_order=True)
    qw = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], g_idx=t["g_idx"])
    seen = []
    copy = qw.apply(lambda a: seen.append(a.dtype) or a.copy())
    assert sorted(map(str, seen)) == sorted(["uint8", "float16", "float16", "uint8", "int64"])
    for name in ("packed", "scales", "zeros", "zero_points", "act_perm"):
        a, b = getattr(qw, name), getattr(copy, name)
        assert a is not b and np.array_equal(a, b)
    with pytest.raises(TypeError, match="qw.packed has dtype float32"):
        qw.apply(lambda a: a.astype(np.float32))
    with pytest.raises(ValueError, match="qw.act_perm must be a permutation"):
        qw.apply(lambda a: np.zeros_like(a) if a.dtype == np.int64 else a)
    with pytest.raises(ValueError, match="qw.zero_points must lie in 0..15"):
        qw.apply(lambda a: np.full_like(a, 200) if a is qw.zero_points else a)
