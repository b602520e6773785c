#include "runtime/device.h"

#include <cuda_runtime_api.h>

#include "runtime/per_device.h"

namespace mixgemm {

const DeviceInfo& device_info(int device) {
  static PerDevice<DeviceInfo> infos;
  return infos.get(device, "cannot query the CUDA device", [](DeviceInfo& info, int dev) {
    cudaDeviceProp prop{};
    const cudaError_t err = cudaGetDeviceProperties(&prop, dev);
    if (err != cudaSuccess) {
      cudaGetLastError();   // clear it, so the caller's next CUDA call does not see it
      return err;
    }
    info.device = dev;
    info.sm_count = prop.multiProcessorCount;
    info.cc_major = prop.major;
    info.cc_minor = prop.minor;
    info.l2_bytes = prop.l2CacheSize;
    info.name = prop.name;
    return cudaSuccess;
  });
}

std::string device_support_error(int device) {
  const DeviceInfo& d = device_info(device);
  if (d.cc_major == 9 && d.cc_minor == 0) return {};
  return "mixgemm kernels are built for sm_90a (H100/H200, compute capability 9.0); device " +
         std::to_string(device) + " (" + d.name + ") has compute capability " + std::to_string(d.cc_major) + "." +
         std::to_string(d.cc_minor);
}

}  // namespace mixgemm
