// matmul driver: validates, quantises the activations once per call, then walks tiles of
// (rows x tokens) in parallel. A tile keeps a few dozen KB of weight rows hot in cache while
// up to kTokenBlock tokens pass over them, so prefill reads each weight from memory once per
// token block instead of once per token; decode (few tokens) simply streams the rows.
#include <algorithm>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/matmul.h"
#include "util/error.h"

namespace whale::kernels {
namespace {

constexpr int64_t kTokenBlock = 64;       // tokens sharing one pass over a weight tile
constexpr size_t kWeightTileBytes = 32 << 10;  // weight rows per tile: about L1-sized
constexpr int64_t kRowAlign = 16;         // 16 floats = one 64-byte cache line of y

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

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

void matmul_with(const KernelTable& kt, const TensorView& W, const float* x, int64_t n_tokens,
                 float* y, ThreadPool& pool) {
  if (n_tokens < 0) fail("matmul ", W.name, ": negative token count ", n_tokens);
  if (n_tokens == 0) return;
  if (!matmul_supports(W.type)) {
    auto tr = type_traits(static_cast<uint32_t>(W.type));
    fail("matmul ", W.name, ": weight type ", tr ? std::string(tr->name) : std::string("?"),
         " (id ", static_cast<uint32_t>(W.type), ") is not supported");
  }
  if (!W.data) fail("matmul ", W.name, ": tensor has no data");
  if (!x || !y) fail("matmul ", W.name, ": null activation or output pointer");
  const int64_t K = W.ne[0], M = W.n_rows();
  const int block = traits(W.type).block_size;
  if (K < 0 || M < 0) fail("matmul ", W.name, ": negative shape ", K, " x ", M);
  if (K % block != 0)
    fail("matmul ", W.name, ": row length ", K, " is not a multiple of the ", type_name(W.type),
         " block size ", block);
  if (M == 0) return;
  const size_t wrow = W.row_size();
  if (W.nbytes != 0 && W.nbytes < wrow * static_cast<size_t>(M))
    fail("matmul ", W.name, ": ", W.nbytes, " bytes of data, shape needs ",
         wrow * static_cast<size_t>(M));
  if (K == 0) {
    std::fill(y, y + n_tokens * M, 0.0f);
    return;
  }

  const WeightKernel wk = weight_kernel(kt, W.type);

  // Activations: quantised once per call (tokens in parallel when there are many).
  std::vector<uint8_t> qbuf;
  const void* act = x;
  size_t act_stride = static_cast<size_t>(K) * sizeof(float);
  if (wk.quantize) {
    act_stride = static_cast<size_t>(K / wk.act_block) * static_cast<size_t>(wk.act_block_bytes);
    qbuf.resize(act_stride * static_cast<size_t>(n_tokens));
    auto quantize_token = [&](int64_t t, int) {
      wk.quantize(x + t * K, qbuf.data() + act_stride * static_cast<size_t>(t), K);
    };
    if (n_tokens >= 4) pool.run(n_tokens, quantize_token);
    else for (int64_t t = 0; t < n_tokens; ++t) quantize_token(t, 0);
    act = qbuf.data();
  }
  const auto* act_bytes = static_cast<const uint8_t*>(act);

  // Tasks: (row chunk, token block). Enough row chunks for ~4 tasks per thread.
  // Token blocks of at most kTokenBlock, equal-sized (rounded to whole dot calls) so that e.g.
  // 65 tokens become 36 + 29 rather than 64 + 1.
  const int64_t token_blocks = ceil_div(n_tokens, kTokenBlock);
  const int64_t token_block =
      ceil_div(ceil_div(n_tokens, token_blocks), kMaxDotTokens) * kMaxDotTokens;
  const int64_t want_row_chunks = std::max<int64_t>(1, ceil_div(4 * pool.size(), token_blocks));
  int64_t rows_per_chunk = ceil_div(M, want_row_chunks);
  rows_per_chunk = std::max(kRowAlign, ceil_div(rows_per_chunk, kRowAlign) * kRowAlign);
  const int64_t row_chunks = ceil_div(M, rows_per_chunk);
  const int64_t tile_rows =
      std::clamp<int64_t>(static_cast<int64_t>(kWeightTileBytes / wrow), 1, 64);

  pool.run(row_chunks * token_blocks, [&](int64_t task, int) {
    const int64_t rc = task / token_blocks, tb = task % token_blocks;
    const int64_t r_begin = rc * rows_per_chunk, r_end = std::min(M, r_begin + rows_per_chunk);
    const int64_t t_begin = tb * token_block, t_end = std::min(n_tokens, t_begin + token_block);
    // Tokens outside rows within a tile: the (up to 4) activation rows of one dot call stay
    // in L1 across the tile's rows, and the tile's weights stay in L2 across the tokens.
    for (int64_t r0 = r_begin; r0 < r_end; r0 += tile_rows) {
      const int64_t r1 = std::min(r_end, r0 + tile_rows);
      for (int64_t t = t_begin; t < t_end; t += kMaxDotTokens) {
        const int nt = static_cast<int>(std::min<int64_t>(kMaxDotTokens, t_end - t));
        const uint8_t* a = act_bytes + act_stride * static_cast<size_t>(t);
        for (int64_t r = r0; r < r1; ++r)
          wk.dot(K, W.data + wrow * static_cast<size_t>(r), a, act_stride, nt, y + t * M + r,
                 static_cast<size_t>(M));
      }
    }
  });
}

void matmul(const TensorView& W, const float* x, int64_t n_tokens, float* y, ThreadPool& pool) {
  matmul_with(active_table(), W, x, n_tokens, y, pool);
}

}  // namespace whale::kernels

namespace whale::kernels {

void matmul_grouped_with(const KernelTable& kt, const TensorView& W, const GroupedLayout& g, const float* x,
                         int64_t n_tokens, float* y, ThreadPool& pool) {
  if (n_tokens < 0) fail("matmul_grouped ", W.name, ": negative token count ", n_tokens);
  if (n_tokens == 0 || g.n_groups == 0 || g.group_rows == 0) return;
  if (!matmul_supports(W.type)) fail("matmul_grouped ", W.name, ": weight type ", type_name(W.type), " is not supported");
  if (!W.data) fail("matmul_grouped ", W.name, ": tensor has no data");
  if (!x || !y) fail("matmul_grouped ", W.name, ": null activation or output pointer");
  const int64_t K = W.ne[0], M = W.n_rows();
  if (g.n_groups < 0 || g.group_rows < 0 || g.group_row_stride < 0 ||
      (g.n_groups - 1) * g.group_row_stride + g.group_rows > M)
    fail("matmul_grouped ", W.name, ": ", g.n_groups, " groups of ", g.group_rows, " rows every ",
         g.group_row_stride, " rows do not fit its ", M, " rows");
  const int block = traits(W.type).block_size;
  if (K <= 0 || K % block != 0)
    fail("matmul_grouped ", W.name, ": row length ", K, " is not a positive multiple of the ", type_name(W.type),
         " block size ", block);
  const size_t wrow = W.row_size();
  const WeightKernel wk = weight_kernel(kt, W.type);
  const int64_t G = g.n_groups;

  // Activations of (token t, group gr): quantised into slot t * G + gr, or read in place.
  std::vector<uint8_t> qbuf;
  size_t act_row = static_cast<size_t>(K) * sizeof(float);
  if (wk.quantize) {
    act_row = static_cast<size_t>(K / wk.act_block) * static_cast<size_t>(wk.act_block_bytes);
    qbuf.resize(act_row * static_cast<size_t>(n_tokens * G));
    auto quantize_one = [&](int64_t i, int) {
      const int64_t t = i / G, gr = i % G;
      wk.quantize(x + t * g.x_token_stride + gr * g.x_group_stride, qbuf.data() + act_row * static_cast<size_t>(i), K);
    };
    if (n_tokens * G >= 4) pool.run(n_tokens * G, quantize_one);
    else for (int64_t i = 0; i < n_tokens * G; ++i) quantize_one(i, 0);
  }
  auto act_of = [&](int64_t t, int64_t gr) -> const uint8_t* {
    if (wk.quantize) return qbuf.data() + act_row * static_cast<size_t>(t * G + gr);
    return reinterpret_cast<const uint8_t*>(x + t * g.x_token_stride + gr * g.x_group_stride);
  };
  const size_t act_token_stride =
      wk.quantize ? act_row * static_cast<size_t>(G) : static_cast<size_t>(g.x_token_stride) * sizeof(float);

  // Tasks: (group, row chunk, token block) with about 4 tasks per thread in all.
  const int64_t token_blocks = ceil_div(n_tokens, kTokenBlock);
  const int64_t token_block = ceil_div(ceil_div(n_tokens, token_blocks), kMaxDotTokens) * kMaxDotTokens;
  const int64_t want_chunks = std::max<int64_t>(1, ceil_div(4 * pool.size(), G * token_blocks));
  int64_t rows_per_chunk = std::max(kRowAlign, ceil_div(ceil_div(g.group_rows, want_chunks), kRowAlign) * kRowAlign);
  const int64_t row_chunks = ceil_div(g.group_rows, rows_per_chunk);
  const int64_t tile_rows = std::clamp<int64_t>(static_cast<int64_t>(kWeightTileBytes / wrow), 1, 64);

  pool.run(G * row_chunks * token_blocks, [&](int64_t task, int) {
    const int64_t gr = task / (row_chunks * token_blocks), rest = task % (row_chunks * token_blocks);
    const int64_t rc = rest / token_blocks, tb = rest % token_blocks;
    const int64_t r_begin = rc * rows_per_chunk, r_end = std::min(g.group_rows, r_begin + rows_per_chunk);
    const int64_t t_begin = tb * token_block, t_end = std::min(n_tokens, t_begin + token_block);
    const uint8_t* wbase = W.data + wrow * static_cast<size_t>(gr * g.group_row_stride);
    for (int64_t r0 = r_begin; r0 < r_end; r0 += tile_rows) {
      const int64_t r1 = std::min(r_end, r0 + tile_rows);
      for (int64_t t = t_begin; t < t_end; t += kMaxDotTokens) {
        const int nt = static_cast<int>(std::min<int64_t>(kMaxDotTokens, t_end - t));
        const uint8_t* a = act_of(t, gr);
        float* yb = y + t * g.y_token_stride + gr * g.y_group_stride;
        for (int64_t r = r0; r < r1; ++r)
          wk.dot(K, wbase + wrow * static_cast<size_t>(r), a, act_token_stride, nt, yb + r,
                 static_cast<size_t>(g.y_token_stride));
      }
    }
  });
}

void matmul_grouped(const TensorView& W, const GroupedLayout& g, const float* x, int64_t n_tokens, float* y,
                    ThreadPool& pool) {
  matmul_grouped_with(active_table(), W, g, x, n_tokens, y, pool);
}

}  // namespace whale::kernels
