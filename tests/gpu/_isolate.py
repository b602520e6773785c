"""Run a test body in a child process under a watchdog.

A hung kernel cannot be interrupted from Python, and a CUDA error that corrupts the context breaks every
later test in the process. GPU tests where either is conceivable run their body through
``run_isolated("tests.gpu.test_x", "_body", timeout=..., arg=...)``: the child imports the module, calls
the function with the keyword arguments, and prints its (JSON) return value. The child dumps its Python
stack and exits if it outlives the timeout (faulthandler), and the parent kills it shortly after.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TAG = "@@result "


def _env() -> dict:
    import mixgemm
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    parts = [REPO]
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(mixgemm.__file__)))
    if os.path.basename(pkg_parent) not in ("site-packages", "dist-packages"):
        parts.insert(0, pkg_parent)
    if env.get("PYTHONPATH"):
        parts.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


def run_isolated(module: str, func: str, timeout: float, **kwargs):
    """Call module.func(**kwargs) in a child process; return its result, or fail the test with the child's
    stderr (assertion message, traceback, or the stack of a hang)."""
    import pytest
    cmd = [sys.executable, "-m", "tests.gpu._isolate", module, func, json.dumps(kwargs), str(timeout)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30, cwd=REPO, env=_env())
    except subprocess.TimeoutExpired as e:
        err = (e.stderr or b"")
        err = err.decode(errors="replace") if isinstance(err, bytes) else err
        pytest.fail(f"{module}.{func} did not finish in {timeout:.0f} s (hang?); stderr tail:\n{err[-4000:]}")
    result = None
    for line in r.stdout.splitlines():
        if line.startswith(TAG):
            result = json.loads(line[len(TAG):])
    if r.returncode != 0 or result is None:
        hang = "Timeout (" in r.stderr
        pytest.fail(f"{module}.{func} {'hung (watchdog fired)' if hang else f'failed (exit code {r.returncode})'}"
                    f"; stdout tail:\n{r.stdout[-2000:]}\nstderr tail:\n{r.stderr[-6000:]}")
    if r.stdout.strip():
        print(r.stdout[-4000:])
    return result


def _child(argv) -> int:
    import faulthandler
    import importlib
    module, func, kwargs, timeout = argv[0], argv[1], json.loads(argv[2]), float(argv[3])
    faulthandler.enable()
    faulthandler.dump_traceback_later(timeout, exit=True)
    fn = getattr(importlib.import_module(module), func)
    result = fn(**kwargs)
    faulthandler.cancel_dump_traceback_later()
    sys.stdout.write(TAG + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
