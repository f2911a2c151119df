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
