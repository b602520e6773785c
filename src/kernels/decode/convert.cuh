// Register-level pieces of the decode family: one mma.sync per activation type, and the conversion of a
// packed weight word into the A-fragment registers holding the integer values exactly.
//
// Conversion by bit tricks (lop3 / prmt with the fp16/bf16 "magic number"), no per-element casts: a
// 4-bit value u or'ed into the mantissa of 1024.0 (fp16) or 128.0 (bf16) gives 1024+u exactly, and one
// packed subtraction per register leaves u (or q = u - 8 for signed values).
#pragma once

#include <cstdint>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace mixgemm {
namespace decode {

template <class Act> struct ActOps;

template <> struct ActOps<__half> {
  static __device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  // 0x6400 | u encodes 1024 + u exactly (10 mantissa bits).
  static constexpr uint32_t kMagic4 = 0x64006400u;
  static __device__ __forceinline__ uint32_t sub(uint32_t v, uint32_t magic) {
    __half2 r = __hsub2(*reinterpret_cast<__half2*>(&v), *reinterpret_cast<__half2*>(&magic));
    return *reinterpret_cast<uint32_t*>(&r);
  }
  static constexpr uint32_t kOnes = 0x3C003C00u;   // (1.0, 1.0)
  static __device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
  static __device__ __forceinline__ float2 to_float2(uint32_t v) {
    return __half22float2(*reinterpret_cast<const __half2*>(&v));
  }
  static __device__ __forceinline__ __half from_float(float v) { return __float2half_rn(v); }
};

template <> struct ActOps<__nv_bfloat16> {
  static __device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  // 0x4300 | u encodes 128 + u exactly for u < 128 (7 mantissa bits).
  static constexpr uint32_t kMagic4 = 0x43004300u;
  static __device__ __forceinline__ uint32_t sub(uint32_t v, uint32_t magic) {
    __nv_bfloat162 r = __hsub2(*reinterpret_cast<__nv_bfloat162*>(&v), *reinterpret_cast<__nv_bfloat162*>(&magic));
    return *reinterpret_cast<uint32_t*>(&r);
  }
  static constexpr uint32_t kOnes = 0x3F803F80u;
  static __device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
  static __device__ __forceinline__ float2 to_float2(uint32_t v) {
    return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&v));
  }
  static __device__ __forceinline__ __nv_bfloat16 from_float(float v) { return __float2bfloat16_rn(v); }
};

// The fp32 sum of the 8 values in a 16-byte chunk of activations.
template <class Act>
__device__ __forceinline__ float sum8(const uint4& c) {
  const uint32_t w[4] = {c.x, c.y, c.z, c.w};
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = ActOps<Act>::to_float2(w[i]);
    s += f.x + f.y;
  }
  return s;
}

__device__ __forceinline__ uint32_t lop3_and_xor(uint32_t a, uint32_t b, uint32_t c) {
  uint32_t r;   // (a & b) ^ c
  asm("lop3.b32 %0, %1, %2, %3, 0x6A;\n" : "=r"(r) : "r"(a), "r"(b), "r"(c));
  return r;
}

__device__ __forceinline__ uint32_t prmt(uint32_t a, uint32_t b, uint32_t sel) {
  uint32_t r;
  asm("prmt.b32 %0, %1, %2, %3;\n" : "=r"(r) : "r"(a), "r"(b), "r"(sel));
  return r;
}

// Weight words per lane per 16x16 block: 32 bits for int4, 64 bits for int8.
template <int Bits> struct Word;
template <> struct Word<4> { uint32_t v; };
template <> struct Word<8> { uint32_t lo, hi; };

// Packed word -> the four A-fragment registers holding the integer values q exactly.
// int4 storage order v0 v2 v4 v6 v1 v3 v5 v7: nibbles (i, i+4) are register i's pair.
template <class Act, bool Signed>
__device__ __forceinline__ void convert(const Word<4>& w, uint32_t (&a)[4]) {
  // Signed nibbles are two's complement: flipping bit 3 maps q to q + 8 in [0, 15].
  constexpr uint32_t flip = Signed ? 0x00080008u : 0u;
  constexpr uint32_t bias = Signed ? 8u : 0u;
  constexpr uint32_t magic = ActOps<Act>::kMagic4;
  constexpr uint32_t base = magic ^ flip;
  // value of (magic | bias) as the number to subtract: 1024+8 (fp16) or 128+8 (bf16)
  constexpr uint32_t sub = magic | (bias | (bias << 16));
  if constexpr (std::is_same<Act, __half>::value) {
    // fp16 has room for a nibble shifted left by 4 (1024 + 16u is exact), so registers 1 and 3 are
    // masked in place and scaled back with one exact FMA (x/16 - (64 + bias)): 9 instructions, not 11.
    const uint32_t hi = w.v >> 8;
    const uint32_t flip_hi = flip << 4;
    const __half2 sixteenth = __half2half2(__ushort_as_half(0x2C00));                       // 1/16
    const __half2 off = __half2half2(__float2half_rn(-(64.0f + float(bias))));             // exact
    a[0] = ActOps<Act>::sub(lop3_and_xor(w.v, 0x000F000Fu, base), sub);
    a[2] = ActOps<Act>::sub(lop3_and_xor(hi, 0x000F000Fu, base), sub);
    uint32_t t1 = lop3_and_xor(w.v, 0x00F000F0u, magic ^ flip_hi);
    uint32_t t3 = lop3_and_xor(hi, 0x00F000F0u, magic ^ flip_hi);
    __half2 r1 = __hfma2(*reinterpret_cast<__half2*>(&t1), sixteenth, off);
    __half2 r3 = __hfma2(*reinterpret_cast<__half2*>(&t3), sixteenth, off);
    a[1] = *reinterpret_cast<uint32_t*>(&r1);
    a[3] = *reinterpret_cast<uint32_t*>(&r3);
  } else {
#pragma unroll
    for (int i = 0; i < 4; ++i) a[i] = ActOps<Act>::sub(lop3_and_xor(w.v >> (4 * i), 0x000F000Fu, base), sub);
  }
}

// int8 storage order per 32-bit half: v0 v2 v1 v3 | v4 v6 v5 v7.
template <class Act, bool Signed>
__device__ __forceinline__ void convert(const Word<8>& w, uint32_t (&a)[4]) {
  const uint32_t lo = w.lo ^ 0x80808080u, hi = w.hi ^ 0x80808080u;   // q + 128 in [0, 255]
  if constexpr (std::is_same<Act, __half>::value) {
    // 0x6400 | u = 1024 + u exactly; subtract 1152 = 1024 + 128.
    constexpr uint32_t sub = 0x64806480u;
    a[0] = ActOps<Act>::sub(prmt(lo, 0x64646464u, 0x4240), sub);
    a[1] = ActOps<Act>::sub(prmt(lo, 0x64646464u, 0x4341), sub);
    a[2] = ActOps<Act>::sub(prmt(hi, 0x64646464u, 0x4240), sub);
    a[3] = ActOps<Act>::sub(prmt(hi, 0x64646464u, 0x4341), sub);
  } else {
    // bf16 cannot hold 128 + u exactly for u >= 128: go through fp32 (2^23 + u), then pack.
    const uint32_t words[2] = {lo, hi};
#pragma unroll
    for (int h = 0; h < 2; ++h) {
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        // register 2h+j holds bytes (j, j+2) of word h
        float f0 = __uint_as_float(prmt(words[h], 0x4B000000u, 0x7650 + j)) - 8388736.0f;
        float f1 = __uint_as_float(prmt(words[h], 0x4B000000u, 0x7650 + j + 2)) - 8388736.0f;
        __nv_bfloat162 p = __floats2bfloat162_rn(f0, f1);
        a[2 * h + j] = *reinterpret_cast<uint32_t*>(&p);
      }
    }
  }
}

}  // namespace decode
}  // namespace mixgemm
