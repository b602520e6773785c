#include "kernels/pack.h"

#include <stdexcept>
#include <string>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/weight_layout.cuh"

namespace mixgemm {
namespace {

struct AtomTables {
  int16_t forward[256];   // (m*16 + k) -> offset in the block
  int16_t inverse[256];   // offset -> (m*16 + k)
};

AtomTables make_tables(int bits) {
  AtomTables t{};
  auto offsets = weight_atom_offsets(bits);
  for (int i = 0; i < 256; ++i) {
    t.forward[i] = int16_t(offsets[i]);
    t.inverse[offsets[i]] = int16_t(i);
  }
  return t;
}

void check_launch(const char* what) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string("mixgemm: ") + what + " launch failed: " + cudaGetErrorString(err));
}

__device__ inline float load_as_float(const void* p, SourceType t, int64_t i) {
  switch (t) {
    case SourceType::F16: return __half2float(static_cast<const __half*>(p)[i]);
    case SourceType::BF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

// Round through the activation dtype, exactly as the scale will be stored.
__device__ inline float round_to_act(float v, ActType a) {
  return a == ActType::F16 ? __half2float(__float2half_rn(v)) : __bfloat162float(__float2bfloat16_rn(v));
}

__device__ inline void store_act(void* p, ActType a, int64_t i, float v) {
  if (a == ActType::F16) static_cast<__half*>(p)[i] = __float2half_rn(v);
  else static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
}

__device__ inline float load_act(const void* p, ActType a, int64_t i) {
  return a == ActType::F16 ? __half2float(static_cast<const __half*>(p)[i])
                           : __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
}

// One thread per (row, group). Symmetric: s = max|w| / qmax, q = rint(w / s) clamped to [-qmax-1, qmax].
// Asymmetric (U4): s = (max - min) / 15, z = rint(-min / s) in [0, 15], q = rint(w / s) + z in [0, 15].
__global__ void quantize_kernel(const void* w, SourceType src, int64_t m, int64_t k, int64_t group,
                                WeightType wt, ActType act, int8_t* q, void* scales, void* zeros) {
  const int64_t groups = (k + group - 1) / group;
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= m * groups) return;
  const int64_t row = idx % m, g = idx / m;   // consecutive threads -> consecutive rows (coalesced scale stores)
  const int64_t k0 = g * group, k1 = min(k, k0 + group);
  float lo = 0.f, hi = 0.f, amax = 0.f;
  for (int64_t c = k0; c < k1; ++c) {
    float v = load_as_float(w, src, row * k + c);
    lo = fminf(lo, v);
    hi = fmaxf(hi, v);
    amax = fmaxf(amax, fabsf(v));
  }
  const int64_t sidx = g * m + row;
  if (wt == WeightType::U4) {
    float s = round_to_act((hi - lo) / 15.f, act);
    float inv = s > 0.f ? 1.f / s : 0.f;
    float z = fminf(fmaxf(rintf(-lo * inv), 0.f), 15.f);
    store_act(scales, act, sidx, s);
    store_act(zeros, act, sidx, -s * z);
    for (int64_t c = k0; c < k1; ++c) {
      float v = load_as_float(w, src, row * k + c);
      q[row * k + c] = int8_t(fminf(fmaxf(rintf(v * inv) + z, 0.f), 15.f));
    }
  } else {
    const float qmax = wt == WeightType::S8 ? 127.f : 7.f;
    float s = round_to_act(amax / qmax, act);
    float inv = s > 0.f ? 1.f / s : 0.f;
    store_act(scales, act, sidx, s);
    for (int64_t c = k0; c < k1; ++c) {
      float v = load_as_float(w, src, row * k + c);
      q[row * k + c] = int8_t(fminf(fmaxf(rintf(v * inv), -qmax - 1.f), qmax));
    }
  }
}

// Element (m, k) of the packed weight lives at block (m/16, k/16), blocks M-fastest.
__device__ inline int64_t element_of_offset(int64_t off, int64_t m, int64_t k, const AtomTables& t,
                                            int64_t* row, int64_t* col) {
  const int64_t block = off >> 8;
  const int local = t.inverse[off & 255];
  const int64_t mblocks = m / 16;
  *row = (block % mblocks) * 16 + (local >> 4);
  *col = (block / mblocks) * 16 + (local & 15);
  return *row * k + *col;
}

__device__ inline int64_t offset_of_element(int64_t row, int64_t col, int64_t m, const AtomTables& t) {
  const int64_t block = (row >> 4) + (m / 16) * (col >> 4);
  return block * 256 + t.forward[(row & 15) * 16 + (col & 15)];
}

// One thread per 32-bit word of packed output: 8 nibbles or 4 bytes.
__global__ void pack_kernel(const int8_t* q, int64_t m, int64_t k, int bits, AtomTables t, uint32_t* out) {
  const int per_word = 32 / bits;
  const int64_t word = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (word * per_word >= m * k) return;
  uint32_t packed = 0;
  for (int s = 0; s < per_word; ++s) {
    int64_t r, c;
    int64_t src = element_of_offset(word * per_word + s, m, k, t, &r, &c);
    uint32_t v = uint32_t(uint8_t(q[src])) & ((1u << bits) - 1u);
    packed |= v << (s * bits);
  }
  out[word] = packed;
}

__global__ void unpack_kernel(const uint32_t* in, int64_t m, int64_t k, int bits, bool is_signed, AtomTables t,
                              int8_t* q) {
  const int per_word = 32 / bits;
  const int64_t word = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (word * per_word >= m * k) return;
  const uint32_t packed = in[word];
  for (int s = 0; s < per_word; ++s) {
    int64_t r, c;
    int64_t dst = element_of_offset(word * per_word + s, m, k, t, &r, &c);
    int v = int((packed >> (s * bits)) & ((1u << bits) - 1u));
    if (is_signed && v >= (1 << (bits - 1))) v -= (1 << bits);
    q[dst] = int8_t(v);
  }
}

__global__ void dequantize_kernel(const uint8_t* packed, const void* scales, const void* zeros, int64_t m,
                                  int64_t k, int64_t group, WeightType wt, ActType act, AtomTables t, float* out) {
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= m * k) return;
  const int64_t row = idx / k, col = idx % k;
  const int64_t off = offset_of_element(row, col, m, t);
  int v;
  if (wt == WeightType::S8) {
    v = int(int8_t(packed[off]));
  } else {
    v = (packed[off >> 1] >> ((off & 1) * 4)) & 15;
    if (wt == WeightType::S4 && v >= 8) v -= 16;
  }
  const int64_t sidx = (col / group) * m + row;
  float w = load_act(scales, act, sidx) * float(v);
  if (wt == WeightType::U4) w += load_act(zeros, act, sidx);
  out[idx] = w;
}

unsigned blocks_for(int64_t n, int threads) { return unsigned((n + threads - 1) / threads); }

}  // namespace

std::array<int, 256> weight_atom_offsets(int bits) {
  std::array<int, 256> out{};
  auto fill = [&](auto atom) {
    for (int r = 0; r < 16; ++r)
      for (int c = 0; c < 16; ++c) out[r * 16 + c] = int(atom(r, c));
  };
  if (bits == 4) fill(WeightLayout<4>::atom());
  else if (bits == 8) fill(WeightLayout<8>::atom());
  else throw std::invalid_argument("weight bits must be 4 or 8");
  return out;
}

void launch_quantize(const void* w, SourceType src, int64_t m, int64_t k, int64_t group, WeightType wt,
                     ActType act, int8_t* q_plain, void* scales, void* zeros, cudaStream_t stream) {
  const int64_t work = m * ((k + group - 1) / group);
  if (work == 0) return;
  quantize_kernel<<<blocks_for(work, 256), 256, 0, stream>>>(w, src, m, k, group, wt, act, q_plain, scales, zeros);
  check_launch("quantize");
}

void launch_pack(const int8_t* q_plain, int64_t m, int64_t k, int bits, void* packed, cudaStream_t stream) {
  const int64_t words = m * k * bits / 32;
  if (words == 0) return;
  pack_kernel<<<blocks_for(words, 256), 256, 0, stream>>>(q_plain, m, k, bits, make_tables(bits),
                                                          static_cast<uint32_t*>(packed));
  check_launch("pack");
}

void launch_unpack(const void* packed, int64_t m, int64_t k, int bits, bool is_signed, int8_t* q_plain,
                   cudaStream_t stream) {
  const int64_t words = m * k * bits / 32;
  if (words == 0) return;
  unpack_kernel<<<blocks_for(words, 256), 256, 0, stream>>>(static_cast<const uint32_t*>(packed), m, k, bits,
                                                            is_signed, make_tables(bits), q_plain);
  check_launch("unpack");
}

void launch_dequantize(const void* packed, const void* scales, const void* zeros, int64_t m, int64_t k,
                       int64_t group, WeightType wt, ActType act, float* out, cudaStream_t stream) {
  if (m * k == 0) return;
  dequantize_kernel<<<blocks_for(m * k, 256), 256, 0, stream>>>(static_cast<const uint8_t*>(packed), scales, zeros,
                                                                m, k, group, wt, act,
                                                                make_tables(weight_bits(wt)), out);
  check_launch("dequantize");
}

}  // namespace mixgemm
