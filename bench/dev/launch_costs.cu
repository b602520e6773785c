// Host costs of a decode launch's pieces (docs/notes/host-overhead.md): encoding a tensor map, the
// device query of the launcher's device guard, and cudaLaunchKernelEx of an empty kernel with and
// without an 8-CTA cluster. Log: bench/results/dev/h100-sxm-host-costs.txt at ab1fe8d. Build and run (H100):
//   nvcc -std=c++17 -O2 -gencode arch=compute_90a,code=sm_90a -Isrc -o /tmp/launch_costs bench/dev/launch_costs.cu \
//     src/runtime/occupancy.cu
#include <chrono>
#include <cstdio>
#include "kernels/decode/launcher.cuh"
using namespace mixgemm;
__global__ void empty_k(int* p) { if (p && threadIdx.x == 1 << 20) *p = 1; }
template <class F> void timeit(const char* label, F&& f, int n = 20000) {
  for (int i = 0; i < 100; ++i) f();
  cudaDeviceSynchronize();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) f();
  auto t1 = std::chrono::steady_clock::now();
  cudaDeviceSynchronize();
  std::printf("%-55s %7.3f us\n", label, std::chrono::duration<double, std::micro>(t1 - t0).count() / n);
}
int main() {
  void* buf; cudaMalloc(&buf, 64 << 20);
  const cuuint64_t dims[3] = {16, 4096 / 16, 4096 / 16};
  const cuuint64_t strides[2] = {128, (4096 / 16) * 128};
  const cuuint32_t box[3] = {16, 8, 4};
  timeit("make_tensor_map (3-D weights)", [&] {
    volatile auto m = make_tensor_map(CU_TENSOR_MAP_DATA_TYPE_UINT64, 3, buf, dims, strides, box,
                                      CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_L2_256B);
    (void)m;
  });
  const cuuint64_t d2[2] = {4096, 16};
  const cuuint64_t s2[1] = {4096 * 2};
  const cuuint32_t b2[2] = {64, 16};
  timeit("make_tensor_map (2-D activations, 128B swizzle)", [&] {
    volatile auto m = make_tensor_map(CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2, buf, d2, s2, b2, CU_TENSOR_MAP_SWIZZLE_128B,
                                      CU_TENSOR_MAP_L2_PROMOTION_L2_128B);
    (void)m;
  });
  int dev;
  timeit("cudaGetDevice", [&] { cudaGetDevice(&dev); });
  cudaStream_t st; cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking);
  for (int splits : {1, 8}) {
    cudaLaunchAttribute attr[2];
    cudaLaunchConfig_t cfg = decode::cluster_launch_config(dim3(28, splits, 1), 160, 100 << 10, splits, st, attr);
    cudaFuncSetAttribute(empty_k, cudaFuncAttributeMaxDynamicSharedMemorySize, 100 << 10);
    char label[80];
    std::snprintf(label, sizeof label, "cudaLaunchKernelEx, empty kernel, cluster 1x%d", splits);
    timeit(label, [&] { cudaLaunchKernelEx(&cfg, empty_k, (int*)nullptr); }, 500);
  }
  timeit("<<<>>> launch, empty kernel", [&] { empty_k<<<28, 160, 0, st>>>(nullptr); }, 500);
  return 0;
}
