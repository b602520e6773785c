"""No hang: each kernel relaunched many times and replayed from a CUDA graph, under a watchdog.

Stream-K kernels keep barrier flags in their workspace; a relaunch that does not clear them can spin
forever (seen with stock CUTLASS). A hung kernel cannot be interrupted from Python, so each check
runs in a child process that the test kills after a deadline.
"""
import subprocess
import sys
import textwrap

import pytest

import mixgemm

pytestmark = pytest.mark.gpu

CHILD = textwrap.dedent("""
    import sys, torch, mixgemm
    name, weight, act, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    dtype = getattr(torch, act)
    torch.manual_seed(0)
    w = torch.randn(3584, 2048, device="cuda", dtype=dtype) / 45
    qw = mixgemm.quantize(w, bits=8 if weight == "s8" else 4, group_size=128, symmetric=weight != "u4")
    x = torch.randn(n, 2048, device="cuda", dtype=dtype)
    y = torch.empty(n, 3584, device="cuda", dtype=dtype)
    mixgemm.linear(x, qw, out=y, kernel=name)
    first = y.clone()
    for _ in range(200):
        mixgemm.linear(x, qw, out=y, kernel=name)
    torch.cuda.synchronize()
    assert torch.equal(y, first), "relaunch changed the result"
    s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(5):
            mixgemm.linear(x, qw, out=y, kernel=name)
    for _ in range(50):
        g.replay()
    torch.cuda.synchronize()
    assert torch.equal(y, first), "graph replay changed the result"
    print("ok")
""")

ENTRIES = mixgemm.kernels()


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["name"] for e in ENTRIES])
def test_relaunch_and_graph_replay_do_not_hang(entry):
    act = entry["act"]
    try:
        r = subprocess.run([sys.executable, "-c", CHILD, entry["name"], entry["weight"], act,
                            str(min(16, entry["tile_n"]))],
                           capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{entry['name']} did not finish 200 relaunches + 250 graph-replayed launches in 120 s (hang)")
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr[-2000:]
