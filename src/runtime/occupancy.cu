#include "runtime/occupancy.h"

#include <algorithm>

namespace mixgemm {
namespace decode {

// An empty kernel whose shared memory alone sets how many of its CTAs share an SM: the cluster
// capacities at 1, 2, ... CTAs per SM are the device's, whatever kernel then runs (decode/splits.h,
// ClusterCapacity).
namespace {
__global__ void occupancy_probe_kernel() {}
}  // namespace

const ClusterCapacity& device_cluster_capacity(int device) {
  static PerDevice<ClusterCapacity> capacities;
  return capacities.get(device, "cluster capacity query failed", [](ClusterCapacity& cap, int dev) {
    constexpr unsigned kThreads = 128;
    const auto kernel = &occupancy_probe_kernel;
    int per_sm_bytes = 0, reserved = 0, optin = 0;
    cudaError_t e = cudaDeviceGetAttribute(&per_sm_bytes, cudaDevAttrMaxSharedMemoryPerMultiprocessor, dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&reserved, cudaDevAttrReservedSharedMemoryPerBlock, dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
    if (e == cudaSuccess) e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, optin);
    for (int k = 1; k <= ClusterCapacity::kMaxPerSm && e == cudaSuccess; ++k) {
      const size_t smem = size_t(std::min(per_sm_bytes / k - reserved - 256, optin));   // a margin below the boundary
      int fit = 0;
      e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&fit, kernel, kThreads, smem);
      if (e == cudaSuccess && fit == k) e = query_cluster_capacity(kernel, kThreads, smem, cap.clusters[k]);
    }
    return e;
  });
}

}  // namespace decode
}  // namespace mixgemm
