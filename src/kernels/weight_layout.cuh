// The packed ("reordered") weight layout shared by every kernel family and by the packer.
//
// Why reorder: a wgmma with A from registers wants each thread to hold 8 weights of a 16x16 (M x K)
// block: rows r and r+8, columns 2c, 2c+1, 2c+8, 2c+9 (r = lane/4, c = lane%4). In row-major storage
// those 8 values are scattered over 4 rows/columns, so a thread would need several narrow loads.
// We store each warp's 16x16 block "thread-major": lane t's 8 values sit at offsets 8t..8t+7, so one
// 32-bit (int4) or 64-bit (int8) load fetches a whole fragment. Inside those 8 slots the values are
// interleaved (int4: v0 v2 v4 v6 v1 v3 v5 v7; int8: v0 v2 v1 v3 v4 v6 v5 v7) so that a mask/shift pulls
// two neighbouring values into the two halves of one 32-bit register for a packed half2 conversion.
// This is the ordering CUTLASS's sm90 mixed-input mainloop expects when it is given the layout as its
// A "stride", so one packed weight serves the CUTLASS entries and our own decode kernels.
//
// The 16x16 blocks are tiled over (M, K) with M fastest: block (i, j) starts at element
// 256 * (i + (M/16) * j). A CuTe layout describes the whole thing; this header derives it from the
// MMA atom's thread/value layout rather than hard-coding offsets, and tests pin the result.
#pragma once

#include <cute/tensor.hpp>
#include <cute/atom/mma_traits_sm90_gmma.hpp>
#include <cutlass/numeric_types.h>

namespace mixgemm {

template <int WeightBits>
struct WeightLayout {
  static_assert(WeightBits == 4 || WeightBits == 8, "packed weights are 4 or 8 bits wide");

  // The value interleave inside one thread's 8 slots (see the header comment).
  using ValueOrder = cute::conditional_t<WeightBits == 4,
      cute::Layout<cute::Shape<cute::_2, cute::_4>, cute::Stride<cute::_4, cute::_1>>,
      cute::Layout<cute::Shape<cute::_2, cute::_2>, cute::Stride<cute::_2, cute::_1>>>;

  // (m, k) -> offset for one warp's 16x16 block.
  static constexpr auto atom() {
    using namespace cute;
    // Any 16-bit MMA type gives the same A thread/value layout; fp16 is used for the derivation only.
    using Mma = decltype(SM90::GMMA::rs_op_selector<cutlass::half_t, cutlass::half_t, float,
                                                     Shape<_64, _16, _32>>());
    using Traits = MMA_Traits<Mma>;
    auto tv_warpgroup = typename Traits::ALayout{};           // (thread, value) -> (m, k) over 64x16
    constexpr int values = size<1>(tv_warpgroup);             // 8 per thread
    // A warpgroup splits A by rows between its 4 warps; keep the first warp's 32 threads.
    auto tv_warp = make_layout_like(composition(tv_warpgroup, make_shape(Int<32>{}, Int<values>{})));
    auto mk_warp = shape_div(select<0, 2>(typename Traits::Shape_MNK{}), Int<4>{});   // (16, 16)
    auto mk_to_tv = right_inverse(tv_warp).with_shape(mk_warp);
    // (thread, value) -> storage offset: thread-major, values interleaved by ValueOrder.
    auto value_slot = logical_product(ValueOrder{}, Int<values / size(ValueOrder{})>{});
    auto tv_to_offset = select<1, 0>(logical_product(value_slot, make_layout(Int<32>{})));
    return composition(tv_to_offset, mk_to_tv);
  }
  using Atom = decltype(atom());

  // Type of the full layout for a runtime (M, K, L=1) problem: what CUTLASS takes as the A "stride".
  using Full = decltype(cute::tile_to_shape(
      Atom{}, cute::Layout<cute::Shape<int, int, int>,
                           cute::Stride<int64_t, cute::Int<1>, int64_t>>{}));

  static auto make(int m, int k) { return cute::tile_to_shape(Atom{}, cute::make_shape(m, k, 1)); }

  static constexpr int kBlockRows = 16;
  static constexpr int kBlockCols = 16;
};

}  // namespace mixgemm
