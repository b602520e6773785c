"""Imported checkpoints on the GPU: GPTQ (symmetric, asymmetric, act-order; 4/8-bit; g=32/64/128 and
per-channel), AWQ and plain weights. dequantize() must be bit-identical to the checkpoint's weight and
linear() must match the fp32 reference x @ W^T (W the checkpoint's exact weight) with NaN-poisoned out=.

Checkpoints are written by the spec packers in tests/cpu/_checkpoints.py, imported on the host (NumPy)
and moved with qw.apply, or imported straight from CUDA tensors.
"""
import numpy as np
import pytest

import mixgemm

from ..cpu._checkpoints import exact_weight, pack_plain4, random_awq, random_gptq, readme_python_blocks
from ._util import TOL, rel_err

pytestmark = pytest.mark.gpu

M, K = 256, 1024
TOKENS = [1, 16, 100]


def _cuda(a):
    import torch
    return torch.from_numpy(a).cuda()


def _runnable_tokens(qw, tokens=TOKENS):
    """The token counts some kernel of this build runs for this weight (g=32: decode family, N <= 64)."""
    m, k = qw.shape
    ns = [n for n in tokens if mixgemm.explain(m, n, k, qw.group_size, qw.weight, qw.act_dtype)["kernel"]]
    if not ns:
        pytest.skip(f"no kernel in this build for {qw.weight}/{qw.act_dtype} g={qw.group_size}")
    return ns


def _check_on_gpu(qw_host, w_exact, seed=0, tokens=TOKENS):
    """Move a host weight to the GPU; exact dequantize/unpack there; linear vs the fp32 reference."""
    import torch
    qw = qw_host.apply(_cuda)
    assert qw.packed.is_cuda and (qw.act_perm is None or qw.act_perm.is_cuda)
    wd = mixgemm.dequantize(qw)
    assert wd.is_cuda and wd.dtype == torch.float32
    np.testing.assert_array_equal(wd.cpu().numpy(), w_exact)
    np.testing.assert_array_equal(mixgemm.unpack(qw).cpu().numpy(), mixgemm.unpack(qw_host))
    ref_w = torch.from_numpy(w_exact).cuda().double()
    dtype = getattr(torch, qw.act_dtype)
    gen = torch.Generator(device="cuda").manual_seed(seed)
    for n in _runnable_tokens(qw, tokens):
        x = torch.randn(n, qw.shape[1], device="cuda", generator=gen).to(dtype)
        y = torch.full((n, qw.shape[0]), float("nan"), device="cuda", dtype=dtype)   # poison
        mixgemm.linear(x, qw, out=y)
        err = rel_err(torch, y, x.double() @ ref_w.T)
        assert err < TOL[qw.act_dtype], f"{qw.weight} g={qw.group_size} N={n}: rel err {err:.3e}"
    return qw


@pytest.mark.parametrize("g", [32, 64, 128, K])
@pytest.mark.parametrize("act_order", [False, True])
@pytest.mark.parametrize("bits,symmetric", [(4, False), (4, True), (8, True)])
def test_gptq_on_gpu(bits, symmetric, act_order, g):
    rng = np.random.default_rng(hash((bits, symmetric, act_order, g)) % 2**32)
    t, q, z, s, g_idx = random_gptq(rng, M, K, g, bits, symmetric, act_order)
    qw = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], g_idx=t.get("g_idx"), bits=bits)
    assert qw.weight == {(4, False): "u4", (4, True): "s4", (8, True): "s8"}[(bits, symmetric)]
    _check_on_gpu(qw, exact_weight(q, s, z, g_idx), seed=g)


@pytest.mark.parametrize("g", [32, 64, 128, K])
def test_awq_on_gpu(g):
    t, q, z, s = random_awq(np.random.default_rng(g), M, K, g)
    _check_on_gpu(mixgemm.from_awq(**t), exact_weight(q, s, z), seed=g)


def test_plain_on_gpu():
    rng = np.random.default_rng(3)
    q4 = rng.integers(-8, 8, size=(M, K))
    s = (rng.uniform(0.5, 2, size=(K // 128, M)) / 64).astype(np.float16)
    _check_on_gpu(mixgemm.from_plain(pack_plain4(q4), s, bits=4), exact_weight(q4, s))
    q8 = rng.integers(-128, 128, size=(M, K)).astype(np.int8)
    s8 = (rng.uniform(0.5, 2, size=(1, M)) / 1024).astype(np.float16)
    _check_on_gpu(mixgemm.from_plain(q8, s8, bits=8), exact_weight(q8, s8))


def test_import_from_cuda_tensors_matches_host_import():
    import torch
    rng = np.random.default_rng(4)
    t, q, z, s, g_idx = random_gptq(rng, M, K, 128, act_order=True)
    host = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], g_idx=t["g_idx"])
    dev = mixgemm.from_gptq(*(_cuda(t[k]) for k in ("qweight", "qzeros", "scales")), g_idx=_cuda(t["g_idx"]))
    for name in ("packed", "scales", "zeros", "zero_points", "act_perm"):
        a = getattr(dev, name)
        assert isinstance(a, torch.Tensor) and a.is_cuda, name
        np.testing.assert_array_equal(a.cpu().numpy(), getattr(host, name), err_msg=name)
    np.testing.assert_array_equal(mixgemm.dequantize(dev).cpu().numpy(), exact_weight(q, s, z, g_idx))


def test_bfloat16_checkpoint_from_torch_cpu_tensors():
    import torch
    rng = np.random.default_rng(5)
    t, q, z, s, g_idx = random_gptq(rng, M, K, 64, act_order=True)
    s_bf16 = torch.from_numpy(s.astype(np.float32)).to(torch.bfloat16)        # a bf16 checkpoint
    qw = mixgemm.from_gptq(torch.from_numpy(t["qweight"]), torch.from_numpy(t["qzeros"]), s_bf16,
                           g_idx=torch.from_numpy(t["g_idx"]))
    assert qw.act_dtype == "bfloat16" and isinstance(qw.packed, torch.Tensor) and not qw.packed.is_cuda
    w = exact_weight(q, s_bf16.float().numpy(), z, g_idx)
    np.testing.assert_array_equal(mixgemm.dequantize(qw).numpy(), w)          # host torch path
    qw = qw.apply(lambda a: a.cuda())
    np.testing.assert_array_equal(mixgemm.dequantize(qw).cpu().numpy(), w)
    if mixgemm.explain(M, 15, K, 64, "u4", "bfloat16")["kernel"] is None:
        pytest.skip("no u4/bf16 kernel for g=64 in this build")
    x = torch.randn(3, 5, K, device="cuda").to(torch.bfloat16)                # batch dims
    y = mixgemm.linear(x, qw)
    assert y.shape == (3, 5, M) and y.dtype == torch.bfloat16
    ref = (x.double().reshape(-1, K) @ torch.from_numpy(w).cuda().double().T).reshape(3, 5, M)
    assert rel_err(torch, y, ref) < TOL["bfloat16"]


def _act_order_gpu_weight(seed=6):
    rng = np.random.default_rng(seed)
    t, q, z, s, g_idx = random_gptq(rng, M, K, 128, act_order=True)
    qw = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], g_idx=t["g_idx"])
    w = exact_weight(q, s, z, g_idx)
    if mixgemm.explain(M, 16, K, 128, "u4", "float16")["kernel"] is None:
        pytest.skip("no u4/f16 kernel for g=128 in this build")
    return qw.apply(_cuda), w


def test_act_order_on_an_explicit_stream_and_in_a_cuda_graph():
    import torch
    qw, w = _act_order_gpu_weight()
    ref_w = torch.from_numpy(w).cuda().double()
    x = torch.randn(16, K, device="cuda").half()
    ref = x.double() @ ref_w.T
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    y = mixgemm.linear(x, qw, stream=s.cuda_stream)
    wd = mixgemm.dequantize(qw, stream=s.cuda_stream)
    s.synchronize()
    assert rel_err(torch, y, ref) < TOL["float16"]
    np.testing.assert_array_equal(wd.cpu().numpy(), w)
    out = torch.empty(16, M, device="cuda", dtype=torch.float16)
    with torch.cuda.stream(s):
        mixgemm.linear(x, qw, out=out)           # warm-up outside capture
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        mixgemm.linear(x, qw, out=out)           # the gather is captured too
    out.fill_(float("nan"))
    g.replay()
    torch.cuda.synchronize()
    assert rel_err(torch, out, ref) < TOL["float16"]


def test_gpu_shards_match_host_shards_and_sum_to_the_whole():
    import torch
    rng = np.random.default_rng(7)
    t, q, z, s, _ = random_gptq(rng, M, K, 128)
    host = mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"])
    qw = host.apply(_cuda)
    for dim in (0, 1):
        for i in range(2):
            part = qw.shard(dim, i, 2)
            assert part.packed.is_cuda
            expected = host.shard(dim, i, 2)
            for name in ("packed", "scales", "zeros", "zero_points"):
                np.testing.assert_array_equal(getattr(part, name).cpu().numpy(), getattr(expected, name))
    # Row-parallel: the partial products of the two input-feature halves add up to the full product.
    x = torch.randn(16, K, device="cuda").half()
    _runnable_tokens(qw, [16])
    y_parts = [mixgemm.linear(x[:, i * K // 2:(i + 1) * K // 2].contiguous(), qw.shard(1, i, 2)).double()
               for i in range(2)]
    ref = x.double() @ torch.from_numpy(exact_weight(q, s, z)).cuda().double().T
    assert rel_err(torch, y_parts[0] + y_parts[1], ref) < TOL["float16"]
    y_rows = torch.cat([mixgemm.linear(x, qw.shard(0, i, 2)) for i in range(2)], dim=1)
    assert rel_err(torch, y_rows, ref) < TOL["float16"]


def test_act_order_with_cupy_arrays():
    cupy = pytest.importorskip("cupy")
    import torch
    qw_t, w = _act_order_gpu_weight(8)
    qw = qw_t.apply(lambda a: cupy.from_dlpack(a))
    assert type(qw.act_perm).__module__.startswith("cupy")
    x = cupy.random.standard_normal((8, K), dtype=cupy.float32).astype(cupy.float16)
    y = mixgemm.linear(x, qw)
    assert type(y).__module__.startswith("cupy")
    ref = torch.from_dlpack(x).double() @ torch.from_numpy(w).cuda().double().T
    assert rel_err(torch, torch.from_dlpack(y), ref) < TOL["float16"]
    np.testing.assert_array_equal(cupy.asnumpy(mixgemm.dequantize(qw)), w)


def test_act_order_with_jax_arrays():
    jax = pytest.importorskip("jax")
    import torch
    try:
        gpu = jax.devices("gpu")[0]
    except RuntimeError:
        pytest.skip("jax has no GPU backend")
    qw_t, w = _act_order_gpu_weight(9)
    qw = qw_t.apply(lambda a: jax.device_put(a.cpu().numpy(), gpu))
    x = jax.device_put(np.random.default_rng(0).standard_normal((4, K)).astype(np.float16), gpu)
    y = mixgemm.linear(x, qw)
    assert isinstance(y, jax.Array) and y.shape == (4, M)
    ref = torch.from_dlpack(x).double() @ torch.from_numpy(w).cuda().double().T
    assert rel_err(torch, torch.from_dlpack(y), ref) < TOL["float16"]
    np.testing.assert_array_equal(np.asarray(mixgemm.dequantize(qw)), w)


def test_readme_checkpoint_example_runs_on_the_gpu(tmp_path, monkeypatch):
    st = pytest.importorskip("safetensors.numpy")
    import torch
    t, q, z, s, g_idx = random_gptq(np.random.default_rng(10), M, K, 128, act_order=True)
    st.save_file({"model.layers.0.self_attn.q_proj." + k: v for k, v in t.items()}, str(tmp_path / "model.safetensors"))
    monkeypatch.chdir(tmp_path)
    host_block, gpu_block = readme_python_blocks("From a GPTQ/AWQ checkpoint")
    x = torch.randn(4, K, device="cuda").half()
    scope = {}
    exec(compile(host_block, "README.md", "exec"), scope)   # noqa: S102  (the README's own code)
    if mixgemm.explain(M, 4, K, 128, scope["qw"].weight, "float16")["kernel"] is None:
        pytest.skip("no kernel for the README example in this build")
    scope["x"] = x
    exec(compile(gpu_block, "README.md", "exec"), scope)    # noqa: S102
    ref = x.double() @ torch.from_numpy(exact_weight(q, s, z, g_idx)).cuda().double().T
    assert rel_err(torch, scope["y"], ref) < TOL["float16"]
