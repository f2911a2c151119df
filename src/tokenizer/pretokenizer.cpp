#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "util/error.h"

namespace whale::tokenizer {
namespace {

// Unicode White_Space, written out because PCRE2's \s also takes U+180E and the reference does
// not (spec §2.3). WS_IN is the member list for use inside other classes.
#define WS_IN R"(\t\n\x{0B}\f\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})"
#define WS "[" WS_IN "]"
#define NOT_WS "[^" WS_IN "]"

// Shared tail of the gpt-2-style patterns: whitespace runs not followed by non-space, then any
// whitespace.
#define WS_TAIL WS "+(?!" NOT_WS ")|" WS "+"

// The pattern lists of spec §2.3 / fixtures pretokenizer-regexes.json, and llama-bpe (§1 notes).
const std::vector<std::string>* patterns_for(const std::string& family) {
  static const std::vector<std::string> deepseek_v3 = {
      R"(\p{N}{1,3})",
      R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)",
      R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|)" WS
      R"(*[\r\n]+|)" WS_TAIL,
  };
  static const std::vector<std::string> qwen2 = {
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^)" WS_IN
      R"(\p{L}\p{N}]+[\r\n]*|)" WS R"(*[\r\n]+|)" WS_TAIL,
  };
  static const std::vector<std::string> llama_bpe = {
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^)" WS_IN
      R"(\p{L}\p{N}]+[\r\n]*|)" WS R"(*[\r\n]+|)" WS_TAIL,
  };
  static const std::vector<std::string> deepseek_llm = {
      R"([\x{D}\x{A}])",
      WS R"(?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)",
      WS R"(?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)",
      WS R"(+$)",
      R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)",
      R"(\p{N}+)",
  };
  static const std::vector<std::string> deepseek_coder = {
      R"([\x{D}\x{A}])",
      WS R"(?\p{L}+)",
      WS R"(?\p{P}+)",
      R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)",
      R"(\p{N})",
  };
  static const std::vector<std::string> gpt2 = {
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^)" WS_IN R"(\p{L}\p{N}]+|)" WS_TAIL,
  };
  if (family == "deepseek-v3") return &deepseek_v3;
  if (family == "qwen2") return &qwen2;
  if (family == "llama-bpe") return &llama_bpe;
  if (family == "deepseek-llm") return &deepseek_llm;
  if (family == "deepseek-coder") return &deepseek_coder;
  if (family == "gpt2") return &gpt2;
  return nullptr;
}

}  // namespace

struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Regex() { pcre2_code_free(code); }
};

bool PreTokenizer::known(const std::string& family) { return patterns_for(family) != nullptr; }

PreTokenizer::PreTokenizer(const std::string& family) {
  const auto* pats = patterns_for(family);
  if (!pats) fail("pre-tokenizer: unknown family \"", family, "\"");
  for (const std::string& p : *pats) {
    int err = 0;
    PCRE2_SIZE off = 0;
    auto r = std::make_unique<Regex>();
    r->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(),
                            PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &off, nullptr);
    if (!r->code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      fail("pre-tokenizer ", family, ": pattern does not compile at offset ", off, ": ",
           reinterpret_cast<const char*>(msg));
    }
    // JIT is an optimisation only; the interpreter gives the same matches.
    r->jit = pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE) == 0;
    regexes_.push_back(std::move(r));
  }
}

PreTokenizer::~PreTokenizer() = default;

void PreTokenizer::split(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  if (text.empty()) return;
  std::vector<std::pair<size_t, size_t>> cur{{0, text.size()}}, next;
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  if (!md) fail("pre-tokenizer: out of memory");
  for (const auto& re : regexes_) {
    next.clear();
    for (const auto& [base, len] : cur) {
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + base);
      size_t pos = 0;
      while (pos < len) {
        int rc = re->jit ? pcre2_jit_match(re->code, subject, len, pos, 0, md, nullptr)
                         : PCRE2_ERROR_JIT_BADOPTION;
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT || rc == PCRE2_ERROR_JIT_BADOPTION)
          rc = pcre2_match(re->code, subject, len, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md,
                           nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
          // Resource limits only (the patterns cannot fail otherwise): keep the rest whole.
          break;
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const size_t s = ov[0], e = ov[1];
        if (s > pos) next.emplace_back(base + pos, s - pos);
        if (e > s) {
          next.emplace_back(base + s, e - s);
          pos = e;
        } else {
          // None of the patterns matches empty; guard against a loop anyway by stepping one
          // code point.
          size_t step = 1;
          while (s + step < len && (static_cast<uint8_t>(text[base + s + step]) & 0xC0) == 0x80)
            ++step;
          next.emplace_back(base + s, step);
          pos = s + step;
        }
      }
      if (pos < len) next.emplace_back(base + pos, len - pos);
    }
    cur.swap(next);
  }
  pcre2_match_data_free(md);
  out.insert(out.end(), cur.begin(), cur.end());
}

}  // namespace whale::tokenizer
