"""mixgemm: fast mixed-input (weight-quantized) GEMM for NVIDIA Hopper, from any Python GPU framework.

    qw = mixgemm.quantize(w, bits=4, group_size=128)   # w: [out_features, in_features] on the GPU
    y = mixgemm.linear(x, qw)                           # y = x @ W^T, x: [..., in_features]
    qw = mixgemm.from_gptq(qweight, qzeros, scales, g_idx)   # or from_awq / from_plain: checkpoints, exactly

Importing mixgemm never initializes CUDA. Arrays may come from PyTorch, CuPy or JAX (DLPack).
"""
from __future__ import annotations

from . import _C, formats
from ._dense import dequantize, unpack
from ._importers import from_awq, from_gptq, from_plain
from ._linear import explain, kernels, linear
from ._quant import QuantizedWeight, quantize

__version__ = "0.1.0"
cutlass_version: str = _C.cutlass_version

__all__ = ["formats", "QuantizedWeight", "quantize", "dequantize", "unpack", "linear", "kernels", "explain",
           "from_gptq", "from_awq", "from_plain", "cutlass_version", "__version__"]
