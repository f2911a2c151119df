// DeepSeek V2 / V2-Lite / V2.5 / V3 / R1 / V3.1: MLA attention in the absorbed form over a latent
// KV cache (576 values per token per layer for the released shapes) and DeepSeekMoE.
// Spec: deepseek-arch.md §2. Every variant difference is a field of Hparams.
#pragma once
#include <memory>

#include "model/hparams.h"
#include "model/model.h"
#include "model/weights.h"

namespace whale::model {

std::unique_ptr<Model> make_deepseek2(Hparams hp, std::unique_ptr<WeightSource> weights, ThreadPool& pool,
                                      std::string name, std::shared_ptr<const void> keep_alive);

}  // namespace whale::model
