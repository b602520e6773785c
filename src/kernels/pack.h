// Weight quantization and packing kernels (used once per weight, off the hot path).
// "plain" weights are one int8 per element, row-major [M, K]; "packed" weights follow
// WeightLayout (see weight_layout.cuh). Scales/zeros are [ceil(K/g), M], M contiguous, in the
// activation dtype; zeros are stored in FMA form z' = -s*z.
#pragma once

#include <array>
#include <cstdint>

#include <cuda_runtime_api.h>

#include "catalog/entry.h"

namespace mixgemm {

enum class SourceType : int { F16 = 0, BF16 = 1, F32 = 2 };

// offsets[m * 16 + k] = storage offset of element (m, k) inside one 16x16 packed block.
std::array<int, 256> weight_atom_offsets(int bits);

// Round-to-nearest quantization of w [M, K] (SourceType) into plain q, scales and (for U4) zeros.
void launch_quantize(const void* w, SourceType src, int64_t m, int64_t k, int64_t group, WeightType wt,
                     ActType act, int8_t* q_plain, void* scales, void* zeros, cudaStream_t stream);

// plain [M, K] int8 <-> packed (M*K*bits/8 bytes). M % 16 == 0 and K % 16 == 0.
void launch_pack(const int8_t* q_plain, int64_t m, int64_t k, int bits, void* packed, cudaStream_t stream);
void launch_unpack(const void* packed, int64_t m, int64_t k, int bits, bool is_signed, int8_t* q_plain,
                   cudaStream_t stream);

// w[m, k] = s * q + z' in fp32, straight from the packed layout.
void launch_dequantize(const void* packed, const void* scales, const void* zeros, int64_t m, int64_t k,
                       int64_t group, WeightType wt, ActType act, float* out, cudaStream_t stream);

}  // namespace mixgemm
