// Host side of the decode family's TMA copies: encoding CUtensorMap descriptors. The encoder comes from
// the driver through the runtime's entry-point query, so the module still does not link libcuda.
#pragma once

#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime_api.h>

#include <mutex>
#include <stdexcept>
#include <string>

namespace mixgemm {

inline PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    cudaDriverEntryPointQueryResult status = cudaDriverEntryPointSymbolNotFound;
    void* p = nullptr;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &status) ==
            cudaSuccess &&
        status == cudaDriverEntryPointSuccess)
      fn = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
  });
  if (!fn) throw std::runtime_error("mixgemm: the CUDA driver does not provide cuTensorMapEncodeTiled (driver too old?)");
  return fn;
}

// A tiled map over a `rank`-D tensor: dims innermost first, byte strides of dims 1..rank-1, a box of
// `box` elements per copy. Out-of-range box elements are filled with zeros by the copy. The driver's
// result: CUDA_SUCCESS, or why it refused the map.
inline CUresult encode_tensor_map(CUtensorMap* map, CUtensorMapDataType type, unsigned rank, const void* base,
                                  const cuuint64_t* dims, const cuuint64_t* strides, const cuuint32_t* box,
                                  CUtensorMapSwizzle swizzle, CUtensorMapL2promotion promotion) {
  const cuuint32_t element_strides[5] = {1, 1, 1, 1, 1};
  return tensor_map_encoder()(map, type, rank, const_cast<void*>(base), dims, strides, box, element_strides,
                              CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle, promotion, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
}

// The same, throwing std::runtime_error if the driver refuses the map.
inline CUtensorMap make_tensor_map(CUtensorMapDataType type, unsigned rank, const void* base, const cuuint64_t* dims,
                                   const cuuint64_t* strides, const cuuint32_t* box, CUtensorMapSwizzle swizzle,
                                   CUtensorMapL2promotion promotion) {
  CUtensorMap map;
  const CUresult r = encode_tensor_map(&map, type, rank, base, dims, strides, box, swizzle, promotion);
  if (r != CUDA_SUCCESS)
    throw std::runtime_error("mixgemm: cuTensorMapEncodeTiled failed with CUresult " + std::to_string(int(r)));
  return map;
}

}  // namespace mixgemm
