// Development harness for the decode family (not part of the package): checks configurations of
// decode_kernel against a naive fp32 reference and times them with weights streamed from HBM, so
// one nvcc compile on the GPU machine explores many variants. Build and run (on the H100; the first
// line writes decode_configs.h, the catalog's configs; tools/gpu_check.sh step dev does the same):
//   python3 src/catalog/generate.py --out /tmp/gen --kernels 'decode_*'
//   nvcc -std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a -Isrc -I/tmp/gen -o /tmp/decode_dev \
//     bench/dev/decode_dev.cu src/runtime/occupancy.cu
//   /tmp/decode_dev [mode]
// (-gencode, not -arch=sm_90a: CUDA 13.0's nvcc -arch=sm_90a also builds compute_90 PTX, where ptxas rejects wgmma.)
// Modes:
//   (none)    check + speed sweep
//   check     correctness of decode_kernel configurations (odd sizes, group 32, split counts)
//   wcheck    check, then the wgmma kernel's correctness cases (what the sanitizer runs)
//   ncu       one launch each, for ncu
//   u4, u4kg  uint4 vs int4 timings; uint4 with one or two consumer groups
//   wgmma     the wgmma kernel of decode/kernel_wgmma.cuh: every type, then 16/32/64 tokens against mma.sync
//   pdl       late-trigger programmatic dependent launch
//   s8stages  int8 256-row stage counts
//   fixed     small-layer fixed cost: short K, forced splits (fixedg: the same, graph-timed)
//   tiles     64-row tiles on small layers
//   ring      stage rate against ring depth (ring2: deeper rings for the small layers' kernels)
//   probe     per-CTA timestamps of one launch: where a CTA's time goes (wprobe: the wgmma kernel)
//   kgroups   consumer groups on alternate stages
//   n64       the wgmma kernel at 64 tokens: row tile, warpgroups, pipeline, stages, splits
//   epi       the split-K exchange on the catalog's small-layer configurations, with probe stamps
//   splits    split counts of the catalog's configurations; DEV_CAPACITY_ONLY=1 prints only the
//             clusters that fit, DEV_PLACEMENT=1 only where one launch's CTAs ran (SMs per CTA count)
//   splits64  64-token split counts against the clusters that fit at once
//   floor     empty kernels in a graph
//   place     cluster capacities at 1-4 CTAs per SM, where clustered grids land, and forced split counts
//             of every small-layer bucket (DEV_PLACE_ONLY=1: capacities and placements only; DEV_PLACE_MORE=1:
//             other shapes than the bench's)
//   episplits probe stamps of the split-K exchange at forced split counts where the split model misses
//   s8splits  int8 split counts on the small layers at 1 and 16 tokens (DEV_S8_GROUPS=1: one consumer
//             group against two at 1 token; DEV_S8_N16=1: two against one at 16 tokens)
//   u4splits  uint4 split counts at 1 token on the small layers, against int4
//   stages256 ring depth of the 256-row wgmma tiles at 16 and 32 tokens; 70b.down's split count at 32
//   ntok      token counts below the bucket's (1, 4, 12, 24, 40, 48) on the small layers
//   n64wide   64 tokens on small layers: 256-row tiles of four 64-row warpgroups against the catalog's
//             (DEV_ROWS64=1: 64-row tiles of one warpgroup instead)
//   n64large  64 tokens on the layers from 80M elements: 256-row tiles of four 64-row warpgroups by split count
//   n48       a 48-token bucket (wgmma m64n48k16, two warpgroups of 64 rows) against the 64-token kernel
//             at 33-48 tokens on the small layers
//   n48wide   48 tokens on the large layers: 256-row tiles against the 128-row 48-token kernel
//   s8wg      int8 at 1 and 16 tokens on the small layers: the catalog's two-group mma.sync kernel (split
//             plan capped at one CTA per SM) against the wgmma kernel's 16-token tile; then 70b.down's
//             split count at 16 tokens (int4, fp16 and bf16)
//   rows64    64 tokens: 64-row tiles against the catalog's 128-row tile, with the walk rule's verdict
//   rows64b   64-row tiles at 32 and 48 tokens on the small layers; int8 256-row tiles at 16 tokens
//   data32    the large layers at 16/32 tokens with uniform random data and with quantised-normal data
//   large16   16 tokens on the large layers: the wgmma kernel against decode_kernel's mma.sync
//   nox       the wgmma kernel without its activation boxes (results wrong, timing only): what reading
//             the activations from L2 costs on the large layers
//   pace      the wgmma kernel as built, without weight boxes, and without any boxes (timing only):
//             how much of a call the consumers' own pace sets (thirteenth session)
//   pace2     no boxes, and also no conversion or no wgmma: which part of the consumer sets its pace
//   pace3     no boxes: the skeleton (barriers and shared-memory reads only), and consumers with no
//             producer and no stage waits
//   large64   64 tokens on the large layers, 128-row tiles: split counts, with and without boxes
//   ring64    deeper rings for the 128-row 64-token tile at one CTA per SM
//   prod2, prod4, pwsmall  one producer warp against two (and four) on the catalog's configurations
//   pwdata    producer warps 1 / 2 with uniform and with quantised-normal data
//   pwmma     producer warps 1 / 2 on decode_kernel (mma.sync): int8 at 1 and 16 tokens, int4 and uint4 at 1
//   floors    how fast a plain streaming read moves each layer's bytes, against the catalog's kernel and
//             its pipeline with trivial consumers (copies, barriers and the exchange only)
//   bf16      the catalog's bf16 wgmma configurations (and some fp16 ones beside them)
//   u4cat     the catalog's uint4 decode configurations (and some int4 ones beside them)
// DEV_GRAPH=1 times every mode's launches as CUDA-graph replays, each graph first replayed for ~50 ms
// as the bench does: under that load the H100 sits at its 700 W power cap and its SM clock falls from
// 1.98 GHz to 1.45-1.9 GHz (nvidia-smi, thirteenth session), and the 64-token kernels read 5-15% slower
// than in short bursts. Short bursts overstated what the thirteenth session's producer warps gain
// (70b.down N=64 -15% in bursts, -10% sustained), so sustained is the default; DEV_BURST=1 times the
// bursts instead (what the logs before the thirteenth session measured).
// Output: one line per (config, shape, N, splits): max error relative to max |ref|, median us, GB/s.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "decode_configs.h"   // generated: src/catalog/generate.py --out <dir>, then -I<dir>
#include "kernels/decode/entry.cuh"

using namespace mixgemm;
using namespace mixgemm::decode;

#define CK(x)                                                                              \
  do {                                                                                     \
    cudaError_t e_ = (x);                                                                  \
    if (e_ != cudaSuccess) {                                                               \
      std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
      std::exit(1);                                                                        \
    }                                                                                      \
  } while (0)

__device__ uint32_t hash32(uint64_t i, uint32_t seed) {
  uint64_t z = i * 0x9E3779B97F4A7C15ull + seed * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return uint32_t(z ^ (z >> 31));
}
__device__ float unit(uint64_t i, uint32_t seed) { return (hash32(i, seed) >> 8) * (1.0f / 16777216.0f); }

__global__ void fill_bytes(unsigned char* p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    p[i] = hash32(i, seed) & 0xFF;
}
// About N(0, 1) from four uniforms (Irwin-Hall).
__device__ float normal(uint64_t i, uint32_t seed) {
  return (unit(4 * i, seed) + unit(4 * i + 1, seed) + unit(4 * i + 2, seed) + unit(4 * i + 3, seed) - 2.f) * 1.7320508f;
}
// Mode data32's "normal" data: each nibble a signed 4-bit value round(2.3 N(0,1)) clamped to [-8, 7], as a
// quantised normal weight would be (int4 and int8 words alike: every nibble is drawn this way).
__global__ void fill_nibbles_normal(unsigned char* p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    const int lo = max(-8, min(7, __float2int_rn(2.3f * normal(2 * i, seed))));
    const int hi = max(-8, min(7, __float2int_rn(2.3f * normal(2 * i + 1, seed))));
    p[i] = (unsigned char)((lo & 0xF) | ((hi & 0xF) << 4));
  }
}
bool g_normal_data = false;   // mode data32: quantised-normal weights and N(0, 1) activations
template <class T>
__global__ void fill_act(T* p, size_t n, uint32_t seed, float lo, float hi) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    p[i] = T(lo + (hi - lo) * unit(i, seed));
}
// zeros z' = -s * z with integer z in [0, 15]
template <class T>
__global__ void fill_act_normal(T* p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    p[i] = T(normal(i, seed));
}

template <class T>
__global__ void make_zeros(T* z, const T* s, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    z[i] = T(-float(s[i]) * float(hash32(i, seed) % 16));
}

// Integer value at (m, k) of the packed layout (independent re-derivation of weight_layout.cuh).
__device__ int packed_value(const unsigned char* w, int m, int k, int M, int bits, bool is_signed) {
  const int bi = m / 16, bj = k / 16, ri = m % 16, ci = k % 16;
  const int lane = (ri % 8) * 4 + (ci % 8) / 2;
  const int idx = (ci % 2) + 2 * (ri >= 8) + 4 * (ci >= 8);   // A-fragment value index 0..7
  const size_t block = size_t(bi) + size_t(M / 16) * bj;
  if (bits == 4) {
    const int slot = (idx % 2 == 0) ? idx / 2 : 4 + idx / 2;   // v0 v2 v4 v6 v1 v3 v5 v7
    const size_t nib = block * 256 + lane * 8 + slot;
    int v = (w[nib / 2] >> (4 * (nib % 2))) & 0xF;
    return is_signed ? (v ^ 8) - 8 : v;
  }
  const int map[4] = {0, 2, 1, 3};   // v0 v2 v1 v3 per 32-bit half
  const int slot = (idx / 4) * 4 + map[idx % 4];
  return int(static_cast<const signed char*>(static_cast<const void*>(w))[block * 256 + lane * 8 + slot]);
}

template <class T>
__global__ void reference(const unsigned char* w, const T* s, const T* z, const T* x, float* y, int M, int N, int K,
                          int g, int bits, bool is_signed) {
  const int m = blockIdx.x * blockDim.x + threadIdx.x, n = blockIdx.y;
  if (m >= M) return;
  float acc = 0.f;
  for (int k = 0; k < K; ++k) {
    const float sc = float(s[size_t(k / g) * M + m]);
    float wv = sc * packed_value(w, m, k, M, bits, is_signed);
    if (z) wv += float(z[size_t(k / g) * M + m]);
    acc += float(x[size_t(n) * K + k]) * wv;
  }
  y[size_t(n) * M + m] = acc;
}

// Mode probe: per-CTA timestamps (clock64). Slots per CTA: 0 entry, 1 ready, 2 loop done, 3 stored
// (thread 0), 84 first cluster barrier passed, 85 sums stored, 123 partial sums fenced, 124 chunks
// sent, 125 chunks received (thread 0); for stages 0..kProbeStages-1: claimed (the producer, after its empty-barrier wait),
// issued (after its copies), landed (consumer warp 0 after its full-barrier wait), released by warp 0
// and by warp 3 (after their arrivals); globaltimer at entry and end (cross-CTA spread), and the SM id.
constexpr int kProbeStages = 16, kProbeSlots = 128;
constexpr int kClaimedSlot = 4, kIssuedSlot = 20, kLandedSlot = 36, kRel0Slot = 52, kRel3Slot = 68;
constexpr int kConvSlot = 86, kMmaSlot = 102;   // the wgmma kernel's per-stage pipeline: converted, wgmmas issued
__device__ unsigned long long* g_probe;

struct ClockProbe : NoProbe {
  static __device__ __forceinline__ void at(ProbePoint e, int stage = 0) {
    const bool producer = e == ProbePoint::kIssued || e == ProbePoint::kClaimed;   // the producer thread only
    const bool warp3 = e == ProbePoint::kReleased && threadIdx.x == 96;
    if (!producer && !warp3 && threadIdx.x != 0) return;
    if (stage >= kProbeStages) return;
    unsigned long long* row = g_probe + size_t(blockIdx.x + blockIdx.y * gridDim.x) * kProbeSlots;
    const unsigned long long t = clock64();
    switch (e) {
      case ProbePoint::kEntry: {
        unsigned long long gt;
        unsigned sm;
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(gt));
        asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
        row[0] = t, row[120] = gt, row[122] = sm;
        break;
      }
      case ProbePoint::kReady: row[1] = t; break;
      case ProbePoint::kLoopDone: row[2] = t; break;
      case ProbePoint::kClusterSynced: row[84] = t; break;
      case ProbePoint::kReduced: row[85] = t; break;
      case ProbePoint::kPartialsFenced: row[123] = t; break;
      case ProbePoint::kPartialsSent: row[124] = t; break;
      case ProbePoint::kPartialsReceived: row[125] = t; break;
      case ProbePoint::kConverted: row[kConvSlot + stage] = t; break;
      case ProbePoint::kMmaIssued: row[kMmaSlot + stage] = t; break;
      case ProbePoint::kStored: {
        unsigned long long gt;
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(gt));
        row[3] = t, row[121] = gt;
        break;
      }
      case ProbePoint::kClaimed: row[kClaimedSlot + stage] = t; break;
      case ProbePoint::kIssued: row[kIssuedSlot + stage] = t; break;
      case ProbePoint::kLanded: row[kLandedSlot + stage] = t; break;
      case ProbePoint::kReleased: row[(warp3 ? kRel3Slot : kRel0Slot) + stage] = t; break;
    }
  }
};

// The same stamps with the weights' L2 evict-first hint off (is the hint part of the stage latency?).
struct ClockProbeNoHint : ClockProbe {
  static constexpr bool kEvictFirst = false;
};

template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int STAGES, class Probe>
__global__ void __launch_bounds__(Geometry<Bits, NT, Zero, CW, R, STAGES>::kThreads)
    decode_kernel_probe(const __grid_constant__ Maps maps, const Params p) {
  decode_body<Act, Bits, Signed, Zero, NT, CW, R, STAGES, Probe>(maps, p);
}


// Medians over CTAs of the intervals between probe points, in SM cycles (and globaltimer spans in us);
// then CTA 0's stages one by one, relative to its `ready` stamp.
void print_probe(const std::vector<unsigned long long>& h, int ctas, int nstages, int ring) {
  const int ns = std::min(nstages, kProbeStages);
  auto med = [](std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::vector<double> fenced, sent, received, second, csync, reduced, ready, first_issue, first_land, rtt0, refill, issue_cost, period, work, lag3, tail, reduce, total;
  unsigned long long gt0 = ~0ull, gt1 = 0, gte_max = 0;
  for (int c = 0; c < ctas; ++c) {
    const unsigned long long* r = h.data() + size_t(c) * kProbeSlots;
    const unsigned long long* clm = r + kClaimedSlot;
    const unsigned long long* iss = r + kIssuedSlot;
    const unsigned long long* land = r + kLandedSlot;
    const unsigned long long* rel = r + kRel0Slot;
    const unsigned long long* rel3 = r + kRel3Slot;
    ready.push_back(double(r[1] - r[0]));
    first_issue.push_back(double(iss[0] - r[1]));
    first_land.push_back(double(land[0] - r[1]));
    rtt0.push_back(double(land[0] - iss[0]));
    for (int s = 0; s < ns; ++s) {
      issue_cost.push_back(double(iss[s]) - double(clm[s]));
      if (s >= ring) refill.push_back(double(land[s]) - double(iss[s]));   // a refilled slot: a true round trip
      if (s > 0) period.push_back(double(land[s] - land[s - 1]));
      work.push_back(double(rel[s] - land[s]));
      lag3.push_back(double(rel3[s]) - double(rel[s]));
    }
    if (nstages <= kProbeStages) tail.push_back(double(r[2] - std::max(rel[ns - 1], rel3[ns - 1])));
    reduce.push_back(double(r[3] - r[2]));
    csync.push_back(double(r[84] - r[2]));
    reduced.push_back(double(r[85] - r[84]));
    if (r[123] != 0) {
      fenced.push_back(double(r[123]) - double(r[2]));
      sent.push_back(double(r[124]) - double(r[84]));
      received.push_back(double(r[125]) - double(r[124]));
      second.push_back(double(r[3]) - double(r[85]));
    }
    total.push_back(double(r[3] - r[0]));
    gt0 = std::min(gt0, r[120]);
    gt1 = std::max(gt1, r[121]);
    gte_max = std::max(gte_max, r[120]);
  }
  std::printf("  probe (median over %d CTAs, SM cycles): ready %.0f | first issue %.0f | first landed %.0f "
              "(round trip %.0f) | refill round trip %.0f | copy issue %.0f | stage period %.0f | warp-0 work/stage "
              "%.0f | warp-3 release - warp-0 release %.0f | loop tail %.0f | reduce+store %.0f (first cluster barrier "
              "after %.0f; its remote loads and stores done %.0f after that) | CTA total %.0f\n",
              ctas, med(ready), med(first_issue), med(first_land), med(rtt0), med(refill), med(issue_cost), med(period),
              med(work), med(lag3), med(tail), med(reduce), med(csync), med(reduced), med(total));
  if (!fenced.empty())
    std::printf("  probe epilogue (median, SM cycles): loop done -> partial sums stored and fenced %.0f | cluster barrier "
                "passed -> chunks sent %.0f | sent -> the other ranks' chunks received %.0f | sums stored -> last "
                "barrier passed %.0f\n",
                med(fenced), med(sent), med(received), med(second));
  {   // how the CTAs were placed: SMs holding 0, 1, 2, ... of them
    std::vector<int> per_sm(1024, 0);
    for (int c = 0; c < ctas; ++c) ++per_sm[h[size_t(c) * kProbeSlots + 122] & 1023];
    int hist[9] = {};
    int sms = 0;
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    for (int sm = 0; sm < sms; ++sm) ++hist[std::min(per_sm[sm], 8)];
    std::printf("  probe placement: SMs holding 0/1/2/3/4+ CTAs: %d/%d/%d/%d/%d\n", hist[0], hist[1], hist[2], hist[3],
                hist[4] + hist[5] + hist[6] + hist[7] + hist[8]);
  }
  std::printf("  probe (globaltimer): CTA entries spread over %.2f us; first entry to last end %.2f us\n",
              (gte_max - gt0) * 1e-3, (gt1 - gt0) * 1e-3);
  const unsigned long long* r = h.data();
  if (h[kConvSlot] != 0) {   // the wgmma kernel's per-stage pipeline (warp 0): where a stage period goes
    std::vector<double> wg_wait, data_wait, convert, issue;
    for (int c = 0; c < ctas; ++c) {
      const unsigned long long* r = h.data() + size_t(c) * kProbeSlots;
      for (int st = 1; st + 1 < ns; ++st) {
        const double mma_issued = double(r[kMmaSlot + st]), released_prev = double(r[kRel0Slot + st - 1]);
        const double landed_next = double(r[kLandedSlot + st + 1]), converted_next = double(r[kConvSlot + st + 1]);
        wg_wait.push_back(released_prev - mma_issued);      // wait_group 1: the previous stage's wgmmas
        data_wait.push_back(landed_next - released_prev);   // the next stage's full barrier
        convert.push_back(converted_next - landed_next);    // scales, conversion of all fragments
        issue.push_back(double(r[kMmaSlot + st + 1]) - converted_next);   // fence, wgmmas, commit
      }
    }
    std::printf("  wgmma stage period (median, warp 0): wait for the previous stage's wgmmas %.0f | wait for the next "
                "stage's data %.0f | convert %.0f | issue wgmmas %.0f\n",
                med(wg_wait), med(data_wait), med(convert), med(issue));
  }
  std::printf("  CTA 0 (cycles after ready): stage claimed issued landed rel0 rel3\n");
  for (int s = 0; s < ns; ++s)
    std::printf("    %2d %7lld %7lld %7lld %7lld %7lld\n", s, (long long)(r[kClaimedSlot + s] - r[1]),
                (long long)(r[kIssuedSlot + s] - r[1]), (long long)(r[kLandedSlot + s] - r[1]),
                (long long)(r[kRel0Slot + s] - r[1]), (long long)(r[kRel3Slot + s] - r[1]));
}

struct Shape {
  const char* name;
  int m, k, g;
};

template <class Act>
struct Problem {
  int M, K, G, copies;
  size_t wbytes, sn;
  std::vector<unsigned char*> w;
  std::vector<Act*> s, z;
  Act* x;
  Act* y;
  float* ref;
};

// The launches' CTA cap (launch's max_ctas; mode s8wg sets it to the SM count, as the catalog's int8
// two-group kernels run).
int64_t g_max_ctas = 0;
double g_cta_load = 1.0;   // the plan's CTA load (run_decode_entry: the catalog entry's)

// The median time of one call over 7 repetitions of 40 calls; call(i, stream) makes call i (the
// callers rotate their weight copies by i). DEV_GRAPH=1: each repetition's calls are captured into one
// CUDA graph and replayed, as the bench times them (no host launch cost between kernels), after ~50 ms
// of replays (sustained clocks and power) unless DEV_BURST=1; else launched back to back.
template <class Call>
double time_calls(Call&& call) {
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  std::vector<float> t;
  const int iters = 40;
  const bool graph = std::getenv("DEV_GRAPH") != nullptr;
  cudaStream_t st = nullptr;
  if (graph) CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  auto launches = [&](int rep) {
    for (int i = 0; i < iters; ++i) call(rep * iters + i, st);
  };
  for (int rep = 0; rep < 7; ++rep) {
    cudaGraphExec_t exec = nullptr;
    if (graph) {
      cudaGraph_t g;
      CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
      launches(rep);
      CK(cudaStreamEndCapture(st, &g));
      CK(cudaGraphInstantiate(&exec, g, 0));
      CK(cudaGraphDestroy(g));
      CK(cudaGraphLaunch(exec, st));   // warm-up replay
      if (!std::getenv("DEV_BURST")) {
        const auto t0 = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(50)) {
          CK(cudaGraphLaunch(exec, st));
          CK(cudaStreamSynchronize(st));
        }
      }
    }
    CK(cudaEventRecord(e0, st));
    if (graph)
      CK(cudaGraphLaunch(exec, st));
    else
      launches(rep);
    CK(cudaEventRecord(e1, st));
    CK(cudaEventSynchronize(e1));
    if (exec) CK(cudaGraphExecDestroy(exec));
    float ms;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    t.push_back(ms * 1000.f / iters);
  }
  if (st) CK(cudaStreamDestroy(st));
  CK(cudaEventDestroy(e0));
  CK(cudaEventDestroy(e1));
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// L: a launcher type with launch(params, device, sms, stream, splits), G::kTileM and ctas_per_sm(device).
// PL (mode probe): after the timing, one launch of this launcher's kernel on the copy of the weights
// touched longest ago (so it streams from HBM), and its probe summary.
template <class L, class Act, int Bits, bool Signed, bool Zero, class PL = void>
void run_with(const char* label, const Shape& sh, int N, int splits_req, bool time_it) {
  const int M = sh.m, K = sh.k, G = sh.g;
  const size_t wbytes = size_t(M) * K * Bits / 8, sn = size_t(K / G) * M;
  const size_t per = wbytes + sn * 2 * (Zero ? 2 : 1);
  const int copies = time_it ? int(std::max<size_t>(1, (256ull << 20) / per + 1)) : 1;
  std::vector<unsigned char*> w(copies);
  std::vector<Act*> s(copies), z(copies, nullptr);
  for (int c = 0; c < copies; ++c) {
    CK(cudaMalloc(&w[c], wbytes));
    CK(cudaMalloc(&s[c], sn * sizeof(Act)));
    if (g_normal_data)
      fill_nibbles_normal<<<1024, 256>>>(w[c], wbytes, 11 + c);
    else
      fill_bytes<<<1024, 256>>>(w[c], wbytes, 11 + c);
    fill_act<Act><<<1024, 256>>>(s[c], sn, 23 + c, -0.02f, 0.02f);
    if (Zero) {
      CK(cudaMalloc(&z[c], sn * sizeof(Act)));
      make_zeros<Act><<<1024, 256>>>(z[c], s[c], sn, 31 + c);
    }
  }
  Act *x, *y;
  float* ref;
  CK(cudaMalloc(&x, size_t(N) * K * sizeof(Act)));
  CK(cudaMalloc(&y, size_t(N) * M * sizeof(Act)));
  CK(cudaMalloc(&ref, size_t(N) * M * sizeof(float)));
  if (g_normal_data)
    fill_act_normal<Act><<<1024, 256>>>(x, size_t(N) * K, 7);
  else
    fill_act<Act><<<1024, 256>>>(x, size_t(N) * K, 7, -1.f, 1.f);
  reference<Act><<<dim3((M + 127) / 128, N), 128>>>(w[0], s[0], z[0], x, ref, M, N, K, G, Bits, Signed);
  CK(cudaMemset(y, 0xFF, size_t(N) * M * sizeof(Act)));   // NaN poison
  Params p{};
  p.w = w[0];
  p.scales = s[0];
  p.zeros = z[0];
  p.x = x;
  p.bias = nullptr;
  p.y = y;
  p.m = M;
  p.n = N;
  p.k = K;
  p.group = G;
  int dev = 0, sms = 0;
  CK(cudaGetDevice(&dev));
  CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  L::launch(p, dev, sms, 0, splits_req, g_max_ctas, g_cta_load);
  CK(cudaDeviceSynchronize());
  std::vector<Act> hy(size_t(N) * M);
  std::vector<float> hr(size_t(N) * M);
  CK(cudaMemcpy(hy.data(), y, hy.size() * sizeof(Act), cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(hr.data(), ref, hr.size() * sizeof(float), cudaMemcpyDeviceToHost));
  double maxref = 0, maxerr = 0;
  bool nan = false;
  for (size_t i = 0; i < hy.size(); ++i) {
    const double v = double(float(hy[i]));
    if (v != v) nan = true;
    maxref = std::max(maxref, double(std::abs(hr[i])));
    maxerr = std::max(maxerr, std::abs(v - hr[i]));
  }
  const double rel = maxerr / std::max(maxref, 1e-30);
  const int64_t tiles = (M + L::G::kTileM - 1) / L::G::kTileM;
  const int chosen = splits_req > 0 ? splits_req
                                    : L::plan(M, K, sms, dev, 0, g_max_ctas, g_cta_load).splits;
  double us = 0;
  if (time_it) {
    us = time_calls([&](int i, cudaStream_t st) {
      const int c = i % copies;
      p.w = w[c];
      p.scales = s[c];
      p.zeros = z[c];
      L::launch(p, dev, sms, st, splits_req, g_max_ctas, g_cta_load);
    });
  }
  const double bytes = double(per) + double(N) * K * 2 + double(N) * M * 2;
  std::printf("%-28s %-14s N=%-3d splits=%d(%s) ctas/sm=%d  err=%.2e%s  %8.2f us  %7.0f GB/s\n", label, sh.name, N,
              chosen, splits_req > 0 ? "set" : "auto", L::ctas_per_sm(dev), rel, nan ? " NaN!" : (rel > 1e-2 ? " BAD" : ""),
              us, time_it ? bytes / us * 1e-3 : 0.0);
  if constexpr (!std::is_void<PL>::value) {
    const int ctas = int(tiles) * chosen;
    unsigned long long* buf;
    CK(cudaMalloc(&buf, size_t(ctas) * kProbeSlots * 8));
    CK(cudaMemset(buf, 0, size_t(ctas) * kProbeSlots * 8));
    CK(cudaMemcpyToSymbol(g_probe, &buf, sizeof(buf)));
    for (int c = 0; c < copies; ++c) {   // touch every copy in turn: copy 0 is then the coldest
      p.w = w[c];
      p.scales = s[c];
      p.zeros = z[c];
      L::launch(p, dev, sms, 0, splits_req);
    }
    p.w = w[0];
    p.scales = s[0];
    p.zeros = z[0];
    PL::launch(p, dev, sms, 0, splits_req);
    CK(cudaDeviceSynchronize());
    std::vector<unsigned long long> h(size_t(ctas) * kProbeSlots);
    CK(cudaMemcpy(h.data(), buf, h.size() * 8, cudaMemcpyDeviceToHost));
    CK(cudaFree(buf));
    const int64_t kst = K / kStageK;
    const int64_t chunk = (kst + chosen - 1) / chosen;
    print_probe(h, ctas, int(chunk), PL::G::kStages);
  }
  std::fflush(stdout);
  for (int c = 0; c < copies; ++c) {
    CK(cudaFree(w[c]));
    CK(cudaFree(s[c]));
    if (z[c]) CK(cudaFree(z[c]));
  }
  CK(cudaFree(x));
  CK(cudaFree(y));
  CK(cudaFree(ref));
}

template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int ST>
void run_config(const char* label, const Shape& sh, int N, int splits_req, bool time_it) {
  run_with<Launcher<Act, Bits, Signed, Zero, NT, CW, R, ST>, Act, Bits, Signed, Zero>(label, sh, N, splits_req, time_it);
}

// Programmatic dependent launch with the trigger at the end of the main loop (an early trigger measured
// 20-35% slower on large layers: docs/notes/floors.md).
struct LatePdl : NoProbe {
  static constexpr bool kPdl = true;
};
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int STAGES>
__global__ void __launch_bounds__(Geometry<Bits, NT, Zero, CW, R, STAGES>::kThreads)
    decode_kernel_pdl(const __grid_constant__ Maps maps, const Params p) {
  decode_body<Act, Bits, Signed, Zero, NT, CW, R, STAGES, LatePdl>(maps, p);
}

// The same configuration as run_config with programmatic dependent launch (decode_kernel_pdl): in the
// timing loop each launch may start while the previous one finishes its epilogue.
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int ST>
void run_pdl(const char* label, const Shape& sh, int N, int splits_req, bool time_it) {
  using L = Launcher<Act, Bits, Signed, Zero, NT, CW, R, ST, &decode_kernel_pdl<Act, Bits, Signed, Zero, NT, CW, R, ST>,
                     true>;
  run_with<L, Act, Bits, Signed, Zero>(label, sh, N, splits_req, time_it);
}

// The same configuration, timed, then one probed launch (mode probe); then both again with the weights'
// evict-first hint off (timed and probed with the hint-free kernel).
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int ST>
void run_probe(const char* label, const Shape& sh, int N, int splits_req) {
  using PL = Launcher<Act, Bits, Signed, Zero, NT, CW, R, ST,
                      &decode_kernel_probe<Act, Bits, Signed, Zero, NT, CW, R, ST, ClockProbe>>;
  run_with<Launcher<Act, Bits, Signed, Zero, NT, CW, R, ST>, Act, Bits, Signed, Zero, PL>(label, sh, N, splits_req, true);
  using NL = Launcher<Act, Bits, Signed, Zero, NT, CW, R, ST,
                      &decode_kernel_probe<Act, Bits, Signed, Zero, NT, CW, R, ST, ClockProbeNoHint>>;
  run_with<NL, Act, Bits, Signed, Zero, NL>("  (no evict-first hint)", sh, N, splits_req, true);
}

// decode_kernel with KG consumer groups and PW producer warps (the catalog's kernel takes both).
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int ST, int KG, int PW = 1>
void run_kg(const char* label, const Shape& sh, int N, int splits_req, bool time_it = true) {
  using L = Launcher<Act, Bits, Signed, Zero, NT, CW, R, ST, &decode_kernel<Act, Bits, Signed, Zero, NT, CW, R, ST, KG, PW>,
                     false, Zero && NT >= 2, KG, PW>;
  run_with<L, Act, Bits, Signed, Zero>(label, sh, N, splits_req, time_it);
}

// The wgmma kernel timed, then one probed launch (mode wprobe).
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int ST, bool PerBlock>
void run_wgmma_probe(const char* label, const Shape& sh, int N, int splits_req) {
  using PL = Launcher<Act, Bits, Signed, Zero, NT, CW, R, ST,
                      &wg::decode_wgmma_kernel<Act, Bits, Signed, Zero, NT, CW, R, ST, PerBlock, ClockProbe>,
                      /*Pdl=*/false, /*SumWarp=*/false>;
  run_with<wg::Launcher<Act, Bits, Signed, Zero, NT, CW, R, ST, PerBlock>, Act, Bits, Signed, Zero, PL>(
      label, sh, N, splits_req, true);
}

// The wgmma kernel (decode/kernel_wgmma.cuh); PerBlock: its per-K-block pipeline (labels "wb", else "ws");
// PW producer warps, each taking every PW-th stage.
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int ST, bool PerBlock, int PW = 1>
void run_wgmma(const char* label, const Shape& sh, int N, int splits_req, bool time_it = true) {
  run_with<wg::Launcher<Act, Bits, Signed, Zero, NT, CW, R, ST, PerBlock, PW>, Act, Bits, Signed, Zero>(
      label, sh, N, splits_req, time_it);
}

struct NoActivations : NoProbe {
  static constexpr bool kLoadX = false;
};
// The wgmma kernel with and without its activation boxes (mode nox).
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int ST, bool PerBlock>
void run_nox(const char* label, const Shape& sh, int N) {
  run_wgmma<Act, Bits, Signed, Zero, NT, CW, R, ST, PerBlock>(label, sh, N, 0, true);
  using L = Launcher<Act, Bits, Signed, Zero, NT, CW, R, ST,
                     &wg::decode_wgmma_kernel<Act, Bits, Signed, Zero, NT, CW, R, ST, PerBlock, NoActivations>,
                     /*Pdl=*/false, /*SumWarp=*/false>;
  const std::string l = std::string(label) + " no-x";
  run_with<L, Act, Bits, Signed, Zero>(l.c_str(), sh, N, 0, true);
}

struct NoWeights : NoProbe {
  static constexpr bool kLoadW = false;
};
struct NothingLoaded : NoProbe {
  static constexpr bool kLoadX = false;
  static constexpr bool kLoadW = false;
};
struct NothingLoadedNoConvert : NothingLoaded {
  static constexpr bool kConvert = false;
};
struct NothingLoadedNoMma : NothingLoaded {
  static constexpr bool kMma = false;
};
struct Skeleton : NothingLoaded {   // barriers, shared-memory reads and scales only
  static constexpr bool kConvert = false;
  static constexpr bool kMma = false;
};
struct Unsynced : NothingLoaded {   // no producer, no stage waits: the consumers' own work
  static constexpr bool kSync = false;
};
struct UnsyncedNoMma : Unsynced {
  static constexpr bool kMma = false;
};
struct UnsyncedNoConvert : Unsynced {
  static constexpr bool kConvert = false;
};
template <class Probe, class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int ST, bool PerBlock>
void run_probe(const char* label, const char* what, const Shape& sh, int N, int splits) {
  using L = Launcher<Act, Bits, Signed, Zero, NT, CW, R, ST,
                     &wg::decode_wgmma_kernel<Act, Bits, Signed, Zero, NT, CW, R, ST, PerBlock, Probe>,
                     /*Pdl=*/false, /*SumWarp=*/false>;
  run_with<L, Act, Bits, Signed, Zero>((std::string(label) + " " + what).c_str(), sh, N, splits, true);
}
// Mode pace3: the consumer's parts (no loads): skeleton, and consumers without the stage waits.
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int ST, bool PerBlock>
void run_pace3(const char* label, const Shape& sh, int N, int splits) {
  run_wgmma<Act, Bits, Signed, Zero, NT, CW, R, ST, PerBlock>(label, sh, N, splits, true);
  run_probe<NothingLoaded, Act, Bits, Signed, Zero, NT, CW, R, ST, PerBlock>(label, "nothing", sh, N, splits);
  run_probe<Skeleton, Act, Bits, Signed, Zero, NT, CW, R, ST, PerBlock>(label, "skeleton", sh, N, splits);
  run_probe<Unsynced, Act, Bits, Signed, Zero, NT, CW, R, ST, PerBlock>(label, "unsynced", sh, N, splits);
  run_probe<UnsyncedNoMma, Act, Bits, Signed, Zero, NT, CW, R, ST, PerBlock>(label, "unsynced, no mma", sh, N, splits);
  run_probe<UnsyncedNoConvert, Act, Bits, Signed, Zero, NT, CW, R, ST, PerBlock>(label, "unsynced, no convert", sh, N,
                                                                                  splits);
}
// Mode pace2: without loads, the consumers' pace without conversion (raw words as fragments) and
// without wgmma (conversion only): which part of the consumer sets the pace.
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int ST, bool PerBlock>
void run_pace2(const char* label, const Shape& sh, int N) {
  run_probe<NothingLoaded, Act, Bits, Signed, Zero, NT, CW, R, ST, PerBlock>(label, "nothing", sh, N, 0);
  run_probe<NothingLoadedNoConvert, Act, Bits, Signed, Zero, NT, CW, R, ST, PerBlock>(label, "nothing, no convert", sh,
                                                                                       N, 0);
  run_probe<NothingLoadedNoMma, Act, Bits, Signed, Zero, NT, CW, R, ST, PerBlock>(label, "nothing, no mma", sh, N, 0);
}
// Mode pace: the wgmma kernel as built, then with no weight/scale boxes, then with no boxes at all
// (the producer only arrives; the consumers run on whatever the ring holds: timing only). What is left
// without any loads is the consumers' own pace (conversion, wgmma, barriers) plus the exchange.
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int ST, bool PerBlock>
void run_pace(const char* label, const Shape& sh, int N) {
  run_wgmma<Act, Bits, Signed, Zero, NT, CW, R, ST, PerBlock>(label, sh, N, 0, true);
  run_probe<NoWeights, Act, Bits, Signed, Zero, NT, CW, R, ST, PerBlock>(label, "no-w", sh, N, 0);
  run_probe<NothingLoaded, Act, Bits, Signed, Zero, NT, CW, R, ST, PerBlock>(label, "nothing", sh, N, 0);
}

// The catalog's wgmma decode configuration of (activation, weight type, token bucket NT, tile rows TM),
// as decode/entry.cuh builds it, with a timing probe (the catalog's kernel itself: run_decode_entry).
template <class Probe, class Act, WeightType WT, int NT, int TM>
void run_catalog(const char* label, const Shape& sh, int N, int splits = 0) {
  using C = typename catalog::CatalogDecode<Act, WT, NT * 8, TM>::Config;
  using D = DecodeGemm<C>;
  constexpr int PW = C::kProducerWarps;
  using L = Launcher<Act, D::kBits, D::kSigned, D::kZero, NT, C::kConsumerWarps, C::kRowBlocks, C::kStages,
                     &wg::decode_wgmma_kernel<Act, D::kBits, D::kSigned, D::kZero, NT, C::kConsumerWarps,
                                              C::kRowBlocks, C::kStages, C::kPerKBlock, Probe, PW>,
                     /*Pdl=*/false, /*SumWarp=*/false, /*KG=*/1, PW>;
  static_assert(std::is_same<Probe, NoProbe>::value == std::is_same<L, typename D::L>::value,
                "with NoProbe this is the catalog's launcher");
  run_with<L, Act, D::kBits, D::kSigned, D::kZero>(label, sh, N, splits, true);
}

// Mode floors: how fast anything reads a layer's bytes here. A plain streaming read (16-byte loads,
// four in flight per thread, a grid of `per_sm` x SMs CTAs of 512 threads) of one buffer the size of
// the layer's packed weights and scales, rotated through copies past 256 MB like the timed modes.
__global__ void __launch_bounds__(512) read_stream(const uint4* __restrict__ p, size_t n, unsigned* sink) {
  uint32_t acc = 0;
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
  for (; i + 3 * stride < n; i += 4 * stride) {
    uint4 v[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) v[j] = __ldcs(p + i + j * stride);
#pragma unroll
    for (int j = 0; j < 4; ++j) acc ^= v[j].x ^ v[j].y ^ v[j].z ^ v[j].w;
  }
  for (; i < n; i += stride) {
    const uint4 v = __ldcs(p + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x9E3779B9u) *sink = acc;   // keeps the loads; practically never stores
}
void run_read_floor(const Shape& sh, int bits) {
  const size_t bytes = (size_t(sh.m) * sh.k * bits / 8 + size_t(sh.k / sh.g) * sh.m * 2 + 15) / 16 * 16;
  const int copies = int((256ull << 20) / bytes + 1);
  std::vector<uint4*> buf(copies);
  for (auto& b : buf) {
    CK(cudaMalloc(&b, bytes));
    fill_bytes<<<1024, 256>>>(reinterpret_cast<unsigned char*>(b), bytes, 5);
  }
  unsigned* sink;
  CK(cudaMalloc(&sink, 4));
  int dev = 0, sms = 0;
  CK(cudaGetDevice(&dev));
  CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  double best = 1e30;
  for (int per_sm : {1, 2, 4}) {
    const double us = time_calls([&](int i, cudaStream_t st) {
      read_stream<<<sms * per_sm, 512, 0, st>>>(buf[i % copies], bytes / 16, sink);
    });
    best = std::min(best, us);
    std::printf("read floor %-14s %6.1f MB  %d CTAs/SM  %8.2f us  %7.0f GB/s\n", sh.name, bytes / 1e6, per_sm, us,
                bytes / us * 1e-3);
  }
  std::printf("read floor %-14s best %8.2f us\n", sh.name, best);
  std::fflush(stdout);
  for (auto& b : buf) CK(cudaFree(b));
  CK(cudaFree(sink));
}
// The pipeline with trivial consumers: every copy, barrier and the exchange, but no conversion and no
// wgmma (the fragments are the raw words, folded by XOR; results wrong, timing only).
struct CopiesOnly : NoProbe {
  static constexpr bool kConvert = false;
  static constexpr bool kMma = false;
};
// Any catalog decode configuration (mma.sync or wgmma) through DecodeGemm's own launcher, with the
// launches' CTA cap as DecodeGemm::run takes it (modes bf16, u4cat, floors).
template <class Act, WeightType WT, int NT, int TM, bool Wgmma>
void run_decode_entry(const char* label, const Shape& sh, int N) {
  using C = typename catalog::CatalogDecode<Act, WT, NT * 8, TM>::Config;
  static_assert(C::kWgmma == Wgmma, "the catalog's entry of this bucket and rows issues the other MMA");
  using D = DecodeGemm<C>;
  int dev = 0, sms = 0;
  CK(cudaGetDevice(&dev));
  CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  g_max_ctas = D::max_ctas(sms);
  g_cta_load = C::kCtaLoad;
  run_with<typename D::L, Act, D::kBits, D::kSigned, D::kZero>(label, sh, N, 0, true);
  g_max_ctas = 0;
  g_cta_load = 1.0;
}
// Mode floors: an fp16 catalog configuration as built, then with CopiesOnly.
template <WeightType WT, int NT, int TM>
void run_catalog_and_copies(const char* label, const Shape& sh, int N) {
  run_decode_entry<__half, WT, NT, TM, /*Wgmma=*/true>(label, sh, N);
  run_catalog<CopiesOnly, __half, WT, NT, TM>((std::string(label) + " copies-only").c_str(), sh, N);
}

// Mode place: the device's cluster capacities at 1-4 CTAs per SM (an empty kernel whose shared memory
// allows exactly that many), and where the CTAs of a clustered grid land: a kernel with that
// occupancy records its SM and spins long enough for the whole grid to be resident at once, so the
// placement is the hardware's for any kernel of the same occupancy.
__global__ void place_kernel(int* smid_out, long long spin) {
  extern __shared__ int place_smem[];
  if (threadIdx.x == 0) {
    int smid;
    asm volatile("mov.u32 %0, %%smid;" : "=r"(smid));
    place_smem[0] = smid;
    smid_out[blockIdx.y * gridDim.x + blockIdx.x] = smid;
    const long long t0 = clock64();
    while (clock64() - t0 < spin) {
    }
  }
}
size_t place_smem_for(int per_sm) {   // dynamic shared memory that leaves exactly per_sm CTAs on an SM
  static const size_t kBytes[] = {0, 120 << 10, 80 << 10, 60 << 10, 50 << 10};
  return kBytes[per_sm];
}
// The library's cluster capacities (device_cluster_capacity) at 1-4 CTAs per SM, and the placement
// kernel's occupancy at place_smem_for's sizes (it must be per_sm for the placements below to hold).
void print_capacities(int dev, int sms) {
  const ClusterCapacity& cap = device_cluster_capacity(dev);
  CK(cudaFuncSetAttribute(place_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 120 << 10));
  for (int per_sm = 1; per_sm <= 4; ++per_sm) {
    int occ = 0;
    CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, place_kernel, 128, place_smem_for(per_sm)));
    std::printf("capacity per_sm=%d (occupancy %d, %d SMs): clusters of 1..8:", per_sm, occ, sms);
    for (int s = 1; s <= kMaxSplits; ++s) std::printf(" %d", cap.clusters[per_sm][s]);
    std::printf("\n");
  }
}
// Where `tiles` clusters of `splits` CTAs land at per_sm CTAs per SM: the busiest SM's CTAs and how many
// SMs hold that many, and the SMs left empty.
void print_placement(int tiles, int splits, int per_sm, int sms) {
  int* d;
  const int ctas = tiles * splits;
  CK(cudaMalloc(&d, ctas * sizeof(int)));
  cudaLaunchAttribute attr[2];
  const cudaLaunchConfig_t cfg =
      cluster_launch_config(dim3(unsigned(tiles), unsigned(splits), 1), 128, place_smem_for(per_sm), splits, nullptr, attr);
  CK(cudaLaunchKernelEx(&cfg, place_kernel, d, 200000LL));
  CK(cudaDeviceSynchronize());
  std::vector<int> h(ctas), count(sms, 0);
  CK(cudaMemcpy(h.data(), d, ctas * sizeof(int), cudaMemcpyDeviceToHost));
  CK(cudaFree(d));
  for (int v : h) count[v]++;
  const int busiest = *std::max_element(count.begin(), count.end());
  const int at_busiest = int(std::count(count.begin(), count.end(), busiest));
  const int empty = int(std::count(count.begin(), count.end(), 0));
  std::printf("placement tiles=%d splits=%d ctas=%d per_sm=%d: busiest %d (on %d SMs), %d SMs empty\n", tiles, splits,
              ctas, per_sm, busiest, at_busiest, empty);
}

// Mode floor: what a CUDA-graph replay of empty kernels costs per kernel (224 CTAs of 160 threads, with
// and without 8-CTA clusters), the floor under every small layer's time.
__global__ void empty_kernel(int* sink) {
  if (sink && threadIdx.x == 0 && blockIdx.x == 0 && blockIdx.y == 1 << 20) *sink = 1;
}
void run_floor() {
  cudaStream_t st;
  CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  for (int cluster : {1, 8}) {
    cudaLaunchAttribute attr[2];
    const cudaLaunchConfig_t cfg = cluster_launch_config(dim3(28, 8, 1), 160, 0, cluster, st, attr);
    cudaGraph_t g;
    cudaGraphExec_t exec;
    CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
    for (int i = 0; i < 40; ++i) CK(cudaLaunchKernelEx(&cfg, empty_kernel, (int*)nullptr));
    CK(cudaStreamEndCapture(st, &g));
    CK(cudaGraphInstantiate(&exec, g, 0));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    std::vector<float> t;
    for (int rep = 0; rep < 8; ++rep) {
      CK(cudaEventRecord(e0, st));
      CK(cudaGraphLaunch(exec, st));
      CK(cudaEventRecord(e1, st));
      CK(cudaEventSynchronize(e1));
      float ms;
      CK(cudaEventElapsedTime(&ms, e0, e1));
      t.push_back(ms * 1000.f / 40);
    }
    std::sort(t.begin(), t.end());
    std::printf("empty kernel, 224 CTAs, cluster 1x%d: %.2f us per kernel in a graph (median of 8 replays)\n", cluster,
                t[t.size() / 2]);
  }
}

int main(int argc, char** argv) {
  const std::string only = argc > 1 ? argv[1] : "";
  const Shape reported{"reported", 3584, 8192, 64}, gate_up{"70b.gate_up", 57344, 8192, 128},
      down{"70b.down", 8192, 28672, 128}, o8b{"8b.o", 4096, 4096, 128},
      small32{"g32.small", 1040, 2048, 32}, o70b{"70b.o", 8192, 8192, 128}, qkv8b{"8b.qkv", 6144, 4096, 128},
      qkv70b{"70b.qkv", 10240, 8192, 128}, down8{"8b.down", 4096, 14336, 128},
      gu8{"8b.gate_up", 28672, 4096, 128};
  const Shape sweep[] = {reported, o8b, o70b, gate_up, down};   // the speed sweeps' layers
  // correctness across types and odd sizes (M not a multiple of the tile, group 32, N below the bucket)
  run_config<__half, 4, true, false, 2, 4, 2, 8>("s4 f16 nt2 cw4 r2 st8", small32, 13, 0, false);
  run_config<__half, 4, false, true, 2, 4, 2, 8>("u4 f16 nt2 cw4 r2 st8", small32, 16, 0, false);
  run_config<__half, 8, true, false, 2, 4, 2, 8>("s8 f16 nt2 cw4 r2 st8", small32, 9, 0, false);
  run_config<__nv_bfloat16, 4, true, false, 2, 4, 2, 8>("s4 bf16 nt2 cw4 r2 st8", small32, 16, 0, false);
  run_config<__nv_bfloat16, 4, false, true, 1, 4, 2, 8>("u4 bf16 nt1 cw4 r2 st8", small32, 1, 0, false);
  run_config<__nv_bfloat16, 8, true, false, 8, 4, 2, 4>("s8 bf16 nt8 cw4 r2 st4", small32, 61, 0, false);
  run_config<__half, 4, true, false, 2, 4, 2, 8>("s4 f16 nt2 cw4 r2 st8", small32, 16, 3, false);
  const Shape g128{"g128.odd", 1040, 2048, 128}, perchan{"perchannel", 1040, 2048, 2048};
  run_config<__half, 4, true, false, 2, 4, 2, 8>("s4 f16 nt2 cw4 r2 st8", g128, 16, 3, false);
  run_config<__half, 4, false, true, 2, 4, 2, 8>("u4 f16 nt2 cw4 r2 st8", g128, 11, 3, false);
  run_config<__half, 4, true, false, 1, 4, 2, 8>("s4 f16 nt1 cw4 r2 st8", perchan, 1, 5, false);
  run_config<__nv_bfloat16, 4, true, false, 4, 4, 2, 8>("s4 bf16 nt4 cw4 r2 st8", g128, 30, 0, false);
  if (only == "check") return 0;
  if (only == "wgmma" || only == "wcheck") {   // the wgmma kernel: correctness over types and odd sizes, then speed
    run_wgmma<__half, 4, true, false, 4, 4, 2, 6, false>("ws s4 f16 nt4 cw4 r2 st6", g128, 29, 3, false);
    run_wgmma<__half, 4, true, false, 4, 4, 2, 6, true>("wb s4 f16 nt4 cw4 r2 st6", small32, 32, 0, false);
    run_wgmma<__half, 4, true, false, 4, 4, 4, 6, true>("wb s4 f16 nt4 cw4 r4 st6", perchan, 32, 5, false);
    run_wgmma<__nv_bfloat16, 4, true, false, 8, 8, 2, 4, true>("wb s4 bf16 nt8 cw8 r2 st4", small32, 50, 2, false);
    run_wgmma<__nv_bfloat16, 4, true, false, 2, 4, 2, 8, false>("ws s4 bf16 nt2 cw4 r2 st8", g128, 16, 0, false);
    run_wgmma<__half, 4, false, true, 2, 8, 2, 6, true>("wb u4 f16 nt2 cw8 r2 st6", small32, 13, 2, false);
    run_wgmma<__half, 4, false, true, 2, 4, 2, 8, false>("ws u4 f16 nt2 cw4 r2 st8", small32, 16, 0, false);
    run_wgmma<__half, 4, false, true, 8, 4, 1, 6, true>("wb u4 f16 nt8 cw4 r1 st6", g128, 61, 3, false);
    run_wgmma<__nv_bfloat16, 4, false, true, 2, 8, 2, 6, true>("wb u4 bf16 nt2 cw8 r2 st6", g128, 16, 3, false);
    run_wgmma<__half, 8, true, false, 4, 8, 2, 4, true>("wb s8 f16 nt4 cw8 r2 st4", g128, 32, 0, false);
    run_wgmma<__nv_bfloat16, 8, true, false, 2, 4, 2, 6, false>("ws s8 bf16 nt2 cw4 r2 st6", small32, 9, 0, false);
    if (only == "wcheck") return 0;
    for (const Shape& sh : sweep) {
      run_config<__half, 4, true, false, 2, 4, 2, 8>("mma s4 nt2 cw4 r2 st8", sh, 16, 0, true);
      run_config<__half, 4, true, false, 2, 8, 2, 6>("mma s4 nt2 cw8 r2 st6", sh, 16, 0, true);
      run_wgmma<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", sh, 16, 0, true);
      run_wgmma<__half, 4, true, false, 2, 8, 2, 6, true>("wb s4 nt2 cw8 r2 st6", sh, 16, 0, true);
      run_wgmma<__half, 4, false, true, 2, 4, 2, 8, false>("ws u4 nt2 cw4 r2 st8", sh, 16, 0, true);
      run_wgmma<__half, 4, false, true, 2, 8, 2, 6, true>("wb u4 nt2 cw8 r2 st6", sh, 16, 0, true);
      run_config<__half, 8, true, false, 2, 8, 2, 5>("mma s8 nt2 cw8 r2 st5", sh, 16, 0, true);
      run_wgmma<__half, 8, true, false, 2, 8, 2, 5, true>("wb s8 nt2 cw8 r2 st5", sh, 16, 0, true);
      run_wgmma<__half, 4, true, false, 4, 4, 2, 6, false>("ws s4 nt4 cw4 r2 st6", sh, 32, 0, true);
      run_wgmma<__half, 4, true, false, 4, 8, 2, 6, true>("wb s4 nt4 cw8 r2 st6", sh, 32, 0, true);
      run_wgmma<__half, 4, true, false, 8, 4, 1, 6, true>("wb s4 nt8 cw4 r1 st6", sh, 64, 0, true);
    }
    return 0;
  }
  if (only == "n64") {   // 64 tokens on the wgmma kernel: row tile, warpgroups, pipeline, stages, splits
    run_wgmma<__half, 4, true, false, 8, 8, 2, 6, true>("wb s4 f16 nt8 cw8 r2 st6", g128, 61, 3, false);
    run_wgmma<__half, 4, false, true, 8, 8, 1, 8, false>("ws u4 f16 nt8 cw8 r1 st8", g128, 64, 2, false);
    for (const Shape& sh : {reported, o8b, qkv8b, down8, gu8, qkv70b, o70b, down, gate_up}) {
      run_wgmma<__half, 4, true, false, 8, 8, 2, 4, true>("wb s4 nt8 cw8 r2 st4", sh, 64, 0, true);
      run_wgmma<__half, 4, true, false, 8, 8, 2, 8, true>("wb s4 nt8 cw8 r2 st8", sh, 64, 0, true);
      run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", sh, 64, 0, true);
      run_wgmma<__half, 4, true, false, 8, 8, 1, 8, true>("wb s4 nt8 cw8 r1 st8", sh, 64, 0, true);
      run_wgmma<__half, 4, true, false, 8, 4, 2, 6, true>("wb s4 nt8 cw4 r2 st6", sh, 64, 0, true);
      if (double(sh.m) * sh.k < 80e6) {   // small layers: more splits than the rule gives
        run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", sh, 64, 8, true);
        run_wgmma<__half, 4, true, false, 8, 8, 2, 4, true>("wb s4 nt8 cw8 r2 st4", sh, 64, 8, true);
      } else {
        run_wgmma<__half, 4, true, false, 8, 8, 2, 8, true>("wb s4 nt8 cw8 r2 st8", sh, 64, 2, true);
      }
    }
    return 0;
  }
  if (only == "fixed") {   // where small layers lose time: K shrunk to a few stages per CTA, and forced splits
    static const Shape ks[] = {{"4096x448", 4096, 448, 64},   {"4096x896", 4096, 896, 64},
                               {"4096x1792", 4096, 1792, 64}, {"4096x4096", 4096, 4096, 64},
                               {"4096x8192", 4096, 8192, 64}, {"4096x16384", 4096, 16384, 64}};
    for (const Shape& sh : ks) run_config<__half, 4, true, false, 1, 4, 2, 8>("s4 nt1 cw4 r2 st8", sh, 1, 7, true);
    for (const Shape& sh : ks) run_config<__half, 4, true, false, 1, 4, 2, 8>("s4 nt1 cw4 r2 st8", sh, 1, 1, true);
    for (int sp : {1, 2, 4, 7, 8}) run_config<__half, 4, true, false, 1, 4, 2, 8>("s4 nt1 cw4 r2 st8", o8b, 1, sp, true);
    for (int sp : {1, 2, 4, 8}) run_config<__half, 4, true, false, 1, 4, 2, 8>("s4 nt1 cw4 r2 st8", reported, 1, sp, true);
    static const Shape ms[] = {{"128x4096", 128, 4096, 64}, {"1024x4096", 1024, 4096, 64}, {"16384x4096", 16384, 4096, 64}};
    for (const Shape& sh : ms) run_config<__half, 4, true, false, 1, 4, 2, 8>("s4 nt1 cw4 r2 st8", sh, 1, 1, true);
    return 0;
  }
  if (only == "tiles") {   // 64-row tiles for small layers: twice the CTAs at the same stages per CTA
    for (const Shape& sh : {reported, o8b, qkv8b, o70b}) {
      run_config<__half, 4, true, false, 1, 4, 2, 8>("s4 nt1 cw4 r2 st8", sh, 1, 0, true);
      run_config<__half, 4, true, false, 1, 4, 2, 8>("s4 nt1 cw4 r2 st8", sh, 1, 8, true);
      run_config<__half, 4, true, false, 1, 4, 1, 8>("s4 nt1 cw4 r1 st8", sh, 1, 0, true);
      run_config<__half, 4, true, false, 1, 4, 1, 8>("s4 nt1 cw4 r1 st8", sh, 1, 8, true);
      run_config<__half, 4, true, false, 1, 2, 2, 8>("s4 nt1 cw2 r2 st8", sh, 1, 8, true);
      run_config<__half, 4, true, false, 1, 2, 2, 8>("s4 nt1 cw2 r2 st8", sh, 8, 8, true);
      run_config<__half, 4, true, false, 1, 4, 2, 8>("s4 nt1 cw4 r2 st8", sh, 8, 0, true);
      run_wgmma<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", sh, 16, 0, true);
      run_wgmma<__half, 4, true, false, 2, 4, 1, 8, false>("ws s4 nt2 cw4 r1 st8", sh, 16, 0, true);
      run_wgmma<__half, 4, true, false, 2, 4, 1, 8, false>("ws s4 nt2 cw4 r1 st8", sh, 16, 8, true);
      run_wgmma<__half, 4, true, false, 4, 4, 2, 6, false>("ws s4 nt4 cw4 r2 st6", sh, 32, 0, true);
      run_wgmma<__half, 4, true, false, 4, 4, 1, 8, false>("ws s4 nt4 cw4 r1 st8", sh, 32, 0, true);
      run_wgmma<__half, 4, true, false, 4, 4, 1, 8, false>("ws s4 nt4 cw4 r1 st8", sh, 32, 8, true);
    }
    return 0;
  }
  if (only == "ring") {   // is a CTA's stage rate set by the ring depth (memory round trip) or the consumers?
    const Shape one{"128x4096", 128, 4096, 64}, o8{"4096x4096", 4096, 4096, 64};
    for (const Shape& sh : {one, o8}) {
      const int sp = sh.m == 128 ? 1 : 7;
      run_config<__half, 4, true, false, 1, 4, 2, 4>("s4 nt1 cw4 r2 st4", sh, 1, sp, true);
      run_config<__half, 4, true, false, 1, 4, 2, 8>("s4 nt1 cw4 r2 st8", sh, 1, sp, true);
      run_config<__half, 4, true, false, 1, 4, 2, 12>("s4 nt1 cw4 r2 st12", sh, 1, sp, true);
      run_config<__half, 4, true, false, 1, 4, 2, 16>("s4 nt1 cw4 r2 st16", sh, 1, sp, true);
      run_config<__half, 4, true, false, 1, 4, 1, 8>("s4 nt1 cw4 r1 st8", sh, 1, sp, true);
      run_config<__half, 4, true, false, 1, 4, 1, 16>("s4 nt1 cw4 r1 st16", sh, 1, sp, true);
      run_config<__half, 4, true, false, 1, 4, 1, 24>("s4 nt1 cw4 r1 st24", sh, 1, sp, true);
    }
    return 0;
  }
  if (only == "probe") {   // where a CTA's time goes: per-CTA timestamps of one launch from HBM
    const Shape one{"128x4096", 128, 4096, 64};
    run_probe<__half, 4, true, false, 1, 4, 2, 8>("s4 nt1 cw4 r2 st8", one, 1, 1);
    run_probe<__half, 4, true, false, 1, 4, 2, 16>("s4 nt1 cw4 r2 st16", one, 1, 1);
    run_probe<__half, 4, true, false, 1, 4, 2, 8>("s4 nt1 cw4 r2 st8", o8b, 1, 0);
    run_probe<__half, 4, true, false, 1, 4, 2, 8>("s4 nt1 cw4 r2 st8", reported, 1, 0);
    run_probe<__half, 4, true, false, 2, 4, 2, 8>("s4 nt2 cw4 r2 st8", reported, 16, 0);
    run_probe<__half, 4, true, false, 1, 8, 2, 6>("s4 nt1 cw8 r2 st6", gate_up, 1, 0);
    return 0;
  }
  if (only == "ring2") {   // deeper rings for the small layers' kernels at the catalog's CTAs per SM
    for (const Shape& sh : {reported, o8b, down8}) {
      run_wgmma<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", sh, 16, 0, true);
      run_wgmma<__half, 4, true, false, 2, 4, 2, 10, false>("ws s4 nt2 cw4 r2 st10", sh, 16, 0, true);
      run_wgmma<__half, 4, true, false, 4, 4, 2, 6, false>("ws s4 nt4 cw4 r2 st6", sh, 32, 0, true);
      run_wgmma<__half, 4, true, false, 4, 4, 2, 8, false>("ws s4 nt4 cw4 r2 st8", sh, 32, 0, true);
      run_kg<__half, 4, true, false, 1, 4, 2, 8, 2>("kg2 s4 nt1 cw4 r2 st8", sh, 1, 0, true);
      run_kg<__half, 4, true, false, 1, 4, 2, 10, 2>("kg2 s4 nt1 cw4 r2 st10", sh, 1, 0, true);
      run_kg<__half, 4, true, false, 1, 4, 2, 12, 2>("kg2 s4 nt1 cw4 r2 st12", sh, 1, 0, true);
    }
    return 0;
  }
  if (only == "epi") {   // the split-K epilogue: the catalog's small-layer configurations, 1 to 64 tokens
    run_wgmma<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 f16 nt2 cw4 r2 st8", g128, 16, 7, false);
    run_wgmma<__nv_bfloat16, 4, true, false, 4, 4, 2, 6, false>("ws s4 bf16 nt4 cw4 r2 st6", g128, 27, 5, false);
    run_wgmma<__half, 4, false, true, 8, 8, 1, 8, false>("ws u4 f16 nt8 cw8 r1 st8", small32, 64, 6, false);
    run_kg<__half, 4, true, false, 1, 4, 2, 8, 2>("kg2 s4 f16 nt1 cw4 r2 st8", g128, 3, 7, false);
    for (const Shape& sh : {reported, o8b, qkv8b, down8, o70b, down}) {
      run_kg<__half, 4, true, false, 1, 4, 2, 8, 2>("kg2 s4 nt1 cw4 r2 st8", sh, 1, 0, true);
      run_wgmma<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", sh, 16, 0, true);
      run_wgmma<__half, 4, true, false, 2, 8, 2, 6, true>("wb s4 nt2 cw8 r2 st6", sh, 16, 0, true);
      run_wgmma<__half, 4, true, false, 4, 4, 2, 6, false>("ws s4 nt4 cw4 r2 st6", sh, 32, 0, true);
      run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", sh, 64, 0, true);
    }
    run_wgmma_probe<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", reported, 16, 0);
    run_wgmma_probe<__half, 4, true, false, 4, 4, 2, 6, false>("ws s4 nt4 cw4 r2 st6", reported, 32, 0);
    run_wgmma_probe<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", reported, 64, 0);
    run_wgmma_probe<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", o8b, 64, 0);
    return 0;
  }
  if (only == "splits") {   // split counts now that the split-K exchange is cheap: the catalog's configurations
    {
      int dev = 0;
      CK(cudaGetDevice(&dev));
      auto show = [&](const char* label, const int* cap, int per_sm) {
        std::printf("%s: %d CTAs per SM; clusters of 1..8 that fit at once:", label, per_sm);
        for (int sp = 1; sp <= kMaxSplits; ++sp) std::printf(" %d", cap[sp]);
        std::printf("\n");
      };
      using K1 = Launcher<__half, 4, true, false, 1, 4, 2, 8, &decode_kernel<__half, 4, true, false, 1, 4, 2, 8, 2>,
                          false, false, 2>;
      using W16 = wg::Launcher<__half, 4, true, false, 2, 4, 2, 8, false>;
      using B16 = wg::Launcher<__half, 4, true, false, 2, 8, 2, 6, true>;
      using W32 = wg::Launcher<__half, 4, true, false, 4, 4, 2, 6, false>;
      show("kg2 s4 nt1 cw4 r2 st8", K1::occupancy(dev).capacity.clusters[K1::ctas_per_sm(dev)], K1::occupancy(dev).ctas_per_sm);
      show("ws s4 nt2 cw4 r2 st8", W16::occupancy(dev).capacity.clusters[W16::ctas_per_sm(dev)], W16::occupancy(dev).ctas_per_sm);
      show("wb s4 nt2 cw8 r2 st6", B16::occupancy(dev).capacity.clusters[B16::ctas_per_sm(dev)], B16::occupancy(dev).ctas_per_sm);
      show("ws s4 nt4 cw4 r2 st6", W32::occupancy(dev).capacity.clusters[W32::ctas_per_sm(dev)], W32::occupancy(dev).ctas_per_sm);
    }
    if (std::getenv("DEV_CAPACITY_ONLY")) return 0;
    if (std::getenv("DEV_PLACEMENT")) {   // where the CTAs of one launch run, for the split counts in question
      for (int sp : {7, 8}) run_wgmma_probe<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", down8, 16, sp);
      for (int sp : {4, 5, 6}) run_wgmma_probe<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", qkv8b, 16, sp);
      for (int sp : {4, 5}) run_wgmma_probe<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", o70b, 16, sp);
      for (int sp : {8}) run_wgmma_probe<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", reported, 16, sp);
      return 0;
    }
    for (const Shape& sh : {reported, o8b, qkv8b, down8, o70b, qkv70b, down}) {
      for (int sp : {0, 4, 5, 6, 7, 8}) {
        run_kg<__half, 4, true, false, 1, 4, 2, 8, 2>("kg2 s4 nt1 cw4 r2 st8", sh, 1, sp, true);
        run_wgmma<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", sh, 16, sp, true);
        run_wgmma<__half, 4, true, false, 2, 8, 2, 6, true>("wb s4 nt2 cw8 r2 st6", sh, 16, sp, true);
        run_wgmma<__half, 4, true, false, 4, 4, 2, 6, false>("ws s4 nt4 cw4 r2 st6", sh, 32, sp, true);
      }
    }
    return 0;
  }
  if (only == "u4splits") {   // uint4 at 1 token: split counts on the small layers, against int4 at its plan's count
    for (const Shape& sh : {reported, o8b, qkv8b, down8, o70b}) {
      run_kg<__half, 4, true, false, 1, 4, 2, 8, 2>("kg2 s4 nt1 cw4 r2 st8", sh, 1, 0, true);
      for (int sp : {0, 3, 4, 5, 6, 7, 8})
        run_kg<__half, 4, false, true, 1, 4, 2, 8, 2>("kg2 u4 nt1 cw4 r2 st8", sh, 1, sp, true);
    }
    return 0;
  }
  if (only == "s8splits") {   // int8 split counts on the small layers (the split model's stage table is 4-bit's)
    if (std::getenv("DEV_S8_N16")) {   // 16 tokens: two consumer groups against the catalog's one
      for (const Shape& sh : {reported, o8b, qkv8b, down8, o70b})
        for (int sp : {0, 2, 3, 4}) {
          run_config<__half, 8, true, false, 2, 4, 2, 8>("mma s8 nt2 cw4 r2 st8", sh, 16, sp, true);
          run_kg<__half, 8, true, false, 2, 4, 2, 8, 2>("kg2 s8 nt2 cw4 r2 st8", sh, 16, sp, true);
        }
      return 0;
    }
    if (std::getenv("DEV_S8_GROUPS")) {   // 1 token: one consumer group against the catalog's two
      const Shape more[] = {reported, o8b, qkv8b, down8, o70b, {"2048x4096", 2048, 4096, 128},
                            {"5120x5120", 5120, 5120, 128}, {"5120x13824", 5120, 13824, 128}};
      for (const Shape& sh : more)
        for (int sp : {0, 2, 3, 4}) {
          run_kg<__half, 8, true, false, 1, 4, 2, 8, 2>("kg2 s8 nt1 cw4 r2 st8", sh, 1, sp, true);
          run_config<__half, 8, true, false, 1, 4, 2, 8>("mma s8 nt1 cw4 r2 st8", sh, 1, sp, true);
        }
      return 0;
    }
    for (const Shape& sh : {reported, o8b, qkv8b, down8, o70b}) {
      for (int sp : {0, 3, 4, 5, 6, 7, 8}) {
        run_kg<__half, 8, true, false, 1, 4, 2, 8, 2>("kg2 s8 nt1 cw4 r2 st8", sh, 1, sp, true);
        run_config<__half, 8, true, false, 2, 4, 2, 8>("mma s8 nt2 cw4 r2 st8", sh, 16, sp, true);
      }
    }
    return 0;
  }
  if (only == "stages256") {   // ring depth of the 256-row wgmma tiles (16 and 32 tokens), and 70b.down's split count at 32
    for (const Shape& sh : {gate_up, down, gu8, qkv70b}) {
      run_wgmma<__half, 4, true, false, 2, 8, 2, 6, true>("wb s4 nt2 cw8 r2 st6", sh, 16, 0, true);
      run_wgmma<__half, 4, true, false, 2, 8, 2, 8, true>("wb s4 nt2 cw8 r2 st8", sh, 16, 0, true);
      run_wgmma<__half, 4, true, false, 4, 8, 2, 6, true>("wb s4 nt4 cw8 r2 st6", sh, 32, 0, true);
      run_wgmma<__half, 4, true, false, 4, 8, 2, 7, true>("wb s4 nt4 cw8 r2 st7", sh, 32, 0, true);
      run_wgmma<__half, 4, true, false, 4, 8, 2, 8, true>("wb s4 nt4 cw8 r2 st8", sh, 32, 0, true);
    }
    for (int sp : {4, 5, 6, 8}) run_wgmma<__half, 4, true, false, 4, 8, 2, 6, true>("wb s4 nt4 cw8 r2 st6", down, 32, sp, true);
    return 0;
  }
  if (only == "n48") {
    // correctness: odd M, group 32, N below the bucket, split counts, uint4, bf16
    run_wgmma<__half, 4, true, false, 6, 8, 1, 8, false>("ws s4 f16 nt6 cw8 r1 st8", g128, 45, 3, false);
    run_wgmma<__nv_bfloat16, 4, true, false, 6, 8, 1, 8, false>("ws s4 bf16 nt6 cw8 r1 st8", small32, 48, 0, false);
    run_wgmma<__half, 4, false, true, 6, 8, 1, 8, false>("ws u4 f16 nt6 cw8 r1 st8", g128, 33, 5, false);
    run_wgmma<__nv_bfloat16, 4, false, true, 6, 8, 1, 8, false>("ws u4 bf16 nt6 cw8 r1 st8", perchan, 40, 2, false);
    for (const Shape& sh : {reported, o8b, qkv8b, down8, o70b, qkv70b}) {
      for (int n : {40, 48}) {
        run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", sh, n, 0, true);
        run_wgmma<__half, 4, true, false, 6, 8, 1, 8, false>("ws s4 nt6 cw8 r1 st8", sh, n, 0, true);
      }
      run_wgmma<__half, 4, true, false, 6, 8, 1, 10, false>("ws s4 nt6 cw8 r1 st10", sh, 48, 0, true);
      run_wgmma<__nv_bfloat16, 4, true, false, 8, 8, 1, 8, false>("ws s4 bf16 nt8 cw8 r1 st8", sh, 48, 0, true);
      run_wgmma<__nv_bfloat16, 4, true, false, 6, 8, 1, 8, false>("ws s4 bf16 nt6 cw8 r1 st8", sh, 48, 0, true);
      run_wgmma<__half, 4, false, true, 8, 8, 1, 8, false>("ws u4 nt8 cw8 r1 st8", sh, 48, 0, true);
      run_wgmma<__half, 4, false, true, 6, 8, 1, 8, false>("ws u4 nt6 cw8 r1 st8", sh, 48, 0, true);
    }
    return 0;
  }
  if (only == "n48wide") {   // 48 tokens on the large layers: 256-row tiles (per-K-block pipeline) against 128
    run_wgmma<__half, 4, true, false, 6, 8, 2, 6, true>("wb s4 f16 nt6 cw8 r2 st6", g128, 45, 3, false);
    run_wgmma<__nv_bfloat16, 4, false, true, 6, 8, 2, 6, true>("wb u4 bf16 nt6 cw8 r2 st6", small32, 40, 0, false);
    for (const Shape& sh : {qkv70b, gu8, down, gate_up}) {
      run_wgmma<__half, 4, true, false, 6, 8, 1, 8, false>("ws s4 nt6 cw8 r1 st8", sh, 48, 0, true);
      run_wgmma<__half, 4, true, false, 6, 8, 2, 5, true>("wb s4 nt6 cw8 r2 st5", sh, 48, 0, true);
      run_wgmma<__half, 4, true, false, 6, 8, 2, 6, true>("wb s4 nt6 cw8 r2 st6", sh, 48, 0, true);
      run_wgmma<__half, 4, true, false, 4, 8, 2, 6, true>("wb s4 nt4 cw8 r2 st6", sh, 32, 0, true);
    }
    return 0;
  }
  if (only == "s8wg") {
    run_wgmma<__half, 8, true, false, 2, 4, 2, 8, false>("ws s8 f16 nt2 cw4 r2 st8", g128, 13, 3, false);
    run_wgmma<__nv_bfloat16, 8, true, false, 2, 4, 2, 8, false>("ws s8 bf16 nt2 cw4 r2 st8", small32, 16, 0, false);
    for (const Shape& sh : {reported, o8b, qkv8b, down8, o70b}) {
      for (int n : {1, 16}) {
        g_max_ctas = 132;
        if (n == 1)
          run_kg<__half, 8, true, false, 1, 4, 2, 8, 2>("kg2 s8 nt1 cw4 r2 st8 cap", sh, n, 0, true);
        else
          run_kg<__half, 8, true, false, 2, 4, 2, 8, 2>("kg2 s8 nt2 cw4 r2 st8 cap", sh, n, 0, true);
        run_wgmma<__half, 8, true, false, 2, 4, 2, 8, false>("ws s8 nt2 cw4 r2 st8 cap", sh, n, 0, true);
        g_max_ctas = 0;
        run_wgmma<__half, 8, true, false, 2, 4, 2, 8, false>("ws s8 nt2 cw4 r2 st8", sh, n, 0, true);
        run_wgmma<__half, 8, true, false, 2, 4, 2, 6, false>("ws s8 nt2 cw4 r2 st6", sh, n, 0, true);
      }
    }
    for (int sp : {0, 5, 6, 8}) {
      run_wgmma<__half, 4, true, false, 2, 8, 2, 6, true>("wb s4 nt2 cw8 r2 st6", down, 16, sp, true);
      run_wgmma<__nv_bfloat16, 4, true, false, 2, 8, 2, 6, true>("wb s4 bf16 nt2 cw8 r2 st6", down, 16, sp, true);
    }
    return 0;
  }
  if (only == "rows64") {   // 64 tokens: 64-row tiles (one warpgroup) against the catalog's 128-row tile, and the
                            // walk rule (stages per CTA x waves under each launch plan, real cluster capacities)
    using L128 = wg::Launcher<__half, 4, true, false, 8, 8, 1, 8, false>;
    using L64 = wg::Launcher<__half, 4, true, false, 8, 4, 1, 6, false>;
    int dev = 0, sms = 0;
    CK(cudaGetDevice(&dev));
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    auto walk = [&](auto occ, int rows, const Shape& sh) {
      const int64_t tiles = (sh.m + rows - 1) / rows;
      const SplitPlan pl = rows == 64 ? L64::plan(sh.m, sh.k, sms, dev) : L128::plan(sh.m, sh.k, sms, dev);
      const int64_t per = int64_t(sms) * std::max(1, occ.ctas_per_sm);
      return std::make_pair(pl.splits, ((tiles * pl.splits + per - 1) / per) * pl.stages_per_cta);
    };
    const Shape more[] = {reported, o8b, qkv8b, down8, o70b, qkv70b,
                          {"2048x4096", 2048, 4096, 128}, {"5120x5120", 5120, 5120, 128},
                          {"13824x5120", 13824, 5120, 128}, {"5120x13824", 5120, 13824, 128},
                          {"15360x5120", 15360, 5120, 128}, gu8};
    run_wgmma<__half, 4, true, false, 8, 4, 1, 6, false>("ws s4 f16 nt8 cw4 r1 st6", g128, 61, 3, false);
    run_wgmma<__nv_bfloat16, 4, false, true, 8, 4, 1, 6, false>("ws u4 bf16 nt8 cw4 r1 st6", small32, 50, 0, false);
    for (const Shape& sh : more) {
      const auto w128 = walk(L128::occupancy(dev), 128, sh), w64 = walk(L64::occupancy(dev), 64, sh);
      std::printf("%s: 128 rows %d splits, walk %lld | 64 rows %d splits, walk %lld | ratio %.2f -> %s\n", sh.name,
                  w128.first, (long long)w128.second, w64.first, (long long)w64.second,
                  double(w64.second) / double(w128.second), w64.second <= 1.3 * w128.second ? "64" : "128");
      for (int n : {48, 64}) {
        run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", sh, n, 0, true);
        run_wgmma<__half, 4, true, false, 8, 4, 1, 6, false>("ws s4 nt8 cw4 r1 st6", sh, n, 0, true);
      }
    }
    return 0;
  }
  if (only == "rows64b") {   // 64-row tiles at 32 and 48 tokens on the small layers; int8 256-row tiles at 16 tokens
    run_wgmma<__half, 4, true, false, 4, 4, 1, 8, false>("ws s4 f16 nt4 cw4 r1 st8", g128, 29, 3, false);
    run_wgmma<__half, 4, true, false, 6, 4, 1, 8, false>("ws s4 f16 nt6 cw4 r1 st8", small32, 40, 0, false);
    for (const Shape& sh : {o8b, reported, qkv8b, o70b, down8}) {
      run_wgmma<__half, 4, true, false, 4, 4, 2, 6, false>("ws s4 nt4 cw4 r2 st6", sh, 32, 0, true);
      run_wgmma<__half, 4, true, false, 4, 4, 1, 8, false>("ws s4 nt4 cw4 r1 st8", sh, 32, 0, true);
      run_wgmma<__half, 4, true, false, 6, 8, 1, 8, false>("ws s4 nt6 cw8 r1 st8", sh, 48, 0, true);
      run_wgmma<__half, 4, true, false, 6, 4, 1, 8, false>("ws s4 nt6 cw4 r1 st8", sh, 48, 0, true);
    }
    for (const Shape& sh : {qkv8b, o8b}) {
      g_max_ctas = 132;
      run_kg<__half, 8, true, false, 2, 4, 2, 8, 2>("kg2 s8 nt2 cw4 r2 st8 cap", sh, 16, 0, true);
      run_config<__half, 8, true, false, 2, 8, 2, 5>("mma s8 nt2 cw8 r2 st5 cap", sh, 16, 0, true);
      g_max_ctas = 0;
      run_config<__half, 8, true, false, 2, 8, 2, 5>("mma s8 nt2 cw8 r2 st5", sh, 16, 0, true);
    }
    return 0;
  }
  if (only == "data32") {   // the large layers at 32 tokens: uniform random data against quantised-normal data
    for (bool nd : {false, true, false, true}) {
      g_normal_data = nd;
      std::printf("data: %s\n", nd ? "quantised normal" : "uniform");
      run_wgmma<__half, 4, true, false, 4, 8, 2, 6, true>("wb s4 nt4 cw8 r2 st6", gate_up, 32, 0, true);
      run_wgmma<__nv_bfloat16, 4, true, false, 4, 8, 2, 6, true>("wb s4 bf16 nt4 cw8 r2 st6", gate_up, 32, 0, true);
      run_wgmma<__half, 4, true, false, 4, 8, 2, 6, true>("wb s4 nt4 cw8 r2 st6", down, 32, 0, true);
      run_wgmma<__half, 4, true, false, 2, 8, 2, 6, true>("wb s4 nt2 cw8 r2 st6", down, 16, 0, true);
    }
    return 0;
  }
  if (only == "large16") {   // 16 tokens on the large layers: the wgmma kernel against decode_kernel's mma.sync
    for (const Shape& sh : {down, gate_up, gu8, qkv70b}) {
      run_wgmma<__half, 4, true, false, 2, 8, 2, 6, true>("wb s4 nt2 cw8 r2 st6", sh, 16, 0, true);
      run_config<__half, 4, true, false, 2, 8, 2, 6>("mma s4 nt2 cw8 r2 st6", sh, 16, 0, true);
      run_wgmma<__nv_bfloat16, 4, true, false, 2, 8, 2, 6, true>("wb s4 bf16 nt2 cw8 r2 st6", sh, 16, 0, true);
      run_config<__nv_bfloat16, 4, true, false, 2, 8, 2, 6>("mma s4 bf16 nt2 cw8 r2 st6", sh, 16, 0, true);
      run_kg<__half, 4, true, false, 1, 8, 2, 6, 1>("mma s4 nt1 cw8 r2 st6 (N=8)", sh, 8, 0, true);
    }
    return 0;
  }
  if (only == "nox") {
    for (const Shape& sh : {gate_up, down, gu8}) {
      run_nox<__half, 4, true, false, 2, 8, 2, 6, true>("wb s4 nt2 cw8 r2 st6", sh, 16);
      run_nox<__half, 4, true, false, 4, 8, 2, 6, true>("wb s4 nt4 cw8 r2 st6", sh, 32);
      run_nox<__half, 4, true, false, 8, 8, 2, 4, true>("wb s4 nt8 cw8 r2 st4", sh, 64);
    }
    for (const Shape& sh : {reported, o70b}) {
      run_nox<__half, 4, true, false, 4, 4, 2, 6, false>("ws s4 nt4 cw4 r2 st6", sh, 32);
      run_nox<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", sh, 64);
    }
    return 0;
  }
  if (only == "floors") {   // read floor, the catalog's kernel, and its pipeline with trivial consumers
    for (const Shape& sh : {reported, o8b, qkv8b, o70b, down, gate_up}) run_read_floor(sh, 4);
    for (const Shape& sh : {reported, o8b, qkv8b, o70b}) {
      run_catalog_and_copies<WeightType::S4, 2, 128>("cat s4 128x16", sh, 16);
      run_catalog_and_copies<WeightType::S4, 8, 64>("cat s4 64x64", sh, 64);
      run_catalog_and_copies<WeightType::S4, 8, 128>("cat s4 128x64", sh, 64);
    }
    for (const Shape& sh : {down, gate_up}) {
      run_catalog_and_copies<WeightType::S4, 2, 256>("cat s4 256x16", sh, 16);
      run_catalog_and_copies<WeightType::S4, 4, 256>("cat s4 256x32", sh, 32);
      run_catalog_and_copies<WeightType::S4, 8, 128>("cat s4 128x64", sh, 64);
    }
    return 0;
  }
  if (only == "bf16") {   // the catalog's bf16 wgmma configurations (and fp16 beside some, for the drift)
    using B = __nv_bfloat16;
    using F = __half;
    for (const Shape& sh : {reported, o8b, qkv8b, o70b}) {
      run_decode_entry<B, WeightType::S4, 2, 128, true>("cat s4 bf16 128x16", sh, 16);
      run_decode_entry<F, WeightType::S4, 2, 128, true>("cat s4 f16 128x16", sh, 16);
      run_decode_entry<B, WeightType::U4, 2, 128, true>("cat u4 bf16 128x16", sh, 16);
      run_decode_entry<B, WeightType::S4, 4, 128, true>("cat s4 bf16 128x32", sh, 32);
      run_decode_entry<B, WeightType::S4, 4, 64, true>("cat s4 bf16 64x32", sh, 32);
      run_decode_entry<F, WeightType::S4, 4, 64, true>("cat s4 f16 64x32", sh, 32);
      run_decode_entry<B, WeightType::S4, 6, 64, true>("cat s4 bf16 64x48", sh, 48);
      run_decode_entry<F, WeightType::S4, 6, 64, true>("cat s4 f16 64x48", sh, 48);
      run_decode_entry<F, WeightType::S4, 6, 128, true>("cat s4 f16 128x48", sh, 48);
      run_decode_entry<B, WeightType::S4, 8, 64, true>("cat s4 bf16 64x64", sh, 64);
      run_decode_entry<F, WeightType::S4, 8, 64, true>("cat s4 f16 64x64", sh, 64);
      run_decode_entry<B, WeightType::S4, 8, 128, true>("cat s4 bf16 128x64", sh, 64);
    }
    for (const Shape& sh : {down, gate_up}) {
      run_decode_entry<B, WeightType::S4, 2, 256, true>("cat s4 bf16 256x16", sh, 16);
      run_decode_entry<F, WeightType::S4, 2, 256, true>("cat s4 f16 256x16", sh, 16);
      run_decode_entry<B, WeightType::U4, 2, 256, true>("cat u4 bf16 256x16", sh, 16);
      run_decode_entry<B, WeightType::S4, 4, 256, true>("cat s4 bf16 256x32", sh, 32);
      run_decode_entry<B, WeightType::S4, 8, 128, true>("cat s4 bf16 128x64", sh, 64);
    }
    return 0;
  }
  if (only == "u4cat") {   // the catalog's uint4 decode configurations, fp16, at 1, 16, 32 and 64 tokens
    using F = __half;
    for (const Shape& sh : {reported, o8b, qkv8b, down8, o70b, qkv70b}) {
      run_decode_entry<F, WeightType::U4, 1, 128, false>("cat u4 128x8 mma.sync", sh, 1);
      run_decode_entry<F, WeightType::S4, 1, 128, false>("cat s4 128x8 mma.sync", sh, 1);
      run_decode_entry<F, WeightType::U4, 2, 128, true>("cat u4 128x16", sh, 16);
      run_decode_entry<F, WeightType::S4, 2, 128, true>("cat s4 128x16", sh, 16);
      run_decode_entry<F, WeightType::U4, 4, 128, true>("cat u4 128x32", sh, 32);
      run_decode_entry<F, WeightType::U4, 8, 64, true>("cat u4 64x64", sh, 64);
    }
    for (const Shape& sh : {down, gate_up}) {
      run_decode_entry<F, WeightType::U4, 1, 256, false>("cat u4 256x8 mma.sync", sh, 1);
      run_decode_entry<F, WeightType::U4, 2, 256, true>("cat u4 256x16", sh, 16);
      run_decode_entry<F, WeightType::S4, 2, 256, true>("cat s4 256x16", sh, 16);
      run_decode_entry<F, WeightType::U4, 4, 256, true>("cat u4 256x32", sh, 32);
    }
    return 0;
  }
  if (only == "pace") {   // the consumers' own pace: the catalog's wgmma configurations with and without loads
    for (const Shape& sh : {down, gate_up, qkv70b}) {
      run_pace<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", sh, 64);
      run_pace<__half, 4, true, false, 4, 8, 2, 6, true>("wb s4 nt4 cw8 r2 st6", sh, 32);
      run_pace<__half, 4, true, false, 2, 8, 2, 6, true>("wb s4 nt2 cw8 r2 st6", sh, 16);
    }
    for (const Shape& sh : {reported, o8b, qkv8b}) {
      run_pace<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", sh, 16);
      run_pace<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", sh, 64);
      run_pace<__half, 4, true, false, 8, 4, 1, 6, false>("ws s4 nt8 cw4 r1 st6", sh, 64);
    }
    return 0;
  }
  if (only == "large64") {   // 64 tokens on the large layers, 128-row tiles: split counts, with and without loads
    using LN = Launcher<__half, 4, true, false, 8, 8, 1, 8,
                        &wg::decode_wgmma_kernel<__half, 4, true, false, 8, 8, 1, 8, false, NothingLoaded>,
                        /*Pdl=*/false, /*SumWarp=*/false>;
    for (const Shape& sh : {down, gate_up, qkv70b, gu8}) {
      for (int sp : {1, 2, 3, 4, 5, 6, 8}) {
        if (sh.k / 64 < sp * 4) continue;
        run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", sh, 64, sp, true);
        run_with<LN, __half, 4, true, false>("ws s4 nt8 cw8 r1 st8 nothing", sh, 64, sp, true);
      }
    }
    return 0;
  }
  if (only == "pwu4") {   // uint4 at 16 tokens (four boxes a stage): one producer warp against two, and int4 beside it
    for (int rep = 0; rep < 2; ++rep) {
      for (const Shape& sh : {reported, o8b, qkv8b, down8, o70b, qkv70b}) {
        run_wgmma<__half, 4, true, false, 2, 4, 2, 8, false, 1>("ws s4 nt2 cw4 r2 st8 pw1", sh, 16, 0, true);
        run_wgmma<__half, 4, false, true, 2, 4, 2, 8, false, 1>("ws u4 nt2 cw4 r2 st8 pw1", sh, 16, 0, true);
        run_wgmma<__half, 4, false, true, 2, 4, 2, 8, false, 2>("ws u4 nt2 cw4 r2 st8 pw2", sh, 16, 0, true);
      }
      for (const Shape& sh : {down, gate_up, gu8}) {
        run_wgmma<__half, 4, true, false, 2, 8, 2, 6, true, 1>("wb s4 nt2 cw8 r2 st6 pw1", sh, 16, 0, true);
        run_wgmma<__half, 4, false, true, 2, 8, 2, 6, true, 1>("wb u4 nt2 cw8 r2 st6 pw1", sh, 16, 0, true);
        run_wgmma<__half, 4, false, true, 2, 8, 2, 6, true, 2>("wb u4 nt2 cw8 r2 st6 pw2", sh, 16, 0, true);
      }
    }
    run_wgmma<__half, 4, false, true, 2, 8, 2, 6, true, 2>("wb u4 nt2 cw8 r2 st6 pw2", g128, 13, 3, false);
    run_wgmma<__half, 4, false, true, 2, 4, 2, 8, false, 2>("ws u4 nt2 cw4 r2 st8 pw2", small32, 16, 0, false);
    return 0;
  }
  if (only == "s8small") {   // int8 (two groups, two producers) split counts on 8b.o and 8b.qkv, the T5 cells
    for (int rep = 0; rep < 2; ++rep) {
      for (int sp : {2, 3, 4, 5}) {
        run_kg<__half, 8, true, false, 2, 4, 2, 8, 2, 2>("kg2 s8 nt2 cw4 r2 st8 pw2", o8b, 16, sp, true);
        run_kg<__half, 8, true, false, 1, 4, 2, 8, 2, 2>("kg2 s8 nt1 cw4 r2 st8 pw2", o8b, 1, sp, true);
        run_kg<__half, 8, true, false, 2, 4, 2, 8, 2, 2>("kg2 s8 nt2 cw4 r2 st8 pw2", qkv8b, 16, sp, true);
      }
      run_config<__half, 8, true, false, 2, 8, 2, 5>("mma s8 nt2 cw8 r2 st5 (256 rows)", o8b, 16, 0, true);
      run_config<__half, 8, true, false, 2, 8, 2, 5>("mma s8 nt2 cw8 r2 st5 (256 rows)", qkv8b, 16, 0, true);
    }
    return 0;
  }
  if (only == "s8cap") {   // int8 two-group kernel with two producers: the one-CTA-per-SM cap against the plan's own count
    for (int rep = 0; rep < 2; ++rep) {
      for (const Shape& sh : {reported, o8b, qkv8b, down8, o70b}) {
        for (int cap : {132, 0}) {
          g_max_ctas = cap;
          run_kg<__half, 8, true, false, 2, 4, 2, 8, 2, 2>(cap ? "kg2 s8 nt2 cw4 r2 st8 pw2 cap" : "kg2 s8 nt2 cw4 r2 st8 pw2 nocap", sh, 16, 0, true);
          run_kg<__half, 8, true, false, 1, 4, 2, 8, 2, 2>(cap ? "kg2 s8 nt1 cw4 r2 st8 pw2 cap" : "kg2 s8 nt1 cw4 r2 st8 pw2 nocap", sh, 1, 0, true);
        }
        g_max_ctas = 0;
      }
    }
    return 0;
  }
  if (only == "pwmma") {   // producer warps 1 / 2 on decode_kernel (mma.sync): int8 at 1 and 16 tokens (capped at one
                            // CTA per SM, as the catalog runs it) and int4 / uint4 at 8 tokens, twice
    for (int rep = 0; rep < 2; ++rep) {
      for (const Shape& sh : {reported, o8b, qkv8b, down8, o70b, qkv70b}) {
        g_max_ctas = 132;
        run_kg<__half, 8, true, false, 2, 4, 2, 8, 2, 1>("kg2 s8 nt2 cw4 r2 st8 pw1 cap", sh, 16, 0, true);
        run_kg<__half, 8, true, false, 2, 4, 2, 8, 2, 2>("kg2 s8 nt2 cw4 r2 st8 pw2 cap", sh, 16, 0, true);
        run_kg<__half, 8, true, false, 1, 4, 2, 8, 2, 1>("kg2 s8 nt1 cw4 r2 st8 pw1 cap", sh, 1, 0, true);
        run_kg<__half, 8, true, false, 1, 4, 2, 8, 2, 2>("kg2 s8 nt1 cw4 r2 st8 pw2 cap", sh, 1, 0, true);
        g_max_ctas = 0;
        run_kg<__half, 4, true, false, 1, 4, 2, 8, 2, 1>("kg2 s4 nt1 cw4 r2 st8 pw1", sh, 1, 0, true);
        run_kg<__half, 4, true, false, 1, 4, 2, 8, 2, 2>("kg2 s4 nt1 cw4 r2 st8 pw2", sh, 1, 0, true);
        run_kg<__half, 4, false, true, 1, 4, 2, 8, 2, 1>("kg2 u4 nt1 cw4 r2 st8 pw1", sh, 1, 0, true);
        run_kg<__half, 4, false, true, 1, 4, 2, 8, 2, 2>("kg2 u4 nt1 cw4 r2 st8 pw2", sh, 1, 0, true);
      }
    }
    run_kg<__half, 8, true, false, 2, 4, 2, 8, 2, 2>("kg2 s8 nt2 cw4 r2 st8 pw2", g128, 13, 3, false);
    run_kg<__nv_bfloat16, 4, false, true, 1, 4, 2, 8, 2, 2>("kg2 u4 bf16 nt1 cw4 r2 st8 pw2", small32, 5, 0, false);
    run_kg<__half, 4, true, false, 1, 4, 2, 8, 2, 2>("kg2 s4 nt1 cw4 r2 st8 pw2", perchan, 1, 5, false);
    return 0;
  }
  if (only == "pwdata") {   // producer warps 1 / 2 at 64 tokens: uniform random data against quantised-normal data
    for (bool nd : {false, true, false, true}) {
      g_normal_data = nd;
      std::printf("data: %s\n", nd ? "quantised normal" : "uniform");
      run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false, 1>("ws s4 nt8 cw8 r1 st8 pw1", down, 64, 0, true);
      run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false, 2>("ws s4 nt8 cw8 r1 st8 pw2", down, 64, 0, true);
      run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false, 1>("ws s4 nt8 cw8 r1 st8 pw1", o70b, 64, 0, true);
      run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false, 2>("ws s4 nt8 cw8 r1 st8 pw2", o70b, 64, 0, true);
      run_wgmma<__half, 4, true, false, 8, 4, 1, 6, false, 1>("ws s4 nt8 cw4 r1 st6 pw1", qkv70b, 64, 0, true);
      run_wgmma<__half, 4, true, false, 8, 4, 1, 6, false, 2>("ws s4 nt8 cw4 r1 st6 pw2", qkv70b, 64, 0, true);
    }
    return 0;
  }
  if (only == "pwsmall") {   // producer warps 1 / 2 on the small layers' 32-64 token configurations, run twice
    for (int rep = 0; rep < 2; ++rep) {
      for (const Shape& sh : {reported, o8b, qkv8b, down8, o70b, qkv70b}) {
        run_wgmma<__half, 4, true, false, 4, 4, 2, 6, false, 1>("ws s4 nt4 cw4 r2 st6 pw1", sh, 32, 0, true);
        run_wgmma<__half, 4, true, false, 4, 4, 2, 6, false, 2>("ws s4 nt4 cw4 r2 st6 pw2", sh, 32, 0, true);
        run_wgmma<__half, 4, true, false, 4, 4, 1, 8, false, 1>("ws s4 nt4 cw4 r1 st8 pw1", sh, 32, 0, true);
        run_wgmma<__half, 4, true, false, 4, 4, 1, 8, false, 2>("ws s4 nt4 cw4 r1 st8 pw2", sh, 32, 0, true);
        run_wgmma<__half, 4, true, false, 6, 8, 1, 8, false, 1>("ws s4 nt6 cw8 r1 st8 pw1", sh, 48, 0, true);
        run_wgmma<__half, 4, true, false, 6, 8, 1, 8, false, 2>("ws s4 nt6 cw8 r1 st8 pw2", sh, 48, 0, true);
        run_wgmma<__half, 4, true, false, 6, 4, 1, 8, false, 1>("ws s4 nt6 cw4 r1 st8 pw1", sh, 48, 0, true);
        run_wgmma<__half, 4, true, false, 6, 4, 1, 8, false, 2>("ws s4 nt6 cw4 r1 st8 pw2", sh, 48, 0, true);
        run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false, 1>("ws s4 nt8 cw8 r1 st8 pw1", sh, 64, 0, true);
        run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false, 2>("ws s4 nt8 cw8 r1 st8 pw2", sh, 64, 0, true);
        run_wgmma<__half, 4, true, false, 8, 4, 1, 6, false, 1>("ws s4 nt8 cw4 r1 st6 pw1", sh, 64, 0, true);
        run_wgmma<__half, 4, true, false, 8, 4, 1, 6, false, 2>("ws s4 nt8 cw4 r1 st6 pw2", sh, 64, 0, true);
      }
    }
    return 0;
  }
  if (only == "prod4") {   // producer warps 1 / 2 / 4 on the large layers' configurations, run twice
    for (int rep = 0; rep < 2; ++rep) {
      for (const Shape& sh : {down, gate_up}) {
        const int sp = sh.m == down.m && sh.k == down.k ? 2 : 0;
        run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false, 1>("ws s4 nt8 cw8 r1 st8 pw1", sh, 64, sp, true);
        run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false, 2>("ws s4 nt8 cw8 r1 st8 pw2", sh, 64, sp, true);
        run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false, 4>("ws s4 nt8 cw8 r1 st8 pw4", sh, 64, sp, true);
        run_wgmma<__half, 4, true, false, 8, 8, 1, 16, false, 2>("ws s4 nt8 cw8 r1 st16 pw2", sh, 64, sp, true);
        run_wgmma<__half, 4, true, false, 4, 8, 2, 6, true, 1>("wb s4 nt4 cw8 r2 st6 pw1", sh, 32, 0, true);
        run_wgmma<__half, 4, true, false, 4, 8, 2, 6, true, 2>("wb s4 nt4 cw8 r2 st6 pw2", sh, 32, 0, true);
        run_wgmma<__half, 4, true, false, 2, 8, 2, 6, true, 1>("wb s4 nt2 cw8 r2 st6 pw1", sh, 16, 0, true);
        run_wgmma<__half, 4, true, false, 2, 8, 2, 6, true, 2>("wb s4 nt2 cw8 r2 st6 pw2", sh, 16, 0, true);
      }
      for (const Shape& sh : {qkv70b, gu8, o70b}) {
        run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false, 1>("ws s4 nt8 cw8 r1 st8 pw1", sh, 64, 0, true);
        run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false, 2>("ws s4 nt8 cw8 r1 st8 pw2", sh, 64, 0, true);
        run_wgmma<__half, 4, true, false, 8, 4, 1, 6, false, 1>("ws s4 nt8 cw4 r1 st6 pw1", sh, 64, 0, true);
        run_wgmma<__half, 4, true, false, 8, 4, 1, 6, false, 2>("ws s4 nt8 cw4 r1 st6 pw2", sh, 64, 0, true);
      }
    }
    run_wgmma<__nv_bfloat16, 4, true, false, 8, 8, 1, 8, false, 2>("ws s4 bf16 nt8 cw8 r1 st8 pw2", small32, 64, 0, false);
    run_wgmma<__half, 4, true, false, 4, 8, 2, 6, true, 2>("wb s4 nt4 cw8 r2 st6 pw2", g128, 29, 3, false);
    return 0;
  }
  if (only == "prod2") {   // two producer warps (alternate stages) against one
    for (const Shape& sh : {down, gate_up, gu8, qkv70b, reported, o8b, qkv8b}) {
      const int sp = sh.m == down.m && sh.k == down.k ? 2 : 0;
      run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", sh, 64, sp);
      run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false, 2>("ws s4 nt8 cw8 r1 st8 pw2", sh, 64, sp);
      if (sh.m * int64_t(sh.k) < 80000000) {
        run_wgmma<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", sh, 16, 0);
        run_wgmma<__half, 4, true, false, 2, 4, 2, 8, false, 2>("ws s4 nt2 cw4 r2 st8 pw2", sh, 16, 0);
      } else {
        run_wgmma<__half, 4, true, false, 2, 8, 2, 6, true>("wb s4 nt2 cw8 r2 st6", sh, 16, 0);
        run_wgmma<__half, 4, true, false, 2, 8, 2, 6, true, 2>("wb s4 nt2 cw8 r2 st6 pw2", sh, 16, 0);
      }
    }
    // correctness across types with two producers
    run_wgmma<__half, 4, false, true, 8, 8, 1, 8, false, 2>("ws u4 nt8 cw8 r1 st8 pw2", g128, 61, 3, false);
    run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false, 2>("ws s4 nt8 cw8 r1 st8 pw2", small32, 64, 0, false);
    return 0;
  }
  if (only == "ring64") {   // 64 tokens on the large layers, 128-row tiles at one CTA per SM: deeper rings hide the weights' latency?
    for (const Shape& sh : {down, gate_up, gu8, qkv70b}) {
      const int sp = sh.m == down.m && sh.k == down.k ? 2 : 0;
      run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", sh, 64, sp, true);
      run_wgmma<__half, 4, true, false, 8, 8, 1, 12, false>("ws s4 nt8 cw8 r1 st12", sh, 64, sp, true);
      run_wgmma<__half, 4, true, false, 8, 8, 1, 16, false>("ws s4 nt8 cw8 r1 st16", sh, 64, sp, true);
      run_probe<NoWeights, __half, 4, true, false, 8, 8, 1, 16, false>("ws s4 nt8 cw8 r1 st16", "no-w", sh, 64, sp);
    }
    return 0;
  }
  if (only == "pace3") {
    run_pace3<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", down, 64, 2);
    run_pace3<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", down, 64, 4);
    run_pace3<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", gate_up, 64, 1);
    run_pace3<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", reported, 16, 0);
    run_pace3<__half, 4, true, false, 2, 8, 2, 6, true>("wb s4 nt2 cw8 r2 st6", down, 16, 0);
    return 0;
  }
  if (only == "pace2") {   // which part of the consumer sets its pace: conversion or wgmma (no loads)
    for (const Shape& sh : {down, reported, o8b}) {
      run_pace2<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", sh, 64);
      run_pace2<__half, 4, true, false, 8, 8, 1, 8, true>("wb s4 nt8 cw8 r1 st8", sh, 64);
      run_pace2<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", sh, 16);
      run_pace2<__half, 4, true, false, 2, 8, 2, 6, true>("wb s4 nt2 cw8 r2 st6", sh, 16);
    }
    return 0;
  }
  if (only == "nox64") {   // 64-row tiles at 48/64 tokens without the activation boxes: what their L2 reads cost
    for (const Shape& sh : {o8b, qkv8b, reported, o70b, qkv70b}) {
      run_nox<__half, 4, true, false, 8, 4, 1, 6, false>("ws s4 nt8 cw4 r1 st6", sh, 64);
      run_nox<__half, 4, true, false, 6, 4, 1, 8, false>("ws s4 nt6 cw4 r1 st8", sh, 48);
    }
    return 0;
  }
  if (only == "ntok") {   // token counts below the bucket's: what the exchange moves for the padding tokens
    for (const Shape& sh : {reported, o8b, qkv8b, down8, o70b}) {
      run_kg<__half, 4, true, false, 1, 4, 2, 8, 2>("kg2 s4 nt1 cw4 r2 st8", sh, 1, 0, true);
      run_kg<__half, 4, true, false, 1, 4, 2, 8, 2>("kg2 s4 nt1 cw4 r2 st8", sh, 4, 0, true);
      run_wgmma<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", sh, 12, 0, true);
      run_wgmma<__half, 4, true, false, 4, 4, 2, 6, false>("ws s4 nt4 cw4 r2 st6", sh, 24, 0, true);
      run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", sh, 40, 0, true);
      run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", sh, 48, 0, true);
    }
    return 0;
  }
  if (only == "n64wide") {   // 64 tokens on small layers: 256-row tiles of four 64-row warpgroups (one CTA per SM)
    if (std::getenv("DEV_ROWS64")) {   // 64-row tiles instead: one warpgroup, half the partial sums per CTA
      const Shape more[] = {reported, o8b, qkv8b, down8, o70b, qkv70b,
                            {"2048x4096", 2048, 4096, 128}, {"5120x5120", 5120, 5120, 128},
                            {"13824x5120", 13824, 5120, 128}, {"5120x13824", 5120, 13824, 128},
                            {"15360x5120", 15360, 5120, 128}, gu8};
      for (const Shape& sh : more) {
        run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", sh, 64, 0, true);
        run_wgmma<__half, 4, true, false, 8, 4, 1, 6, false>("ws s4 nt8 cw4 r1 st6", sh, 64, 0, true);
        run_wgmma<__half, 4, true, false, 8, 4, 1, 8, false>("ws s4 nt8 cw4 r1 st8", sh, 64, 0, true);
      }
      run_wgmma<__half, 4, false, true, 8, 4, 1, 6, false>("ws u4 f16 nt8 cw4 r1 st6", g128, 61, 3, false);
      run_wgmma<__nv_bfloat16, 4, true, false, 8, 4, 1, 6, false>("ws s4 bf16 nt8 cw4 r1 st6", small32, 64, 0, false);
      run_wgmma_probe<__half, 4, true, false, 8, 4, 1, 6, false>("ws s4 nt8 cw4 r1 st6", o8b, 64, 0);
      return 0;
    }
    for (const Shape& sh : {reported, o8b, qkv8b, o70b, qkv70b}) {
      run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", sh, 64, 0, true);
      for (int sp : {0, 4, 6, 8})
        run_wgmma<__half, 4, true, false, 8, 16, 1, 10, false>("ws s4 nt8 cw16 r1 st10", sh, 64, sp, true);
    }
    run_wgmma_probe<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", o8b, 64, 0);
    run_wgmma_probe<__half, 4, true, false, 8, 16, 1, 10, false>("ws s4 nt8 cw16 r1 st10", o8b, 64, 0);
    return 0;
  }
  if (only == "n64large") {   // 64 tokens on the layers from 80M elements (the catalog runs the stock 256x64
                               // tile there): 256-row tiles of four 64-row warpgroups, by split count
    const Shape large[] = {qkv70b, gu8, down, gate_up};
    for (const Shape& sh : large) {
      run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", sh, 64, 0, true);
      for (int sp : {0, 1, 2, 3, 4, 6})
        run_wgmma<__half, 4, true, false, 8, 16, 1, 10, false>("ws s4 nt8 cw16 r1 st10", sh, 64, sp, true);
      run_wgmma<__half, 4, true, false, 8, 16, 1, 10, true>("wb s4 nt8 cw16 r1 st10", sh, 64, 0, true);
    }
    run_wgmma<__half, 4, false, true, 8, 16, 1, 10, false>("ws u4 f16 nt8 cw16 r1 st10", g128, 61, 3, false);
    run_wgmma<__nv_bfloat16, 4, true, false, 8, 16, 1, 10, false>("ws s4 bf16 nt8 cw16 r1 st10", small32, 64, 0, false);
    return 0;
  }
  if (only == "place") {   // cluster capacities, placements, and the split counts of every small-layer bucket
    int dev = 0, sms = 0;
    CK(cudaGetDevice(&dev));
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    print_capacities(dev, sms);
    const Shape bench_shapes[] = {reported, o8b, qkv8b, down8, o70b, qkv70b};
    // DEV_PLACE_MORE=1: other layer shapes than the bench's (the model's generalisation)
    const Shape more_shapes[] = {{"5120x5120", 5120, 5120, 128}, {"5120x13824", 5120, 13824, 128},
                                 {"2048x4096", 2048, 4096, 128}, {"13824x5120", 13824, 5120, 128},
                                 {"1024x8192", 1024, 8192, 128}, {"2560x2560", 2560, 2560, 128}};
    const bool more = std::getenv("DEV_PLACE_MORE") != nullptr;
    const std::vector<Shape> shapes = more ? std::vector<Shape>(std::begin(more_shapes), std::end(more_shapes))
                                           : std::vector<Shape>(std::begin(bench_shapes), std::end(bench_shapes));
    for (const Shape& sh : shapes)
      for (int rows : {64, 128})
        for (int sp = 1; sp <= 8; ++sp)
          for (int per_sm = 1; per_sm <= 4; ++per_sm) {
            const int tiles = (sh.m + rows - 1) / rows;
            if (tiles * sp <= per_sm * sms) print_placement(tiles, sp, per_sm, sms);
          }
    if (std::getenv("DEV_PLACE_ONLY")) return 0;
    // Forced split counts 1-8 (those that leave each CTA two stages), timed; the plan's pick marked "auto".
    auto sweep_splits = [&](auto run, const Shape& sh, int rows) {
      const int kst = sh.k / 64, tiles = (sh.m + rows - 1) / rows;
      for (int sp = 1; sp <= 8; ++sp) {
        if (kst / sp < 2 || tiles * sp > 3 * sms) break;
        run(sh, sp);
      }
      run(sh, 0);
    };
    for (const Shape& sh : shapes) {
      sweep_splits([](const Shape& s, int sp) { run_kg<__half, 4, true, false, 1, 4, 2, 8, 2>("kg2 s4 nt1 cw4 r2 st8", s, 1, sp, true); }, sh, 128);
      sweep_splits([](const Shape& s, int sp) { run_wgmma<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", s, 16, sp, true); }, sh, 128);
      sweep_splits([](const Shape& s, int sp) { run_wgmma<__half, 4, true, false, 4, 4, 2, 6, false>("ws s4 nt4 cw4 r2 st6", s, 32, sp, true); }, sh, 128);
      sweep_splits([](const Shape& s, int sp) { run_wgmma<__half, 4, true, false, 6, 8, 1, 8, false>("ws s4 nt6 cw8 r1 st8", s, 48, sp, true); }, sh, 128);
      sweep_splits([](const Shape& s, int sp) { run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", s, 64, sp, true); }, sh, 128);
      sweep_splits([](const Shape& s, int sp) { run_wgmma<__half, 4, true, false, 4, 4, 1, 8, false>("ws s4 nt4 cw4 r1 st8", s, 32, sp, true); }, sh, 64);
      sweep_splits([](const Shape& s, int sp) { run_wgmma<__half, 4, true, false, 6, 4, 1, 8, false>("ws s4 nt6 cw4 r1 st8", s, 48, sp, true); }, sh, 64);
      sweep_splits([](const Shape& s, int sp) { run_wgmma<__half, 4, true, false, 8, 4, 1, 6, false>("ws s4 nt8 cw4 r1 st6", s, 64, sp, true); }, sh, 64);
      g_max_ctas = sms;   // the int8 two-group kernels' cap, as the catalog launches them
      sweep_splits([](const Shape& s, int sp) { run_kg<__half, 8, true, false, 1, 4, 2, 8, 2>("kg2 s8 nt1 cw4 r2 st8", s, 1, sp, true); }, sh, 128);
      sweep_splits([](const Shape& s, int sp) { run_kg<__half, 8, true, false, 2, 4, 2, 8, 2>("kg2 s8 nt2 cw4 r2 st8", s, 16, sp, true); }, sh, 128);
      g_max_ctas = 0;
    }
    return 0;
  }
  if (only == "episplits") {   // what the exchange costs against the split count, with probe stamps, where the
                               // placement-aware split model still misses (8b.qkv at 32 tokens: 6 splits picked,
                               // 4 faster; 2560x2560 at 16/32 tokens: 8 picked, 5 faster; mode place)
    const Shape square{"2560x2560", 2560, 2560, 128};
    for (int sp : {4, 5, 6, 8}) {
      run_wgmma_probe<__half, 4, true, false, 4, 4, 2, 6, false>("ws s4 nt4 cw4 r2 st6", qkv8b, 32, sp);
      run_wgmma_probe<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", square, 16, sp);
      run_wgmma_probe<__half, 4, true, false, 4, 4, 2, 6, false>("ws s4 nt4 cw4 r2 st6", square, 32, sp);
    }
    return 0;
  }
  if (only == "floor") {
    run_floor();
    return 0;
  }
  if (only == "splits64") {   // 64 tokens, 128-row wgmma tiles: split counts against the clusters that fit at once
    using L = wg::Launcher<__half, 4, true, false, 8, 8, 1, 8, false>;
    int dev = 0;
    CK(cudaGetDevice(&dev));
    const int* capacity = L::occupancy(dev).capacity.clusters[L::ctas_per_sm(dev)];
    for (const Shape& sh : {qkv8b, reported, o8b, down8, o70b}) {
      const int tiles = (sh.m + 127) / 128;
      for (int sp : {2, 3, 4, 5, 6, 7, 8}) {
        const int clusters = capacity[sp];
        std::printf("%s: %d row tiles, %d splits: %d clusters fit at once (%s)\n", sh.name, tiles, sp, clusters,
                    clusters >= tiles ? "one wave" : "more than one wave");
        run_wgmma<__half, 4, true, false, 8, 8, 1, 8, false>("ws s4 nt8 cw8 r1 st8", sh, 64, sp, true);
      }
    }
    return 0;
  }
  if (only == "fixedg") {   // mode fixed's short-K shapes and forced splits, timed as CUDA graphs (set DEV_GRAPH=1)
    static const Shape ks[] = {{"3584x64", 3584, 64, 64},   {"3584x512", 3584, 512, 64},
                               {"3584x1024", 3584, 1024, 64}, {"3584x2048", 3584, 2048, 64},
                               {"3584x4096", 3584, 4096, 64}, {"3584x8192", 3584, 8192, 64}};
    for (const Shape& sh : ks) run_wgmma<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", sh, 16, 8, true);
    for (const Shape& sh : ks) run_kg<__half, 4, true, false, 1, 4, 2, 8, 2>("kg2 s4 nt1 cw4 r2 st8", sh, 1, 8, true);
    return 0;
  }
  if (only == "wprobe") {   // where a wgmma-kernel CTA's time goes (the catalog's 16/32-token configurations)
    const Shape one{"128x4096", 128, 4096, 64};
    run_wgmma_probe<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", one, 16, 1);
    run_wgmma_probe<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", reported, 16, 0);
    run_wgmma_probe<__half, 4, true, false, 2, 4, 2, 8, false>("ws s4 nt2 cw4 r2 st8", o8b, 16, 0);
    run_wgmma_probe<__half, 4, true, false, 4, 4, 2, 6, false>("ws s4 nt4 cw4 r2 st6", reported, 32, 0);
    run_wgmma_probe<__half, 4, true, false, 2, 8, 2, 6, true>("wb s4 nt2 cw8 r2 st6", o70b, 16, 0);
    run_wgmma_probe<__half, 4, true, false, 2, 8, 2, 6, true>("wb s4 nt2 cw8 r2 st6", gate_up, 16, 0);
    return 0;
  }
  if (only == "u4kg") {   // uint4 at 8 tokens: one consumer group against two (the catalog takes two)
    for (const Shape& sh : {reported, o8b, qkv8b, o70b}) {
      run_kg<__half, 4, true, false, 1, 4, 2, 8, 2>("kg2 s4 nt1 cw4 r2 st8", sh, 1, 0, true);
      run_kg<__half, 4, false, true, 1, 4, 2, 8, 1>("kg1 u4 nt1 cw4 r2 st8", sh, 1, 0, true);
      run_kg<__half, 4, false, true, 1, 4, 2, 8, 2>("kg2 u4 nt1 cw4 r2 st8", sh, 1, 0, true);
    }
    return 0;
  }
  if (only == "u4int") {   // uint4 at 8 tokens against int4, the catalog's 128-row (two groups) and 256-row tiles:
                           // the A/B of the integer-zero-point conversion (docs/notes/uint4-zeros.md)
    run_kg<__half, 4, false, true, 1, 4, 2, 8, 2>("kg2 u4 f16 nt1 cw4 r2 st8", g128, 7, 3, false);
    run_kg<__half, 4, false, true, 1, 4, 2, 8, 2>("kg2 u4 f16 nt1 cw4 r2 st8", small32, 5, 0, false);
    run_kg<__nv_bfloat16, 4, false, true, 1, 4, 2, 8, 2>("kg2 u4 bf16 nt1 cw4 r2 st8", small32, 8, 0, false);
    run_kg<__nv_bfloat16, 4, false, true, 1, 8, 2, 6, 1>("u4 bf16 nt1 cw8 r2 st6", g128, 3, 2, false);
    run_kg<__half, 4, false, true, 1, 8, 2, 6, 1>("u4 f16 nt1 cw8 r2 st6", perchan, 1, 5, false);
    for (const Shape& sh : {reported, o8b, qkv8b, down8, o70b}) {
      for (int n : {1, 8}) {
        run_kg<__half, 4, true, false, 1, 4, 2, 8, 2>("kg2 s4 f16 nt1 cw4 r2 st8", sh, n, 0, true);
        run_kg<__half, 4, false, true, 1, 4, 2, 8, 2>("kg2 u4 f16 nt1 cw4 r2 st8", sh, n, 0, true);
      }
      run_kg<__nv_bfloat16, 4, true, false, 1, 4, 2, 8, 2>("kg2 s4 bf16 nt1 cw4 r2 st8", sh, 1, 0, true);
      run_kg<__nv_bfloat16, 4, false, true, 1, 4, 2, 8, 2>("kg2 u4 bf16 nt1 cw4 r2 st8", sh, 1, 0, true);
    }
    for (const Shape& sh : {qkv70b, down, gate_up}) {
      for (int n : {1, 8}) {
        run_kg<__half, 4, true, false, 1, 8, 2, 6, 1>("s4 f16 nt1 cw8 r2 st6", sh, n, 0, true);
        run_kg<__half, 4, false, true, 1, 8, 2, 6, 1>("u4 f16 nt1 cw8 r2 st6", sh, n, 0, true);
      }
    }
    return 0;
  }
  if (only == "kgroups") {   // two (or four) consumer groups taking turns on the stages: correctness, speed
    run_kg<__half, 4, true, false, 1, 4, 2, 8, 2>("kg2 s4 f16 nt1 cw4 r2 st8", small32, 5, 0, false);
    run_kg<__half, 4, true, false, 1, 4, 2, 8, 2>("kg2 s4 f16 nt1 cw4 r2 st8", g128, 8, 3, false);
    run_kg<__half, 4, false, true, 1, 4, 2, 8, 2>("kg2 u4 f16 nt1 cw4 r2 st8", g128, 7, 3, false);
    run_kg<__nv_bfloat16, 4, true, false, 1, 4, 2, 8, 2>("kg2 s4 bf16 nt1 cw4 r2 st8", perchan, 1, 5, false);
    run_kg<__half, 8, true, false, 1, 4, 2, 8, 2>("kg2 s8 f16 nt1 cw4 r2 st8", small32, 8, 0, false);
    run_kg<__half, 4, true, false, 1, 4, 2, 8, 4>("kg4 s4 f16 nt1 cw4 r2 st8", g128, 8, 0, false);
    for (const Shape& sh : {reported, o8b, qkv8b, o70b, down}) {
      run_config<__half, 4, true, false, 1, 4, 2, 8>("s4 nt1 cw4 r2 st8", sh, 1, 0, true);
      run_kg<__half, 4, true, false, 1, 4, 2, 8, 2>("kg2 s4 nt1 cw4 r2 st8", sh, 1, 0, true);
      run_kg<__half, 4, true, false, 1, 4, 2, 8, 4>("kg4 s4 nt1 cw4 r2 st8", sh, 1, 0, true);
      run_kg<__half, 4, true, false, 1, 4, 2, 8, 2>("kg2 s4 nt1 cw4 r2 st8", sh, 8, 0, true);
    }
    return 0;
  }
  if (only == "pdl") {   // late-trigger PDL against plain launches, back to back, the catalog's tiles
    run_pdl<__half, 4, true, false, 2, 4, 2, 8>("pdl s4 f16 nt2 cw4 r2 st8", g128, 16, 3, false);   // correctness
    for (const Shape& sh : {reported, o8b, qkv8b, o70b, down,
                            gate_up}) {
      if (double(sh.m) * sh.k >= 80e6) {
        run_config<__half, 4, true, false, 1, 8, 2, 6>("s4 nt1 cw8 r2 st6", sh, 1, 0, true);
        run_pdl<__half, 4, true, false, 1, 8, 2, 6>("pdl s4 nt1 cw8 r2 st6", sh, 1, 0, true);
        run_config<__half, 4, true, false, 2, 8, 2, 6>("s4 nt2 cw8 r2 st6", sh, 16, 0, true);
        run_pdl<__half, 4, true, false, 2, 8, 2, 6>("pdl s4 nt2 cw8 r2 st6", sh, 16, 0, true);
      } else {
        run_config<__half, 4, true, false, 1, 4, 2, 8>("s4 nt1 cw4 r2 st8", sh, 1, 0, true);
        run_pdl<__half, 4, true, false, 1, 4, 2, 8>("pdl s4 nt1 cw4 r2 st8", sh, 1, 0, true);
        run_config<__half, 4, true, false, 2, 4, 2, 8>("s4 nt2 cw4 r2 st8", sh, 16, 0, true);
        run_pdl<__half, 4, true, false, 2, 4, 2, 8>("pdl s4 nt2 cw4 r2 st8", sh, 16, 0, true);
      }
    }
    return 0;
  }
  if (only == "s8stages") {   // int8, 256-row tiles, 16 tokens: 6 stages (one CTA per SM) against 5 (two)
    for (const Shape& sh : {qkv70b, down, gate_up}) {
      run_config<__half, 8, true, false, 2, 8, 2, 6>("s8 nt2 cw8 r2 st6", sh, 16, 0, true);
      run_config<__half, 8, true, false, 2, 8, 2, 5>("s8 nt2 cw8 r2 st5", sh, 16, 0, true);
      run_config<__half, 8, true, false, 2, 8, 2, 4>("s8 nt2 cw8 r2 st4", sh, 16, 0, true);
    }
    return 0;
  }
  if (only == "u4") {   // uint4 against int4 on the same shapes (target: within 5%)
    run_config<__half, 4, false, true, 8, 4, 2, 6>("u4 f16 nt8 cw4 r2 st6", g128, 64, 0, false);
    run_config<__half, 4, false, true, 2, 8, 2, 6>("u4 f16 nt2 cw8 r2 st6", small32, 16, 2, false);
    for (const Shape& sh : sweep) {
      for (int n : {1, 16}) {
        if (n == 1) {
          run_config<__half, 4, true, false, 1, 4, 2, 8>("s4 nt1 cw4 r2 st8", sh, n, 0, true);
          run_config<__half, 4, false, true, 1, 4, 2, 8>("u4 nt1 cw4 r2 st8", sh, n, 0, true);
          run_config<__half, 4, true, false, 1, 8, 2, 6>("s4 nt1 cw8 r2 st6", sh, n, 0, true);
          run_config<__half, 4, false, true, 1, 8, 2, 6>("u4 nt1 cw8 r2 st6", sh, n, 0, true);
        } else {
          run_config<__half, 4, true, false, 2, 4, 2, 8>("s4 nt2 cw4 r2 st8", sh, n, 0, true);
          run_config<__half, 4, false, true, 2, 4, 2, 8>("u4 nt2 cw4 r2 st8", sh, n, 0, true);
          run_config<__half, 4, true, false, 2, 8, 2, 6>("s4 nt2 cw8 r2 st6", sh, n, 0, true);
          run_config<__half, 4, false, true, 2, 8, 2, 6>("u4 nt2 cw8 r2 st6", sh, n, 0, true);
        }
      }
    }
    return 0;
  }
  if (only == "ncu") {   // one launch each after a warm-up, for: ncu -k regex:decode_kernel --launch-skip ...
    run_config<__half, 4, true, false, 2, 8, 2, 6>("s4 f16 nt2 cw8 r2 st6", gate_up, 16, 0, false);
    run_config<__half, 4, true, false, 2, 4, 2, 8>("s4 f16 nt2 cw4 r2 st8", reported, 16, 1, false);
    return 0;
  }
  // speed: the token buckets' configurations on the bench layers (auto splits), then split sweeps
  for (const Shape& sh : sweep) {
    run_config<__half, 4, true, false, 2, 4, 2, 8>("s4 nt2 cw4 r2 st8", sh, 16, 0, true);
    run_config<__half, 4, true, false, 2, 8, 2, 6>("s4 nt2 cw8 r2 st6", sh, 16, 0, true);
    run_config<__half, 4, true, false, 1, 4, 2, 8>("s4 nt1 cw4 r2 st8", sh, 8, 0, true);
    run_config<__half, 4, true, false, 1, 8, 2, 6>("s4 nt1 cw8 r2 st6", sh, 8, 0, true);
    run_config<__half, 4, false, true, 2, 4, 2, 8>("u4 nt2 cw4 r2 st8", sh, 16, 0, true);
    run_config<__half, 4, false, true, 2, 8, 2, 6>("u4 nt2 cw8 r2 st6", sh, 16, 0, true);
  }
  return 0;
}
