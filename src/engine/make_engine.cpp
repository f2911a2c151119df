// make_engine with a tokenizer: the engine needs only its end-of-generation ids.
#include "engine/engine.h"
#include "tokenizer/tokenizer.h"

namespace whale::engine {

std::unique_ptr<Engine> make_engine(model::Model& model, const tokenizer::Tokenizer& tokenizer,
                                    const EngineOptions& options) {
  std::vector<int32_t> eog;
  const int32_t n = tokenizer.vocab_size();
  for (int32_t id = 0; id < n; ++id)
    if (tokenizer.is_eog(id)) eog.push_back(id);
  return make_engine(model, std::move(eog), options);
}

}  // namespace whale::engine
