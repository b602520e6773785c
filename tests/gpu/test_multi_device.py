"""Several GPUs in one process: a call runs on its arrays' GPU whatever device is current, leaves the
caller's current device as it was, and refuses arrays spread over two GPUs. Skips with fewer than two
sm90 GPUs (the tensor-parallel tests under tests/distributed run one process per GPU instead)."""
import pytest

import mixgemm

from ._util import TOL, make_problem, rel_err

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def torch2():
    import torch
    if torch.cuda.device_count() < 2:
        pytest.skip("needs two GPUs in this process")
    if any(torch.cuda.get_device_capability(d) != (9, 0) for d in (0, 1)):
        pytest.skip("needs two sm90 GPUs")
    return torch


def _problem(torch, device, m, k, n, group, symmetric, seed):
    """x and the int4 (symmetric) or uint4 weight of a fresh fp16 problem on `device`."""
    _, x, qw = make_problem(torch, m, k, n, group, "s4" if symmetric else "u4", "float16", seed, device=device)
    return x, qw


@pytest.mark.parametrize("n", [1, 16, 256])          # decode family, CUTLASS family
@pytest.mark.parametrize("symmetric", [True, False])
def test_call_runs_on_the_arrays_gpu_not_the_current_one(torch2, n, symmetric):
    torch = torch2
    with torch.cuda.device(0):
        x, qw = _problem(torch, "cuda:1", 1024, 2048, n, 128, symmetric, seed=n)
        assert torch.cuda.current_device() == 0
        y = torch.full((n, 1024), float("nan"), device="cuda:1", dtype=torch.float16)
        mixgemm.linear(x, qw, out=y)                    # explicit output
        y2 = mixgemm.linear(x, qw)                      # allocated output
        assert torch.cuda.current_device() == 0, "the call changed the caller's current device"
    torch.cuda.synchronize(1)
    assert y2.device == torch.device("cuda:1")
    ref = x.double() @ mixgemm.dequantize(qw).double().T
    assert rel_err(torch, y, ref) < TOL["float16"]
    assert torch.equal(y, y2)


def test_same_weight_values_give_same_result_on_both_gpus(torch2):
    torch = torch2
    x1, qw1 = _problem(torch, "cuda:1", 512, 1024, 16, 64, True, seed=3)
    x0, qw0 = _problem(torch, "cuda:0", 512, 1024, 16, 64, True, seed=3)
    assert torch.equal(x0.cpu(), x1.cpu())
    y0 = mixgemm.linear(x0, qw0)
    y1 = mixgemm.linear(x1, qw1)
    torch.cuda.synchronize(0)
    torch.cuda.synchronize(1)
    assert torch.equal(y0.cpu(), y1.cpu()), "the same kernel on the same data differs between GPUs"


def test_arrays_on_two_gpus_are_refused_before_any_launch(torch2):
    torch = torch2
    x1, qw1 = _problem(torch, "cuda:1", 512, 1024, 4, 64, True, seed=5)
    x0 = x1.to("cuda:0")
    with pytest.raises(ValueError, match="cuda:1|device"):
        mixgemm.linear(x0, qw1)
    out0 = torch.full((4, 512), 7.0, device="cuda:0", dtype=torch.float16)
    with pytest.raises(ValueError, match="cuda:1|device"):
        mixgemm.linear(x1, qw1, out=out0)
    assert bool((out0 == 7).all()), "a refused call wrote its output"
