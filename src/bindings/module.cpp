// The only nanobind translation unit: converts Python arguments, validates what C++ can validate
// (device, dtype, size, alignment), releases the GIL, and calls dispatch/kernels. It knows nothing
// about PyTorch, CuPy or JAX: arrays arrive as DLPack (ndarray or capsule) and the Python layer
// allocates outputs and resolves streams.
#include <cstdint>
#include <optional>
#include <string>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/array.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "catalog/entry.h"
#include "dispatch/dispatch.h"
#include "dispatch/tuning.h"
#include "kernels/pack.h"
#include "runtime/device.h"

namespace nb = nanobind;
using namespace mixgemm;

namespace {

using Array = nb::ndarray<nb::ro>;
using MutArray = nb::ndarray<>;

template <class A>
void require_cuda(const A& a, const char* name, int device) {
  if (a.device_type() != nb::device::cuda::value)
    throw nb::type_error((std::string(name) + " must be a CUDA array").c_str());
  if (a.device_id() != device)
    throw nb::value_error((std::string(name) + " is on CUDA device " + std::to_string(a.device_id()) +
                           " but the call runs on device " + std::to_string(device)).c_str());
}

template <class A>
void require_contiguous_bytes(const A& a, const char* name, size_t bytes) {
  if (a.nbytes() != bytes)
    throw nb::value_error((std::string(name) + " has " + std::to_string(a.nbytes()) + " bytes, expected " +
                           std::to_string(bytes)).c_str());
  // Row-major contiguity: stride[i] == product of later dims (size-1 dims may carry any stride).
  int64_t expect = 1;
  for (int i = int(a.ndim()) - 1; i >= 0; --i) {
    if (a.shape(i) != 1 && a.stride(i) != expect)
      throw nb::value_error((std::string(name) + " must be C-contiguous").c_str());
    expect *= int64_t(a.shape(i));
  }
  if (reinterpret_cast<uintptr_t>(a.data()) % 16 != 0)
    throw nb::value_error((std::string(name) + " must be 16-byte aligned").c_str());
}

size_t act_bytes(ActType) { return 2; }

GemmProblem make_problem(int64_t m, int64_t n, int64_t k, int64_t group, int weight, int act, bool has_bias) {
  if (weight < 0 || weight > 2) throw nb::value_error("weight type code must be 0 (s4), 1 (u4) or 2 (s8)");
  if (act < 0 || act > 1) throw nb::value_error("activation type code must be 0 (float16) or 1 (bfloat16)");
  GemmProblem p;
  p.m = m; p.n = n; p.k = k; p.group_size = group;
  p.weight = WeightType(weight);
  p.act = ActType(act);
  p.has_bias = has_bias;
  return p;
}

void require_sm90(int device) {
  std::string why = device_support_error(device);
  if (!why.empty()) throw nb::value_error(why.c_str());
}

// Makes `device` current for the scope and restores the caller's device afterwards, so a call never
// changes which GPU the caller's framework considers current.
struct DeviceGuard {
  int prev = -1;
  explicit DeviceGuard(int device) {
    if (cudaGetDevice(&prev) != cudaSuccess) prev = -1;
    if (prev != device) cudaSetDevice(device);
  }
  ~DeviceGuard() {
    int now = -1;
    if (prev >= 0 && cudaGetDevice(&now) == cudaSuccess && now != prev) cudaSetDevice(prev);
  }
};

// The named kernel, checked against the problem and the device, or a ValueError saying why not.
const KernelEntry* checked_entry(const std::string& kernel, const GemmProblem& p, int device) {
  const KernelEntry* e = find_entry(kernel);
  if (!e) throw nb::value_error(("no catalog entry named '" + kernel + "'").c_str());
  if (e->weight != p.weight || e->act != p.act)
    throw nb::value_error(("kernel '" + kernel + "' does not take these weight/activation types").c_str());
  std::string why = validate_problem(p);
  if (why.empty()) why = e->ops->check(p);
  if (!why.empty()) throw nb::value_error(("kernel '" + kernel + "' cannot run this problem: " + why).c_str());
  require_sm90(device);
  return e;
}

// Checks the workspace size, then enqueues with the GIL released.
void launch(const KernelEntry* e, GemmArgs a, void* ws, size_t ws_bytes, int device, uintptr_t stream) {
  a.device = device;
  a.sm_count = device_info(device).sm_count;
  const size_t need = e->ops->workspace_size(a.problem, a.sm_count);
  if (ws_bytes < need || (need && !ws))
    throw nb::value_error(("workspace needs " + std::to_string(need) + " bytes, got " + std::to_string(ws_bytes)).c_str());
  if (a.problem.n == 0) return;
  nb::gil_scoped_release release;
  DeviceGuard guard(device);
  e->ops->run(a, ws, ws_bytes, reinterpret_cast<cudaStream_t>(stream));
}

nb::dict entry_dict(const KernelEntry& e) {
  nb::dict d;
  d["name"] = e.name;
  d["family"] = e.family;
  d["weight"] = weight_type_name(e.weight);
  d["act"] = act_type_name(e.act);
  d["tile_m"] = e.tile_m;
  d["tile_n"] = e.tile_n;
  d["tile_k"] = e.tile_k;
  d["mma"] = e.mma;
  d["cluster_m"] = e.cluster_m;
  d["scheduler"] = e.scheduler;
  d["stages"] = e.stages;
  d["consumer_warps"] = e.consumer_warps;
  d["row_blocks"] = e.row_blocks;
  d["consumer_groups"] = e.consumer_groups;
  d["producer_warps"] = e.producer_warps;
  d["pipeline"] = e.pipeline;
  d["sum_warp"] = e.sum_warp;
  d["cta_load"] = e.cta_load;
  d["one_cta_per_sm"] = e.one_cta_per_sm;
  d["any_n"] = e.any_n;
  return d;
}

}  // namespace

NB_MODULE(_C, m) {
  m.doc() = "mixgemm compiled core (private; use the mixgemm package)";
  m.attr("cutlass_version") = MIXGEMM_CUTLASS_VERSION_STRING;

  // The type vocabulary, as the catalog names it (src/catalog/catalog.py: WEIGHTS, ACTS).
  nb::enum_<WeightType>(m, "WeightType", "Weight formats: s4 int4 symmetric, u4 uint4 with zero points, s8 int8.")
      .value(weight_type_name(WeightType::S4), WeightType::S4)
      .value(weight_type_name(WeightType::U4), WeightType::U4)
      .value(weight_type_name(WeightType::S8), WeightType::S8);
  nb::enum_<ActType>(m, "ActType", "Activation (and output) types.")
      .value(act_type_name(ActType::F16), ActType::F16)
      .value(act_type_name(ActType::BF16), ActType::BF16);
  m.def("weight_bits", [](WeightType w) { return weight_bits(w); }, nb::arg("weight"));
  m.def("weight_has_zero", [](WeightType w) { return weight_has_zero(w); }, nb::arg("weight"));
  m.attr("row_block") = kRowBlock;   // M is a multiple of this (the packed layout's 16-row blocks)
  m.attr("k_step") = kKStep;         // K is a multiple of this (every kernel's K step)
  m.attr("fitted_sm_count") = tuning::kFittedSmCount;   // the card the heuristic was fitted on

  m.def("validate_problem", [](int64_t M, int64_t N, int64_t K, int64_t group, int weight, int act) {
    return validate_problem(make_problem(M, N, K, group, weight, act, false));
  }, nb::arg("M"), nb::arg("N"), nb::arg("K"), nb::arg("group"), nb::arg("weight"), nb::arg("act"),
     "The shape rules every kernel shares: '' when the problem is valid, else why not.");

  m.def("kernels", [] {
    nb::list out;
    for (size_t i = 0; i < catalog_size(); ++i) out.append(entry_dict(catalog_entries()[i]));
    return out;
  }, "All catalog entries compiled into this build, as dicts.");

  m.def("weight_atom", [](int bits) { return weight_atom_offsets(bits); }, nb::arg("bits"),
        "Storage offset of element (m, k) of one 16x16 packed block, indexed m*16+k.");

  m.def("device_info", [](int device) {
    const DeviceInfo& d = device_info(device);
    nb::dict out;
    out["device"] = d.device;
    out["name"] = d.name;
    out["sm_count"] = d.sm_count;
    out["compute_capability"] = nb::make_tuple(d.cc_major, d.cc_minor);
    out["l2_bytes"] = d.l2_bytes;
    return out;
  }, nb::arg("device"));

  m.def("explain", [](int64_t M, int64_t N, int64_t K, int64_t group, int weight, int act, bool has_bias,
                      int sm_count, std::string kernel, int device) {
    GemmProblem p = make_problem(M, N, K, group, weight, act, has_bias);
    std::optional<DeviceGuard> guard;   // the decode entries' occupancy queries run on that device
    if (device >= 0) guard.emplace(device);
    Selection s = select_kernel(p, sm_count, kernel, device);
    nb::dict out;
    out["kernel"] = s.entry ? nb::cast(std::string(s.entry->name)) : nb::none();
    out["reason"] = s.reason;
    nb::list cands;
    // The heuristic's own ranking; a forced kernel's call ranks the entries just for the listing.
    for (const Candidate& c : s.candidates.empty() ? rank_candidates(p, sm_count, device) : s.candidates) {
      nb::dict d;
      d["name"] = c.entry->name;
      d["rule"] = c.rule;
      d["cost"] = c.cost;
      d["rejection"] = c.rejection;
      cands.append(d);
    }
    out["candidates"] = cands;
    return out;
  }, nb::arg("M"), nb::arg("N"), nb::arg("K"), nb::arg("group"), nb::arg("weight"), nb::arg("act"),
     nb::arg("has_bias"), nb::arg("sm_count"), nb::arg("kernel") = "", nb::arg("device") = -1,
     "Which kernel a problem would use on a GPU with sm_count SMs, and why. device >= 0: the decode "
     "entries plan their launches with that GPU's occupancy (read once per device); -1: host logic only.");

  m.def("workspace_size", [](const std::string& kernel, int64_t M, int64_t N, int64_t K, int64_t group, int weight,
                             int act, int sm_count) {
    GemmProblem p = make_problem(M, N, K, group, weight, act, false);
    const KernelEntry* e = find_entry(kernel);
    if (!e) throw nb::value_error(("no catalog entry named '" + kernel + "'").c_str());
    return e->ops->workspace_size(p, sm_count);
  });

  m.def("gemm", [](const std::string& kernel, Array w, Array scales, std::optional<Array> zeros, Array x,
                   std::optional<Array> bias, MutArray y, std::optional<MutArray> workspace, int64_t M, int64_t N,
                   int64_t K, int64_t group, int weight, int act, int device, uintptr_t stream) {
    GemmProblem p = make_problem(M, N, K, group, weight, act, bias.has_value());
    const KernelEntry* e = checked_entry(kernel, p, device);
    const int64_t scale_k = (K + group - 1) / group;
    require_cuda(w, "weight", device);
    require_contiguous_bytes(w, "weight", size_t(M * K * weight_bits(p.weight) / 8));
    require_cuda(scales, "scales", device);
    require_contiguous_bytes(scales, "scales", size_t(scale_k * M) * act_bytes(p.act));
    if (weight_has_zero(p.weight)) {
      if (!zeros) throw nb::value_error("zeros are required for u4 weights");
      require_cuda(*zeros, "zeros", device);
      require_contiguous_bytes(*zeros, "zeros", size_t(scale_k * M) * act_bytes(p.act));
    }
    require_cuda(x, "x", device);
    require_contiguous_bytes(x, "x", size_t(N * K) * act_bytes(p.act));
    if (bias) {
      require_cuda(*bias, "bias", device);
      require_contiguous_bytes(*bias, "bias", size_t(M) * act_bytes(p.act));
    }
    require_cuda(y, "out", device);
    require_contiguous_bytes(y, "out", size_t(N * M) * act_bytes(p.act));
    if (workspace) require_cuda(*workspace, "workspace", device);
    GemmArgs a;
    a.problem = p;
    a.w = w.data();
    a.scales = scales.data();
    a.zeros = zeros ? zeros->data() : nullptr;
    a.x = x.data();
    a.bias = bias ? bias->data() : nullptr;
    a.y = y.data();
    launch(e, a, workspace ? workspace->data() : nullptr, workspace ? workspace->nbytes() : 0, device, stream);
  }, nb::arg("kernel"), nb::arg("w"), nb::arg("scales"), nb::arg("zeros").none(), nb::arg("x"),
     nb::arg("bias").none(), nb::arg("y").noconvert(), nb::arg("workspace").none(), nb::arg("M"), nb::arg("N"),
     nb::arg("K"), nb::arg("group"), nb::arg("weight"), nb::arg("act"), nb::arg("device"), nb::arg("stream"));

  // The low-overhead entry for frameworks whose arrays the Python layer has already validated (device,
  // dtype, shape, contiguity, alignment): device pointers as integers, 0 for "none". Skips DLPack.
  m.def("gemm_ptr", [](const std::string& kernel, uintptr_t w, uintptr_t scales, uintptr_t zeros, uintptr_t x,
                       uintptr_t bias, uintptr_t y, uintptr_t workspace, size_t workspace_bytes, int64_t M, int64_t N,
                       int64_t K, int64_t group, int weight, int act, int device, uintptr_t stream) {
    GemmProblem p = make_problem(M, N, K, group, weight, act, bias != 0);
    const KernelEntry* e = checked_entry(kernel, p, device);
    if (!w || !scales || !x || !y || (weight_has_zero(p.weight) && !zeros))
      throw nb::value_error("gemm_ptr: a required pointer is null");
    GemmArgs a;
    a.problem = p;
    a.w = reinterpret_cast<const void*>(w);
    a.scales = reinterpret_cast<const void*>(scales);
    a.zeros = reinterpret_cast<const void*>(zeros);
    a.x = reinterpret_cast<const void*>(x);
    a.bias = reinterpret_cast<const void*>(bias);
    a.y = reinterpret_cast<void*>(y);
    launch(e, a, reinterpret_cast<void*>(workspace), workspace_bytes, device, stream);
  });

  m.def("quantize", [](Array w, int src, MutArray q_plain, MutArray scales, std::optional<MutArray> zeros, int64_t M,
                       int64_t K, int64_t group, int weight, int act, int device, uintptr_t stream) {
    GemmProblem p = make_problem(M, 1, K, group, weight, act, false);
    if (src < 0 || src > 2) throw nb::value_error("source type code must be 0 (f16), 1 (bf16) or 2 (f32)");
    std::string why = validate_problem(p);
    if (!why.empty()) throw nb::value_error(why.c_str());
    const size_t src_bytes = src == 2 ? 4 : 2;
    require_cuda(w, "w", device);
    require_contiguous_bytes(w, "w", size_t(M * K) * src_bytes);
    require_cuda(q_plain, "q_plain", device);
    require_contiguous_bytes(q_plain, "q_plain", size_t(M * K));
    require_cuda(scales, "scales", device);
    require_contiguous_bytes(scales, "scales", size_t(M * (K / group)) * 2);
    if (weight_has_zero(p.weight)) {
      if (!zeros) throw nb::value_error("zeros output is required for u4");
      require_cuda(*zeros, "zeros", device);
      require_contiguous_bytes(*zeros, "zeros", size_t(M * (K / group)) * 2);
    }
    void* zp = zeros ? zeros->data() : nullptr;
    nb::gil_scoped_release release;
    DeviceGuard guard(device);
    launch_quantize(w.data(), SourceType(src), M, K, group, p.weight, p.act, static_cast<int8_t*>(q_plain.data()),
                    scales.data(), zp, reinterpret_cast<cudaStream_t>(stream));
  }, nb::arg("w"), nb::arg("src"), nb::arg("q_plain").noconvert(), nb::arg("scales").noconvert(),
     nb::arg("zeros").noconvert().none(), nb::arg("M"), nb::arg("K"), nb::arg("group"), nb::arg("weight"),
     nb::arg("act"), nb::arg("device"), nb::arg("stream"));

  m.def("pack", [](Array q_plain, MutArray packed, int64_t M, int64_t K, int bits, int device, uintptr_t stream) {
    if (bits != 4 && bits != 8) throw nb::value_error("bits must be 4 or 8");
    if (M % kRowBlock || K % kRowBlock) throw nb::value_error("packing needs M and K to be multiples of 16");
    require_cuda(q_plain, "q_plain", device);
    require_contiguous_bytes(q_plain, "q_plain", size_t(M * K));
    require_cuda(packed, "packed", device);
    require_contiguous_bytes(packed, "packed", size_t(M * K * bits / 8));
    nb::gil_scoped_release release;
    DeviceGuard guard(device);
    launch_pack(static_cast<const int8_t*>(q_plain.data()), M, K, bits, packed.data(),
                reinterpret_cast<cudaStream_t>(stream));
  }, nb::arg("q_plain"), nb::arg("packed").noconvert(), nb::arg("M"), nb::arg("K"), nb::arg("bits"),
     nb::arg("device"), nb::arg("stream"));

  m.def("unpack", [](Array packed, MutArray q_plain, int64_t M, int64_t K, int bits, bool is_signed, int device,
                     uintptr_t stream) {
    if (bits != 4 && bits != 8) throw nb::value_error("bits must be 4 or 8");
    if (M % kRowBlock || K % kRowBlock) throw nb::value_error("packed weights need M and K to be multiples of 16");
    require_cuda(packed, "packed", device);
    require_contiguous_bytes(packed, "packed", size_t(M * K * bits / 8));
    require_cuda(q_plain, "q_plain", device);
    require_contiguous_bytes(q_plain, "q_plain", size_t(M * K));
    nb::gil_scoped_release release;
    DeviceGuard guard(device);
    launch_unpack(packed.data(), M, K, bits, is_signed, static_cast<int8_t*>(q_plain.data()),
                  reinterpret_cast<cudaStream_t>(stream));
  }, nb::arg("packed"), nb::arg("q_plain").noconvert(), nb::arg("M"), nb::arg("K"), nb::arg("bits"),
     nb::arg("is_signed"), nb::arg("device"), nb::arg("stream"));

  m.def("dequantize", [](Array packed, Array scales, std::optional<Array> zeros, MutArray out, int64_t M, int64_t K,
                         int64_t group, int weight, int act, int device, uintptr_t stream) {
    GemmProblem p = make_problem(M, 1, K, group, weight, act, false);
    std::string why = validate_problem(p);
    if (!why.empty()) throw nb::value_error(why.c_str());
    if (M % kRowBlock || K % kRowBlock) throw nb::value_error("packed weights need M and K to be multiples of 16");
    require_cuda(packed, "packed", device);
    require_contiguous_bytes(packed, "packed", size_t(M * K * weight_bits(p.weight) / 8));
    require_cuda(scales, "scales", device);
    require_contiguous_bytes(scales, "scales", size_t(M * (K / group)) * 2);
    if (weight_has_zero(p.weight)) {
      if (!zeros) throw nb::value_error("zeros are required for u4");
      require_cuda(*zeros, "zeros", device);
      require_contiguous_bytes(*zeros, "zeros", size_t(M * (K / group)) * 2);
    }
    require_cuda(out, "out", device);
    require_contiguous_bytes(out, "out", size_t(M * K) * 4);
    const void* zp = zeros ? zeros->data() : nullptr;
    nb::gil_scoped_release release;
    DeviceGuard guard(device);
    launch_dequantize(packed.data(), scales.data(), zp, M, K, group, p.weight, p.act,
                      static_cast<float*>(out.data()), reinterpret_cast<cudaStream_t>(stream));
  }, nb::arg("packed"), nb::arg("scales"), nb::arg("zeros").none(), nb::arg("out").noconvert(), nb::arg("M"),
     nb::arg("K"), nb::arg("group"), nb::arg("weight"), nb::arg("act"), nb::arg("device"), nb::arg("stream"));
}
