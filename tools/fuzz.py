"""Long-running differential fuzz of mixgemm.linear against the fp64 reference (issue 5).

Same generator and checks as tests/gpu/test_fuzz.py (tests/gpu/fuzz_cases.py): random M, N, K (off-tile,
tiny, huge), types, group sizes, batch dims, views with offsets, non-contiguous views, bias, out=,
streams, forced kernels, and QuantizedWeights altered after packing. Each case must either compute
the right answer or raise TypeError/ValueError before launching anything. Cases run in a worker
process under a per-case watchdog: a crash or a hang is recorded with its case, and the run goes on.

Usage (from the repository root, with mixgemm importable):
    python tools/fuzz.py --minutes 30                    # until 30 minutes pass
    python tools/fuzz.py --cases 5000 --seed 7           # a fixed number of cases
    python tools/fuzz.py --seed 7 --case 1234 -v         # repeat one case (the repro line of a failure)
Prints progress, every failure with its repro line, and a summary; exit code 1 if any case failed.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "gpu"))
import fuzz_cases as fz  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=None, help="number of cases (default: until --minutes pass)")
    ap.add_argument("--minutes", type=float, default=None, help="stop starting new cases after this long")
    ap.add_argument("--seed", type=int, default=None, help="default: from the clock (printed)")
    ap.add_argument("--start", type=int, default=0, help="first case index")
    ap.add_argument("--case", type=int, default=None, help="run only this case index")
    ap.add_argument("--max-elems", type=int, default=1 << 28, help="cap on M*K (default 2^28)")
    ap.add_argument("--max-work", type=int, default=1 << 37, help="cap on M*N*K (default 2^37)")
    ap.add_argument("--case-timeout", type=float, default=120.0, help="seconds before a case counts as a hang")
    ap.add_argument("--json", default=None, help="write the summary and failures to this file")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every case")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int(time.time()) % 100000
    cases, start = args.cases, args.start
    if args.case is not None:
        cases, start = 1, args.case
    if cases is None and args.minutes is None:
        args.minutes = 10.0
    import mixgemm
    print(f"mixgemm fuzz: seed {seed}, {len(mixgemm.kernels())} kernels in this build, "
          f"{'%d cases' % cases if cases is not None else ''}"
          f"{' up to %.1f min' % args.minutes if args.minutes else ''}, M*K <= {args.max_elems}, "
          f"M*N*K <= {args.max_work}", flush=True)
    if args.case is not None:
        c = fz.generate(seed, args.case, mixgemm.kernels(), args.max_elems, args.max_work)
        print("case:", json.dumps(c.to_json()), flush=True)
    summ = fz.supervise(seed, cases=cases, minutes=args.minutes, start=start, max_elems=args.max_elems,
                        max_work=args.max_work, case_timeout=args.case_timeout,
                        log=lambda s: print(s, flush=True), verbose=args.verbose or args.case is not None,
                        repro_cmd="python tools/fuzz.py")
    print("\n" + summ.report(limit=50), flush=True)
    kernels = sorted(summ.kernels.items(), key=lambda kv: -kv[1])
    print(f"kernels that computed cases ({len(kernels)} of {len(mixgemm.kernels())}): "
          + ", ".join(f"{k} {v}" for k, v in kernels))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(seed=seed, tried=summ.tried, passed=summ.passed, outcomes=summ.outcomes,
                           kernels=summ.kernels, crashes=summ.crashes, aborted=summ.aborted,
                           seconds=summ.seconds, failures=summ.failures), f, indent=1)
    return 1 if summ.failures or summ.aborted else 0


if __name__ == "__main__":
    sys.exit(main())
