// Occupancy queries the decode launcher makes once per device: how many thread-block clusters of each
// size fit at once (the split plan's ClusterCapacity).
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/decode/splits.h"
#include "runtime/per_device.h"

namespace mixgemm {
namespace decode {

// The launch configuration of `grid` CTAs of `threads` threads in clusters of `splits` CTAs along y,
// with the cluster attribute in attr[0] (the caller's array of two, so that it may add a second).
inline cudaLaunchConfig_t cluster_launch_config(dim3 grid, unsigned threads, size_t smem, int splits,
                                                cudaStream_t stream, cudaLaunchAttribute (&attr)[2]) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = dim3(threads, 1, 1);
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = 1;
  attr[0].val.clusterDim.y = unsigned(splits);
  attr[0].val.clusterDim.z = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  return cfg;
}

// How many clusters of s = 1..kMaxSplits CTAs of `kernel` (threads, dynamic shared memory smem) the
// current device holds at once, into clusters[s]; the first CUDA error, if any.
template <class KernelPtr>
inline cudaError_t query_cluster_capacity(KernelPtr kernel, unsigned threads, size_t smem, int* clusters) {
  for (int s = 1; s <= kMaxSplits; ++s) {
    cudaLaunchAttribute attr[2];
    const cudaLaunchConfig_t cfg = cluster_launch_config(dim3(1, unsigned(s), 1), threads, smem, s, nullptr, attr);
    const cudaError_t e = cudaOccupancyMaxActiveClusters(&clusters[s], kernel, &cfg);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

// The device's cluster capacities at k = 1..ClusterCapacity::kMaxPerSm CTAs per SM, once per device
// (queried on the current device, as the launcher's own occupancy queries are: the call's device).
// A row that cannot be pinned to exactly k CTAs per SM stays zero (taken as "does not fit").
const ClusterCapacity& device_cluster_capacity(int device);

}  // namespace decode
}  // namespace mixgemm
