"""Differential fuzzing (issue 5): random problems against the fp64 reference, seeded and bounded.

Every case either computes the right answer or raises TypeError/ValueError before launching anything
(an out= array keeps its NaN poison). Cases run in a worker process under a per-case watchdog, so a
crash or a hang is reported with its case instead of taking the test session down; see fuzz_cases.py.
The long version is ``python tools/fuzz.py --minutes 30``.

Environment: MIXGEMM_FUZZ_SEED (default 1), MIXGEMM_FUZZ_CASES (default 240).

The generator itself is checked without a GPU in tests/cpu/test_fuzz_generator.py.
"""
import math
import os

import pytest

import mixgemm

from . import fuzz_cases as fz

SEED = int(os.environ.get("MIXGEMM_FUZZ_SEED", "1"))
CASES = int(os.environ.get("MIXGEMM_FUZZ_CASES", "240"))
# Bounded run: weights up to 2^26 elements (e.g. 8192 x 8192), M*N*K up to 2^34.
MAX_ELEMS = 1 << 26
MAX_WORK = 1 << 34
# Each test stops starting cases after this long, so that it reports (rather than being killed by
# pytest-timeout's 600 s) even when many cases hang until their 60 s watchdog.
BUDGET_MIN = 7.5
ENTRIES = mixgemm.kernels()


def _check(s, expected_cases):
    print(s.line())
    if s.failures or s.aborted:
        pytest.fail(s.report(), pytrace=False)
    if s.tried != expected_cases:
        pytest.fail(f"only {s.tried} of {expected_cases} cases ran within the {BUDGET_MIN} min budget: {s.line()}",
                    pytrace=False)


def _hostile_cases():
    """Every tamper and every bad view, for each weight/activation type of this build, on one off-tile problem."""
    types = sorted({(e["weight"], e["act"]) for e in ENTRIES})
    cases = []
    i = 0

    def add(**kw):
        nonlocal i
        c = fz.Case(seed=SEED, index=i, data_seed=1000 + i, **kw)
        c.expect, c.why = fz.expectation(c)
        cases.append(c)
        i += 1

    for weight, act in types:
        base = dict(weight=weight, act=act, m=272, k=512, group=64, batch=[5], w_scale=1.0, x_scale=1.0)
        for t in fz.applicable_tampers(weight, 272, 512, 64):
            add(tamper=t, out_mode="ok", **base)
        for mode in fz.X_MODES[1:]:
            add(x_mode=mode, out_mode="guarded", **base)
        for mode in fz.OUT_MODES[1:]:
            kw = dict(base)
            if mode == "alias_x":
                kw.update(m=512)
            add(out_mode=mode, bias_mode="ok" if mode == "alias_bias" else "none", **kw)
        for mode in fz.BIAS_MODES[1:]:
            add(bias_mode=mode, out_mode="ok", **base)
        add(**dict(base, batch=[0]), out_mode="ok")
        add(**dict(base, batch=[3, 0, 2]))
        add(**dict(base, group=32), out_mode="guarded")          # decode family only
        add(**dict(base, group=32, batch=[65]), out_mode="ok")   # group 32 above 64 tokens: 64-token chunks
        add(**dict(base, group=None, batch=[2, 3]), bias_mode="ok", out_mode="guarded")   # per-channel
    return cases


@pytest.mark.gpu
def test_hostile_weights_and_views_rejected_or_correct():
    """Altered QuantizedWeights (arrays of wrong shape/dtype/device/layout/alignment, metadata changed after
    packing), bad views of x/out/bias, in-place calls and empty batches: each one a clean
    TypeError/ValueError with out= untouched, or (where that is allowed) the right answer."""
    cases = _hostile_cases()
    s = fz.supervise(SEED, explicit=cases, case_timeout=60, minutes=BUDGET_MIN, log=print, max_crashes=len(cases))
    _check(s, len(cases))


def _value_cases():
    """Arrays of the right shape, dtype and device whose *values* are wrong: act_perm entries out of range
    or repeated, integer zero points out of 0..15 or inconsistent with the stored z'. The library does not
    check these on the GPU (it would cost a device synchronization per call)."""
    types = sorted({(e["weight"], e["act"]) for e in ENTRIES})
    cases = []
    for weight, act in types:
        for t in fz.VALUE_TAMPERS:
            if t.startswith("zero_points") and weight != "u4":
                continue
            c = fz.Case(seed=SEED, index=len(cases), data_seed=5000 + len(cases), weight=weight, act=act, m=272,
                        k=512, group=64, batch=[5], tamper=t, out_mode="ok")
            c.expect, c.why = fz.expectation(c)
            cases.append(c)
    return cases


@pytest.mark.gpu
def test_weight_array_values_unchecked_on_gpu_rejected_or_consistent():
    """An out-of-range act_perm must not reach a gather (an out-of-bounds read, a device assert); a repeated
    one is not a weight; zero points outside 0..15 or inconsistent with z' make linear() and
    dequantize() disagree. Each must be refused before launch (or, for the last, agree with dequantize)."""
    cases = _value_cases()
    if not cases:
        pytest.skip("no kernel types in this build")
    s = fz.supervise(SEED, explicit=cases, case_timeout=60, minutes=BUDGET_MIN, log=print, max_crashes=len(cases))
    _check(s, len(cases))


@pytest.mark.gpu
def test_fuzz_bounded():
    s = fz.supervise(SEED, cases=CASES, max_elems=MAX_ELEMS, max_work=MAX_WORK, case_timeout=60, minutes=BUDGET_MIN,
                     log=print)
    _check(s, CASES)
    computed = s.outcomes.get("computed", 0)
    assert computed >= math.ceil(0.3 * CASES), f"only {computed} of {CASES} cases computed: {s.line()}"
