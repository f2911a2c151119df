// matmul driver: validates, quantises the activations once per distinct input, then walks tiles
// of (rows x tokens) of every job in one parallel run. A tile keeps a few dozen KB of weight
// rows hot in cache while up to kTokenBlock tokens pass over them, so prefill reads each weight
// from memory once per token block instead of once per token; decode (few tokens) streams the
// rows with software prefetch running ahead of the dot products. Where the table has tile
// products (AMX), a job's prompt tokens (matmul.h) become a part of their own: its activations
// are packed as bf16 once, and each task decodes up to kGemmTaskBytes of weight rows to bf16
// panels and multiplies them by all of the part's tokens.
#include <algorithm>
#include <memory>
#include <vector>

#include "kernels/aligned_array.h"
#include "kernels/kernel_table.h"
#include "kernels/matmul.h"
#include "util/error.h"

namespace whale::kernels {
namespace {

constexpr int64_t kTokenBlock = 64;            // tokens sharing one pass over a weight tile
constexpr size_t kWeightTileBytes = 32 << 10;  // weight rows per tile: about L1-sized
constexpr int64_t kRowAlign = 16;              // 16 floats = one 64-byte cache line of y
constexpr int kTasksPerThread = 8;             // dynamic claiming evens out uneven progress
constexpr int64_t kGemmTokenBlock = 128;       // tokens per pass over a task's decoded panels
constexpr size_t kGemmTaskBytes = 512 << 10;   // most decoded bf16 rows per tile-product task
constexpr int64_t kStreamTokens = 4;           // up to this many tokens a product streams its weights
// Decode streams weights from memory at a few bytes per cycle. The hardware prefetchers stop at
// every 4 KB page (and the rows of one expert are a few such pages), so each task prefetches
// this far ahead of the row it is multiplying: measured 1.7-3x faster decode on the v2-lite
// file (BENCHMARKS.md); 512-2048 are all close, 4096 starts to evict the rows in use.
constexpr uintptr_t kPrefetchBytes = 1024;
constexpr int kStreams = 4;  // interleaved row streams per decode-shaped task (run_stream)
// Quantising fewer activation values than this is cheaper inline than a pool barrier.
constexpr int64_t kParallelQuantizeValues = 16384;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// One validated job with its activation format, quantised input and task split.
struct Prepared {
  const MatmulJob* job = nullptr;
  WeightKernel wk;
  int64_t K = 0, rows = 0, n_tokens = 0;
  size_t wrow = 0;
  const uint8_t* w = nullptr;    // first row of the job's range
  const uint8_t* act = nullptr;  // token t's activations at act + act_stride * t
  size_t act_stride = 0;
  float* y = nullptr;
  int64_t y_stride = 0;
  int64_t dot_tokens = 4;        // activation rows per dot call (the table's max_dot_tokens)
  int64_t token_blocks = 1, token_block = 1, rows_per_chunk = 1, row_chunks = 1, tile_rows = 1;
  int64_t first_task = 0;
  int64_t shares_act_of = -1;    // index of an earlier job with the same quantised input
  size_t qbuf_offset = 0;
  bool gemm = false;             // tile products: act is the packed bf16 buffer
};

void validate(const MatmulJob& j) {
  if (!j.W) fail("matmul: job without a weight tensor");
  const TensorView& W = *j.W;
  if (j.n_tokens < 0) fail("matmul ", W.name, ": negative token count ", j.n_tokens);
  if (j.n_tokens == 0) return;  // nothing to do: inputs and outputs may be null
  if (!matmul_supports(W.type)) {
    auto tr = type_traits(static_cast<uint32_t>(W.type));
    fail("matmul ", W.name, ": weight type ", tr ? std::string(tr->name) : std::string("?"),
         " (id ", static_cast<uint32_t>(W.type), ") is not supported");
  }
  if (!W.data) fail("matmul ", W.name, ": tensor has no data");
  if (!j.x || !j.y) fail("matmul ", W.name, ": null activation or output pointer");
  const int64_t K = W.ne[0], M = W.n_rows();
  const int block = traits(W.type).block_size;
  if (K < 0 || M < 0) fail("matmul ", W.name, ": negative shape ", K, " x ", M);
  if (K % block != 0)
    fail("matmul ", W.name, ": row length ", K, " is not a multiple of the ", type_name(W.type),
         " block size ", block);
  const int64_t n_rows = j.n_rows < 0 ? M - j.row_begin : j.n_rows;
  if (j.row_begin < 0 || j.row_begin > M || n_rows > M - j.row_begin)
    fail("matmul ", W.name, ": rows [", j.row_begin, ", ", j.row_begin + n_rows, ") outside its ", M, " rows");
  const size_t wrow = W.row_size();
  if (W.nbytes != 0 && W.nbytes < wrow * static_cast<size_t>(M))
    fail("matmul ", W.name, ": ", W.nbytes, " bytes of data, shape needs ", wrow * static_cast<size_t>(M));
  if (j.x_stride < 0 || (j.x_stride != 0 && j.x_stride < K))
    fail("matmul ", W.name, ": input stride ", j.x_stride, " is shorter than a row of ", K);
  if (j.y_stride < 0 || (j.y_stride != 0 && j.y_stride < n_rows))
    fail("matmul ", W.name, ": output stride ", j.y_stride, " is shorter than ", n_rows, " outputs");
}

// Decode-shaped (at most kStreamTokens tokens): rows [r_begin, r_end) streamed from memory as kStreams interleaved parts, each
// with its own software prefetch running ahead: independent address streams keep more
// cache-line fills in flight than one (measured: kernels_bench MatVec +25-35 %, decode +30 %).
void run_stream(const Prepared& p, int64_t r_begin, int64_t r_end, int64_t t_begin, int64_t t_end) {
  const auto row_addr = [&](int64_t r) { return reinterpret_cast<uintptr_t>(p.w + p.wrow * static_cast<size_t>(r)); };
  struct Stream {
    int64_t r = 0, end = 0;
    uintptr_t pf = 0, pf_end = 0;
  } st[kStreams];
  const int64_t per = (r_end - r_begin + kStreams - 1) / kStreams;
  for (int i = 0; i < kStreams; ++i) {
    st[i].r = std::min(r_end, r_begin + i * per);
    st[i].end = std::min(r_end, st[i].r + per);
    st[i].pf = row_addr(st[i].r) & ~uintptr_t{63};
    st[i].pf_end = row_addr(st[i].end);
  }
  for (bool any = true; any;) {
    any = false;
    for (Stream& s : st) {
      if (s.r >= s.end) continue;
      any = true;
      for (const uintptr_t want = std::min(s.pf_end, row_addr(s.r + 1) + kPrefetchBytes); s.pf < want; s.pf += 64)
        __builtin_prefetch(reinterpret_cast<const void*>(s.pf), 0, 3);
      for (int64_t t = t_begin; t < t_end; t += p.dot_tokens)  // one call unless a table takes < 4 rows
        p.wk.dot(p.K, p.w + p.wrow * static_cast<size_t>(s.r), p.act + p.act_stride * static_cast<size_t>(t),
                 p.act_stride, static_cast<int>(std::min<int64_t>(p.dot_tokens, t_end - t)), p.y + t * p.y_stride + s.r,
                 static_cast<size_t>(p.y_stride));
      ++s.r;
    }
  }
}

// Prefill-shaped: rows [r_begin, r_end) of job p times its tokens [t_begin, t_end), tile by tile.
void run_tile(const Prepared& p, int64_t r_begin, int64_t r_end, int64_t t_begin, int64_t t_end) {
  // Tokens outside rows within a tile: the (up to 4) activation rows of one dot call stay in L1
  // across the tile's rows, and the tile's weights stay in L2 across the tokens.
  for (int64_t r0 = r_begin; r0 < r_end; r0 += p.tile_rows) {
    const int64_t r1 = std::min(r_end, r0 + p.tile_rows);
    for (int64_t t = t_begin; t < t_end; t += p.dot_tokens) {
      const int nt = static_cast<int>(std::min<int64_t>(p.dot_tokens, t_end - t));
      const uint8_t* a = p.act + p.act_stride * static_cast<size_t>(t);
      float* yt = p.y + t * p.y_stride;
      for (int64_t r = r0; r < r1; ++r)
        p.wk.dot(p.K, p.w + p.wrow * static_cast<size_t>(r), a, p.act_stride, nt, yt + r,
                 static_cast<size_t>(p.y_stride));
    }
  }
}

// Tile products for rows [r_begin, r_end) of gemm job p and all its tokens. The rows are decoded
// once into `panels` (this thread's scratch, whole kGemmRows panels of K bf16 each, zeros past
// the end: those rows only reach outputs that are never stored); then blocks of
// kGemmTokenBlock tokens pass over all the panels, so both operands stay in L2 (the task's
// rows are capped by kGemmTaskBytes).
void run_gemm(const KernelTable& kt, const Prepared& p, int64_t r_begin, int64_t r_end, uint16_t* panels) {
  const GgmlType type = p.job->W->type;
  const auto* packed = reinterpret_cast<const uint16_t*>(p.act);
  const int64_t n_rows = r_end - r_begin, n_panels = ceil_div(n_rows, kGemmRows), ps = gemm_panel_stride(p.K);
  for (int64_t r = 0; r < n_rows; ++r)
    kt.decode_bf16(type, p.w + p.wrow * static_cast<size_t>(r_begin + r), panels + r * ps, p.K);
  std::fill(panels + n_rows * ps, panels + n_panels * kGemmRows * ps, uint16_t{0});
  const int64_t group_elems = p.K / kGemmChunk * 512;  // one 16-token group of packed input
  for (int64_t t0 = 0; t0 < p.n_tokens; t0 += kGemmTokenBlock) {
    const int64_t nt = std::min(kGemmTokenBlock, p.n_tokens - t0);
    for (int64_t i = 0; i < n_panels; ++i) {
      const int64_t r0 = i * kGemmRows;
      kt.gemm_bf16(panels + r0 * ps, packed + t0 / 16 * group_elems, p.K, p.K / kGemmChunk, nt,
                   std::min(kGemmRows, n_rows - r0), p.y + t0 * p.y_stride + r_begin + r0,
                   static_cast<size_t>(p.y_stride), false);
    }
  }
}

}  // namespace

bool matmul_supports(GgmlType t) {
  switch (t) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16: case GgmlType::Q4_0:
    case GgmlType::Q4_1: case GgmlType::Q5_0: case GgmlType::Q5_1: case GgmlType::Q8_0:
    case GgmlType::IQ4_NL: case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::Q4_K:
    case GgmlType::Q5_K: case GgmlType::Q6_K: case GgmlType::IQ4_XS:
      return true;
    default:
      return false;
  }
}

void matmul_batch_with(const KernelTable& kt, std::span<const MatmulJob> jobs, ThreadPool& pool) {
  // Each job's prompt tokens become a part of their own where the table has tile products.
  struct Part {
    MatmulJob job;
    bool gemm = false;
  };
  std::vector<Part> parts;
  parts.reserve(jobs.size());
  for (const MatmulJob& j : jobs) {
    validate(j);
    if (!kt.gemm_prompts || j.prompt_from >= j.n_tokens || !prompt_tiles_allowed(j.W->type) ||
        j.W->ne[0] % kGemmChunk != 0) {
      parts.push_back({j, false});
      continue;
    }
    const int64_t first = std::max<int64_t>(0, j.prompt_from);
    MatmulJob head = j, tail = j;
    head.x_stride = tail.x_stride = j.x_stride ? j.x_stride : j.W->ne[0];
    head.y_stride = tail.y_stride = j.y_stride ? j.y_stride : (j.n_rows < 0 ? j.W->n_rows() - j.row_begin : j.n_rows);
    head.n_tokens = first;
    tail.x = j.x + first * tail.x_stride;
    tail.y = j.y + first * tail.y_stride;
    tail.n_tokens = j.n_tokens - first;
    if (first > 0) parts.push_back({head, false});
    parts.push_back({tail, true});
  }

  std::vector<Prepared> prep;
  prep.reserve(parts.size());
  size_t qbuf_bytes = 0, packed_elems = 0;
  int64_t max_panel_elems = 0;  // per thread, for the tile-product tasks
  for (const Part& part : parts) {
    const MatmulJob& j = part.job;
    const TensorView& W = *j.W;
    Prepared p;
    p.job = &j;
    p.K = W.ne[0];
    p.rows = j.n_rows < 0 ? W.n_rows() - j.row_begin : j.n_rows;
    p.n_tokens = j.n_tokens;
    if (p.n_tokens == 0 || p.rows == 0) continue;
    const int64_t x_stride = j.x_stride ? j.x_stride : p.K;
    p.y = j.y;
    p.y_stride = j.y_stride ? j.y_stride : p.rows;
    if (p.K == 0) {  // empty rows: all outputs are zero
      for (int64_t t = 0; t < p.n_tokens; ++t) std::fill_n(p.y + t * p.y_stride, p.rows, 0.0f);
      continue;
    }
    p.wk = weight_kernel(kt, W.type);
    p.wrow = W.row_size();
    p.w = W.data + p.wrow * static_cast<size_t>(j.row_begin);
    p.gemm = part.gemm;
    if (!p.gemm && !p.wk.quantize) {
      p.act = reinterpret_cast<const uint8_t*>(j.x);
      p.act_stride = static_cast<size_t>(x_stride) * sizeof(float);
    } else {
      // Quantised (or, for tile products, packed: act_stride 0, tokens interleaved as in
      // gemm_packed_index) once per distinct input.
      p.act_stride = p.gemm ? 0 : static_cast<size_t>(p.K / p.wk.act_block) * static_cast<size_t>(p.wk.act_block_bytes);
      for (size_t e = 0; e < prep.size() && p.shares_act_of < 0; ++e) {
        const MatmulJob& o = *prep[e].job;
        if (prep[e].gemm == p.gemm && (p.gemm || prep[e].wk.quantize == p.wk.quantize) && o.x == j.x &&
            prep[e].K == p.K && (o.x_stride ? o.x_stride : prep[e].K) == x_stride && prep[e].n_tokens == p.n_tokens)
          p.shares_act_of = static_cast<int64_t>(e);
      }
      if (p.shares_act_of < 0 && p.gemm) {
        p.qbuf_offset = packed_elems;
        packed_elems += static_cast<size_t>(gemm_padded_tokens(p.n_tokens) * p.K);
      } else if (p.shares_act_of < 0) {
        p.qbuf_offset = qbuf_bytes;
        qbuf_bytes += p.act_stride * static_cast<size_t>(p.n_tokens);
      }
    }
    prep.push_back(p);
  }
  if (prep.empty()) return;

  // Activations: every distinct input quantised once, in parallel when there is enough of it.
  // Tile-product inputs are packed to bf16 instead (padding tokens zeroed).
  const auto qbuf = std::make_unique_for_overwrite<uint8_t[]>(qbuf_bytes);  // fully written below
  const auto packed = aligned_array<uint16_t>(packed_elems);
  struct QuantItem { size_t job; int64_t token; };
  std::vector<QuantItem> items;
  int64_t quant_values = 0;
  for (size_t i = 0; i < prep.size(); ++i) {
    Prepared& p = prep[i];
    if (!p.wk.quantize && !p.gemm) continue;
    if (p.shares_act_of >= 0) continue;
    p.act = p.gemm ? reinterpret_cast<const uint8_t*>(packed.get() + p.qbuf_offset) : qbuf.get() + p.qbuf_offset;
    const int64_t n_items = p.gemm ? gemm_padded_tokens(p.n_tokens) / 16 : p.n_tokens;  // gemm: 16-token groups
    for (int64_t t = 0; t < n_items; ++t) items.push_back({i, t});
    quant_values += p.K * n_items * (p.gemm ? 16 : 1);
  }
  auto quantize_item = [&](int64_t k, int) {
    const Prepared& p = prep[items[k].job];
    const int64_t x_stride = p.job->x_stride ? p.job->x_stride : p.K;
    const int64_t t = items[k].token;
    if (p.gemm) {
      const int64_t t0 = 16 * t;
      kt.pack_bf16(p.job->x + std::min(t0, p.n_tokens) * x_stride, static_cast<size_t>(x_stride),
                   std::clamp<int64_t>(p.n_tokens - t0, 0, 16), p.K, packed.get() + p.qbuf_offset + t * (p.K / kGemmChunk) * 512);
      return;
    }
    p.wk.quantize(p.job->x + t * x_stride, qbuf.get() + p.qbuf_offset + p.act_stride * static_cast<size_t>(t), p.K);
  };
  if (quant_values >= kParallelQuantizeValues && items.size() > 1) pool.run(static_cast<int64_t>(items.size()), quantize_item);
  else for (size_t k = 0; k < items.size(); ++k) quantize_item(static_cast<int64_t>(k), 0);
  for (Prepared& p : prep)
    if (p.shares_act_of >= 0) p.act = prep[static_cast<size_t>(p.shares_act_of)].act;

  // Tasks: (job, row chunk, token block), each about the same number of weight bytes, about
  // kTasksPerThread per thread in all. Token blocks are of at most kTokenBlock, equal-sized
  // (rounded to whole dot calls) so that e.g. 65 tokens become 36 + 29 rather than 64 + 1.
  double total_bytes = 0;
  for (Prepared& p : prep) {
    p.token_blocks = p.gemm ? 1 : ceil_div(p.n_tokens, kTokenBlock);
    p.dot_tokens = std::clamp(kt.max_dot_tokens, 1, kMaxDotTokens);
    p.token_block = ceil_div(ceil_div(p.n_tokens, p.token_blocks), p.dot_tokens) * p.dot_tokens;
    total_bytes += static_cast<double>(p.wrow) * static_cast<double>(p.rows * p.token_blocks);
  }
  const double task_bytes = std::max(1.0, total_bytes / (kTasksPerThread * pool.size()));
  int64_t n_tasks = 0;
  for (Prepared& p : prep) {
    const int64_t want_rows = static_cast<int64_t>(task_bytes / static_cast<double>(p.wrow)) + 1;
    const int64_t align = p.gemm ? kGemmRows : kRowAlign;
    p.rows_per_chunk = std::min(p.rows, std::max(align, ceil_div(want_rows, align) * align));
    if (p.gemm) {
      const int64_t cap = static_cast<int64_t>(kGemmTaskBytes / (sizeof(uint16_t) * static_cast<size_t>(p.K)));
      p.rows_per_chunk = std::min(p.rows_per_chunk, std::max(kGemmRows, cap / kGemmRows * kGemmRows));
      max_panel_elems = std::max(max_panel_elems, ceil_div(p.rows_per_chunk, kGemmRows) * kGemmRows * gemm_panel_stride(p.K));
    }
    p.row_chunks = ceil_div(p.rows, p.rows_per_chunk);
    p.tile_rows = std::clamp<int64_t>(static_cast<int64_t>(kWeightTileBytes / p.wrow), 1, 64);
    p.first_task = n_tasks;
    n_tasks += p.row_chunks * p.token_blocks;
  }

  const size_t panel_elems = static_cast<size_t>(max_panel_elems);
  const auto panels = aligned_array<uint16_t>(panel_elems * static_cast<size_t>(pool.size()));
  pool.run(n_tasks, [&](int64_t task, int thread) {
    const auto it = std::upper_bound(prep.begin(), prep.end(), task,
                                     [](int64_t t, const Prepared& p) { return t < p.first_task; });
    const Prepared& p = *(it - 1);
    const int64_t local = task - p.first_task;
    const int64_t rc = local / p.token_blocks, tb = local % p.token_blocks;
    const int64_t r_begin = rc * p.rows_per_chunk, r_end = std::min(p.rows, r_begin + p.rows_per_chunk);
    const int64_t t_begin = tb * p.token_block, t_end = std::min(p.n_tokens, t_begin + p.token_block);
    if (p.gemm) run_gemm(kt, p, r_begin, r_end, panels.get() + panel_elems * static_cast<size_t>(thread));
    else if (p.n_tokens <= kStreamTokens) run_stream(p, r_begin, r_end, t_begin, t_end);
    else run_tile(p, r_begin, r_end, t_begin, t_end);
  });
}

bool prompt_tiles_allowed(GgmlType t) { return t != GgmlType::F32 && t != GgmlType::F16; }

const char* kernel_set_name() { return active_table().name; }
bool prompt_tile_products() { return active_table().gemm_prompts; }

void matmul_batch(std::span<const MatmulJob> jobs, ThreadPool& pool) {
  matmul_batch_with(active_table(), jobs, pool);
}

void matmul_with(const KernelTable& kt, const TensorView& W, const float* x, int64_t n_tokens, float* y,
                 ThreadPool& pool, int64_t prompt_from) {
  const MatmulJob job{&W, 0, -1, x, 0, y, 0, n_tokens, prompt_from};
  matmul_batch_with(kt, {&job, 1}, pool);
}

void matmul(const TensorView& W, const float* x, int64_t n_tokens, float* y, ThreadPool& pool, int64_t prompt_from) {
  matmul_with(active_table(), W, x, n_tokens, y, pool, prompt_from);
}

void matmul_grouped_with(const KernelTable& kt, const TensorView& W, const GroupedLayout& g, const float* x,
                         int64_t n_tokens, float* y, ThreadPool& pool, int64_t prompt_from) {
  if (n_tokens < 0) fail("matmul_grouped ", W.name, ": negative token count ", n_tokens);
  if (n_tokens == 0 || g.n_groups == 0 || g.group_rows == 0) return;
  const int64_t M = W.n_rows();
  if (g.n_groups < 0 || g.group_rows < 0 || g.group_row_stride < 0 ||
      (g.n_groups - 1) * g.group_row_stride + g.group_rows > M)
    fail("matmul_grouped ", W.name, ": ", g.n_groups, " groups of ", g.group_rows, " rows every ",
         g.group_row_stride, " rows do not fit its ", M, " rows");
  if (W.ne[0] <= 0)
    fail("matmul_grouped ", W.name, ": row length ", W.ne[0], " is not positive");
  std::vector<MatmulJob> jobs(static_cast<size_t>(g.n_groups));
  for (int64_t gr = 0; gr < g.n_groups; ++gr)
    jobs[gr] = MatmulJob{&W, gr * g.group_row_stride, g.group_rows, x + gr * g.x_group_stride, g.x_token_stride,
                         y + gr * g.y_group_stride, g.y_token_stride, n_tokens, prompt_from};
  matmul_batch_with(kt, jobs, pool);
}

void matmul_grouped(const TensorView& W, const GroupedLayout& g, const float* x, int64_t n_tokens, float* y,
                    ThreadPool& pool, int64_t prompt_from) {
  matmul_grouped_with(active_table(), W, g, x, n_tokens, y, pool, prompt_from);
}

}  // namespace whale::kernels
