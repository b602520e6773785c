# CUDA flags every mixgemm translation unit shares.
#  - sm90a only: wgmma and setmaxnreg exist only on the "a" target, and the -gencode form is used
#    because nvcc 13's -arch=sm_90a shorthand also runs a plain sm_90 pass that rejects wgmma.
#  - -DNDEBUG always: without it device asserts make ptxas serialize wgmma (C7510).
#  - static cudart and no libcuda link, so the module imports on machines without a GPU driver;
#    CUTLASS finds cuTensorMapEncodeTiled through the runtime's driver entry point at run time.
set(CMAKE_CUDA_ARCHITECTURES OFF)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
set(CMAKE_CUDA_SEPARABLE_COMPILATION OFF)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)

find_package(CUDAToolkit REQUIRED)
message(STATUS "mixgemm: nvcc ${CMAKE_CUDA_COMPILER_VERSION} at ${CMAKE_CUDA_COMPILER}")

add_library(mixgemm_cuda_flags INTERFACE)
target_compile_options(mixgemm_cuda_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CUDA>:-gencode=arch=compute_90a,code=sm_90a>
  $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr>
  $<$<COMPILE_LANGUAGE:CUDA>:-O3>
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-fPIC>
  $<$<COMPILE_LANGUAGE:CUDA>:-diag-suppress=20012>
  $<$<COMPILE_LANGUAGE:CXX>:-O3>)
target_compile_definitions(mixgemm_cuda_flags INTERFACE NDEBUG)
target_link_libraries(mixgemm_cuda_flags INTERFACE CUDA::cudart_static)
target_include_directories(mixgemm_cuda_flags INTERFACE ${CUDAToolkit_INCLUDE_DIRS})

# ccache survives between a developer session and CI on the same machine; it is a pure speed-up.
find_program(MIXGEMM_CCACHE ccache)
if(MIXGEMM_CCACHE AND NOT CMAKE_CUDA_COMPILER_LAUNCHER)
  set(CMAKE_CUDA_COMPILER_LAUNCHER "${MIXGEMM_CCACHE}")
  set(CMAKE_CXX_COMPILER_LAUNCHER "${MIXGEMM_CCACHE}")
  message(STATUS "mixgemm: compiling through ccache (${MIXGEMM_CCACHE})")
endif()
