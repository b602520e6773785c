"""Numerics (issue 5): overflow, NaN/inf propagation, extreme scales, integer ranges, exactness.

Each test builds its weight by hand (integer values packed with mixgemm.reference.pack_ref, scales and
zero points chosen by the test), checks that mixgemm.unpack/dequantize see exactly that weight, and runs
every catalog entry of the weight/activation type that accepts the problem (plus the heuristic choice)
into NaN-poisoned outputs. The reference is the fp64 product with dequantize(qw) (s*q + z' in fp32).

NaN/inf: a reference matmul's NaN/inf *pattern* is the contract; where a non-finite value lands, its sign
and whether it is NaN or inf may differ from the reference, because kernels apply scales and zero points
per group in a different order (e.g. the mma.sync decode kernels compute s*sum(q*x) + z'*sum(x), where the
reference sums x*(s*q + z'): with x = inf these can give inf-inf = NaN where the reference has +inf).
So inf tests assert the non-finite mask; NaN-only tests assert the NaN mask exactly.
"""
import math
import zlib

import numpy as np
import pytest

import mixgemm
from mixgemm import reference as R

from .fuzz_cases import compare, reference_and_bound, same_bits, weight_magnitude

pytestmark = pytest.mark.gpu

TYPES = sorted({(e["weight"], e["act"]) for e in mixgemm.kernels()})
QRANGE = {"s4": (-8, 7), "u4": (0, 15), "s8": (-128, 127)}
M, K, G = 272, 512, 64          # M off the 128-row tile; 8 groups
TOKENS = (5, 37)                # 5: every decode bucket and every CUTLASS tile; 37: the larger ones


def _types(act=None):
    return [t for t in TYPES if act is None or t[1] == act]


def _runners(weight, act, n, g=G, m=M, k=K):
    names = [e["name"] for e in mixgemm.kernels() if e["weight"] == weight and e["act"] == act]
    ok = [nm for nm in names if mixgemm.explain(m, n, k, group_size=g, weight=weight, act_dtype=act,
                                                kernel=nm)["kernel"] is not None]
    heuristic = mixgemm.explain(m, n, k, group_size=g, weight=weight, act_dtype=act)["kernel"] is not None
    return ok + ([None] if heuristic else [])


def _handmade(torch, weight, act, q, scales, zero_points=None, g=G):
    """QuantizedWeight from integers q [M, K], fp32 scales [K/g, M] (rounded to act) and, for u4, integer
    zero points [K/g, M] (stored as z' = -s*z rounded to act)."""
    m, k = q.shape
    dtype = getattr(torch, act)
    packed = torch.from_numpy(R.pack_ref(q, weight)).cuda()
    s = torch.from_numpy(np.ascontiguousarray(scales, dtype=np.float32)).cuda().to(dtype)
    z = None
    if weight == "u4":
        zp = torch.from_numpy(np.ascontiguousarray(zero_points, dtype=np.float32)).cuda()
        z = (-(s.float() * zp)).to(dtype)
    qw = mixgemm.QuantizedWeight(packed, s, z, (m, k), g, weight, act)
    assert np.array_equal(mixgemm.unpack(qw).cpu().numpy(), q), "test setup: pack_ref/unpack disagree"
    return qw


def _q_with_ends(rng, weight, m=M, k=K, g=G, lo=None, hi=None):
    """Random integers of the weight type's range, with both ends present in every group of every row."""
    qlo, qhi = QRANGE[weight]
    lo = qlo if lo is None else lo
    hi = qhi if hi is None else hi
    q = rng.integers(lo, hi + 1, size=(m, k))
    for j in range(k // g):
        q[:, j * g] = lo
        q[:, j * g + 1] = hi
    return q.astype(np.int8)


def _run_all(torch, x, qw, bias=None):
    """[(kernel name or None, y)] for every entry that accepts the problem and the heuristic pick."""
    n = x.reshape(-1, x.shape[-1]).shape[0]
    results = []
    runners = _runners(qw.weight, qw.act_dtype, n, g=qw.group_size, m=qw.shape[0], k=qw.shape[1])
    if not runners:
        pytest.skip(f"this build has no {qw.weight}/{qw.act_dtype} kernel for N={n}, group {qw.group_size}")
    for name in runners:
        y = torch.full(tuple(x.shape[:-1]) + (qw.shape[0],), float("nan"), dtype=x.dtype, device="cuda")
        mixgemm.linear(x, qw, bias=bias, out=y, kernel=name)
        results.append((name or "heuristic", y))
    torch.cuda.synchronize()
    return results


def _ref(torch, x, qw, bias=None):
    w = mixgemm.dequantize(qw)
    return reference_and_bound(torch, x.reshape(-1, x.shape[-1]), w, weight_magnitude(torch, qw, w), bias,
                               qw.act_dtype)


# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weight,act", _types(), ids=[f"{w}-{a}" for w, a in _types()])
def test_exact_when_no_rounding_is_needed(weight, act):
    """Power-of-two scales, small integer activations and bias: every product and partial sum is exact
    in fp32, so every kernel must return exactly the reference rounded once to the output dtype."""
    import torch
    rng = np.random.default_rng(1)
    q = _q_with_ends(rng, weight)
    scales = np.full((K // G, M), 2.0 ** -4, np.float32) * rng.choice([1.0, 2.0, 0.5, -1.0], size=(K // G, M))
    zp = rng.choice([0, 15, 8], size=(K // G, M)) if weight == "u4" else None
    qw = _handmade(torch, weight, act, q, scales, zp)
    dtype = getattr(torch, act)
    for n in TOKENS:
        x = torch.from_numpy(rng.integers(-4, 5, size=(n, K)).astype(np.float32)).cuda().to(dtype)
        bias = torch.from_numpy(rng.integers(-64, 65, size=M).astype(np.float32)).cuda().to(dtype)
        ref, _ = _ref(torch, x, qw, bias)
        want = ref.to(dtype)
        for name, y in _run_all(torch, x, qw, bias):
            assert same_bits(torch, y, want), (
                f"{name} N={n}: not exact; {int((y.double() != want.double()).sum())} elements differ, max |diff| "
                f"{float((y.double() - want.double()).abs().max()):.3g}")


@pytest.mark.parametrize("weight", ["s4", "u4", "s8"])
def test_fp16_overflow_becomes_inf(weight):
    """Outputs beyond the fp16 range become +-inf (as torch's fp32 -> fp16 conversion does), never a
    saturated 65504, a NaN or a wrapped value; outputs inside the range stay finite and correct."""
    import torch
    if (weight, "float16") not in TYPES:
        pytest.skip("no fp16 kernels of this weight type in this build")
    rng = np.random.default_rng(2)
    qhi = QRANGE[weight][1]
    q = rng.integers(1, qhi + 1, size=(M, K)).astype(np.int8)            # all weights positive
    scales = np.full((K // G, M), 1.0 / (qhi + 1), np.float32)           # power of two: w in (0, 1)
    qw = _handmade(torch, weight, "float16", q, scales, np.zeros((K // G, M)) if weight == "u4" else None)
    for n in TOKENS:
        mags = np.array([1000.0, -1000.0, 350.0, -350.0, 300.0, 100.0, 20.0, 600.0])[np.arange(n) % 8]
        xs = mags[:, None] * rng.uniform(0.5, 1.0, size=(n, K))
        x = torch.from_numpy(xs.astype(np.float32)).cuda().half()
        ref, bound = _ref(torch, x, qw)
        over = ref.abs() >= 65520 * 1.001           # rounds to inf
        under = ref.abs() <= 65504 * 0.999          # rounds to a finite value
        assert bool(over.any()) and bool(under.any()), "test setup: need both overflowing and finite outputs"
        for name, y in _run_all(torch, x, qw):
            yd = y.double()
            assert not bool(torch.isnan(yd).any()), f"{name} N={n}: NaN outputs"
            want_inf = torch.sign(ref[over]) * math.inf
            assert bool((yd[over] == want_inf).all()), (
                f"{name} N={n}: {int((yd[over] != want_inf).sum())} of {int(over.sum())} overflowing outputs are "
                f"not +-inf, e.g. {float(yd[over][yd[over] != want_inf][0])}")
            zero = torch.zeros_like(ref)
            bad = compare(torch, torch.where(under, yd, zero), torch.where(under, ref, zero), bound, "float16",
                          f"{name} N={n} finite part: ")
            assert bad is None, bad


@pytest.mark.parametrize("weight", ["s4", "u4", "s8"])
def test_bf16_overflow_beyond_fp32_range_becomes_inf(weight):
    """bf16 has fp32's range: huge scales times huge activations overflow the fp32 accumulator and the
    bf16 output to +-inf; moderate rows of the same call stay finite and correct."""
    import torch
    if (weight, "bfloat16") not in TYPES:
        pytest.skip("no bf16 kernels of this weight type in this build")
    rng = np.random.default_rng(3)
    qhi = QRANGE[weight][1]
    q = rng.integers(1, qhi + 1, size=(M, K)).astype(np.int8)
    scales = np.full((K // G, M), 2.0 ** 100 / (qhi + 1), np.float32)     # w in (0, 2^100)
    qw = _handmade(torch, weight, "bfloat16", q, scales, np.zeros((K // G, M)) if weight == "u4" else None)
    for n in TOKENS:
        mags = np.array([2.0 ** 40, -(2.0 ** 40), 1.0, -(2.0 ** 10), 2.0 ** -20])[np.arange(n) % 5]
        xs = mags[:, None] * rng.uniform(0.5, 1.0, size=(n, K))
        x = torch.from_numpy(xs.astype(np.float32)).cuda().bfloat16()
        ref, bound = _ref(torch, x, qw)
        over = ref.abs() >= 3.5e38
        under = ref.abs() <= 3.0e38
        assert bool(over.any()) and bool(under.any())
        for name, y in _run_all(torch, x, qw):
            yd = y.double()
            want_inf = torch.sign(ref[over]) * math.inf
            assert bool((yd[over] == want_inf).all()), f"{name} N={n}: overflowing outputs are not +-inf"
            zero = torch.zeros_like(ref)
            bad = compare(torch, torch.where(under, yd, zero), torch.where(under, ref, zero), bound, "bfloat16",
                          f"{name} N={n} finite part: ")
            assert bad is None, bad


def _weight_with_one_scale(torch, rng, weight, act, at, value):
    """A handmade weight (range-end integers, moderate scales, u4 zero points 0 or 15) whose scale at
    `at` = (group, output channel) is `value` (NaN, inf)."""
    q = _q_with_ends(rng, weight)
    scales = rng.uniform(0.5, 2.0, size=(K // G, M)) / 64
    scales[at] = value
    zp = rng.choice([0, 15], size=(K // G, M)) if weight == "u4" else None
    return _handmade(torch, weight, act, q, scales, zp)


def _assert_same_mask_rest_close(torch, where, y, got, want, ref, bound, act, mask_name, rest_name):
    """got == want (the output's and the reference's masks of special values) everywhere, and y within
    the error bound of ref outside the mask."""
    assert bool((got == want).all()), (
        f"{where}: {mask_name} pattern differs from the reference at "
        f"{[tuple(int(v) for v in i) for i in (got != want).nonzero()[:5]]}")
    zero = torch.zeros_like(ref)
    bad = compare(torch, torch.where(want, zero, y.double()), torch.where(want, zero, ref), bound, act,
                  f"{where} {rest_name} part: ")
    assert bad is None, bad


@pytest.mark.parametrize("weight,act", _types(), ids=[f"{w}-{a}" for w, a in _types()])
def test_nan_propagates_like_reference(weight, act):
    """NaN in a token row of x, in one scale (one group of one output channel) or in the bias gives
    exactly the reference's NaN pattern: whole rows, whole columns; everything else finite and correct."""
    import torch
    rng = np.random.default_rng(4)
    qw = _weight_with_one_scale(torch, rng, weight, act, (2, 7), np.nan)
    dtype = getattr(torch, act)
    for n in TOKENS:
        x = torch.randn(n, K, device="cuda").to(dtype)
        x[1, 100] = float("nan")
        x[n - 1, 7] = float("nan")
        bias = torch.randn(M, device="cuda").to(dtype)
        bias[11] = float("nan")
        ref, bound = _ref(torch, x, qw, bias)
        want_nan = torch.isnan(ref)
        assert bool(want_nan[1].all()) and bool(want_nan[:, 7].all()) and bool(want_nan[:, 11].all())
        for name, y in _run_all(torch, x, qw, bias):
            _assert_same_mask_rest_close(torch, f"{name} N={n}", y, torch.isnan(y), want_nan, ref, bound, act,
                                         "NaN", "non-NaN")


@pytest.mark.parametrize("weight,act", _types(), ids=[f"{w}-{a}" for w, a in _types()])
def test_inf_propagates_like_reference(weight, act):
    """+-inf in x, an inf scale and an inf bias: outputs are non-finite exactly where the reference is
    (sign and NaN-vs-inf may differ, see the module doc); the rest finite and correct."""
    import torch
    rng = np.random.default_rng(5)
    qw = _weight_with_one_scale(torch, rng, weight, act, (3, 9), np.inf)
    dtype = getattr(torch, act)
    for n in TOKENS:
        x = torch.randn(n, K, device="cuda").to(dtype)
        x[1, 5] = float("inf")
        x[2, 300] = -float("inf")
        x[3, 0] = float("inf")
        x[3, 511] = -float("inf")
        bias = torch.randn(M, device="cuda").to(dtype)
        bias[13] = -float("inf")
        ref, bound = _ref(torch, x, qw, bias)
        want = ~torch.isfinite(ref)
        assert bool(want[1].all()) and bool(want[3].all()) and bool(want[:, 9].all()) and bool(want[:, 13].all())
        for name, y in _run_all(torch, x, qw, bias):
            _assert_same_mask_rest_close(torch, f"{name} N={n}", y, ~torch.isfinite(y), want, ref, bound, act,
                                         "non-finite", "finite")


# Scale magnitudes per kind. fp16 "huge" keeps s*q (+ z') inside fp16 (|s*q| <= 65504 for every q of
# the range), since the CUTLASS kernels form the 16-bit weight s*q + z' before the MMA.
_FP16_HUGE = {"s4": (4000.0, 8000.0), "u4": (2000.0, 4000.0), "s8": (250.0, 500.0)}
KINDS = ["tiny", "huge", "negative", "mixed", "zero", "per_channel"]


def _scales(rng, kind, weight, act, g):
    shape = (K // g, M)
    if kind == "tiny":
        # fp16: 2^-20..2^-19 are subnormal (smallest normal 2^-14); bf16: 1e-30 (normal: subnormal scales
        # would be flushed by fp32 arithmetic built with -ftz, a legitimate difference not tested here).
        return (2.0 ** -20 if act == "float16" else 1e-30) * rng.uniform(1.0, 2.0, size=shape)
    if kind == "huge":
        lo, hi = _FP16_HUGE[weight] if act == "float16" else (1e30, 2e30)
        return rng.uniform(lo, hi, size=shape)
    if kind == "negative":
        return -rng.uniform(0.5, 2.0, size=shape) / 16
    if kind in ("mixed", "per_channel"):
        top = math.log10(_FP16_HUGE[weight][1]) if act == "float16" else 20
        bottom = -3 if act == "float16" else -20
        return rng.choice([-1.0, 1.0], size=shape) * 10 ** rng.uniform(bottom, top, size=shape)
    if kind == "zero":
        s = rng.uniform(0.5, 2.0, size=shape) / 16
        s[rng.random(shape) < 0.5] = 0.0
        s[:, 5] = 0.0                                    # a whole output channel of zeros
        return s
    raise ValueError(kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("weight,act", _types(), ids=[f"{w}-{a}" for w, a in _types()])
def test_extreme_scales_and_range_ends(weight, act, kind):
    """Integer values at both ends of their range in every group (-8/7, 0/15 with zero points 0 and 15,
    -128/127) under tiny (subnormal in fp16), huge, negative, mixed-magnitude and zero scales."""
    import torch
    rng = np.random.default_rng(zlib.crc32(f"{weight}/{act}/{kind}".encode()))
    g = K if kind == "per_channel" else G
    q = _q_with_ends(rng, weight, g=g)
    scales = _scales(rng, kind, weight, act, g)
    zp = rng.choice([0, 15], size=(K // g, M)) if weight == "u4" else None
    qw = _handmade(torch, weight, act, q, scales, zp, g=g)
    dtype = getattr(torch, act)
    s_typ = float(np.median(np.abs(qw.scales.float().cpu().numpy()))) or 1.0
    q_typ = {"s4": 4.0, "u4": 8.0, "s8": 64.0}[weight]
    target = 100.0 if kind == "huge" and act == "float16" else 1.0
    x_scale = target / (s_typ * q_typ * math.sqrt(K))
    for n in TOKENS:
        # |x| in [0.5, 2] * x_scale with random signs: no subnormal activations (the subnormal operands under
        # test here are the fp16 weights of the "tiny" kind).
        mag = torch.rand(n, K, device="cuda", dtype=torch.float64) * 1.5 + 0.5
        sign = (torch.rand(n, K, device="cuda") < 0.5).double() * 2 - 1
        x = (mag * sign * x_scale).to(dtype)
        bias = (torch.randn(M, device="cuda") * target).to(dtype) if kind == "zero" else None
        ref, bound = _ref(torch, x, qw, bias)
        assert bool(torch.isfinite(ref).all()), "test setup: reference overflowed"
        assert float(ref.abs().max()) < (6e4 if act == "float16" else 1e38), "test setup: output out of range"
        for name, y in _run_all(torch, x, qw, bias):
            bad = compare(torch, y, ref, bound, act, f"{name} {kind} N={n}: ")
            assert bad is None, bad
            if kind == "zero":
                col = y[:, 5].double()
                assert bool((col == bias[5].double()).all()), f"{name}: an all-zero channel must give exactly the bias"


def test_quantize_round_trip_keeps_extreme_but_valid_weights():
    """quantize() on weights spanning many orders of magnitude (per group) followed by linear: still within
    the bound of dequantize(qw) (the fuzz covers random weights; this covers badly scaled ones)."""
    import torch
    for weight, act in TYPES:
        dtype = getattr(torch, act)
        w = torch.randn(M, K, device="cuda")
        w *= 10 ** torch.linspace(-3, 2, K // G, device="cuda").repeat_interleave(G)[None, :]
        if act == "float16":
            w.clamp_(-6e4, 6e4)
        qw = mixgemm.quantize(w.to(dtype), bits=8 if weight == "s8" else 4, group_size=G, symmetric=weight != "u4")
        x = (torch.randn(TOKENS[1], K, device="cuda") / 100).to(dtype)
        ref, bound = _ref(torch, x, qw)
        for name, y in _run_all(torch, x, qw):
            bad = compare(torch, y, ref, bound, act, f"{weight}/{act} {name}: ")
            assert bad is None, bad


@pytest.mark.parametrize("weight", ["s4", "u4", "s8"])
def test_bf16_results_scale_exactly_with_power_of_two_scales(weight):
    """Scales (and zero terms) times 2^50 give outputs times 2^50, bit for bit, on every bf16 entry: a
    power of two moves no rounding, so a kernel that rescales anything internally (the fourteenth
    session tried bf16 fragments scaled by 2^-43, exact only for scales of 2^-60..2^38) must not change
    a single bit between scales of ~2^-6 and ~2^44."""
    import torch
    if (weight, "bfloat16") not in TYPES:
        pytest.skip("no bf16 kernels of this weight type in this build")
    rng = np.random.default_rng(7)
    q = _q_with_ends(rng, weight)
    scales = rng.uniform(0.5, 2.0, size=(K // G, M)) / 64                # ~2^-6: inside the window
    zp = rng.integers(0, 16, size=(K // G, M)) if weight == "u4" else None
    small = _handmade(torch, weight, "bfloat16", q, scales, zp)
    big = _handmade(torch, weight, "bfloat16", q, scales * 2.0 ** 50, zp)  # ~2^44: outside it
    assert same_bits(torch, big.scales, (small.scales.float() * 2.0 ** 50).bfloat16())
    if weight == "u4":
        assert same_bits(torch, big.zeros, (small.zeros.float() * 2.0 ** 50).bfloat16())
    for n in TOKENS:
        x = torch.randn(n, K, device="cuda").bfloat16()
        for (name, y_small), (_, y_big) in zip(_run_all(torch, x, small), _run_all(torch, x, big)):
            assert bool(torch.isfinite(y_small).all()), f"{name} N={n}: non-finite outputs"
            want = (y_small.float() * 2.0 ** 50).bfloat16()
            assert same_bits(torch, y_big, want), (
                f"{name} N={n}: outputs with scales * 2^50 are not the outputs * 2^50 "
                f"({int((y_big != want).sum())} of {y_big.numel()} differ)")
