"""The fuzz case generator (tests/gpu/fuzz_cases.py) without a GPU: reproducible cases, a useful mix of
outcomes, and an oracle (mixgemm.explain) that agrees with the documented constraints."""
import json
import random

import mixgemm

from ..gpu import fuzz_cases as fz
from ..gpu.test_fuzz import CASES, MAX_ELEMS, MAX_WORK, SEED

ENTRIES = mixgemm.kernels()


def test_generator_is_deterministic_and_serializable():
    for i in range(50):
        a = fz.generate(SEED, i, ENTRIES, MAX_ELEMS, MAX_WORK)
        b = fz.generate(SEED, i, ENTRIES, MAX_ELEMS, MAX_WORK)
        assert a == b, f"case {i} of seed {SEED} is not reproducible"
        assert fz.Case.from_json(json.loads(json.dumps(a.to_json()))) == a
        assert a.m * a.k <= MAX_ELEMS * 1.1 and a.m * a.k * max(a.n, 1) <= MAX_WORK * 1.1


def test_expectations_follow_documented_constraints():
    """explain(kernel=name) accepts a problem exactly when the documented constraints say it can run:
    M % 16, K % 64, K % group, group % 64 (or per-channel) for CUTLASS entries, group 32 or % 64 and
    N <= tile_n (any N for the 64-token bucket) for decode entries. The fuzz uses explain() as its oracle, so it must agree."""
    rng = random.Random(SEED)
    mismatches = []
    for entry in ENTRIES:
        for _ in range(150):
            m = rng.choice([16, 32, 128, 272, 1040, 4096, 3584, 8, 100, 1000])
            k = rng.choice([64, 128, 192, 512, 576, 4096, 8192, 96, 1000, 4000])
            n = rng.choice([0, 1, 7, 8, 9, 16, 17, 33, 64, 65, 128, 257, 4096])
            g = rng.choice([k, 32, 64, 96, 128, 192, 256, 16, 48, 100, 0, -64])
            want = fz.documented_kernel_accepts(entry, m, n, k, g)
            act = entry["act"]
            got = mixgemm.explain(m, n, k, group_size=g, weight=entry["weight"], act_dtype=act,
                                  kernel=entry["name"])
            if (got["kernel"] is not None) != want:
                mismatches.append(f"{entry['name']} M={m} N={n} K={k} g={g}: documented "
                                  f"{'accepts' if want else 'rejects'}, explain says {got['reason']!r}")
    assert not mismatches, "\n".join(mismatches[:20])


def test_bounded_run_mixes_outcomes():
    cases = [fz.generate(SEED, i, ENTRIES, MAX_ELEMS, MAX_WORK) for i in range(CASES)]
    expect = [c.expect for c in cases]
    share = {e: expect.count(e) / len(cases) for e in set(expect)}
    assert share.get("ok", 0) >= 0.3, share
    assert share.get("reject", 0) >= 0.1, share
    ok = [c for c in cases if c.expect == "ok"]
    assert any(c.kernel for c in ok) and any(c.kernel is None for c in ok)
    assert any(c.bias_mode == "ok" for c in ok) and any(c.out_mode == "guarded" for c in ok)
    assert any(len(c.batch) >= 2 for c in ok) and any(c.m % 128 for c in ok)


def test_hostile_case_list_covers_every_tamper_and_view():
    from ..gpu.test_fuzz import _hostile_cases
    cases = _hostile_cases()
    for weight, act in sorted({(e["weight"], e["act"]) for e in ENTRIES}):
        mine = [c for c in cases if (c.weight, c.act) == (weight, act)]
        assert set(fz.applicable_tampers(weight, 272, 512, 64)) <= {c.tamper for c in mine}
        assert set(fz.X_MODES) <= {c.x_mode for c in mine} | {"contig"}
        assert set(fz.OUT_MODES) <= {c.out_mode for c in mine} | {"none"}
        for c in mine:
            if c.tamper != "none" and c.x_mode == "contig" and c.out_mode == "ok":
                assert c.expect == fz.TAMPER_EXPECT[c.tamper] or c.expect == "reject", (c.tamper, c.expect, c.why)
    assert len({c.index for c in cases}) == len(cases)
