"""mixgemm: fast mixed-input (weight-quantized) GEMM for NVIDIA Hopper, from any Python GPU framework.

    qw = mixgemm.quantize(w, bits=4, group_size=128)   # w: [out_features, in_features] on the GPU
    y = mixgemm.linear(x, qw)                           # y = x @ W^T, x: [..., in_features]

Importing mixgemm never initializes CUDA. Arrays may come from PyTorch, CuPy or JAX (DLPack).
"""
from __future__ import annotations

from . import _C, formats
from ._linear import explain, kernels, linear
from ._quant import QuantizedWeight, dequantize, quantize, unpack

__version__ = "0.1.0"
cutlass_version: str = _C.cutlass_version

__all__ = ["formats", "QuantizedWeight", "quantize", "dequantize", "unpack", "linear", "kernels", "explain",
           "cutlass_version", "__version__"]
