// Builds the scalar table, picks the active one once, and maps weight types to kernels.
#include <cstdlib>
#include <string_view>

#include "kernels/kernel_table.h"
#include "kernels/avx2_kernels.h"
#include "kernels/avx512_kernels.h"
#include "kernels/amx_kernels.h"
#include "kernels/scalar_kernels.h"
#include "tensor/quant_blocks.h"
#include "util/cpu_features.h"
#include "util/error.h"

namespace whale::kernels {

const KernelTable* avx2_table() {
#if defined(__x86_64__)
  // The check runs here, in a file built for baseline x86-64: code in *_avx2.cpp may use AVX2
  // anywhere, so nothing there is called before we know the CPU has it.
  static const KernelTable* table = []() -> const KernelTable* {
    const CpuFeatures& f = cpu_features();
    if (!(f.avx2 && f.fma && f.f16c)) return nullptr;
    static const KernelTable t = make_avx2_table();
    return &t;
  }();
  return table;
#else
  return nullptr;  // *_avx2.cpp files are only compiled for x86-64 (cmake/whale_layers.cmake)
#endif
}

const KernelTable* avx512_table() {
#if defined(__x86_64__)
  // Same pattern as avx2_table(): the check runs in this baseline file before anything in
  // *_avx512.cpp (built with AVX-512 everywhere, even in make_avx512_table) is called.
  static const KernelTable* table = []() -> const KernelTable* {
    const CpuFeatures& f = cpu_features();
    if (!(f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq &&
          f.avx512vnni))
      return nullptr;
    static const KernelTable t = make_avx512_table();
    return &t;
  }();
  return table;
#else
  return nullptr;
#endif
}

const KernelTable* amx_table() {
#if defined(__x86_64__)
  static const KernelTable* table = []() -> const KernelTable* {
    if (!avx512_table() || !cpu_features().amx_bf16) return nullptr;
    static const KernelTable t = make_amx_table();
    return &t;
  }();
  return table;
#else
  return nullptr;
#endif
}

const KernelTable& scalar_table() {
  static const KernelTable table = [] {
    KernelTable t;
    t.name = "scalar";
    t.quantize_q8_0 = scalar::quantize_q8_0;
    t.quantize_q8_1 = scalar::quantize_q8_1;
    t.quantize_q8_k = scalar::quantize_q8_k;
    t.dot_f32w = scalar::dot_f32w;
    t.dot_f16 = scalar::dot_f16;
    t.dot_bf16 = scalar::dot_bf16;
    t.dot_q4_0 = scalar::dot_q4_0;
    t.dot_q4_1 = scalar::dot_q4_1;
    t.dot_q5_0 = scalar::dot_q5_0;
    t.dot_q5_1 = scalar::dot_q5_1;
    t.dot_q8_0 = scalar::dot_q8_0;
    t.dot_iq4_nl = scalar::dot_iq4_nl;
    t.dot_q2_k = scalar::dot_q2_k;
    t.dot_q3_k = scalar::dot_q3_k;
    t.dot_q4_k = scalar::dot_q4_k;
    t.dot_q5_k = scalar::dot_q5_k;
    t.dot_q6_k = scalar::dot_q6_k;
    t.dot_iq4_xs = scalar::dot_iq4_xs;
    t.rmsnorm = scalar::rmsnorm;
    t.softmax = scalar::softmax;
    t.silu_mul = scalar::silu_mul;
    t.add = scalar::add;
    t.scale = scalar::scale;
    t.dot_f32 = scalar::dot_f32;
    t.axpy = scalar::axpy;
    t.dot_f32_f16 = scalar::dot_f32_f16;
    t.axpy_f16 = scalar::axpy_f16;
    t.f16_to_f32 = scalar::f16_to_f32;
    t.q8_0_to_f32 = scalar::q8_0_to_f32;
    t.attn_scores = scalar::attn_scores;
    t.attn_accumulate = scalar::attn_accumulate;
    t.exp_sum = scalar::exp_sum;
    t.pack_bf16 = scalar::pack_bf16;  // twins only: gemm_prompts stays false
    t.decode_bf16 = scalar::decode_bf16;
    t.gemm_bf16 = scalar::gemm_bf16;
    t.pack_latent_bf16 = scalar::pack_latent_bf16;
    t.mla_pair_scores = scalar::mla_pair_scores;
    t.mla_pair_values = scalar::mla_pair_values;
    return t;
  }();
  return table;
}

const KernelTable& active_table() {
  static const KernelTable& table = [] () -> const KernelTable& {
    // WHALE_KERNELS=scalar forces the reference kernels (to bisect a numerical difference);
    // WHALE_KERNELS=avx2 skips the AVX-512 table (to compare against it), WHALE_KERNELS=avx512
    // the AMX tile products. Anything else, or unset: the best table the CPU supports.
    const char* e = std::getenv("WHALE_KERNELS");
    const std::string_view want = e ? std::string_view(e) : std::string_view();
    if (want == "scalar") return scalar_table();
    if (want != "avx2" && want != "avx512")
      if (const KernelTable* amx = amx_table()) return *amx;
    if (want != "avx2")
      if (const KernelTable* avx512 = avx512_table()) return *avx512;
    const KernelTable* avx2 = avx2_table();
    return avx2 ? *avx2 : scalar_table();
  }();
  return table;
}

WeightKernel weight_kernel(const KernelTable& k, GgmlType t) {
  const WeightKernel f32{nullptr, nullptr, 1, 4};
  auto q8_0 = [&](DotFn d) { return WeightKernel{d, k.quantize_q8_0, kQK, sizeof(BlockQ8_0)}; };
  auto q8_1 = [&](DotFn d) { return WeightKernel{d, k.quantize_q8_1, kQK, sizeof(BlockQ8_1)}; };
  auto q8_k = [&](DotFn d) { return WeightKernel{d, k.quantize_q8_k, kQKK, sizeof(BlockQ8K)}; };
  switch (t) {
    case GgmlType::F32: { auto w = f32; w.dot = k.dot_f32w; return w; }
    case GgmlType::F16: { auto w = f32; w.dot = k.dot_f16; return w; }
    case GgmlType::BF16: { auto w = f32; w.dot = k.dot_bf16; return w; }
    case GgmlType::Q4_0: return q8_0(k.dot_q4_0);
    case GgmlType::Q5_0: return q8_0(k.dot_q5_0);
    case GgmlType::Q8_0: return q8_0(k.dot_q8_0);
    case GgmlType::IQ4_NL: return q8_0(k.dot_iq4_nl);
    case GgmlType::Q4_1: return q8_1(k.dot_q4_1);
    case GgmlType::Q5_1: return q8_1(k.dot_q5_1);
    case GgmlType::Q2_K: return q8_k(k.dot_q2_k);
    case GgmlType::Q3_K: return q8_k(k.dot_q3_k);
    case GgmlType::Q4_K: return q8_k(k.dot_q4_k);
    case GgmlType::Q5_K: return q8_k(k.dot_q5_k);
    case GgmlType::Q6_K: return q8_k(k.dot_q6_k);
    case GgmlType::IQ4_XS: return q8_k(k.dot_iq4_xs);
    default: break;
  }
  auto tr = type_traits(static_cast<uint32_t>(t));
  fail("matmul: weight type ", tr ? std::string(tr->name) : std::string("?"), " (id ",
       static_cast<uint32_t>(t), ") has no kernel");
}

}  // namespace whale::kernels
