// The KV cache as a pool of fixed-size blocks. A sequence owns an ordered list of block ids (its
// block table); token position p of that sequence lives in block table[p / kBlockTokens], slot
// p % kBlockTokens. Blocks are reference-counted so sequences can share prefix blocks (context
// cache) and a block is copied only when a sharer must write into it.
//
// What a row holds is up to the model: for DeepSeek MLA it is the RMS-normalised latent c
// (kv_lora_rank values) followed by the rotated k_pe (qk_rope_head_dim values): 576 values per
// token per layer. For Llama/Qwen2 it is K (n_kv_heads*head_dim) followed by V.
//
// Thread safety: allocate/retain/release/copy_block are for one thread (the engine's scheduler).
// During a forward pass, the model writes rows of the new tokens and reads rows of the past; no
// two sequences in one batch may write the same block.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "util/zeroed_pages.h"

namespace whale::model {

enum class KvType {
  F32,   // exact; tests
  F16,   // the default where attention does not run on tiles (ModelInfo::preferred_kv)
  Q8_0,  // 8-bit blocks of 32 values with an f16 scale: about half of F16
  // bf16, the size of F16, stored in *pairs*: tokens 2p and 2p + 1 of a block's layer share 2·row
  // bytes, value i of the even token at element 2i, of the odd one at 2i + 1. That is the layout
  // tile products take their operands in (kernel_table.h), so MLA decode attention reads the
  // cache straight into tiles instead of converting every row for every token. Where attention
  // runs on tiles it rounds cache rows to bf16 anyway, so this loses nothing there.
  BF16,
};
std::string_view kv_type_name(KvType t);
// "f32", "f16", "bf16", "q8_0" (kv_type_name's names); throws whale::Error naming the choices.
KvType parse_kv_type(std::string_view name);

struct KvLayout {
  int n_layers = 0;
  int values_per_token = 0;  // per layer; a multiple of 32 (Q8_0 blocks)
};

class KvPool {
 public:
  static constexpr int kBlockTokens = 64;

  // Allocates n_blocks blocks up front (no allocation during serving).
  KvPool(KvLayout layout, KvType type, int64_t n_blocks);

  const KvLayout& layout() const { return layout_; }
  KvType type() const { return type_; }
  int64_t n_blocks() const { return static_cast<int64_t>(refcount_.size()); }
  int64_t n_free() const { return static_cast<int64_t>(free_.size()); }

  // A free block with refcount 1, or -1 when none is free.
  int32_t allocate();
  void retain(int32_t block);
  // Drops one reference; the block returns to the free list at zero.
  void release(int32_t block);
  int32_t refcount(int32_t block) const { return refcount_[block]; }
  // Copies every layer's rows of src into dst (copy-on-write of a shared block).
  void copy_block(int32_t dst, int32_t src);

  size_t row_bytes() const { return row_bytes_; }                 // one token, one layer
  size_t bytes_per_token() const { return row_bytes_ * layout_.n_layers; }
  size_t block_bytes() const { return bytes_per_token() * kBlockTokens; }
  uint64_t total_bytes() const { return static_cast<uint64_t>(block_bytes()) * n_blocks(); }

  // Row of (block, layer, slot); rows of one layer of one block are contiguous (BF16: the
  // row's first value, its others 4 bytes apart; use store_row/load_row).
  uint8_t* row(int32_t block, int layer, int slot) {
    if (type_ == KvType::BF16)
      return data_.data() + static_cast<size_t>(block) * block_bytes() +
             (static_cast<size_t>(layer) * kBlockTokens + slot / 2 * 2) * row_bytes_ + slot % 2 * 2;
    return data_.data() + static_cast<size_t>(block) * block_bytes() +
           (static_cast<size_t>(layer) * kBlockTokens + slot) * row_bytes_;
  }
  const uint8_t* row(int32_t block, int layer, int slot) const {
    return const_cast<KvPool*>(this)->row(block, layer, slot);
  }
  // All bytes of a block (for the disk tier of the prefix cache).
  uint8_t* block_data(int32_t block) { return data_.data() + static_cast<size_t>(block) * block_bytes(); }

  // Store / load one row of f32 values in the pool's type.
  void store_row(int32_t block, int layer, int slot, const float* values);
  void load_row(int32_t block, int layer, int slot, float* values) const;

 private:
  KvLayout layout_;
  KvType type_;
  size_t row_bytes_ = 0;
  ZeroedPages data_;  // page-aligned, so blocks (and rows of a multiple of 64 bytes) start on cache lines
  std::vector<int32_t> refcount_;
  std::vector<int32_t> free_;
};

}  // namespace whale::model
