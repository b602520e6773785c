"""Differential fuzzing of ``mixgemm.linear`` against an fp64 reference (issue 5).

Shared by ``tests/gpu/test_fuzz.py`` (a seeded, bounded run) and ``tools/fuzz.py`` (long runs), and the
reference/error-bound helpers are shared with ``tests/gpu/test_numerics.py``.

The contract under test: every input either gives a correct answer, or raises TypeError/ValueError
before anything is launched (an ``out=`` array keeps its contents). Never a wrong answer, an unwritten
(NaN-poisoned) output element, a write next to the output, a CUDA error, a crash or a hang.

- ``generate(seed, index, catalog)``: one random ``Case`` from the seed and index alone (pure Python
  plus ``mixgemm.explain``, which never touches CUDA), with the outcome the contract demands:
  ``ok`` (must compute correctly), ``reject`` (must raise TypeError/ValueError and write nothing),
  ``either`` (one or the other, e.g. misaligned weight arrays or an ``out`` that aliases ``x``),
  or ``quantize_reject`` (``quantize`` itself must refuse the shape/group size).
- ``run_case(torch, case)``: builds the tensors on the GPU, calls ``linear``, checks the outcome.
- ``supervise(...)``: runs cases in a child process that announces each case before running it and is
  killed by a per-case watchdog (``faulthandler``), so a crash, a sticky CUDA error or a hang becomes
  a recorded failure with a one-line repro, and the run goes on in a fresh process.

This file is self-contained (no imports from its package) because the worker runs it as a script.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

OTHER_ACT = {"float16": "bfloat16", "bfloat16": "float16"}
ALL_TYPES = [(w, a) for w in ("s4", "u4", "s8") for a in ("float16", "bfloat16")]

# ----------------------------------------------------------------------------------------------------
# Reference and error bound (also used by test_numerics.py)
# ----------------------------------------------------------------------------------------------------

# Unit roundoff of the activation dtype: the output is rounded to it, and the CUTLASS kernels round
# each dequantized weight s*q (+ z') to it before the MMA.
UNIT = {"float16": 2.0 ** -11, "bfloat16": 2.0 ** -8}
# Absolute rounding error floor of one dequantized weight (half the smallest subnormal).
TINY_W = {"float16": 2.0 ** -25, "bfloat16": 2.0 ** -134}
# Absolute rounding error floor of one output element.
FLOOR_OUT = {"float16": 2.0 ** -24, "bfloat16": 2.0 ** -133}


def dense_weight(torch, qw):
    """The fp32 weight [M, K] the QuantizedWeight stands for (mixgemm.dequantize: s*q + z' in fp32)."""
    import mixgemm
    return mixgemm.dequantize(qw)


def weight_magnitude(torch, qw, w):
    """Per-element magnitude that bounds the rounding error of a kernel's 16-bit weight value.

    s4/s8: |s*q|. u4: the kernel may round s*q and then s*q + z', so 2|W| + |z'| bounds both.
    """
    wmag = w.abs()
    if qw.zeros is not None:
        g = qw.group_size
        z = qw.zeros.float().abs().repeat_interleave(g, dim=0).T   # [M, K], stored column order
        if getattr(qw, "act_perm", None) is not None:                # dequantize returns the original order
            z = z[:, torch.argsort(qw.act_perm.long())]
        wmag = 2.0 * wmag + z
    return wmag


def reference_and_bound(torch, x2d, w, wmag, bias, act):
    """(ref, bound), both float64 [N, M]: ref = x @ w^T (+ bias) in fp64, and a per-element bound on
    |y - ref| for a kernel that rounds weights and outputs to `act` and accumulates in fp32.

    bound = (u + 2^-23)*|ref|                       (output rounding, after an fp32 bias add)
          + 6*sqrt(sum_k x_k^2 (u*wmag_k + tiny)^2)  (16-bit weights: independent roundings, ~10 sigma)
          + K*2^-22*sqrt(sum_k x_k^2 wmag_k^2)       (fp32 accumulation, also split-K/stream-K partials)
          + floor                                    (output subnormals)
    Calibration (a host model of the CUTLASS path, rounding s*q and s*q + z' to 16 bits): the worst
    element of ~180 fuzz cases used 0.65 of the bound with the factor 4 used before; a bug (wrong group,
    row, scale) gives errors around sqrt(sum_k x_k^2 wmag_k^2), 100x and more above the bound.
    Non-finite inputs are zeroed for the bound only; callers compare finite positions.
    """
    xd = x2d.double()
    wd = w.double()
    ref = xd @ wd.T
    if bias is not None:
        ref = ref + bias.double()
    xa2 = torch.nan_to_num(xd, nan=0.0, posinf=0.0, neginf=0.0).square()
    wm = torch.nan_to_num(wmag.double(), nan=0.0, posinf=0.0, neginf=0.0)
    k = x2d.shape[-1]
    r_w = (xa2 @ (UNIT[act] * wm + TINY_W[act]).square().T).sqrt()
    r_a = (xa2 @ wm.square().T).sqrt()
    finite_ref = torch.nan_to_num(ref, nan=0.0, posinf=0.0, neginf=0.0)
    bound = (UNIT[act] + 2.0 ** -23) * finite_ref.abs() + 6.0 * r_w + (k * 2.0 ** -22) * r_a + FLOOR_OUT[act]
    return ref, bound


def compare(torch, y2d, ref, bound, act, where: str = "") -> Optional[str]:
    """None when y matches ref within bound everywhere (y all finite), else a message on the worst element."""
    y = y2d.double()
    if y.shape != ref.shape:
        return f"{where}output shape {tuple(y.shape)}, expected {tuple(ref.shape)}"
    if y.numel() == 0:
        return None
    nan = torch.isnan(y)
    if bool(nan.any()):
        idx = [int(v) for v in nan.nonzero()[0]]
        return (f"{where}{int(nan.sum())} of {y.numel()} outputs are NaN (unwritten or poisoned), "
                f"first at [n, m] = {idx}, reference there {float(ref[tuple(idx)]):.6g}")
    inf = torch.isinf(y) & torch.isfinite(ref)
    if bool(inf.any()):
        idx = [int(v) for v in inf.nonzero()[0]]
        return f"{where}{int(inf.sum())} outputs are inf where the reference is finite, first at {idx}"
    err = (y - ref).abs()
    ratio = err / bound
    worst = float(ratio.max())
    if not worst <= 1.0:
        flat = int(ratio.argmax())
        n, m = divmod(flat, y.shape[1])
        return (f"{where}{int((ratio > 1).sum())} of {y.numel()} outputs outside the error bound; worst at "
                f"[n, m] = [{n}, {m}]: got {float(y[n, m]):.6g}, want {float(ref[n, m]):.6g}, |err| "
                f"{float(err[n, m]):.3g} = {worst:.1f} x bound {float(bound[n, m]):.3g}")
    # Aggregate check: independent roundings give errors of about 1/7 of the bound on average; errors
    # that sit near the bound everywhere are systematic (e.g. a slightly wrong scale) even if none exceeds it.
    agg = float(torch.linalg.norm(err)) / float(torch.linalg.norm(bound))
    if agg > 0.5:
        return (f"{where}errors are systematically large: ||err|| = {agg:.2f} x ||bound|| "
                f"(independent roundings give ~0.1)")
    return None


def same_bits(torch, a, b) -> bool:
    """Bitwise equality (NaN payloads included), for tensors of one dtype and shape."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    view = {2: torch.int16, 4: torch.int32, 8: torch.int64, 1: torch.uint8}[a.element_size()]
    return bool(torch.equal(a.contiguous().view(view), b.contiguous().view(view)))


# ----------------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------------

X_MODES = ("contig", "guarded", "misaligned", "noncontig", "expanded", "wrong_dtype", "cpu", "wrong_k")
OUT_MODES = ("none", "ok", "guarded", "misaligned", "noncontig", "wrong_dtype", "wrong_shape", "alias_x",
             "alias_bias")
BIAS_MODES = ("none", "ok", "misaligned", "wrong_dtype", "wrong_shape", "cpu")
STREAM_MODES = ("current", "side_ctx", "side_arg")

X_REJECT = {"misaligned", "noncontig", "expanded", "wrong_dtype", "cpu", "wrong_k"}
OUT_REJECT = {"misaligned", "noncontig", "wrong_dtype", "wrong_shape"}
OUT_EITHER = {"alias_x", "alias_bias"}     # in-place calls: a correct result or a clear refusal
BIAS_REJECT = {"misaligned", "wrong_dtype", "wrong_shape", "cpu"}

# Alterations of a QuantizedWeight after packing, and what the contract demands of each.
TAMPER_EXPECT = {
    "none": "ok",
    # arrays replaced by wrong ones
    "packed_short": "reject", "packed_long": "reject", "packed_int8": "reject", "packed_cpu": "reject",
    "packed_2d": "reject", "packed_noncontig": "reject",
    "scales_float32": "reject", "scales_other_act": "reject", "scales_int16": "reject", "scales_cpu": "reject",
    "scales_transposed": "reject", "scales_noncontig": "reject",
    "zeros_none": "reject", "zeros_float32": "reject", "zeros_cpu": "reject", "zeros_extra": "reject",
    # metadata changed
    "shape_swapped": "reject", "shape_3d": "reject", "group_double": "reject", "group_zero": "reject",
    "group_negative": "reject", "format_version": "reject", "act_flip": "reject", "act_invalid": "reject",
    "weight_invalid": "reject", "s4_as_s8": "reject", "s8_as_s4": "reject", "u4_as_s8": "reject",
    "not_qw": "reject",
    # same values at a 2-byte/1-byte offset: the kernels need 16-byte aligned arrays
    "packed_misaligned": "either", "scales_misaligned": "either", "zeros_misaligned": "either",
    # still a well-formed weight (different values or different storage): must compute dequantize(qw)
    "packed_random": "ok", "guarded": "ok", "u4_as_s4": "ok", "s4_as_u4": "ok",
    # act-order permutation and integer zero points (issue 4 fields)
    "act_perm_random": "ok", "act_perm_int32": "ok", "act_perm_short": "reject", "act_perm_float": "reject",
    "act_perm_cpu": "reject", "act_perm_noncontig": "reject",
    "zero_points_exact": "ok", "zero_points_for_symmetric": "reject", "zero_points_float": "reject",
    "zero_points_cpu": "reject", "zero_points_transposed": "reject",
    # Wrong *values* in arrays whose values the library does not check on the GPU (that would cost a
    # device synchronization): not drawn by generate(); tests/gpu/test_fuzz.py runs them separately.
    "act_perm_out_of_range": "reject", "act_perm_duplicates": "reject", "zero_points_out_of_range": "reject",
    "zero_points_inconsistent": "either",
}
# Arrays of the same QuantizedWeight object changed in place after a first call (which may have cached
# its validation): run_case calls linear once with the intact weight, alters it, then runs the case.
TAMPER_EXPECT.update({
    "inplace_scales_dtype": "reject",      # scales.data = scales.data.to(other activation dtype)
    "inplace_packed_resize": "reject",     # packed.resize_(fewer bytes)
    "inplace_scales_strides": "reject",    # scales.as_strided_(same shape, transposed strides): not contiguous
    "inplace_packed_values": "ok",         # packed.random_(): a different but well-formed weight
    "inplace_scales_values": "ok",         # scales.mul_(-2)
})
INPLACE_TAMPERS = [t for t in TAMPER_EXPECT if t.startswith("inplace_")]
VALUE_TAMPERS = ["act_perm_out_of_range", "act_perm_duplicates", "zero_points_out_of_range",
                 "zero_points_inconsistent"]
TAMPER_WEIGHT = {"u4_as_s4": "s4", "s4_as_u4": "u4"}   # weight type after a still-valid reinterpretation


def applicable_tampers(weight: str, m: int, k: int, g: int) -> List[str]:
    groups = k // g
    t = ["packed_short", "packed_long", "packed_int8", "packed_cpu", "packed_2d", "packed_noncontig",
         "packed_misaligned", "scales_float32", "scales_other_act", "scales_int16", "scales_cpu",
         "scales_misaligned", "shape_3d", "group_double", "group_zero", "group_negative", "format_version",
         "act_flip", "act_invalid", "weight_invalid", "not_qw", "packed_random", "guarded"]
    if m != k:
        t.append("shape_swapped")
    if m != groups:
        t.append("scales_transposed")
    if groups > 1:
        t.append("scales_noncontig")
    t += ["act_perm_random", "act_perm_int32", "act_perm_short", "act_perm_float", "act_perm_cpu",
          "act_perm_noncontig"]
    t += [x for x in INPLACE_TAMPERS if x != "inplace_scales_strides" or groups > 1]
    if weight == "u4":
        t += ["zeros_none", "zeros_float32", "zeros_cpu", "zeros_misaligned", "u4_as_s4", "u4_as_s8",
              "zero_points_exact", "zero_points_float", "zero_points_cpu"]
        if m != groups:
            t.append("zero_points_transposed")
    else:
        t += ["zeros_extra", "zero_points_for_symmetric"]
    if weight == "s4":
        t += ["s4_as_u4", "s4_as_s8"]
    if weight == "s8":
        t.append("s8_as_s4")
    return t


@dataclass
class Case:
    seed: int
    index: int
    weight: str                  # s4 | u4 | s8 (what quantize is asked for)
    act: str                     # float16 | bfloat16
    m: int                       # out_features
    k: int                       # in_features
    group: Optional[int]         # passed to quantize; None = per-channel
    batch: List[int]             # leading dims of x ([] = 1-D x)
    source: str = "float16"      # dtype of the weight handed to quantize
    w_scale: float = 1.0         # weight std * sqrt(K)
    x_scale: float = 1.0         # activation std
    outliers: bool = False
    x_mode: str = "contig"
    out_mode: str = "none"
    bias_mode: str = "none"
    stream: str = "current"
    kernel: Optional[str] = None
    tamper: str = "none"
    data_seed: int = 0
    expect: str = "ok"           # ok | reject | either | quantize_reject
    why: List[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return math.prod(self.batch)

    @property
    def g(self) -> int:
        return self.k if self.group in (None, -1) else int(self.group)

    def short(self) -> str:
        extras = [f"x={self.x_mode}" if self.x_mode != "contig" else "",
                  f"out={self.out_mode}" if self.out_mode != "none" else "",
                  f"bias={self.bias_mode}" if self.bias_mode != "none" else "",
                  f"stream={self.stream}" if self.stream != "current" else "",
                  f"kernel={self.kernel}" if self.kernel else "",
                  f"tamper={self.tamper}" if self.tamper != "none" else "",
                  f"src={self.source}" if self.source != self.act else ""]
        return (f"#{self.index} {self.weight}/{self.act} M={self.m} K={self.k} g={self.group} x{list(self.batch)} "
                + " ".join(e for e in extras if e) + f" -> expect {self.expect}")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_json(d: dict) -> "Case":
        return Case(**d)


def documented_kernel_accepts(entry: dict, m: int, n: int, k: int, g: int) -> bool:
    """The constraints README/dispatch document, written independently of the library's own checks."""
    if m <= 0 or k <= 0 or n < 0 or g <= 0 or k % g or m % 16 or k % 64:
        return False
    if entry["family"] == "decode":   # the widest bucket (64 tokens) runs any N in 64-token chunks
        return (n <= entry["tile_n"] or entry["tile_n"] == 64) and (g == 32 or g % 64 == 0)
    return g == k or g % 64 == 0


def expectation(case: Case) -> Tuple[str, List[str]]:
    """What the contract demands of a case, and why. Uses mixgemm.explain (host-only) for kernel choice."""
    import mixgemm
    m, k, g, n = case.m, case.k, case.g, case.n
    if m <= 0 or k <= 0 or g <= 0 or k % g or m % 16 or k % 64:
        return "quantize_reject", [f"quantize must refuse M={m} K={k} group={case.group}"]
    reject, either = [], []
    t = TAMPER_EXPECT[case.tamper]
    if t == "reject":
        reject.append(f"weight tampered: {case.tamper}")
    elif t == "either":
        either.append(f"weight tampered: {case.tamper}")
    if case.x_mode in X_REJECT:
        reject.append(f"x is {case.x_mode}")
    if case.out_mode in OUT_REJECT:
        reject.append(f"out is {case.out_mode}")
    elif case.out_mode in OUT_EITHER:
        either.append(f"out is {case.out_mode} (in-place)")
    if case.bias_mode in BIAS_REJECT:
        reject.append(f"bias is {case.bias_mode}")
    if n == 0:
        either.append("no tokens (N=0)")
    if not reject:
        weight = TAMPER_WEIGHT.get(case.tamper, case.weight)
        info = mixgemm.explain(m, n, k, group_size=g, weight=weight, act_dtype=case.act,
                               bias=case.bias_mode != "none", kernel=case.kernel)
        if info["kernel"] is None:
            reject.append(f"no kernel: {info['reason']}")
    if reject:
        return "reject", reject
    if either:
        return "either", either
    return "ok", []


def _pick(rng: random.Random, table: List[Tuple[float, object]]):
    r = rng.random() * sum(w for w, _ in table)
    for w, v in table:
        r -= w
        if r < 0:
            return v
    return table[-1][1]


def _factor(rng: random.Random, n: int, parts: int) -> List[int]:
    dims = []
    for _ in range(parts - 1):
        divs = [d for d in range(1, min(n, 4096) + 1) if n % d == 0] if n > 0 else [rng.choice([1, 2, 3])]
        d = rng.choice(divs)
        dims.append(d)
        n = n // d if d else n
    dims.append(n)
    rng.shuffle(dims)
    return dims


def generate(seed: int, index: int, kernels: List[dict], max_elems: int = 1 << 26,
             max_work: int = 1 << 35) -> Case:
    """A random case, a pure function of (seed, index, catalog, caps).

    max_elems caps M*K (weight size), max_work caps M*N*K (reference cost).
    """
    rng = random.Random(f"mixgemm-fuzz/{seed}/{index}")
    present = sorted({(e["weight"], e["act"]) for e in kernels})
    weight, act = rng.choice(present) if present and rng.random() < 0.97 else rng.choice(ALL_TYPES)

    group = _pick(rng, [(0.18, None), (0.12, 32), (0.18, 64), (0.22, 128), (0.08, 256),
                        (0.07, rng.choice([512, 1024, 2048])), (0.10, rng.choice([96, 160, 192, 320, 384, 448])),
                        (0.03, rng.choice([16, 48, 100, 0, -64, 8, 40]))])
    k_units = _pick(rng, [(0.30, rng.randint(1, 8)), (0.45, rng.randint(9, 64)), (0.20, rng.randint(65, 256)),
                          (0.05, rng.randint(257, 512))])
    k = 64 * k_units
    m = 16 * _pick(rng, [(0.25, rng.randint(1, 16)), (0.45, rng.randint(17, 256)), (0.25, rng.randint(257, 1024)),
                         (0.05, rng.randint(1025, 3584))])
    g_pos = group if group not in (None, -1) and group > 0 else None
    if g_pos and k % g_pos and rng.random() < 0.95:
        step = g_pos * 64 // math.gcd(g_pos, 64)
        k = step * max(1, round(k / step))
    # Caps: shrink M first, then K (keeping K a multiple of its group and of 64).
    if m * k > max_elems:
        m = max(16, (max_elems // k) // 16 * 16)
    if m * k > max_elems:
        step = 64 if not g_pos else g_pos * 64 // math.gcd(g_pos, 64)
        k = step * max(1, (max_elems // m) // step)
    bad_shape = rng.random() < 0.03
    if bad_shape:
        if rng.random() < 0.5:
            m += rng.randint(1, 15)
        else:
            k += rng.choice([8, 16, 32, 48])

    n = _pick(rng, [(0.02, 0), (0.15, 1), (0.15, rng.randint(2, 8)), (0.25, rng.randint(9, 64)),
                    (0.20, rng.randint(65, 300)), (0.15, rng.randint(301, 2048)), (0.08, rng.randint(2049, 8192))])
    if n * m * k > max_work:
        n = max(1, max_work // (m * k))
    if n == 1 and rng.random() < 0.15:
        batch: List[int] = []
    else:
        batch = _factor(rng, n, _pick(rng, [(0.7, 1), (0.2, 2), (0.1, 3)]))

    source = _pick(rng, [(0.7, act), (0.2, "float32"), (0.1, OTHER_ACT[act])])
    w_scale = 10 ** rng.uniform(-1.5, 1.2)
    x_scale = 10 ** rng.uniform(-1.5, 1.2)
    if w_scale * x_scale > 200:
        x_scale = 200 / w_scale
    if w_scale * x_scale < 2e-3:
        x_scale = 2e-3 / w_scale

    x_mode = _pick(rng, [(0.62, "contig"), (0.25, "guarded"), (0.03, "misaligned"), (0.03, "noncontig"),
                         (0.015, "expanded"), (0.015, "wrong_dtype"), (0.01, "cpu"), (0.02, "wrong_k")])
    out_mode = _pick(rng, [(0.35, "none"), (0.25, "ok"), (0.25, "guarded"), (0.025, "misaligned"),
                           (0.025, "noncontig"), (0.02, "wrong_dtype"), (0.02, "wrong_shape"),
                           (0.01, "alias_x"), (0.01, "alias_bias")])
    bias_mode = _pick(rng, [(0.55, "none"), (0.41, "ok"), (0.01, "misaligned"), (0.01, "wrong_dtype"),
                            (0.01, "wrong_shape"), (0.01, "cpu")])
    stream = _pick(rng, [(0.7, "current"), (0.15, "side_ctx"), (0.15, "side_arg")])
    if x_mode == "expanded" and n <= 1:
        x_mode = "noncontig"
    if out_mode == "alias_x":
        if n >= 1 and not bad_shape and k * k <= max_elems and n * k * k <= max_work and x_mode == "contig":
            m = k                      # out [..., M] can be x [..., K] itself
        else:
            out_mode = "ok"
    if out_mode == "alias_bias":
        if n >= 1:
            bias_mode = "ok"
        else:
            out_mode = "ok"
    if n == 0:                          # empty tensors have no meaningful address or strides
        x_mode = "contig"
        out_mode = "ok" if out_mode != "none" else "none"

    case = Case(seed=seed, index=index, weight=weight, act=act, m=m, k=k, group=group, batch=batch,
                source=source, w_scale=w_scale, x_scale=x_scale, outliers=rng.random() < 0.2, x_mode=x_mode,
                out_mode=out_mode, bias_mode=bias_mode, stream=stream, data_seed=rng.getrandbits(62))

    valid_problem = m % 16 == 0 and k % 64 == 0 and case.g > 0 and k % case.g == 0
    if valid_problem and rng.random() < 0.08:
        case.tamper = rng.choice(applicable_tampers(weight, m, k, case.g))
    if case.tamper in INPLACE_TAMPERS:     # the plain eager torch call: where a validation cache would apply
        case.x_mode, case.stream = "contig", "current"
        case.out_mode = case.out_mode if case.out_mode in ("none", "ok", "guarded") else "ok"
        case.bias_mode = case.bias_mode if case.bias_mode in ("none", "ok") else "ok"
    same = [e["name"] for e in kernels if e["weight"] == weight and e["act"] == act]
    r = rng.random()
    if r < 0.45 or not same or not valid_problem or case.tamper in INPLACE_TAMPERS:
        case.kernel = None
    elif r < 0.93:
        import mixgemm
        ok = [nm for nm in same if mixgemm.explain(m, n, k, group_size=case.g, weight=weight, act_dtype=act,
                                                   kernel=nm)["kernel"] is not None]
        case.kernel = rng.choice(ok or same)
    elif r < 0.98:
        case.kernel = rng.choice(same)
    else:
        others = [e["name"] for e in kernels if e["name"] not in same]
        case.kernel = rng.choice(others + ["no_such_kernel"])
    case.expect, case.why = expectation(case)
    return case


# ----------------------------------------------------------------------------------------------------
# Running one case (worker side; needs torch and a GPU)
# ----------------------------------------------------------------------------------------------------

def _guarded(torch, n_elems: int, dtype, rng: random.Random, fill=float("nan")):
    """(view, buffer, (lo, hi)): an n_elems view at a 16-byte-aligned offset inside a larger buffer whose
    guard regions hold `fill`, so a write next to the view (or a read of it that reaches an output) shows."""
    item = torch.empty((), dtype=dtype).element_size()
    unit = 16 // item
    pad = unit * rng.randint(1, 4)
    tail = unit * rng.randint(1, 4)
    buf = torch.full((pad + n_elems + tail,), fill, dtype=dtype, device="cuda")
    return buf[pad:pad + n_elems], buf, (pad, pad + n_elems)


def _misaligned(torch, n_elems: int, dtype, rng: random.Random, fill=float("nan")):
    item = torch.empty((), dtype=dtype).element_size()
    off = rng.randint(1, 16 // item - 1) if item < 16 else 1
    buf = torch.full((n_elems + 16,), fill, dtype=dtype, device="cuda")
    return buf[off:off + n_elems]


def _guards_intact(torch, buf, span, fill_like) -> bool:
    lo, hi = span
    parts = [buf[:lo], buf[hi:]]
    return all(same_bits(torch, p, torch.full_like(p, fill_like)) for p in parts if p.numel())


def apply_tamper(torch, qw, kind: str, rng: random.Random):
    """(what linear gets, the well-formed weight whose dequantize() is the expected math or None)."""
    R = dataclasses.replace
    P, S, Z = qw.packed, qw.scales, qw.zeros
    other = getattr(torch, OTHER_ACT[qw.act_dtype])
    if kind == "none":
        return qw, qw
    if kind == "packed_short":
        return R(qw, packed=P[:-16].clone()), None
    if kind == "packed_long":
        return R(qw, packed=torch.cat([P, torch.zeros(16, dtype=P.dtype, device=P.device)])), None
    if kind == "packed_int8":
        return R(qw, packed=P.view(torch.int8)), None
    if kind == "packed_cpu":
        return R(qw, packed=P.cpu()), None
    if kind == "packed_2d":
        return R(qw, packed=P.view(-1, 16)), None
    if kind == "packed_noncontig":
        buf = torch.zeros(2 * P.numel(), dtype=P.dtype, device=P.device)
        buf[::2] = P
        return R(qw, packed=buf[::2]), None
    if kind == "packed_misaligned":
        v = _misaligned(torch, P.numel(), P.dtype, rng, fill=0)
        v.copy_(P)
        return R(qw, packed=v), qw
    if kind == "scales_float32":
        return R(qw, scales=S.float()), None
    if kind == "scales_other_act":
        return R(qw, scales=S.to(other)), None
    if kind == "scales_int16":
        return R(qw, scales=S.view(torch.int16)), None
    if kind == "scales_cpu":
        return R(qw, scales=S.cpu()), None
    if kind == "scales_transposed":
        return R(qw, scales=S.t().contiguous()), None
    if kind == "scales_noncontig":
        return R(qw, scales=S.t().contiguous().t()), None
    if kind == "scales_misaligned":
        v = _misaligned(torch, S.numel(), S.dtype, rng)
        v.copy_(S.reshape(-1))
        return R(qw, scales=v.view(S.shape)), qw
    if kind == "zeros_none":
        return R(qw, zeros=None), None
    if kind == "zeros_float32":
        return R(qw, zeros=Z.float()), None
    if kind == "zeros_cpu":
        return R(qw, zeros=Z.cpu()), None
    if kind == "zeros_extra":
        return R(qw, zeros=S.clone()), None
    if kind == "zeros_misaligned":
        v = _misaligned(torch, Z.numel(), Z.dtype, rng)
        v.copy_(Z.reshape(-1))
        return R(qw, zeros=v.view(Z.shape)), qw
    if kind == "shape_swapped":
        return R(qw, shape=(qw.shape[1], qw.shape[0])), None
    if kind == "shape_3d":
        return R(qw, shape=(qw.shape[0], qw.shape[1], 1)), None
    if kind == "group_double":
        return R(qw, group_size=2 * qw.group_size), None
    if kind == "group_zero":
        return R(qw, group_size=0), None
    if kind == "group_negative":
        return R(qw, group_size=-qw.group_size), None
    if kind == "format_version":
        return R(qw, format_version=qw.format_version + 1), None
    if kind == "act_flip":
        return R(qw, act_dtype=OTHER_ACT[qw.act_dtype]), None
    if kind == "act_invalid":
        return R(qw, act_dtype="float32"), None
    if kind == "weight_invalid":
        return R(qw, weight="s3"), None
    if kind in ("s4_as_s8", "u4_as_s8"):
        return R(qw, weight="s8", zeros=None), None
    if kind == "s8_as_s4":
        return R(qw, weight="s4"), None
    if kind == "not_qw":
        return (P, S, Z, qw.shape), None
    if kind == "packed_random":
        g = torch.Generator(device="cuda").manual_seed(rng.getrandbits(62))
        t = R(qw, packed=torch.randint(0, 256, P.shape, dtype=torch.uint8, device=P.device, generator=g))
        return t, t
    if kind == "guarded":
        p, _, _ = _guarded(torch, P.numel(), P.dtype, rng, fill=255)
        p.copy_(P)
        s, _, _ = _guarded(torch, S.numel(), S.dtype, rng)
        s.copy_(S.reshape(-1))
        z = None
        if Z is not None:
            z, _, _ = _guarded(torch, Z.numel(), Z.dtype, rng)
            z.copy_(Z.reshape(-1))
            z = z.view(Z.shape)
        t = R(qw, packed=p, scales=s.view(S.shape), zeros=z)
        return t, qw
    if kind.startswith("act_perm_"):
        k = qw.shape[1]
        g = torch.Generator(device="cuda").manual_seed(rng.getrandbits(62))
        perm = torch.randperm(k, device="cuda", generator=g)
        if kind in ("act_perm_random", "act_perm_int32"):
            t = R(qw, act_perm=perm.to(torch.int32) if kind == "act_perm_int32" else perm)
            return t, t
        if kind == "act_perm_short":
            return R(qw, act_perm=perm[:-1].clone()), None
        if kind == "act_perm_float":
            return R(qw, act_perm=perm.float()), None
        if kind == "act_perm_cpu":
            return R(qw, act_perm=perm.cpu()), None
        if kind == "act_perm_noncontig":
            buf = torch.zeros(2 * k, dtype=perm.dtype, device="cuda")
            buf[::2] = perm
            return R(qw, act_perm=buf[::2]), None
        if kind == "act_perm_out_of_range":
            perm[rng.randrange(k)] = k + rng.choice([0, 1, 1000])
            return R(qw, act_perm=perm), None
        if kind == "act_perm_duplicates":
            i, j = rng.sample(range(k), 2)
            perm[i] = perm[j]
            return R(qw, act_perm=perm), None
    if kind.startswith("zero_points_"):
        if kind == "zero_points_for_symmetric":
            return R(qw, zero_points=torch.zeros(S.shape, dtype=torch.uint8, device="cuda")), None
        # The integer zero points quantize() used: z = -z'/s (exact up to z' rounding), 0 where s == 0.
        sf = S.float()
        safe = torch.where(sf == 0, torch.ones_like(sf), sf)
        z = torch.where(sf == 0, torch.zeros_like(sf), torch.round(-Z.float() / safe))
        zp = z.clamp(0, 15).to(torch.uint8)
        if kind == "zero_points_exact":
            t = R(qw, zero_points=zp)
            return t, t
        if kind == "zero_points_float":
            return R(qw, zero_points=zp.float()), None
        if kind == "zero_points_cpu":
            return R(qw, zero_points=zp.cpu()), None
        if kind == "zero_points_transposed":
            return R(qw, zero_points=zp.t().contiguous()), None
        if kind == "zero_points_out_of_range":
            return R(qw, zero_points=zp + 16), None
        if kind == "zero_points_inconsistent":
            t = R(qw, zero_points=(zp + 1) % 16)
            return t, t
    if kind == "inplace_scales_dtype":
        qw.scales.data = qw.scales.data.to(other)
        return qw, None
    if kind == "inplace_packed_resize":
        qw.packed.resize_(P.numel() - 16)
        return qw, None
    if kind == "inplace_scales_strides":
        groups, m = S.shape
        qw.scales.as_strided_((groups, m), (1, groups))
        return qw, None
    if kind == "inplace_packed_values":
        g = torch.Generator(device="cuda").manual_seed(rng.getrandbits(62))
        qw.packed.copy_(torch.randint(0, 256, P.shape, dtype=torch.uint8, device=P.device, generator=g))
        return qw, qw
    if kind == "inplace_scales_values":
        qw.scales.mul_(-2)
        return qw, qw
    if kind == "u4_as_s4":
        t = R(qw, weight="s4", zeros=None)
        return t, t
    if kind == "s4_as_u4":
        t = R(qw, weight="u4", zeros=torch.zeros_like(S))
        return t, t
    raise ValueError(f"unknown tamper {kind}")


def _make_x(torch, case: Case, vals, rng: random.Random):
    """(x as passed to linear, extra info). vals: contiguous [*batch, K] values of the activation dtype."""
    shape = tuple(vals.shape)
    mode = case.x_mode
    if mode == "contig":
        return vals, None
    if mode == "guarded":
        v, buf, span = _guarded(torch, vals.numel(), vals.dtype, rng)
        v.copy_(vals.reshape(-1))
        return v.view(shape), None
    if mode == "misaligned":
        v = _misaligned(torch, vals.numel(), vals.dtype, rng)
        v.copy_(vals.reshape(-1))
        return v.view(shape), None
    if mode == "noncontig":
        if len(shape) >= 3 and shape[0] > 1 and shape[1] > 1:
            return vals.transpose(0, 1).contiguous().transpose(0, 1), None
        base = torch.zeros(shape[:-1] + (2 * shape[-1],), dtype=vals.dtype, device="cuda")
        base[..., ::2] = vals
        return base[..., ::2], None
    if mode == "expanded":
        row = vals.reshape(-1, shape[-1])[:1]
        return row.reshape((1,) * (len(shape) - 1) + (shape[-1],)).expand(shape), None
    if mode == "wrong_dtype":
        return (vals.float() if rng.random() < 0.5 else vals.to(getattr(torch, OTHER_ACT[case.act]))), None
    if mode == "cpu":
        return vals.cpu(), None
    if mode == "wrong_k":
        return torch.randn(shape[:-1] + (shape[-1] + 64,), device="cuda").to(vals.dtype), None
    raise ValueError(mode)


def run_case(torch, case: Case) -> dict:
    """Run one case on the GPU. Returns dict(ok, outcome, msg, kernel). Raises only on harness errors or
    on CUDA errors (which leave the process unusable)."""
    import mixgemm
    rng = random.Random(case.data_seed)
    gen = torch.Generator(device="cuda").manual_seed(case.data_seed)
    dtype = getattr(torch, case.act)
    m, k, n = case.m, case.k, case.n
    bits = 8 if case.weight == "s8" else 4

    # The weight, quantized on the GPU.
    w = torch.randn(m, k, device="cuda", generator=gen) * (case.w_scale / math.sqrt(k))
    if case.outliers:
        idx = torch.randint(0, m * k, (max(1, m * k // 500),), device="cuda", generator=gen)
        w.view(-1)[idx] *= 8.0
    w = w.to(getattr(torch, case.source))
    if case.expect == "quantize_reject":
        try:
            mixgemm.quantize(w, bits=bits, group_size=case.group, symmetric=case.weight != "u4", act_dtype=case.act)
        except (TypeError, ValueError) as e:
            torch.cuda.synchronize()
            return dict(ok=True, outcome="quantize_rejected", msg=str(e)[:200], kernel=None)
        return dict(ok=False, outcome="quantize_accepted",
                    msg="quantize accepted a shape/group size it must refuse", kernel=None)
    qw0 = mixgemm.quantize(w, bits=bits, group_size=case.group, symmetric=case.weight != "u4", act_dtype=case.act)
    del w
    if case.tamper not in INPLACE_TAMPERS:
        qw, qw_ref = apply_tamper(torch, qw0, case.tamper, rng)

    # Activations, bias, output.
    xshape = tuple(case.batch) + (k,)
    xvals = (torch.randn(xshape, device="cuda", generator=gen) * case.x_scale)
    if case.outliers and n > 0:
        rows = xvals.view(-1, k)
        pick = torch.randint(0, rows.shape[0], (max(1, rows.shape[0] // 16),), device="cuda", generator=gen)
        rows[pick] *= 4.0
    xvals = xvals.to(dtype)
    out_std = case.w_scale * case.x_scale
    bias = bias_vals = None
    if case.bias_mode != "none":
        bias_vals = (torch.randn(m, device="cuda", generator=gen) * out_std).to(dtype)
        bias = {"ok": lambda: bias_vals,
                "misaligned": lambda: _misaligned(torch, m, dtype, rng).copy_(bias_vals),
                "wrong_dtype": lambda: bias_vals.float(),
                "wrong_shape": lambda: torch.cat([bias_vals, bias_vals[:16]]),
                "cpu": lambda: bias_vals.cpu()}[case.bias_mode]()
    if case.tamper in INPLACE_TAMPERS:
        # A first call with the same arguments (it may cache the weight's validation and the kernel
        # choice), then the weight's arrays are changed in place. If the untampered problem itself
        # cannot run, that first call must already refuse it, and the tampered one is moot.
        try:
            mixgemm.linear(xvals, qw0, bias=bias)
        except (TypeError, ValueError) as e:
            torch.cuda.synchronize()
            ok = case.expect in ("reject", "either")
            return dict(ok=ok, outcome="rejected", kernel=None,
                        msg=str(e)[:200] if ok else f"the untampered first call was refused: {str(e)[:200]}")
        torch.cuda.synchronize()
        qw, qw_ref = apply_tamper(torch, qw0, case.tamper, rng)
    x, _ = _make_x(torch, case, xvals, rng)
    out_shape = tuple(case.batch) + (m,)
    out = out_buf = out_span = None
    nan = float("nan")
    if case.out_mode == "ok":
        out = torch.full(out_shape, nan, dtype=dtype, device="cuda")
    elif case.out_mode == "guarded":
        v, out_buf, out_span = _guarded(torch, n * m, dtype, rng)
        out = v.view(out_shape)
    elif case.out_mode == "misaligned":
        out = _misaligned(torch, n * m, dtype, rng).view(out_shape)
    elif case.out_mode == "noncontig":
        out = torch.full(out_shape[:-1] + (2 * m,), nan, dtype=dtype, device="cuda")[..., ::2]
    elif case.out_mode == "wrong_dtype":
        out = torch.full(out_shape, nan, dtype=torch.float32, device="cuda")
    elif case.out_mode == "wrong_shape":
        out = torch.full(out_shape[:-1] + (m + 16,), nan, dtype=dtype, device="cuda")
    elif case.out_mode == "alias_x":
        out = x                                       # m == k by construction
    elif case.out_mode == "alias_bias":
        out = torch.full(out_shape, nan, dtype=dtype, device="cuda")
        bias = out.view(-1, m)[0]
        bias.copy_(bias_vals)
    out_before = out.clone() if out is not None else None
    x_before = xvals.clone()           # the reference input (x itself may be overwritten by alias_x)
    torch.cuda.synchronize()

    kernel_used = case.kernel
    if kernel_used is None and case.expect != "reject" and isinstance(qw, mixgemm.QuantizedWeight):
        try:
            kernel_used = mixgemm.explain(m, n, k, group_size=case.g, weight=qw.weight, act_dtype=case.act,
                                          bias=bias is not None, device=0)["kernel"]
        except Exception:   # noqa: BLE001 (metadata may be nonsense; only used for statistics)
            kernel_used = None

    def call(**kw):
        return mixgemm.linear(x, qw, bias=bias, out=out, kernel=case.kernel, **kw)

    cur = torch.cuda.current_stream()
    err: Optional[BaseException] = None
    y = None
    try:
        if case.stream == "current":
            y = call()
        else:
            s = torch.cuda.Stream()
            s.wait_stream(cur)
            try:
                if case.stream == "side_ctx":
                    with torch.cuda.stream(s):
                        y = call()
                else:
                    y = call(stream=s)
            finally:
                cur.wait_stream(s)
    except (TypeError, ValueError) as e:
        err = e
    torch.cuda.synchronize()        # a CUDA error raises here and ends the worker (the supervisor records it)

    def untouched() -> Optional[str]:
        if out is not None and not same_bits(torch, out, out_before):
            return "a rejected call changed out="
        if out_buf is not None and not _guards_intact(torch, out_buf, out_span, nan):
            return "a rejected call wrote next to out="
        return None

    res = dict(kernel=kernel_used)
    if err is not None:
        res.update(outcome="rejected", msg=f"{type(err).__name__}: {str(err)[:300]}")
        if case.expect == "ok":
            return dict(res, ok=False, msg=f"expected a result, got {res['msg']}")
        bad = untouched()
        if bad:
            return dict(res, ok=False, msg=f"{bad} ({res['msg']})")
        if out is None and case.expect == "reject" and isinstance(qw, mixgemm.QuantizedWeight) and n > 0:
            # Same call again with a poisoned out= of the right shape: must raise again and leave it alone.
            probe = torch.full(tuple(case.batch) + (m,), nan, dtype=dtype, device="cuda")
            before = probe.clone()
            try:
                mixgemm.linear(x, qw, bias=bias, out=probe, kernel=case.kernel)
                raised = False
            except (TypeError, ValueError):
                raised = True
            torch.cuda.synchronize()
            if not raised:
                return dict(res, ok=False, msg=f"rejected without out=, but ran with out= ({res['msg']})")
            if not same_bits(torch, probe, before):
                return dict(res, ok=False, msg=f"a rejected call changed out= ({res['msg']})")
        return dict(res, ok=True)

    res.update(outcome="computed", msg="")
    if case.out_mode != "alias_x" and case.x_mode in ("contig", "guarded") and not same_bits(torch, x, x_before):
        return dict(res, ok=False, msg="the call changed its input x")
    if case.expect == "reject":
        return dict(res, ok=False, msg=f"expected TypeError/ValueError ({'; '.join(case.why)}), but the call ran")
    if out is not None and y is not out:
        return dict(res, ok=False, msg="linear(out=...) did not return out")
    if tuple(y.shape) != out_shape or y.dtype != dtype or not y.is_cuda:
        return dict(res, ok=False, msg=f"result {tuple(y.shape)} {y.dtype}, expected {out_shape} {dtype}")
    if out_buf is not None and not _guards_intact(torch, out_buf, out_span, nan):
        return dict(res, ok=False, msg="wrote next to out= (guard region changed)")
    if n == 0:
        return dict(res, ok=True)
    if qw_ref is None:
        return dict(res, ok=False, msg="harness: no reference weight for a computed case")
    wd = dense_weight(torch, qw_ref)
    ref, bound = reference_and_bound(torch, x_before.reshape(-1, k), wd, weight_magnitude(torch, qw_ref, wd),
                                     bias_vals, case.act)
    bad = compare(torch, y.reshape(-1, m), ref, bound, case.act)
    if bad:
        return dict(res, ok=False, msg=f"wrong answer: {bad}")
    return dict(res, ok=True)


# ----------------------------------------------------------------------------------------------------
# Worker (child process) and supervisor
# ----------------------------------------------------------------------------------------------------

TAG = "@@fuzz "


def _emit(**ev) -> None:
    sys.stdout.write(TAG + json.dumps(ev) + "\n")
    sys.stdout.flush()


def worker_main(argv: List[str]) -> int:
    import faulthandler
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--stop", type=int, default=None)
    ap.add_argument("--deadline", type=float, default=None)
    ap.add_argument("--max-elems", type=int, default=1 << 26)
    ap.add_argument("--max-work", type=int, default=1 << 35)
    ap.add_argument("--case-timeout", type=float, default=60.0)
    ap.add_argument("--cases-file", default=None)
    a = ap.parse_args(argv)
    import torch
    import mixgemm
    faulthandler.enable()
    kernels = mixgemm.kernels()
    explicit = None
    if a.cases_file:
        with open(a.cases_file) as f:
            explicit = [Case.from_json(d) for d in json.load(f)]
    i = a.start
    since_gc = 0
    while (a.stop is None or i < a.stop) and (a.deadline is None or time.time() < a.deadline):
        if explicit is not None and i >= len(explicit):
            break
        case = explicit[i] if explicit is not None else generate(a.seed, i, kernels, a.max_elems, a.max_work)
        _emit(ev="start", i=i, case=case.to_json())
        faulthandler.dump_traceback_later(a.case_timeout, exit=True)
        t0 = time.perf_counter()
        fatal = False
        try:
            res = run_case(torch, case)
        except Exception as e:   # noqa: BLE001  harness bug or CUDA error: record, then check the context
            res = dict(ok=False, outcome="error", kernel=case.kernel,
                       msg=f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}")
            fatal = True
        faulthandler.cancel_dump_traceback_later()
        _emit(ev="done", i=i, ms=round((time.perf_counter() - t0) * 1e3, 1), **res)
        if fatal:
            try:
                torch.cuda.synchronize()
                torch.ones(1, device="cuda").add_(1).item()
            except Exception:   # noqa: BLE001  the CUDA context is gone: let the supervisor start afresh
                return 3
        since_gc += 1
        if since_gc >= 25:
            torch.cuda.empty_cache()
            since_gc = 0
        i += 1
    _emit(ev="end", next=i)
    return 0


def _child_env() -> Dict[str, str]:
    """The environment for worker processes: the same mixgemm as this process."""
    import mixgemm
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(mixgemm.__file__)))
    if os.path.basename(pkg_parent) not in ("site-packages", "dist-packages"):
        env["PYTHONPATH"] = pkg_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@dataclass
class Summary:
    seed: int
    tried: int = 0
    passed: int = 0
    failures: List[dict] = field(default_factory=list)
    outcomes: Dict[str, int] = field(default_factory=dict)
    kernels: Dict[str, int] = field(default_factory=dict)
    crashes: int = 0
    aborted: Optional[str] = None
    seconds: float = 0.0

    def line(self) -> str:
        oc = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        return (f"seed {self.seed}: {self.tried} cases tried, {self.passed} passed, {len(self.failures)} failed "
                f"({oc}); {len(self.kernels)} kernels computed; {self.seconds:.0f} s")

    def report(self, limit: int = 20) -> str:
        lines = [self.line()]
        if self.aborted:
            lines.append(f"ABORTED: {self.aborted}")
        by_kind: Dict[str, int] = {}
        for f in self.failures:
            kind = re.split(r"[:(]", f["msg"].split("\n")[0])[0].strip()[:60]
            by_kind[kind] = by_kind.get(kind, 0) + 1
        if by_kind:
            lines.append("failure kinds: " + "; ".join(f"{k} x{v}" for k, v in sorted(by_kind.items())))
        for f in self.failures[:limit]:
            lines.append(f"FAIL {f['short']}\n     {f['msg'][:1200]}\n     repro: {f['repro']}")
        if len(self.failures) > limit:
            lines.append(f"... and {len(self.failures) - limit} more")
        return "\n".join(lines)


def supervise(seed: int, cases: Optional[int] = None, minutes: Optional[float] = None, start: int = 0,
              explicit: Optional[List[Case]] = None, max_elems: int = 1 << 26, max_work: int = 1 << 35,
              case_timeout: float = 60.0, log: Callable[[str], None] = lambda s: None,
              progress_every: float = 15.0, verbose: bool = False, max_crashes: int = 25,
              repro_cmd: str = "python tools/fuzz.py") -> Summary:
    """Run cases [start, start+cases) (or until `minutes` pass) in worker processes; see the module doc."""
    summ = Summary(seed=seed)
    t_start = time.time()
    deadline = t_start + 60 * minutes if minutes else None
    stop = start + cases if cases is not None else (len(explicit) if explicit is not None else None)
    env = _child_env()
    repro_cmd = f"{repro_cmd} --max-elems {max_elems} --max-work {max_work}"
    cases_file = None
    if explicit is not None:
        fd, cases_file = tempfile.mkstemp(prefix="mixgemm-fuzz-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump([c.to_json() for c in explicit], f)
    next_i = start
    last_progress = time.time()
    failed_starts = 0
    try:
        while (stop is None or next_i < stop) and (deadline is None or time.time() < deadline):
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--seed", str(seed), "--start", str(next_i),
                   "--max-elems", str(max_elems), "--max-work", str(max_work), "--case-timeout", str(case_timeout)]
            if stop is not None:
                cmd += ["--stop", str(stop)]
            if deadline is not None:
                cmd += ["--deadline", str(deadline)]
            if cases_file:
                cmd += ["--cases-file", cases_file]
            with tempfile.TemporaryFile(mode="w+") as errf:
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, text=True, env=env)
                # Backstop for a worker that neither reports nor gets killed by its own watchdog.
                timer: List[threading.Timer] = []

                def arm():
                    if timer:
                        timer[0].cancel()
                    t = threading.Timer(case_timeout + 90, proc.kill)
                    t.daemon = True
                    t.start()
                    timer[:] = [t]
                arm()
                current: Optional[dict] = None
                started_any = False
                assert proc.stdout is not None
                for raw in proc.stdout:
                    arm()
                    if not raw.startswith(TAG):
                        continue
                    ev = json.loads(raw[len(TAG):])
                    if ev["ev"] == "start":
                        current = ev
                        started_any = True
                        if verbose:
                            log("  start " + Case.from_json(ev["case"]).short())
                    elif ev["ev"] == "done":
                        c = Case.from_json(current["case"]) if current else None
                        _record(summ, c, ev, seed, repro_cmd, explicit is not None, verbose, log)
                        current = None
                        next_i = ev["i"] + 1
                    elif ev["ev"] == "end":
                        next_i = ev["next"]
                    if time.time() - last_progress > progress_every:
                        last_progress = time.time()
                        summ.seconds = time.time() - t_start
                        log("progress: " + summ.line())
                rc = proc.wait()
                for t in timer:
                    t.cancel()
                errf.seek(0)
                err_tail = errf.read()[-3000:]
            if current is not None:
                c = Case.from_json(current["case"])
                if "Timeout (" in err_tail:
                    what = f"hang: no result within {case_timeout:.0f} s (worker watchdog fired)"
                elif rc == -9:
                    what = "hang: worker silent, killed by the supervisor"
                else:
                    what = f"crash (exit code {rc})"
                _record(summ, c, dict(i=current["i"], ok=False, outcome="crashed", kernel=c.kernel,
                                      msg=f"{what}: worker died in this case; stderr tail:\n{err_tail}"),
                        seed, repro_cmd, explicit is not None, verbose, log)
                summ.crashes += 1
                next_i = current["i"] + 1
                if summ.crashes >= max_crashes:
                    summ.aborted = f"{summ.crashes} worker crashes; stopping"
                    break
            elif rc != 0:
                failed_starts += 1
                if not started_any and failed_starts >= 2:
                    summ.aborted = f"worker exits with code {rc} before running any case:\n{err_tail}"
                    break
                if started_any and rc != 3:   # 3: a recorded CUDA error ended the worker on purpose
                    summ.failures.append(dict(i=next_i - 1, short=f"worker exit after case #{next_i - 1}",
                                              msg=f"worker exited with code {rc} outside any case:\n{err_tail}",
                                              outcome="crashed", kernel=None, repro="(see stderr tail)", case=None))
            else:
                failed_starts = 0
                if deadline is not None and time.time() >= deadline:
                    break
    finally:
        if cases_file:
            os.unlink(cases_file)
    summ.seconds = time.time() - t_start
    return summ


def _record(summ: Summary, case: Optional[Case], ev: dict, seed: int, repro_cmd: str, explicit: bool,
            verbose: bool, log) -> None:
    summ.tried += 1
    summ.outcomes[ev["outcome"]] = summ.outcomes.get(ev["outcome"], 0) + 1
    if ev.get("outcome") == "computed" and ev.get("kernel"):
        summ.kernels[ev["kernel"]] = summ.kernels.get(ev["kernel"], 0) + 1
    short = case.short() if case else f"#{ev['i']}"
    if ev["ok"]:
        summ.passed += 1
        if verbose:
            log(f"  ok   {short} [{ev['outcome']}, {ev.get('kernel')}, {ev.get('ms', 0):.0f} ms]")
        return
    repro = (f"{repro_cmd} --seed {seed} --case {ev['i']}" if not explicit else
             f"case {json.dumps(case.to_json()) if case else ev['i']}")
    rec = dict(i=ev["i"], short=short, msg=ev.get("msg", ""), outcome=ev["outcome"], kernel=ev.get("kernel"),
               repro=repro, case=case.to_json() if case else None)
    summ.failures.append(rec)
    log(f"FAIL {short}\n     {rec['msg'][:1500]}\n     repro: {repro}")


if __name__ == "__main__":
    if "--worker" in sys.argv[1:]:
        sys.exit(worker_main(sys.argv[1:]))
    print("This is a library; run tools/fuzz.py (or python -m pytest tests/gpu/test_fuzz.py).", file=sys.stderr)
    sys.exit(2)
