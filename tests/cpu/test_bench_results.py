"""The committed benchmark results agree with themselves and with the README:
- every per-type table under bench/results is what bench/tables.py makes of the JSON records it names;
- the targets file is what bench/targets.py makes of the records of the commit it names;
- every record carries the fields the benchmark promises (card, date, commit, CUDA version, impl, shape,
  us, GB/s, TFLOP/s);
- every results file the README names is committed."""
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
TARGETS = RESULTS / "h100-sxm-targets.txt"
RECORDS = RESULTS / "h100-sxm.jsonl"
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
    assert not os.path.isabs(source), f"{table.name}: records file {source} is not relative to the repository root"
    prefix = tmp_path / "t"
    # The child imports mixgemm exactly as this process does (installed, or from PYTHONPATH).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    subprocess.run([sys.executable, str(ROOT / "bench" / "tables.py"), str(ROOT / source), "--commit", commit,
                    "--out-prefix", str(prefix)], check=True, cwd=ROOT, capture_output=True, env=env)
    regenerated = pathlib.Path(f"{prefix}-{table.name.split('-', 2)[2]}")
    assert regenerated.exists(), f"tables.py made no {regenerated.name} for commit {commit}"
    assert regenerated.read_text().splitlines()[1:] == table.read_text().splitlines()[1:]


def test_targets_file_is_regenerated_from_its_records():
    text = TARGETS.read_text()
    m = re.match(r"commit (\S+), (\d+) records, card ", text)
    assert m, f"{TARGETS.name}: first line does not name its commit: {text.splitlines()[0]!r}"
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "targets.py"), str(RECORDS), "--commit", m.group(1)],
                         check=True, cwd=ROOT, capture_output=True, text=True).stdout
    assert out == text, f"{TARGETS.name} is not what bench/targets.py makes of the records of {m.group(1)}"


def test_records_carry_the_promised_fields():
    rows = [json.loads(line) for line in RECORDS.read_text().splitlines() if line.strip()]
    assert rows
    for i, r in enumerate(rows):
        missing = REQUIRED - set(r)
        assert not missing, f"{RECORDS.name} line {i + 1} lacks {sorted(missing)}"
        assert r["us"] > 0 and r["us"] == r["us"], f"{RECORDS.name} line {i + 1}: time {r['us']}"


def test_results_named_in_the_readme_are_committed():
    readme = (ROOT / "README.md").read_text()
    named = sorted(set(re.findall(r"bench/results/[\w.*<>-]+", readme)))
    assert named, "the README names no results file"
    for path in named:
        pattern = re.sub(r"<[^>]*>", "*", path.rstrip("."))
        assert list(ROOT.glob(pattern)), f"the README names {path}, which is not under bench/results"
