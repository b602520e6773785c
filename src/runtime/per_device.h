// The one cache of per-device values (device properties, occupancy, cluster capacities): each is set up
// once per device, thread-safely, and kept for the life of the process.
#pragma once

#include <mutex>
#include <stdexcept>
#include <string>

#include <cuda_runtime_api.h>

namespace mixgemm {

constexpr int kMaxDevices = 64;

// A value set up once per device: the first get() for a device runs setup(value, device) under a
// once_flag; the CUDA error it returns is kept, and every get() then throws it prefixed by `what`. An
// exception thrown by setup leaves the flag unset (std::call_once), so the next call tries again.
template <class T>
class PerDevice {
 public:
  template <class Setup>
  const T& get(int device, const char* what, Setup&& setup) {
    if (device < 0 || device >= kMaxDevices) throw std::runtime_error("mixgemm: device index out of range");
    std::call_once(once_[device], [&] { err_[device] = setup(value_[device], device); });
    if (err_[device] != cudaSuccess)
      throw std::runtime_error(std::string("mixgemm: ") + what + ": " + cudaGetErrorString(err_[device]));
    return value_[device];
  }

 private:
  std::once_flag once_[kMaxDevices];
  T value_[kMaxDevices] = {};
  cudaError_t err_[kMaxDevices] = {};
};

}  // namespace mixgemm
