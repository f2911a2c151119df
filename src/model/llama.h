// Llama and Qwen2 decoders (the R1-Distill bases): GQA attention with RoPE in the
// architecture's pair layout, q/k/v biases when present (Qwen2), SwiGLU FFN, tied or untied
// output. Spec: deepseek-arch.md §1.2, §3.8.
#pragma once
#include <memory>

#include "model/hparams.h"
#include "model/model.h"
#include "model/weights.h"

namespace whale::model {

std::unique_ptr<Model> make_llama(Hparams hp, std::unique_ptr<WeightSource> weights, ThreadPool& pool,
                                  std::string name, std::shared_ptr<const void> keep_alive);

}  // namespace whale::model
