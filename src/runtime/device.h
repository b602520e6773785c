// Per-device properties, queried once per device (PerDevice) and kept. Nothing here
// runs at import time.
#pragma once

#include <string>

namespace mixgemm {

struct DeviceInfo {
  int device = 0;
  int sm_count = 0;
  int cc_major = 0, cc_minor = 0;
  long long l2_bytes = 0;
  std::string name;
};

// Throws std::runtime_error if the device cannot be queried (no driver, bad index).
const DeviceInfo& device_info(int device);

// Empty when mixgemm's kernels can run on the device (compute capability 9.0), else why not.
std::string device_support_error(int device);

}  // namespace mixgemm
