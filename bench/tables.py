"""Per-type tables from benchmark records, each headed by where its numbers come from.

Usage: python bench/tables.py bench/results/h100-sxm.jsonl [--commit 4a6812a] [--out-prefix bench/results/h100-sxm]

Takes the records of one commit (default: the file's last record's commit), groups them by (weight, act)
and writes <out-prefix>-<weight>_<act>.txt with mixgemm.bench's table (the same as `python -m mixgemm bench`
prints), after a header line naming the card, date, CUDA and torch versions and the commit. Without
--out-prefix the tables go to standard output.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Dict, List, Tuple


def header(records: List[dict], source: str) -> str:
    r = records[0]
    return (f"# {r['card']}, {r['date']}, CUDA {r.get('cuda', '?')}, torch {r.get('torch', '?')}, commit {r['commit']}; "
            f"records from {source}, regenerate with: python bench/tables.py {source} --commit {r['commit']}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results")
    ap.add_argument("--commit", default=None)
    ap.add_argument("--out-prefix", default=None)
    args = ap.parse_args(argv)
    from mixgemm.bench import format_table

    with open(args.results) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if not rows:
        raise SystemExit(f"{args.results}: no records")
    commit = args.commit or rows[-1]["commit"]
    rows = [r for r in rows if r["commit"] == commit and r["impl"] != "kernel"]
    if not rows:
        raise SystemExit(f"{args.results}: no records of commit {commit}")
    groups: Dict[Tuple[str, str], List[dict]] = {}
    for r in rows:
        groups.setdefault((r["weight"], r["act"]), []).append(r)
    for (weight, act), records in groups.items():
        text = header(records, args.results) + "\n" + format_table(records) + "\n"
        if args.out_prefix:
            path = f"{args.out_prefix}-{weight}_{act}.txt"
            with open(path, "w") as f:
                f.write(text)
            print(f"wrote {path} ({len(records)} records)", file=sys.stderr)
        else:
            print(f"== {weight} / {act}\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
