"""Type stubs for the compiled core (private: use the mixgemm package API).

Arrays are DLPack-capable objects or capsules; pointers are device addresses as ints; `stream` is a
raw cudaStream_t handle. Codes: WeightType's and ActType's values (weight 0=s4 1=u4 2=s8; act 0=float16
1=bfloat16); src 0=float16 1=bfloat16 2=float32.
"""
import enum
from typing import Any, Optional

class WeightType(enum.Enum):
    s4 = 0
    u4 = 1
    s8 = 2

class ActType(enum.Enum):
    float16 = 0
    bfloat16 = 1

def weight_bits(weight: WeightType) -> int: ...
def weight_has_zero(weight: WeightType) -> bool: ...

cutlass_version: str
row_block: int          # M (out_features) is a multiple of this
k_step: int             # K (in_features) is a multiple of this
fitted_sm_count: int    # SMs of the card the dispatch heuristic was fitted on (explain() without a device)

def validate_problem(M: int, N: int, K: int, group: int, weight: int, act: int) -> str: ...   # "" when valid

def kernels() -> list[dict[str, Any]]: ...   # every field of src/catalog/catalog.py's Entry, and the name
def weight_atom(bits: int) -> list[int]: ...
def device_info(device: int) -> dict[str, Any]: ...
def explain(M: int, N: int, K: int, group: int, weight: int, act: int, has_bias: bool, sm_count: int,
            kernel: str = "", device: int = -1) -> dict[str, Any]: ...   # kernel, reason, candidates
def workspace_size(kernel: str, M: int, N: int, K: int, group: int, weight: int, act: int, sm_count: int) -> int: ...
def gemm(kernel: str, w: Any, scales: Any, zeros: Optional[Any], x: Any, bias: Optional[Any], y: Any,
         workspace: Optional[Any], M: int, N: int, K: int, group: int, weight: int, act: int, device: int,
         stream: int) -> None: ...
def gemm_ptr(kernel: str, w: int, scales: int, zeros: int, x: int, bias: int, y: int, workspace: int,
             workspace_bytes: int, M: int, N: int, K: int, group: int, weight: int, act: int, device: int,
             stream: int) -> None: ...
def quantize(w: Any, src: int, q_plain: Any, scales: Any, zeros: Optional[Any], M: int, K: int, group: int,
             weight: int, act: int, device: int, stream: int) -> None: ...
def pack(q_plain: Any, packed: Any, M: int, K: int, bits: int, device: int, stream: int) -> None: ...
def unpack(packed: Any, q_plain: Any, M: int, K: int, bits: int, is_signed: bool, device: int, stream: int) -> None: ...
def dequantize(packed: Any, scales: Any, zeros: Optional[Any], out: Any, M: int, K: int, group: int, weight: int,
               act: int, device: int, stream: int) -> None: ...
