// Fuzzes strict-schema decoding: input = schema JSON text, a NUL byte, then bytes fed to the
// machine. The compiler may refuse a schema only with whale::Error; a compiled machine must
// never crash, must leave its state unchanged on a refused byte, and (its contract) must keep
// some byte allowed until the document is complete. Compile-time caps (pattern repeat counts,
// automaton sizes) keep every input fast.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "sampling/schema_machine.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string schema_text = input.substr(0, nul);
  const std::string bytes = nul == std::string::npos ? std::string() : input.substr(nul + 1);
  const auto schema = nlohmann::ordered_json::parse(schema_text, nullptr, false);
  if (schema.is_discarded()) return 0;
  std::shared_ptr<const whale::sampling::CompiledSchema> compiled;
  try {
    compiled = whale::sampling::compile_schema(schema, "fuzz",
                                               whale::sampling::SchemaOptions{.max_depth = 16});
  } catch (const whale::Error&) {
    return 0;
  }
  whale::sampling::SchemaMachine m(compiled);
  for (std::size_t i = 0; i < bytes.size() && i < 4096; ++i) {
    const std::string_view b(&bytes[i], 1);
    const std::string before = m.cache_key(0, 0);
    if (m.feed(b)) continue;
    if (m.cache_key(0, 0) != before) std::abort();
    // Refused: some other byte must be allowed unless the document is complete.
    if (m.complete()) continue;
    bool any = false;
    for (int c = 0; c < 256 && !any; ++c) {
      const char ch = static_cast<char>(c);
      any = m.accepts(std::string_view(&ch, 1));
    }
    if (!any) std::abort();
  }
  (void)m.cache_key(0, 0);
  return 0;
}
