// The run-time dispatch table: one struct of function pointers per instruction set. The
// scalar table is the reference ("twin") for the AVX2 one; tests run both side by side.
// Internal to the kernels layer (and its tests); the model uses matmul.h / ops.h.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "tensor/dtype.h"
#include "tensor/tensor_view.h"
#include "util/thread_pool.h"

namespace whale::kernels {

// Converts n activations (a multiple of the block size) to an activation block format.
using QuantizeActFn = void (*)(const float* x, void* dst, int64_t n);

// Dot products of one weight row (n elements, in the weight's block format) with nt activation
// rows (1 <= nt <= the table's max_dot_tokens <= kMaxDotTokens) stored act_stride bytes apart:
// out[t * out_stride] = row · act_t. The weight row is decoded once for all nt rows.
using DotFn = void (*)(int64_t n, const void* w, const void* act, size_t act_stride, int nt,
                       float* out, size_t out_stride);
inline constexpr int kMaxDotTokens = 8;

// Prefill tile products (AMX BF16, gemm_amx.cpp). A *panel* is kGemmRows weight rows decoded
// to bf16, row r at panel + r * gemm_panel_stride(K): one cache line more than a row, because
// with K a multiple of 2048 the 16 rows of a tile load would otherwise share one L1 set. Activations are *packed* for tile loads: tokens in groups of
// 16, K in chunks of 32, each (group, chunk) one 1 KB tile whose row p holds, for each of the
// 16 tokens, the pair of elements (2p, 2p+1) of the chunk (the "VNNI" pair layout the tile
// product wants). A packed buffer holds gemm_padded_tokens(n) tokens; K is a multiple of 32.
inline constexpr int64_t kGemmRows = 32, kGemmTokens = 32, kGemmChunk = 32;
inline constexpr int64_t gemm_panel_stride(int64_t K) { return K + 32; }
inline constexpr int64_t gemm_padded_tokens(int64_t n) { return (n + kGemmTokens - 1) / kGemmTokens * kGemmTokens; }
inline constexpr int64_t gemm_packed_index(int64_t K, int64_t t, int64_t k) {
  return ((t / 16) * (K / kGemmChunk) + k / kGemmChunk) * 512 + (k % kGemmChunk) / 2 * 32 + (t % 16) * 2 + k % 2;
}
// One 16-token group of a packed buffer (the K/32 tiles at packed + g * (K/32) * 512 for group
// g): tokens i < n_valid are x + i * x_stride (K floats each) rounded to bf16 (nearest even),
// the group's other tokens are zeros. One call writes whole tiles, so groups can be packed in
// parallel without two threads writing one cache line.
using PackBf16Fn = void (*)(const float* x, size_t x_stride, int64_t n_valid, int64_t K, uint16_t* group);
// One weight row of type `t` (K elements, K a multiple of the type's block) decoded to bf16:
// the tensor layer's dequantisation, rounded to nearest even.
using DecodeBf16Fn = void (*)(GgmlType t, const void* row, uint16_t* out, int64_t K);
// C(r, t) = sum_k panel(r, k) * act(t, k) for r < n_rows <= kGemmRows and t < n_tokens, k < K;
// products of bf16 values, summed in f32. The packed input's 16-token groups are packed_chunks
// tiles apart (>= K / 32: a buffer packed for a longer K can be used for a prefix of it). C goes
// to y[t * y_stride + r] (a matmul's token-major output) or, with out_rows, y[r * y_stride + t].
// Panel rows >= n_rows and packed tokens >= n_tokens are read but never reach y.
using GemmBf16Fn = void (*)(const uint16_t* panel, const uint16_t* packed, int64_t K, int64_t packed_chunks,
                            int64_t n_tokens, int64_t n_rows, float* y, size_t y_stride, bool out_rows);
// One 32-key chunk of latent-cache rows packed for both tile products of the prompt attention
// (mla_attention_prompt.cpp; decode reads a pair-layout cache in place instead). rows[i] (i < n_valid <= 32) is a cache
// row of W = R + rope values in `type` (F32, F16, Q8_0 blocks of an f16 scale and 32 int8, or
// BF16 values 4 bytes apart: a row of a pair-layout cache, latent_row_ptr);
// R and W are multiples of 32; keys n_valid..31 are zeros. Values are rounded to bf16 (nearest
// even) and written twice:
//  - keys, as the packed operand of S = Q·Kᵀ (keys are the tokens, the W values the summed
//    index): the chunk's two 16-key groups, 2·W/32 tiles at keys, i.e. keys[gemm_packed_index(W, i, d)];
//  - values, as the packed operand of O = E·V (the R latent dims are the tokens, keys the summed
//    index): the tile of dims [16g, 16g + 16) at values + g * value_group_stride, i.e.
//    values[(d / 16) * value_group_stride + gemm_packed_index(32, d % 16, i)] for d < R.
// A buffer of n chunks for the whole cache uses value_group_stride = 512 * n and puts chunk c's
// keys at keys + 32 * c * W and its values at values + 512 * c.
using PackLatentFn = void (*)(const uint8_t* const* rows, GgmlType type, int64_t n_valid, int64_t R, int64_t W,
                              uint16_t* keys, uint16_t* values, size_t value_group_stride);

// MLA decode attention straight from a pair-layout BF16 cache (mla_attention.h; AMX,
// attention_amx.cpp): rows are taken in groups of 32 (16 pairs, one tile's rows: pair p of a
// group at group + 2 * p * row_bytes), heads 16 at a time (tile rows). A tile row of the cache
// holds 16 values of two rows, so the scores use two query tiles per 16 values, one with the
// query in the even words and zeros in the odd ones (scoring the even rows) and one the other
// way round: for chunk c < W / 16 the tiles are at q + (2c + e) * 512, row r holding, for each
// head h, word 2h + e = bf16(q_h[16c + r]) and word 2h + 1 - e = 0.
inline constexpr int64_t mla_pair_query_words(int64_t W) { return W / 16 * 2 * 512; }
// s[h * s_stride + 32 j + k] = Σ_d q_h[d] · row_{32j+k}[d] over d < W for h < 16, k < 32, j <
// n_groups (group j at groups[j]); bf16 products, f32 sums.
using MlaPairScoresFn = void (*)(const uint8_t* const* groups, int64_t n_groups, size_t row_bytes, int64_t W,
                                 const uint16_t* q, float* s, size_t s_stride);
// o[h * o_stride + d] = Σ_k e[h * e_stride + k] · row_k[d] for h < 16 (o has 16 rows), d < R (a
// multiple of 32), keys k < 32 · n_groups of the groups in order; bf16 products, f32 sums. The
// rows are read again (from L2), so meanwhile the n_prefetch groups at prefetch (the caller's
// next ones) are requested from memory, which would otherwise sit idle.
using MlaPairValuesFn = void (*)(const uint8_t* const* groups, int64_t n_groups, size_t row_bytes, int64_t R,
                                 const uint16_t* e, size_t e_stride, float* o, size_t o_stride,
                                 const uint8_t* const* prefetch, int64_t n_prefetch);

struct KernelTable {
  const char* name = "";
  // Most activation rows one dot call takes. Prefill is compute-bound: the more tokens share
  // one decoding of a weight row, the less that decoding costs per token; AVX-512 has the
  // registers for 8 rows of accumulators, AVX2 for 4.
  int max_dot_tokens = 4;
  // Activation quantisers (spec §3.1, §3.7). Every table produces the reference bytes, so the
  // quantised activations, and hence all integer sums, are identical across tables.
  QuantizeActFn quantize_q8_0 = nullptr;
  QuantizeActFn quantize_q8_1 = nullptr;
  QuantizeActFn quantize_q8_k = nullptr;
  // One dot product per weight type; f32 activations for F32/F16/BF16.
  DotFn dot_f32w = nullptr, dot_f16 = nullptr, dot_bf16 = nullptr;
  DotFn dot_q4_0 = nullptr, dot_q4_1 = nullptr, dot_q5_0 = nullptr, dot_q5_1 = nullptr;
  DotFn dot_q8_0 = nullptr, dot_iq4_nl = nullptr;
  DotFn dot_q2_k = nullptr, dot_q3_k = nullptr, dot_q4_k = nullptr, dot_q5_k = nullptr;
  DotFn dot_q6_k = nullptr, dot_iq4_xs = nullptr;
  // ops.h
  void (*rmsnorm)(const float* x, const float* w, float* y, int64_t n, float eps) = nullptr;
  void (*softmax)(float* x, int64_t n) = nullptr;
  void (*silu_mul)(const float* gate, const float* up, float* out, int64_t n) = nullptr;
  void (*add)(const float* a, const float* b, float* out, int64_t n) = nullptr;
  void (*scale)(float* x, float s, int64_t n) = nullptr;
  float (*dot_f32)(const float* a, const float* b, int64_t n) = nullptr;
  void (*axpy)(float a, const float* x, float* y, int64_t n) = nullptr;
  // The same two on an f16 second operand (latent KV cache rows).
  float (*dot_f32_f16)(const float* a, const uint16_t* b, int64_t n) = nullptr;
  void (*axpy_f16)(float a, const uint16_t* x, float* y, int64_t n) = nullptr;
  // Attention over a tile of latent-cache rows (mla_attention.h), rows f32 row_stride floats
  // apart: conversions of a cache row to f32 (Q8_0: n a multiple of 32, blocks of an f16 scale
  // and 32 int8), the scores s[j * s_stride + t] = q_j . row_t over d values, the weighted sum
  // out_j[i] += sum_t p[j * p_stride + t] * row_t[i] for i < d, and x[i] = exp(x[i] - shift)
  // returning the sum of the new x.
  void (*f16_to_f32)(const uint16_t* x, float* y, int64_t n) = nullptr;
  void (*q8_0_to_f32)(const void* x, float* y, int64_t n) = nullptr;
  void (*attn_scores)(const float* rows, size_t row_stride, int64_t n_rows, const float* q, size_t q_stride,
                      int64_t nq, float* s, size_t s_stride, int64_t d) = nullptr;
  void (*attn_accumulate)(const float* rows, size_t row_stride, int64_t n_rows, const float* p,
                          size_t p_stride, int64_t np, float* out, size_t out_stride, int64_t d) = nullptr;
  float (*exp_sum)(float* x, float shift, int64_t n) = nullptr;
  // Tile products for prompt tokens (see kGemmRows and matmul.h). False: matmul never uses
  // them (the scalar table still carries the twins, for tests). True: prompt tokens times
  // quantised or BF16 weights with K a multiple of 32 use bf16-rounded weights and activations with f32
  // sums instead of the integer dot products: tile units do ~30x the multiply-adds per cycle
  // of VNNI, so prompt processing stops being compute-bound.
  bool gemm_prompts = false;
  PackBf16Fn pack_bf16 = nullptr;
  DecodeBf16Fn decode_bf16 = nullptr;
  GemmBf16Fn gemm_bf16 = nullptr;
  PackLatentFn pack_latent_bf16 = nullptr;
  MlaPairScoresFn mla_pair_scores = nullptr;
  MlaPairValuesFn mla_pair_values = nullptr;
};

// Plain C++ kernels; always available.
const KernelTable& scalar_table();
// AVX2+FMA+F16C kernels, or nullptr when not built for this target or the CPU lacks them.
const KernelTable* avx2_table();
// AVX-512 F/BW/VL/DQ/VNNI kernels (on top of the AVX2 ones), or nullptr when not built for this
// target, the CPU lacks any of them (or AVX2/FMA/F16C), or the OS does not save ZMM state.
const KernelTable* avx512_table();
// The AVX-512 table plus AMX-BF16 tile products for prefill, or nullptr when the CPU or OS lacks
// AMX-TILE/AMX-BF16/AVX512-BF16 (or anything avx512_table needs).
const KernelTable* amx_table();
// The table every public entry point uses: the best one this CPU supports, chosen once
// (AMX, else AVX-512 VNNI, else AVX2, else scalar). Environment WHALE_KERNELS=scalar forces the
// scalar table, WHALE_KERNELS=avx2 the AVX2 one, WHALE_KERNELS=avx512 the AVX-512 one without
// tile products (if the CPU has them), to bisect or compare.
const KernelTable& active_table();

// How a weight type is multiplied: its dot product and its activation format.
struct WeightKernel {
  DotFn dot = nullptr;
  QuantizeActFn quantize = nullptr;  // nullptr: f32 activations are used as they are
  int act_block = 1;                 // elements per activation block
  int act_block_bytes = 4;           // bytes per activation block
};
// Throws whale::Error if `t` has no kernel.
WeightKernel weight_kernel(const KernelTable& table, GgmlType t);

// mla_attention (mla_attention.h) with an explicit table.
struct LatentCacheView;
void mla_attention_with(const KernelTable& table, const LatentCacheView& cache, int64_t n_ctx,
                        const float* q_lat, const float* q_rope, int64_t n_heads, float scale,
                        float* out, ThreadPool& pool);

struct PagedLatentCache;
struct MlaQueries;
void mla_attention_paged_with(const KernelTable& table, const PagedLatentCache& cache, const MlaQueries& q,
                              float scale, ThreadPool& pool);
// Validates a batch of queries over a paged cache (whale::Error naming `who`: cache type, sizes,
// null pointers, negative key counts); returns the largest key count.
int32_t check_paged_queries(const PagedLatentCache& cache, const MlaQueries& q, const char* who);
// One query row's scores s[0, n) for the tile attentions: scaled by `scale`, turned into the
// unnormalised weights exp(s - max) in place, and those rounded to bf16 into e[0, n_pad) (zero
// past n). Returns the max and the f32 sum of the weights.
struct RowSoftmax {
  float max, sum;
};
RowSoftmax softmax_row_bf16(const KernelTable& table, float* s, int64_t n, int64_t n_pad, float scale, uint16_t* e);
// Row t of a paged latent cache (rows of w values) widened to f32 with the table's converters.
void latent_row_f32(const KernelTable& table, const PagedLatentCache& cache, const uint8_t* const* blocks, int64_t t,
                    int64_t w, float* out);
bool mla_attention_prompt_with(const KernelTable& table, const PagedLatentCache& cache, const MlaQueries& q,
                               int64_t first_pos, float scale, ThreadPool& pool);
// partial_budget: bytes of per-block partial results held at once (whole queries at a time,
// at least one); tests pass a small one to cut a batch into several waves.
inline constexpr size_t kMlaDecodePartialBudget = size_t{64} << 20;
bool mla_attention_decode_with(const KernelTable& table, const PagedLatentCache& cache, const MlaQueries& q,
                               float scale, ThreadPool& pool, size_t partial_budget = kMlaDecodePartialBudget);

// matmul (matmul.h) with an explicit table, so tests can compare the scalar and SIMD twins.
void matmul_with(const KernelTable& table, const TensorView& W, const float* x,
                 int64_t n_tokens, float* y, ThreadPool& pool, int64_t prompt_from = INT64_MAX);

struct MatmulJob;
void matmul_batch_with(const KernelTable& table, std::span<const MatmulJob> jobs, ThreadPool& pool);

struct GroupedLayout;
void matmul_grouped_with(const KernelTable& table, const TensorView& W, const GroupedLayout& g, const float* x,
                         int64_t n_tokens, float* y, ThreadPool& pool, int64_t prompt_from = INT64_MAX);

}  // namespace whale::kernels
