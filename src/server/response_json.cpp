#include "server/response_json.h"

namespace whale::server {

std::string dump_json(const ojson& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ojson usage_json(const GenerationUsage& u, bool chat) {
  ojson j;
  j["prompt_tokens"] = u.prompt_tokens;
  j["completion_tokens"] = u.completion_tokens;
  j["total_tokens"] = u.prompt_tokens + u.completion_tokens;
  if (chat) j["prompt_tokens_details"] = {{"cached_tokens", u.cache_hit_tokens}};
  if (chat) j["completion_tokens_details"] = {{"reasoning_tokens", u.reasoning_tokens}};
  j["prompt_cache_hit_tokens"] = u.cache_hit_tokens;
  j["prompt_cache_miss_tokens"] = u.prompt_tokens - u.cache_hit_tokens;
  return j;
}

void MessageAccumulator::add(const Delta& d) {
  reasoning += d.reasoning;
  content += d.content;
  for (const auto& c : d.tool_calls) {
    while (static_cast<int>(calls.size()) <= c.index) calls.push_back({});
    auto& call = calls[c.index];
    if (c.header) {
      call.id = c.id;
      call.name = c.name;
    }
    call.arguments += c.arguments;
  }
  logprobs.insert(logprobs.end(), d.logprobs.begin(), d.logprobs.end());
}

namespace {

ojson bytes_array(const std::string& bytes) {
  ojson arr = ojson::array();
  for (unsigned char c : bytes) arr.push_back(static_cast<int>(c));
  return arr;
}

// A logprob as JSON: -inf (a masked token) is not representable, -9999 is the API's marker.
double finite_logprob(float lp) { return lp < -9999.0f || lp != lp ? -9999.0 : lp; }

// What every response object starts with (spec api.md §3.1, §3.4): id, object, created,
// model. Where system_fingerprint goes differs (the hosted order: after usage in a chat body,
// before choices in chunks and text completions); clients do not care, tests of the shape do.
ojson envelope(const ResponseMeta& meta, const char* object) {
  ojson j;
  j["id"] = meta.id;
  j["object"] = object;
  j["created"] = meta.created;
  j["model"] = meta.model;
  return j;
}

// The one choice of a response: index, its payload (`key`: message, delta or text), logprobs,
// finish_reason (null while a stream is running).
ojson one_choice(const char* key, ojson payload, const ojson& logprobs, const std::string& finish_reason) {
  ojson choice;
  choice["index"] = 0;
  choice[key] = std::move(payload);
  choice["logprobs"] = logprobs;
  choice["finish_reason"] = finish_reason.empty() ? ojson(nullptr) : ojson(finish_reason);
  return ojson::array({std::move(choice)});
}

// A streamed chunk: usage on the final chunk, null on the others when the client asked for it.
std::string chunk_json(const ResponseMeta& meta, const char* object, ojson choices, const std::optional<ojson>& usage,
                       bool usage_null) {
  ojson j = envelope(meta, object);
  j["system_fingerprint"] = meta.fingerprint;
  j["choices"] = std::move(choices);
  if (usage) j["usage"] = *usage;
  else if (usage_null) j["usage"] = nullptr;
  return dump_json(j);
}

}  // namespace

ojson chat_logprobs_json(const std::vector<LogprobEntry>& entries, int top_n) {
  ojson content = ojson::array();
  for (const auto& e : entries) {
    ojson item;
    item["token"] = e.bytes;
    item["logprob"] = finite_logprob(e.logprob);
    item["bytes"] = bytes_array(e.bytes);
    ojson top = ojson::array();
    for (size_t i = 0; i < e.top.size() && static_cast<int>(i) < top_n; ++i) {
      ojson t;
      t["token"] = e.top[i].bytes;
      t["logprob"] = finite_logprob(e.top[i].logprob);
      t["bytes"] = bytes_array(e.top[i].bytes);
      top.push_back(std::move(t));
    }
    item["top_logprobs"] = std::move(top);
    content.push_back(std::move(item));
  }
  ojson j;
  j["content"] = std::move(content);
  return j;
}

std::string chat_completion_body(const ResponseMeta& meta, const MessageAccumulator& m,
                                 bool thinking, bool logprobs, int top_n,
                                 const std::string& finish_reason, const GenerationUsage& usage) {
  ojson msg;
  msg["role"] = "assistant";
  msg["content"] = m.content;
  if (thinking) msg["reasoning_content"] = m.reasoning;
  if (!m.calls.empty()) {
    ojson calls = ojson::array();
    for (size_t i = 0; i < m.calls.size(); ++i) {
      ojson c;
      c["index"] = static_cast<int>(i);
      c["id"] = m.calls[i].id;
      c["type"] = "function";
      c["function"] = {{"name", m.calls[i].name}, {"arguments", m.calls[i].arguments}};
      calls.push_back(std::move(c));
    }
    msg["tool_calls"] = std::move(calls);
  }
  ojson j = envelope(meta, "chat.completion");
  j["choices"] = one_choice("message", std::move(msg),
                            logprobs ? chat_logprobs_json(m.logprobs, top_n) : ojson(nullptr), finish_reason);
  j["usage"] = usage_json(usage, true);
  j["system_fingerprint"] = meta.fingerprint;
  return dump_json(j);
}

std::string chat_chunk(const ResponseMeta& meta, const ojson& delta, const ojson& logprobs,
                       const std::string& finish_reason, const std::optional<ojson>& usage,
                       bool usage_null) {
  return chunk_json(meta, "chat.completion.chunk", one_choice("delta", delta, logprobs, finish_reason), usage,
                    usage_null);
}

ojson text_logprobs_json(const std::vector<LogprobEntry>& entries, int top_n, size_t offset) {
  ojson tokens = ojson::array(), token_logprobs = ojson::array(), top = ojson::array(),
        offsets = ojson::array();
  for (const auto& e : entries) {
    tokens.push_back(e.bytes);
    token_logprobs.push_back(finite_logprob(e.logprob));
    // The sampled token plus the top N alternatives (up to N+1 entries, spec §6).
    ojson alts = ojson::object();
    alts[e.bytes] = finite_logprob(e.logprob);
    for (size_t i = 0; i < e.top.size() && static_cast<int>(i) < top_n; ++i)
      alts[e.top[i].bytes] = finite_logprob(e.top[i].logprob);
    top.push_back(std::move(alts));
    offsets.push_back(offset);
    offset += e.bytes.size();
  }
  ojson j;
  j["tokens"] = std::move(tokens);
  j["token_logprobs"] = std::move(token_logprobs);
  j["top_logprobs"] = std::move(top);
  j["text_offset"] = std::move(offsets);
  return j;
}

std::string text_completion_body(const ResponseMeta& meta, const std::string& text,
                                 const ojson& logprobs, const std::string& finish_reason,
                                 const GenerationUsage& usage) {
  ojson j = envelope(meta, "text_completion");
  j["system_fingerprint"] = meta.fingerprint;
  j["choices"] = one_choice("text", text, logprobs, finish_reason);
  j["usage"] = usage_json(usage, false);
  return dump_json(j);
}

std::string text_chunk(const ResponseMeta& meta, const std::string& text, const ojson& logprobs,
                       const std::string& finish_reason, const std::optional<ojson>& usage,
                       bool usage_null) {
  return chunk_json(meta, "text_completion", one_choice("text", text, logprobs, finish_reason), usage, usage_null);
}

}  // namespace whale::server
