// The decode launcher: a call's split plan (decode/splits.h, with the device's occupancy), its tensor
// maps, and the clustered launch, for any kernel of a decode geometry.
#pragma once

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/decode/kernel_mma_sync.cuh"
#include "kernels/decode/splits.h"
#include "kernels/tensor_map.h"
#include "runtime/occupancy.h"

namespace mixgemm {
namespace decode {

// Kernel: any kernel of this geometry and parameters (the wgmma kernel, policy variants);
// Pdl: launch with programmatic stream serialization (for a kernel that waits for its predecessor
// itself); SumWarp, KG: as the kernel's Geometry.
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int STAGES,
          auto Kernel = &decode_kernel<Act, Bits, Signed, Zero, NT, CW, R, STAGES>, bool Pdl = false,
          bool SumWarp = Zero && NT >= 2, int KG = 1, int PW = 1>
struct Launcher {
  using G = Geometry<Bits, NT, Zero, CW, R, STAGES, SumWarp, KG, PW>;
  static constexpr auto kernel = Kernel;

  // Per device, once: the shared-memory attribute is set, and the CTAs per SM and the cluster
  // capacities (plan_splits) are read back: the kernel's own at its CTAs per SM, the device's
  // (device_cluster_capacity) at fewer.
  struct Occupancy {
    int ctas_per_sm = 0;
    ClusterCapacity capacity;
  };
  static const Occupancy& occupancy(int device) {
    static PerDevice<Occupancy> occupancies;
    return occupancies.get(device, "decode kernel setup failed", [](Occupancy& o, int dev) {
      o.capacity = device_cluster_capacity(dev);   // throws on failure (the flag stays unset)
      cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(G::kSmem));
      if (e == cudaSuccess) e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&o.ctas_per_sm, kernel, G::kThreads, G::kSmem);
      const int own = std::min(std::max(o.ctas_per_sm, 1), ClusterCapacity::kMaxPerSm);
      if (e == cudaSuccess) e = query_cluster_capacity(kernel, G::kThreads, G::kSmem, o.capacity.clusters[own]);
      return e;
    });
  }
  static int ctas_per_sm(int device) { return std::max(1, occupancy(device).ctas_per_sm); }

  static int64_t row_tiles(int64_t m) { return (m + G::kTileM - 1) / G::kTileM; }

  // The split plan launch() takes for m rows and k columns (plan_splits), with the device's cluster
  // capacities; device < 0: without them (no CUDA call), for a host-only estimate of the same plan.
  // cta_load: the CTA's weight on its SM's stage rate (SplitKernel; the catalog's entries pass theirs).
  static SplitPlan plan(int64_t m, int64_t k, int sm_count, int device, int splits = 0, int64_t max_ctas = 0,
                        double cta_load = 1.0) {
    if (device < 0) return plan_splits(row_tiles(m), k, sm_count, splits, nullptr, SplitKernel{G::kTileM, 0, cta_load}, max_ctas);
    const Occupancy& o = occupancy(device);
    return plan_splits(row_tiles(m), k, sm_count, splits, &o.capacity, SplitKernel{G::kTileM, o.ctas_per_sm, cta_load},
                       max_ctas);
  }

  // The call's tensor maps. uint4: where the zero terms lie after the scales at a multiple of 16 bytes,
  // one 3-D map spans both ([scales, zeros][K/g][M], the second dimension's stride their distance), so
  // each stage takes one box for both and the producer issues three copies, not four; prm.zeros is then
  // set to null, which tells the kernel (it reads the zero terms only through the maps).
  static Maps make_maps(Params& prm) {
    constexpr CUtensorMapDataType act_type =
        std::is_same<Act, __half>::value ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
    const cuuint64_t m = cuuint64_t(prm.m), k = cuuint64_t(prm.k), n = cuuint64_t(prm.n);
    const cuuint64_t groups = cuuint64_t(prm.k / prm.group);
    Maps maps;
    std::memset(&maps, 0, sizeof(maps));
    {
      const cuuint64_t dims[3] = {G::kAtomWords, m / 16, k / 16};
      const cuuint64_t strides[2] = {G::kAtomBytes, (m / 16) * G::kAtomBytes};
      const cuuint32_t box[3] = {G::kAtomWords, G::kTileM / 16, kStageBlocks};
      maps.w = make_tensor_map(CU_TENSOR_MAP_DATA_TYPE_UINT64, 3, prm.w, dims, strides, box,
                               CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_L2_256B);
    }
    {
      const cuuint64_t dims[2] = {k, n};
      const cuuint64_t strides[1] = {k * 2};
      const cuuint32_t box[2] = {kStageK, G::kNPad};
      maps.x = make_tensor_map(act_type, 2, prm.x, dims, strides, box, CU_TENSOR_MAP_SWIZZLE_128B,
                               CU_TENSOR_MAP_L2_PROMOTION_L2_128B);
    }
    if (Zero) {
      const uintptr_t s_at = reinterpret_cast<uintptr_t>(prm.scales), z_at = reinterpret_cast<uintptr_t>(prm.zeros);
      const cuuint64_t apart = z_at > s_at ? cuuint64_t(z_at - s_at) : 0;
      const cuuint64_t dims[3] = {m, groups, 2};
      const cuuint64_t strides[2] = {m * 2, apart};
      const cuuint32_t box[3] = {G::kTileM, 2, 2};
      // The driver checks the strides (multiples of 16 bytes, below 2^40, each spanning the dimensions
      // inside it); whatever it refuses takes the two maps below.
      if (apart % 16 == 0 && apart >= groups * m * 2 &&
          encode_tensor_map(&maps.s, act_type, 3, prm.scales, dims, strides, box, CU_TENSOR_MAP_SWIZZLE_NONE,
                            CU_TENSOR_MAP_L2_PROMOTION_L2_128B) == CUDA_SUCCESS) {
        prm.zeros = nullptr;
        return maps;
      }
    }
    const cuuint64_t dims[2] = {m, groups};
    const cuuint64_t strides[1] = {m * 2};
    const cuuint32_t box[2] = {G::kTileM, 2};
    maps.s = make_tensor_map(act_type, 2, prm.scales, dims, strides, box, CU_TENSOR_MAP_SWIZZLE_NONE,
                             CU_TENSOR_MAP_L2_PROMOTION_L2_128B);
    if (Zero)
      maps.z = make_tensor_map(act_type, 2, prm.zeros, dims, strides, box, CU_TENSOR_MAP_SWIZZLE_NONE,
                               CU_TENSOR_MAP_L2_PROMOTION_L2_128B);
    return maps;
  }

  // splits <= 0: choose (max_ctas > 0: among plans of at most that many CTAs, plan_splits).
  static void launch(const Params& base, int device, int sm_count, cudaStream_t stream, int splits = 0,
                     int64_t max_ctas = 0, double cta_load = 1.0) {
    Params prm = base;
    const int64_t tiles = row_tiles(prm.m);
    occupancy(device);   // sets the shared-memory attribute once per device; throws on a bad index
    const SplitPlan plan = Launcher::plan(prm.m, prm.k, sm_count, device, splits, max_ctas, cta_load);
    prm.k_chunk = int(plan.stages_per_cta * kStageK);
    splits = plan.splits;
    const Maps maps = make_maps(prm);
    cudaLaunchAttribute attr[2];
    cudaLaunchConfig_t cfg =
        cluster_launch_config(dim3(unsigned(tiles), unsigned(splits), 1), G::kThreads, G::kSmem, splits, stream, attr);
    attr[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[1].val.programmaticStreamSerializationAllowed = 1;
    cfg.numAttrs = Pdl ? 2 : 1;
    const cudaError_t err = cudaLaunchKernelEx(&cfg, kernel, maps, prm);
    if (err != cudaSuccess)
      throw std::runtime_error(std::string("mixgemm: decode kernel launch failed: ") + cudaGetErrorString(err));
  }
};

}  // namespace decode
}  // namespace mixgemm
