#include "runtime/device.h"

#include <map>
#include <mutex>
#include <stdexcept>

#include <cuda_runtime_api.h>

namespace mixgemm {

const DeviceInfo& device_info(int device) {
  static std::mutex mu;
  static std::map<int, DeviceInfo> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(device);
  if (it != cache.end()) return it->second;
  cudaDeviceProp prop{};
  cudaError_t err = cudaGetDeviceProperties(&prop, device);
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error(std::string("mixgemm: cannot query CUDA device ") + std::to_string(device) + ": " +
                             cudaGetErrorString(err));
  }
  DeviceInfo info;
  info.device = device;
  info.sm_count = prop.multiProcessorCount;
  info.cc_major = prop.major;
  info.cc_minor = prop.minor;
  info.l2_bytes = prop.l2CacheSize;
  info.name = prop.name;
  return cache.emplace(device, info).first->second;
}

std::string device_support_error(int device) {
  const DeviceInfo& d = device_info(device);
  if (d.cc_major == 9 && d.cc_minor == 0) return {};
  return "mixgemm kernels are built for sm_90a (H100/H200, compute capability 9.0); device " +
         std::to_string(device) + " (" + d.name + ") has compute capability " + std::to_string(d.cc_major) + "." +
         std::to_string(d.cc_minor);
}

}  // namespace mixgemm
