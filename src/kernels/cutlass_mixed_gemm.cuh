// Stock CUTLASS sm90 mixed-input GEMM (TMA + warp-specialized RS wgmma), parameterized by the
// catalog. Operand roles follow DESIGN.md: D^T = W * x^T, so the quantized weight is A (K-major,
// packed with WeightLayout), the activations are B (column-major == x row-major), and D is
// column-major (== y[N, M] row-major). No swaps, no transposes.
//
// Stream-K note: its workspace carries barrier flags that must be zero at every launch. A launch that
// reuses a workspace without clearing it can spin forever. run() therefore always goes through
// GemmUniversalAdapter::initialize(), which clears the workspace with cudaMemsetAsync on the same
// stream, so eager relaunches and CUDA-graph replays (which replay the memset node) start clean.
// The workspace is owned by the caller per call, so two streams never share flags.
#pragma once

#include <stdexcept>
#include <string>

#include <cutlass/cutlass.h>
#include <cute/tensor.hpp>
#include <cutlass/epilogue/collective/collective_builder.hpp>
#include <cutlass/epilogue/fusion/operations.hpp>
#include <cutlass/gemm/collective/collective_builder.hpp>
#include <cutlass/gemm/device/gemm_universal_adapter.h>
#include <cutlass/gemm/dispatch_policy.hpp>
#include <cutlass/gemm/kernel/gemm_universal.hpp>
#include <cutlass/gemm/kernel/tile_scheduler.hpp>
#include <cutlass/util/packed_stride.hpp>

#include "catalog/entry.h"
#include "kernels/weight_layout.cuh"

namespace mixgemm {

template <class QuantT, class ActT, bool WithZero, int TileM, int TileN, int ClusterM, bool StreamK>
struct CutlassMixedGemm {
  static constexpr int kTileK = 64;   // 128 bytes of 16-bit activations per k-tile
  static constexpr int kBits = cute::sizeof_bits_v<QuantT>;

  using TileShape = cute::Shape<cute::Int<TileM>, cute::Int<TileN>, cute::Int<kTileK>>;
  using ClusterShape = cute::Shape<cute::Int<ClusterM>, cute::_1, cute::_1>;
  using LayoutW = typename WeightLayout<kBits>::Full;
  using LayoutX = cutlass::layout::ColumnMajor;
  using LayoutD = cutlass::layout::ColumnMajor;
  static constexpr int kAlignW = 128 / kBits;
  static constexpr int kAlignAct = 128 / cute::sizeof_bits_v<ActT>;

  // The scale (and zero) ride along with the weight type: CUTLASS computes s*q (+ z') in ActT.
  using ElementW = cute::conditional_t<WithZero, cute::tuple<QuantT, ActT, ActT>, cute::tuple<QuantT, ActT>>;

  // y = acc (+ bias[m]); no C operand is read.
  using Fusion = cutlass::epilogue::fusion::LinCombPerRowBias<ActT, float, ActT, ActT, float>;
  using Epilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape, ClusterShape,
      cutlass::epilogue::collective::EpilogueTileAuto, float, float,
      void, LayoutD, kAlignAct, ActT, LayoutD, kAlignAct,
      cutlass::epilogue::TmaWarpSpecializedCooperative, Fusion>::CollectiveOp;

  using Mainloop = typename cutlass::gemm::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp,
      ElementW, LayoutW, kAlignW, ActT, LayoutX, kAlignAct, float, TileShape, ClusterShape,
      cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(sizeof(typename Epilogue::SharedStorage))>,
      cutlass::gemm::KernelTmaWarpSpecializedCooperative>::CollectiveOp;

  using Scheduler = cute::conditional_t<StreamK, cutlass::gemm::StreamKScheduler, cutlass::gemm::PersistentScheduler>;
  using Kernel = cutlass::gemm::kernel::GemmUniversal<cute::Shape<int, int, int, int>, Mainloop, Epilogue, Scheduler>;
  using Gemm = cutlass::gemm::device::GemmUniversalAdapter<Kernel>;

  static typename Gemm::Arguments make_arguments(const GemmArgs& a) {
    const GemmProblem& p = a.problem;
    const int m = int(p.m), n = int(p.n), k = int(p.k);
    const int scale_k = int((p.k + p.group_size - 1) / p.group_size);
    typename Gemm::Arguments args{};
    args.mode = cutlass::gemm::GemmUniversalMode::kGemm;
    args.problem_shape = {m, n, k, 1};
    args.mainloop.ptr_A = static_cast<const QuantT*>(a.w);
    args.mainloop.dA = WeightLayout<kBits>::make(m, k);
    args.mainloop.ptr_B = static_cast<const ActT*>(a.x);
    args.mainloop.dB = cutlass::make_cute_packed_stride(typename Kernel::StrideB{}, cute::make_shape(n, k, 1));
    args.mainloop.ptr_S = static_cast<const ActT*>(a.scales);
    args.mainloop.dS = cutlass::make_cute_packed_stride(typename Mainloop::StrideScale{}, cute::make_shape(m, scale_k, 1));
    args.mainloop.group_size = int(p.group_size);
    if constexpr (WithZero) args.mainloop.ptr_Z = static_cast<const ActT*>(a.zeros);
    args.epilogue.thread.alpha = 1.0f;
    args.epilogue.thread.beta = 0.0f;
    args.epilogue.thread.bias_ptr = static_cast<const ActT*>(a.bias);
    args.epilogue.ptr_C = nullptr;
    args.epilogue.dC = cutlass::make_cute_packed_stride(typename Kernel::StrideC{}, cute::make_shape(m, n, 1));
    args.epilogue.ptr_D = static_cast<ActT*>(a.y);
    args.epilogue.dD = cutlass::make_cute_packed_stride(typename Kernel::StrideD{}, cute::make_shape(m, n, 1));
    args.hw_info.device_id = a.device;
    args.hw_info.sm_count = a.sm_count;
    return args;
  }

  static std::string check(const GemmProblem& p) {
    if (p.group_size != p.k && p.group_size % kTileK != 0)
      return "group_size must equal K (per-channel) or be a multiple of " + std::to_string(kTileK) +
             " for this kernel (got " + std::to_string(p.group_size) + ")";
    if (p.m > (1 << 30) || p.n > (1 << 30) || p.k > (1 << 30)) return "problem dimensions must be below 2^30";
    // can_implement() checks shapes, strides, the scheduler's arguments and that the mode's pointers are
    // present (not the SM count); give it stand-in addresses (16-byte aligned, never dereferenced) since
    // no call has real ones yet.
    GemmArgs a;
    a.problem = p;
    a.sm_count = 1;
    const void* stand_in = reinterpret_cast<const void*>(uintptr_t(256));
    a.w = a.scales = a.x = stand_in;
    if (WithZero) a.zeros = stand_in;
    a.y = const_cast<void*>(stand_in);
    if (Gemm::can_implement(make_arguments(a)) != cutlass::Status::kSuccess)
      return "CUTLASS can_implement() rejected the problem (alignment: M % 8, N any, K % 64)";
    return {};
  }

  static size_t workspace_size(const GemmProblem& p, int sm_count) {
    GemmArgs a;
    a.problem = p;
    a.sm_count = sm_count;
    return Gemm::get_workspace_size(make_arguments(a));
  }

  static void run(const GemmArgs& a, void* workspace, size_t workspace_bytes, cudaStream_t stream) {
    auto args = make_arguments(a);
    if (Gemm::get_workspace_size(args) > workspace_bytes)
      throw std::runtime_error("mixgemm: workspace too small for the selected kernel");
    Gemm gemm;
    cutlass::Status st = gemm.initialize(args, workspace, stream);   // clears stream-K flags in-stream
    if (st != cutlass::Status::kSuccess)
      throw std::runtime_error(std::string("mixgemm: CUTLASS initialize failed: ") + cutlassGetStatusString(st));
    st = gemm.run(stream);
    if (st != cutlass::Status::kSuccess)
      throw std::runtime_error(std::string("mixgemm: CUTLASS launch failed: ") + cutlassGetStatusString(st));
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess)
      throw std::runtime_error(std::string("mixgemm: kernel launch failed: ") + cudaGetErrorString(err));
  }

  static constexpr KernelOps ops() { return KernelOps{&check, &workspace_size, &run}; }
};

}  // namespace mixgemm
