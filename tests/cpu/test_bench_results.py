"""The committed benchmark results agree with themselves: every per-type table under bench/results is
what bench/tables.py makes of the JSON records it names, and every record carries the fields the
benchmark promises (card, date, commit, CUDA version, impl, shape, us, GB/s, TFLOP/s)."""
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
TABLES = sorted(RESULTS.glob("h100-sxm-*_*.txt"))
REQUIRED = {"card", "date", "commit", "cuda", "impl", "layer", "M", "N", "K", "group", "weight", "act", "us", "gbps",
            "tflops"}


def test_there_are_committed_tables():
    assert TABLES, "no per-type tables under bench/results"


@pytest.mark.parametrize("table", TABLES, ids=lambda p: p.name)
def test_table_is_regenerated_from_its_records(table, tmp_path):
    header = table.read_text().splitlines()[0]
    m = re.search(r"commit (\w+); records from (\S+),", header)
    assert m, f"{table.name}: first line does not name its commit and records file: {header!r}"
    commit, source = m.groups()
    prefix = tmp_path / "t"
    # The child imports mixgemm exactly as this process does (installed, or from PYTHONPATH).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    subprocess.run([sys.executable, str(ROOT / "bench" / "tables.py"), str(ROOT / source), "--commit", commit,
                    "--out-prefix", str(prefix)], check=True, cwd=ROOT, capture_output=True, env=env)
    regenerated = pathlib.Path(f"{prefix}-{table.name.split('-', 2)[2]}")
    assert regenerated.exists(), f"tables.py made no {regenerated.name} for commit {commit}"
    assert regenerated.read_text().splitlines()[1:] == table.read_text().splitlines()[1:]


def test_records_carry_the_promised_fields():
    path = RESULTS / "h100-sxm.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert rows
    for i, r in enumerate(rows):
        missing = REQUIRED - set(r)
        assert not missing, f"{path.name} line {i + 1} lacks {sorted(missing)}"
        assert r["us"] > 0 and r["us"] == r["us"], f"{path.name} line {i + 1}: time {r['us']}"
