"""Framework interop: find the framework and device of an array, resolve streams, allocate outputs.

The compiled core only sees DLPack; everything framework-specific lives here. Frameworks are
imported lazily and only when the caller already uses them, so ``import mixgemm`` never imports
torch/cupy/jax and never initializes CUDA.
"""
from __future__ import annotations

import sys
from typing import Any, Sequence, Tuple

from ._types import canonical_dtype

KDL_CUDA = 2


def framework_of(x: Any) -> str:
    mod = type(x).__module__.split(".")[0]
    if mod == "torch":
        return "torch"
    if mod == "cupy":
        return "cupy"
    if mod in ("jax", "jaxlib"):
        return "jax"
    if mod == "numpy":
        return "numpy"
    return "other"


def dtype_name(x: Any) -> str:
    return canonical_dtype(str(getattr(x, "dtype", "?")).replace("torch.", ""))


def shape_of(x: Any) -> Tuple[int, ...]:
    return tuple(int(s) for s in x.shape)


def cuda_device(x: Any, arg: str) -> int:
    """The CUDA device index of x, or a TypeError naming the argument."""
    if framework_of(x) == "torch" and x.is_cuda:   # cheap answer for the common case
        return int(x.get_device())
    if not hasattr(x, "__dlpack_device__"):
        raise TypeError(f"{arg} must be a CUDA array supporting DLPack (torch, cupy, jax), got {type(x).__name__}")
    dev_type, dev_id = x.__dlpack_device__()
    if int(dev_type) != KDL_CUDA:
        raise TypeError(f"{arg} must be on a CUDA device, but it is on DLPack device type {int(dev_type)} "
                        f"(1 = CPU); move it to the GPU first")
    return int(dev_id)


def is_c_contiguous(x: Any) -> bool:
    fw = framework_of(x)
    if fw == "torch":
        return bool(x.is_contiguous())
    if fw == "cupy":
        return bool(x.flags.c_contiguous)
    if fw == "jax":
        return True   # jax.Array buffers are always dense row-major
    strides = getattr(x, "strides", None)
    if strides is None:
        return True   # let the core check byte counts and strides
    expect = x.dtype.itemsize
    for dim, st in zip(reversed(x.shape), reversed(strides)):
        if dim != 1 and st != expect:
            return False
        expect *= dim
    return True


def data_ptr(x: Any) -> int:
    fw = framework_of(x)
    if fw == "torch":
        return int(x.data_ptr())
    if fw == "cupy":
        return int(x.data.ptr)
    if fw == "jax":
        return int(x.unsafe_buffer_pointer())
    return 0


def current_stream(fw: str, device: int) -> int:
    """The framework's current stream on `device` as a raw handle (0 = legacy default stream)."""
    if fw == "torch":
        import torch
        raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)   # ~10x cheaper than current_stream()
        return int(raw(device)) if raw is not None else int(torch.cuda.current_stream(device).cuda_stream)
    if fw == "cupy":
        import cupy
        with cupy.cuda.Device(device):
            return int(cupy.cuda.get_current_stream().ptr)
    # JAX has no public current stream for eager code; we run on the allocating framework's stream.
    alloc = allocator_framework(fw)
    if alloc != fw:
        return current_stream(alloc, device)
    raise TypeError(f"cannot find a current CUDA stream for {fw} arrays; pass stream=")


def resolve_stream(stream: Any, fw: str, device: int) -> int:
    """stream=None -> the framework's current stream; else an int handle or a __cuda_stream__ object."""
    if stream is None:
        return current_stream(fw, device)
    if isinstance(stream, int):
        if stream < 0:
            raise ValueError(f"stream must be a non-negative CUDA stream handle, got {stream}")
        return stream
    if hasattr(stream, "__cuda_stream__"):
        version, handle = stream.__cuda_stream__()
        if int(version) != 0:
            raise ValueError(f"stream: unsupported __cuda_stream__ protocol version {version}")
        return int(handle)
    if hasattr(stream, "cuda_stream"):      # torch.cuda.Stream on older PyTorch
        return int(stream.cuda_stream)
    if hasattr(stream, "ptr"):              # cupy.cuda.Stream
        return int(stream.ptr)
    raise TypeError(f"stream must be None, an int handle or an object with __cuda_stream__, got {type(stream).__name__}")


def allocator_framework(fw: str) -> str:
    """Which framework allocates outputs for arrays of `fw` (JAX arrays are immutable)."""
    if fw in ("torch", "cupy"):
        return fw
    if fw == "jax":
        for candidate in ("torch", "cupy"):
            if candidate in sys.modules or _importable(candidate):
                return candidate
        raise TypeError("JAX arrays need torch or cupy installed to hold mixgemm outputs")
    raise TypeError(f"unsupported array type from framework '{fw}'; use torch, cupy or jax arrays")


def _importable(name: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(name) is not None


def empty(fw: str, shape: Sequence[int], dtype: str, device: int) -> Any:
    """An uninitialized array allocated by the framework's own (caching, stream-ordered) allocator."""
    alloc = allocator_framework(fw)
    if alloc == "torch":
        import torch
        return torch.empty(tuple(shape), dtype=getattr(torch, dtype), device=f"cuda:{device}")
    import cupy
    if dtype == "bfloat16":
        raise TypeError("cupy has no bfloat16 dtype; use float16 activations with cupy arrays")
    with cupy.cuda.Device(device):
        return cupy.empty(tuple(shape), dtype=dtype)


def to_framework(fw: str, arr: Any) -> Any:
    """Hand an array allocated by allocator_framework(fw) back in the caller's framework."""
    if fw == "jax" and framework_of(arr) != "jax":
        import jax.dlpack
        return jax.dlpack.from_dlpack(arr)
    return arr


def host_bytes_array(fw: str, data: bytes) -> Any:
    """A small host (CPU) uint8 array of `data` in the framework's own type where it has host arrays
    (torch, jax), else NumPy (NumPy and CuPy callers)."""
    import numpy as np
    arr = np.frombuffer(data, dtype=np.uint8).copy()
    if fw == "torch":
        import torch
        return torch.from_numpy(arr)
    if fw == "jax":
        import jax
        return jax.device_put(arr, jax.devices("cpu")[0])
    return arr


def export(x: Any, stream: int) -> Any:
    """A DLPack capsule of x, made ready for use on `stream` (the DLPack consumer contract)."""
    fw = framework_of(x)
    s = stream if stream != 0 else 1   # 0 is not a valid DLPack stream value; 1 is the legacy stream
    if fw == "torch":
        import torch
        with torch.cuda.device(x.device):
            return x.__dlpack__(stream=s)
    if fw == "jax":
        return x.__dlpack__()           # blocks until ready; jax waits on no external stream
    return x.__dlpack__(stream=s)


def synchronize(fw: str, stream: int, device: int) -> None:
    alloc = allocator_framework(fw)
    if alloc == "torch":
        import torch
        torch.cuda.ExternalStream(stream, device=f"cuda:{device}").synchronize()
    else:
        import cupy
        cupy.cuda.ExternalStream(stream, device).synchronize()


def device_context(fw: str, device: int):
    import contextlib
    if allocator_framework(fw) == "torch":
        import torch
        return torch.cuda.device(device)
    if allocator_framework(fw) == "cupy":
        import cupy
        return cupy.cuda.Device(device)
    return contextlib.nullcontext()


__all__ = [
    "framework_of", "dtype_name", "shape_of", "cuda_device", "is_c_contiguous", "resolve_stream", "empty",
    "export", "to_framework", "synchronize",
]
