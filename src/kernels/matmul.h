// Matrix products of a weight tensor with f32 activations: the one entry point the model uses
// for every linear layer (spec gguf-and-quants.md §4).
//
// Numerics (documented per spec §4.3): for quantised weights the activations are first
// quantised once per call with the *reference* quantisers (§3.1 Q8_0/Q8_1: roundf and
// id = 1/d; §3.7 Q8_K), then each output is a sum of per-block integer dot products scaled in
// f32 (§4.2). This is llama.cpp's CPU data flow; the integer parts are identical to it, the f32
// accumulation order is not (and need not be). F32/F16/BF16 weights are widened to f32 and
// multiplied by the unrounded f32 activations (better than llama.cpp's f16-rounded ones; the
// fixture goldens are an exact f32 evaluation).
#pragma once
#include <cstdint>
#include <span>

#include "tensor/tensor_view.h"
#include "util/thread_pool.h"

namespace whale::kernels {

// y[t * M + r] = sum_k W[r, k] * x[t * K + k] for r < M = W.n_rows(), t < n_tokens,
// K = W.ne[0]. x holds n_tokens rows of K floats, y receives n_tokens rows of M floats (y must
// not alias x). Work is split over `pool` by row ranges; a call with n_tokens == 0 does
// nothing. Throws whale::Error naming the tensor for an unsupported type, a null pointer or a
// row length that is not a multiple of the type's block size. Uses pool.run, so it must not be
// called from inside a task of the same pool.
// Supported W types: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K,
// Q6_K, IQ4_NL, IQ4_XS (3-D expert weights are passed by the caller as 2-D views).
//
// Prompt tokens: tokens t >= prompt_from are prompt tokens (model.h SeqStep::prompt). Where the
// active table has tile products (AMX), quantised and BF16 weights multiply prompt tokens with
// bf16 numerics (bf16-rounded dequantised weights and activations, f32 sums, as DeepSeek's own
// inference code computes; kernel_table.h) in place of the dot products; every other token,
// and F32/F16 weights (which ask for exact evaluation), always take the dot products. A token's
// numerics thus depend on its role, never on the batch around it.
inline constexpr int64_t kNoPromptTokens = INT64_MAX;
void matmul(const TensorView& W, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            int64_t prompt_from = kNoPromptTokens);

// Many small products with one weight tensor in one call (MLA's per-head k_b / v_b): group g
// (< n_groups) multiplies rows [g * group_row_stride, g * group_row_stride + group_rows) of W
// by its own input and writes its own output:
//   y[t * y_token_stride + g * y_group_stride + r] =
//       sum_k W[g * group_row_stride + r, k] * x[t * x_token_stride + g * x_group_stride + k]
// for t < n_tokens, r < group_rows, k < K = W.ne[0]. Same numerics as matmul (activations
// quantised once per (token, group)); outputs must not alias inputs. Throws whale::Error as
// matmul does, and when the groups reach past W's rows.
struct GroupedLayout {
  int64_t n_groups = 1, group_rows = 0, group_row_stride = 0;
  int64_t x_token_stride = 0, x_group_stride = 0;
  int64_t y_token_stride = 0, y_group_stride = 0;
};
void matmul_grouped(const TensorView& W, const GroupedLayout& g, const float* x, int64_t n_tokens, float* y,
                    ThreadPool& pool, int64_t prompt_from = kNoPromptTokens);

// Several independent products in one pass over the pool (one barrier instead of one per
// product): a decode step multiplies a token by a dozen small expert matrices, and a barrier per
// matrix would cost more than the arithmetic. Job j computes, for t < n_tokens, r < n_rows:
//   y[t * y_stride + r] = sum_k W[row_begin + r, k] * x[t * x_stride + k]
// (x_stride 0 means K = W->ne[0]; y_stride 0 means n_rows; n_rows -1 means all rows from
// row_begin). Same numerics as matmul; jobs that share x (same pointer, stride, token count and
// activation format) quantise it once. Outputs must not alias any job's input or each other.
// Throws whale::Error naming the tensor as matmul does, and for a row range outside W.
struct MatmulJob {
  const TensorView* W = nullptr;
  int64_t row_begin = 0, n_rows = -1;
  const float* x = nullptr;
  int64_t x_stride = 0;
  float* y = nullptr;
  int64_t y_stride = 0;
  int64_t n_tokens = 0;
  int64_t prompt_from = kNoPromptTokens;  // tokens t >= prompt_from are prompt tokens (see matmul)
};
void matmul_batch(std::span<const MatmulJob> jobs, ThreadPool& pool);

// True if matmul accepts weights of type t.
bool matmul_supports(GgmlType t);

// Whether prompt tokens of a product with weights of type t may take the tile products' bf16
// numerics (see matmul): quantised and BF16 weights yes; F32/F16 weights ask for exact evaluation.
// The model applies the same rule to a layer's attention (mla_attention_prompt).
bool prompt_tiles_allowed(GgmlType t);

// The kernel set in use ("scalar", "avx2", "avx512-vnni", "avx512-amx"), for reports; whether
// prompt tokens get tile products (see matmul).
const char* kernel_set_name();
bool prompt_tile_products();

}  // namespace whale::kernels
