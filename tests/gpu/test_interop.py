"""Frameworks, streams, CUDA graphs, and input validation on the GPU."""
import pytest

import mixgemm

from ._util import TOL, make_problem, reference, rel_err

pytestmark = pytest.mark.gpu


def _has(types):
    return any(e["weight"] == types[0] and e["act"] == types[1] for e in mixgemm.kernels())


@pytest.fixture(scope="module")
def problem():
    import torch
    if not _has(("s4", "float16")):
        pytest.skip("no s4/f16 kernels in this build")
    return make_problem(torch, 1024, 512, 16, 64, "s4", "float16", seed=11)


def test_torch_nondefault_stream_and_explicit_stream(problem):
    import torch
    w, x, qw = problem
    ref = reference(torch, x, qw)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        y1 = mixgemm.linear(x, qw)
    s.synchronize()
    y2 = mixgemm.linear(x, qw, stream=s.cuda_stream)
    torch.cuda.synchronize()

    class Wrapped:
        def __cuda_stream__(self):
            return (0, s.cuda_stream)
    y3 = mixgemm.linear(x, qw, stream=Wrapped())
    torch.cuda.synchronize()
    for y in (y1, y2, y3):
        assert rel_err(torch, y, ref) < TOL["float16"]


def test_cuda_graph_capture_matches_eager(problem):
    import torch
    w, x, qw = problem
    eager = mixgemm.linear(x, qw)
    out = torch.empty_like(eager)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        mixgemm.linear(x, qw, out=out)   # warm-up outside capture
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        mixgemm.linear(x, qw, out=out)
    out.fill_(float("nan"))
    for _ in range(20):
        g.replay()
    torch.cuda.synchronize()
    assert torch.equal(out, eager)


def test_cupy_inputs():
    cupy = pytest.importorskip("cupy")
    import torch
    if not _has(("s4", "float16")):
        pytest.skip("no s4/f16 kernels")
    w = cupy.random.standard_normal((512, 256), dtype=cupy.float32).astype(cupy.float16)
    x = cupy.random.standard_normal((8, 256), dtype=cupy.float32).astype(cupy.float16)
    qw = mixgemm.quantize(w, bits=4, group_size=64)
    assert type(qw.packed).__module__.startswith("cupy")
    y = mixgemm.linear(x, qw)
    assert type(y).__module__.startswith("cupy") and y.shape == (8, 512)
    ref = (torch.from_dlpack(x).double() @ torch.from_dlpack(mixgemm.dequantize(qw)).double().T)
    assert rel_err(torch, torch.from_dlpack(y), ref) < TOL["float16"]


def test_jax_inputs():
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    import torch
    if not _has(("s4", "bfloat16")):
        pytest.skip("no s4/bf16 kernels")
    try:
        gpu = jax.devices("gpu")[0]
    except RuntimeError:
        pytest.skip("jax has no GPU backend")
    key = jax.random.PRNGKey(0)
    w = jax.device_put(jax.random.normal(key, (512, 256), dtype=jnp.bfloat16), gpu)
    x = jax.device_put(jax.random.normal(jax.random.PRNGKey(1), (4, 256), dtype=jnp.bfloat16), gpu)
    qw = mixgemm.quantize(w, bits=4, group_size=128)
    y = mixgemm.linear(x, qw)
    assert isinstance(y, jax.Array) and y.shape == (4, 512)
    ref = torch.from_dlpack(x).double() @ torch.from_dlpack(mixgemm.dequantize(qw)).double().T
    assert rel_err(torch, torch.from_dlpack(y), ref) < TOL["bfloat16"]


def test_bad_inputs_raise_before_launch_and_write_nothing(problem):
    import torch
    w, x, qw = problem
    out = torch.full((16, 1024), 7.0, device="cuda", dtype=torch.float16)
    cases = [
        (dict(x=x.cpu()), TypeError, "x must be on a CUDA device"),
        (dict(x=x.to(torch.bfloat16)), TypeError, "dtype"),
        (dict(x=x[:, :256]), ValueError, "shape"),
        (dict(x=torch.empty(16, 1024, device="cuda", dtype=torch.float16)[:, ::2]), ValueError, "contiguous"),
        (dict(x=torch.empty(16 * 512 + 1, device="cuda", dtype=torch.float16)[1:].view(16, 512)), ValueError, "aligned"),
        (dict(bias=torch.zeros(1000, device="cuda", dtype=torch.float16)), ValueError, "bias"),
        (dict(out=torch.empty(16, 1000, device="cuda", dtype=torch.float16)), ValueError, "out"),
        (dict(kernel="no_such_kernel"), ValueError, "no catalog entry"),
    ]
    for kw, exc, msg in cases:
        args = dict(x=x, out=out)
        args.update(kw)
        with pytest.raises(exc, match=msg):
            mixgemm.linear(args.pop("x"), qw, **args)
    torch.cuda.synchronize()
    assert (out == 7.0).all(), "a rejected call wrote into out"


def test_tampered_weight_is_rejected(problem):
    import dataclasses
    w, x, qw = problem
    bad = [dataclasses.replace(qw, packed=qw.packed[:-16]),
           dataclasses.replace(qw, scales=qw.scales.float()),
           dataclasses.replace(qw, shape=(1024, 1024)),
           dataclasses.replace(qw, group_size=100),
           dataclasses.replace(qw, weight="u4"),
           dataclasses.replace(qw, format_version=99)]
    for b in bad:
        with pytest.raises((TypeError, ValueError)):
            mixgemm.linear(x, b)


def test_quantize_rejects_bad_arguments():
    import torch
    w = torch.randn(256, 512, device="cuda", dtype=torch.float16)
    with pytest.raises(ValueError, match="group_size"):
        mixgemm.quantize(w, group_size=100)
    with pytest.raises(ValueError, match="bits"):
        mixgemm.quantize(w, bits=3)
    with pytest.raises(TypeError, match="CUDA device"):
        mixgemm.quantize(w.cpu())
    with pytest.raises(ValueError, match="multiple of 16"):
        mixgemm.quantize(torch.randn(250, 512, device="cuda", dtype=torch.float16))
