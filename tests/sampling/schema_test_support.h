// Test helpers for strict-schema decoding: an independent validator written from the JSON Schema
// rules (not from SchemaMachine's code), and random walks over a machine's allowed bytes.
#pragma once
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <string>
#include <unordered_set>

#include "sampling/schema_machine.h"

namespace whale::sampling::testing {

using ojson = nlohmann::ordered_json;

// UTF-8 to UTF-32 wchar_t (Linux), so std::wregex sees code points as JSON Schema means.
inline std::wstring widen(const std::string& s) {
  std::wstring out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(static_cast<wchar_t>(cp));
    i += len;
  }
  return out;
}

inline bool hex_only(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
}

// `format` checks from the RFCs' shapes (inet_pton for addresses).
inline bool format_ok(const std::string& f, const std::string& v) {
  if (f == "ipv4") {
    in_addr a;
    if (inet_pton(AF_INET, v.c_str(), &a) != 1) return false;
    // inet_pton takes leading zeros on some systems; RFC 3986 dotted-decimal does not.
    return !std::regex_search(v, std::regex("(^|\\.)0[0-9]"));
  }
  if (f == "ipv6") {
    in6_addr a;
    return v.find('.') == std::string::npos && inet_pton(AF_INET6, v.c_str(), &a) == 1;
  }
  if (f == "uuid") {
    if (v.size() != 36) return false;
    for (int i : {8, 13, 18, 23})
      if (v[i] != '-') return false;
    return hex_only(v.substr(0, 8) + v.substr(9, 4) + v.substr(14, 4) + v.substr(19, 4) + v.substr(24));
  }
  auto label_ok = [](const std::string& l) {
    if (l.empty() || l.size() > 63 || l.front() == '-' || l.back() == '-') return false;
    for (char c : l)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    return true;
  };
  auto host_ok = [&](const std::string& h) {
    size_t start = 0;
    for (;;) {
      const size_t dot = h.find('.', start);
      if (!label_ok(h.substr(start, dot - start))) return false;
      if (dot == std::string::npos) return true;
      start = dot + 1;
    }
  };
  if (f == "hostname") return host_ok(v);
  if (f == "email") {
    const size_t at = v.find('@');
    if (at == std::string::npos || at == 0 || v.find('@', at + 1) != std::string::npos) return false;
    const std::string domain = v.substr(at + 1);
    const size_t last_dot = domain.rfind('.');
    if (last_dot == std::string::npos || domain.size() - last_dot - 1 < 2) return false;
    for (char c : v.substr(0, at))
      if (!std::isalnum(static_cast<unsigned char>(c)) && std::string("._%+-").find(c) == std::string::npos)
        return false;
    return host_ok(domain);
  }
  return false;
}

inline bool type_ok(const std::string& t, const nlohmann::json& v) {
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  if (t == "string") return v.is_string();
  if (t == "number") return v.is_number();
  if (t == "integer")
    return v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
  if (t == "boolean") return v.is_boolean();
  if (t == "null") return v.is_null();
  return false;
}

// JSON Schema validation (the keywords of api.md §7.3). `why` names the first failure.
inline bool validate(const ojson& s, const nlohmann::json& v, const ojson& root, std::string& why,
                     int depth = 0) {
  auto no = [&](const std::string& w) {
    why = w + " at " + v.dump();
    return false;
  };
  if (depth > 200) return no("too deep");
  if (s.is_boolean()) return s.get<bool>() ? true : no("false schema");
  if (s.contains("$ref")) {
    const std::string r = s["$ref"].get<std::string>();
    return validate(root.at(ojson::json_pointer(r.substr(1))), v, root, why, depth + 1);
  }
  for (const char* k : {"anyOf", "oneOf"})
    if (s.contains(k)) {
      for (const auto& alt : s[k]) {
        std::string ignore;
        if (validate(alt, v, root, ignore, depth + 1)) return true;
      }
      return no(std::string("no ") + k + " alternative");
    }
  if (s.contains("type")) {
    bool any = false;
    if (s["type"].is_string()) any = type_ok(s["type"].get<std::string>(), v);
    else
      for (const auto& t : s["type"]) any = any || type_ok(t.get<std::string>(), v);
    if (!any) return no("type");
  }
  if (s.contains("enum")) {
    bool any = false;
    for (const auto& e : s["enum"]) any = any || nlohmann::json::parse(e.dump()) == v;
    if (!any) return no("enum");
  }
  if (s.contains("const") && nlohmann::json::parse(s["const"].dump()) != v) return no("const");
  if (v.is_object()) {
    const ojson props = s.value("properties", ojson::object());
    if (s.contains("required"))
      for (const auto& r : s["required"])
        if (!v.contains(r.get<std::string>())) return no("required " + r.get<std::string>());
    for (const auto& [k, sub] : v.items()) {
      if (props.contains(k)) {
        if (!validate(props[k], sub, root, why, depth + 1)) return false;
      } else if (s.contains("additionalProperties")) {
        const ojson& ap = s["additionalProperties"];
        if (ap.is_boolean() && !ap.get<bool>()) return no("additional property " + k);
        if (!validate(ap, sub, root, why, depth + 1)) return false;
      }
    }
  }
  if (v.is_array() && s.contains("items"))
    for (const auto& x : v)
      if (!validate(s["items"], x, root, why, depth + 1)) return false;
  if (v.is_string()) {
    const std::string str = v.get<std::string>();
    if (s.contains("pattern") &&
        !std::regex_search(widen(str), std::wregex(widen(s["pattern"].get<std::string>()))))
      return no("pattern");
    if (s.contains("format") && !format_ok(s["format"].get<std::string>(), str)) return no("format");
  }
  if (v.is_number()) {
    const double x = v.get<double>();
    auto num = [&](const char* k) { return s[k].get<double>(); };
    if (s.contains("minimum") && x < num("minimum")) return no("minimum");
    if (s.contains("maximum") && x > num("maximum")) return no("maximum");
    if (s.contains("exclusiveMinimum") && x <= num("exclusiveMinimum")) return no("exclusiveMinimum");
    if (s.contains("exclusiveMaximum") && x >= num("exclusiveMaximum")) return no("exclusiveMaximum");
    if (s.contains("multipleOf")) {
      const double q = x / num("multipleOf");
      if (std::abs(q - std::round(q)) > 1e-6) return no("multipleOf");
    }
  }
  return true;
}

// Bytes a shortest completion search may use: printable ASCII (the test schemas need no more to
// finish) and UTF-8 continuation bytes (to finish a character the walk stopped inside).
inline const std::string& finishing_bytes() {
  static const std::string b = [] {
    std::string s;
    for (int c = 0x20; c < 0x7F; ++c) s.push_back(static_cast<char>(c));
    for (int c = 0x80; c < 0xC0; ++c) s.push_back(static_cast<char>(c));
    return s;
  }();
  return b;
}

// Completes `m` with the fewest bytes of finishing_bytes() (breadth-first over distinct states).
inline bool finish(SchemaMachine& m, std::string& text, int budget = 20000) {
  struct Node {
    SchemaMachine m;
    std::string added;
  };
  std::deque<Node> queue{{m, ""}};
  std::unordered_set<std::string> seen{m.cache_key(0, 0)};
  for (int expanded = 0; !queue.empty() && expanded < budget; ++expanded) {
    Node n = std::move(queue.front());
    queue.pop_front();
    if (n.m.complete()) {
      m = n.m;
      text += n.added;
      return true;
    }
    for (char c : finishing_bytes()) {
      SchemaMachine next = n.m;
      if (!next.feed(std::string_view(&c, 1))) continue;
      if (!seen.insert(next.cache_key(0, 0)).second) continue;
      queue.push_back({std::move(next), n.added + c});
    }
  }
  return false;
}

// A random document: random allowed bytes (favouring closers as it grows), then the shortest
// completion. Checks on the way that some byte is always allowed until complete.
inline std::string random_walk(const std::shared_ptr<const CompiledSchema>& cs, std::mt19937& rng,
                               size_t soft_len = 200) {
  SchemaMachine m(cs);
  std::string text;
  std::uniform_real_distribution<double> u(0, 1);
  for (;;) {
    if (m.complete() && (!m.can_continue() || u(rng) < 0.3)) return text;
    std::string allowed;
    for (int b = 0; b < 256; ++b) {
      const char c = static_cast<char>(b);
      if (m.accepts(std::string_view(&c, 1))) allowed.push_back(c);
    }
    if (allowed.empty()) {
      ADD_FAILURE() << "dead end after " << text;
      return text;
    }
    if (text.size() > soft_len) {
      EXPECT_TRUE(finish(m, text)) << "no completion after " << text;
      return text;
    }
    std::string closers;
    for (char c : allowed)
      if (c == '"' || c == '}' || c == ']') closers.push_back(c);
    const double p_close = 0.05 + 0.5 * static_cast<double>(text.size()) / soft_len;
    const std::string& pool = !closers.empty() && u(rng) < p_close ? closers : allowed;
    const char c = pool[rng() % pool.size()];
    EXPECT_TRUE(m.feed(std::string_view(&c, 1)));
    text.push_back(c);
  }
}

}  // namespace whale::sampling::testing
