"""Framework-agnostic array operations for importers, sharding, dequantize and the act-order gather.

Works on NumPy, PyTorch (CPU or CUDA), CuPy and JAX arrays; frameworks are imported only when the
caller already hands us their arrays. Everything but ``gather_columns`` runs off the hot path.
"""
from __future__ import annotations

import contextlib
from typing import Any, Optional

import numpy as np

from ._interop import KDL_CUDA, dtype_name, framework_of

_KDL_CPU = 1


def is_host(a: Any) -> bool:
    """True for arrays in host memory (NumPy, CPU torch/jax tensors, array-likes such as lists)."""
    fw = framework_of(a)
    if fw == "numpy":
        return True
    if fw == "torch":
        return not a.is_cuda
    if fw == "cupy":
        return False
    if hasattr(a, "__dlpack_device__"):
        return int(a.__dlpack_device__()[0]) != KDL_CUDA
    return True


def to_numpy(a: Any) -> np.ndarray:
    """A host NumPy copy (or view) of any supported array; bfloat16 comes back as float32 (exact),
    since NumPy has no bfloat16 of its own."""
    fw = framework_of(a)
    if fw == "torch":
        t = a.detach()
        if dtype_name(t) == "bfloat16":
            t = t.float()
        return t.cpu().numpy()
    if fw == "cupy":
        import cupy
        return cupy.asnumpy(a)
    arr = np.asarray(a)
    if dtype_name(arr) == "bfloat16":    # jax / ml_dtypes arrays
        arr = arr.astype(np.float32)
    return arr


def from_numpy(arr: np.ndarray, like: Any, dtype: Optional[str] = None) -> Any:
    """``arr`` (converted to ``dtype``; values must already be exact in it) as an array of ``like``'s
    framework on ``like``'s device. NumPy (and array-like) ``like`` gives NumPy."""
    fw = framework_of(like)
    arr = np.ascontiguousarray(arr)
    dtype = dtype or dtype_name(arr)
    if fw == "torch":
        import torch
        return torch.from_numpy(arr).to(device=like.device, dtype=getattr(torch, dtype))
    if fw == "jax":
        import jax
        import jax.numpy as jnp
        devices = like.devices() if hasattr(like, "devices") else {like.device}
        if dtype == "int64" and not jax.config.jax_enable_x64:
            dtype = "int32"    # JAX stores int64 as int32 unless x64 is enabled; say so instead of warning
        return jax.device_put(arr, next(iter(devices))).astype(getattr(jnp, dtype))
    if dtype == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            raise TypeError("NumPy has no bfloat16 dtype: install ml_dtypes, pass torch tensors, or use "
                            "act_dtype='float16'") from None
        np_dtype = np.dtype(ml_dtypes.bfloat16)
    else:
        np_dtype = np.dtype(dtype)
    out = arr.astype(np_dtype)
    if fw == "cupy":
        import cupy
        with cupy.cuda.Device(like.device.id):
            return cupy.asarray(out)
    return out


def astype(a: Any, dtype: str) -> Any:
    fw = framework_of(a)
    if fw == "torch":
        import torch
        return a.to(getattr(torch, dtype))
    return a.astype(dtype)


def copy_contiguous(a: Any) -> Any:
    """A C-contiguous copy that owns its memory (a shard must not keep the whole weight alive)."""
    fw = framework_of(a)
    if fw == "torch":
        import torch
        return a.clone(memory_format=torch.contiguous_format)
    if fw == "jax":
        import jax.numpy as jnp
        return jnp.array(a, copy=True)
    return a.copy(order="C") if hasattr(a, "copy") else np.array(a, copy=True)


def _index_like(idx: Any, like: Any) -> Any:
    """An integer index array in ``like``'s framework and on its device."""
    fw = framework_of(like)
    if framework_of(idx) == fw:
        return idx
    if is_host(idx):
        return from_numpy(np.asarray(to_numpy(idx), dtype=np.int64), like)
    if fw == "torch":
        import torch
        return torch.from_dlpack(idx)
    if fw == "cupy":
        import cupy
        return cupy.from_dlpack(idx)
    if fw == "jax":
        import jax.dlpack
        return jax.dlpack.from_dlpack(idx)
    return to_numpy(idx)


def take(a: Any, idx: Any, axis: int) -> Any:
    """``a`` gathered along ``axis`` at integer positions ``idx`` (a new, contiguous array)."""
    idx = _index_like(idx, a)
    fw = framework_of(a)
    if fw == "torch":
        import torch
        return torch.index_select(a, axis % a.ndim, idx)
    if fw == "cupy":
        import cupy
        return cupy.take(a, idx, axis=axis)
    if fw == "jax":
        import jax.numpy as jnp
        return jnp.take(a, idx, axis=axis)
    return np.take(np.asarray(a), np.asarray(idx), axis=axis)


def argsort(a: Any) -> Any:
    fw = framework_of(a)
    if fw == "torch":
        import torch
        return torch.argsort(a)
    if fw == "cupy":
        import cupy
        return cupy.argsort(a)
    if fw == "jax":
        import jax.numpy as jnp
        return jnp.argsort(a)
    return np.argsort(np.asarray(a), kind="stable")


def stream_context(fw: str, stream: int, device: int):
    """Make framework-level ops (gather, arithmetic) run on ``stream``; JAX has no such control (its
    results are waited for before their DLPack export, see _interop.export)."""
    if fw == "torch":
        import torch
        return torch.cuda.stream(torch.cuda.ExternalStream(stream, device=f"cuda:{device}"))
    if fw == "cupy":
        import cupy
        return cupy.cuda.ExternalStream(stream, device)
    return contextlib.nullcontext()


def gather_columns(x: Any, perm: Any, stream: Optional[int], device: int) -> Any:
    """``x[..., perm]`` for the act-order permutation, on ``stream`` when one was given explicitly
    (otherwise on the framework's current stream, where linear() launches too)."""
    fw = framework_of(x)
    ctx = stream_context(fw, stream, device) if stream is not None else contextlib.nullcontext()
    with ctx:
        return take(x, perm, -1)
