#include "engine/disk_cache.h"

#include <signal.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "util/error.h"
#include "util/hash64.h"

namespace whale::engine {
namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'W', 'H', 'A', 'L', 'E', 'K', 'V', '1'};
constexpr const char* kExt = ".wkv";
constexpr const char* kTmpMarker = ".wkv.tmp.";

// Header field offsets (see the format in disk_cache.h).
constexpr size_t kOffVersion = 8, kOffHeaderSize = 12, kOffKey = 16, kOffHash = 24,
                 kOffParent = 32, kOffDepth = 40, kOffKvType = 44, kOffRaw = 48,
                 kOffPayload = 56, kOffPayloadHash = 64, kOffTokens = 72,
                 kOffHeaderHash = kOffTokens + 4 * DiskCache::kBlockTokens;
static_assert(kOffHeaderHash + 8 == DiskCache::kHeaderBytes);

template <class T>
void put(uint8_t* h, size_t off, T v) {
  std::memcpy(h + off, &v, sizeof v);
}
template <class T>
T get(const uint8_t* h, size_t off) {
  T v;
  std::memcpy(&v, h + off, sizeof v);
  return v;
}

uint64_t header_hash(const uint8_t* h) { return Hasher64(0x686472).add_bytes(h, kOffHeaderHash).digest(); }
uint64_t payload_hash(const uint8_t* p, size_t n) { return Hasher64(0x706c64).add_bytes(p, n).digest(); }

std::string hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Parses exactly 16 lowercase hex digits.
bool parse_hex16(const std::string& s, uint64_t& out) {
  if (s.size() != 16) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else return false;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  out = v;
  return true;
}

int64_t file_ns(fs::file_time_type t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
int64_t now_ns() { return file_ns(fs::file_time_type::clock::now()); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Temporary files are named <hash>.wkv.tmp.<pid>.<n>: one whose writer process is gone is a
// leftover of a crash.
bool stale_tmp(const std::string& name) {
  const size_t at = name.find(kTmpMarker);
  if (at == std::string::npos) return false;
  const long pid = std::strtol(name.c_str() + at + std::strlen(kTmpMarker), nullptr, 10);
  if (pid <= 0 || pid == static_cast<long>(::getpid())) return true;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

bool read_file(const fs::path& p, std::vector<uint8_t>& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  in.seekg(0, std::ios::end);
  const std::streamoff n = in.tellg();
  if (n < 0) return false;
  in.seekg(0);
  out.resize(static_cast<size_t>(n));
  in.read(reinterpret_cast<char*>(out.data()), n);
  return in.gcount() == n;
}

}  // namespace

uint64_t block_chain_hash(uint64_t parent, const int32_t* tokens) {
  return Hasher64(parent).add_bytes(tokens, 4 * DiskCache::kBlockTokens).digest();
}

fs::path default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "whale" / "prompt-cache";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache" / "whale" / "prompt-cache";
  return {};
}

DiskCache::DiskCache(fs::path dir, uint64_t model_key, uint32_t kv_type, size_t block_bytes,
                     int64_t max_bytes, CacheLog log)
    : dir_(std::move(dir)),
      model_dir_(dir_ / hex16(model_key)),
      key_(model_key),
      kv_type_(kv_type),
      block_bytes_(block_bytes),
      max_bytes_(max_bytes),
      log_(std::move(log)) {
  std::error_code ec;
  fs::create_directories(model_dir_, ec);
  if (ec) fail("prompt cache: cannot create the folder ", model_dir_.string(), ": ", ec.message());
  scan();
  writer_ = std::thread([this] { writer_loop(); });
}

DiskCache::~DiskCache() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void DiskCache::reject(const fs::path& path, const std::string& why) {
  std::error_code ec;
  fs::remove(path, ec);
  ++stats_.errors;
  if (log_) log_(str_cat("prompt cache: rejected ", path.string(), ": ", why, "; entry deleted"));
}

fs::path DiskCache::path_of(const Id& id) const {
  return dir_ / hex16(id.first) / (hex16(id.second) + kExt);
}

void DiskCache::scan() {
  std::lock_guard lk(mu_);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    uint64_t key;
    if (!e.is_directory(ec) || !parse_hex16(e.path().filename().string(), key)) continue;
    scan_model_dir(e.path(), key);
  }
  // A prefix is only reachable through its parent, so a parent counts as used whenever a child
  // is: deepest entries first, each lifts its parent's time to its own.
  std::vector<std::pair<int32_t, Id>> order;
  for (const auto& [id, e] : entries_)
    if (id.first == key_) order.push_back({e.depth, id});
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [depth, id] : order) {
    const Entry& child = entries_[id];
    auto parent = entries_.find({key_, child.parent});
    if (parent != entries_.end() && parent->second.depth == child.depth - 1)
      parent->second.used_ns = std::max(parent->second.used_ns, child.used_ns);
  }
  make_room_locked(0);  // the budget may have shrunk since the last run
}

void DiskCache::scan_model_dir(const fs::path& dir, uint64_t key) {
  std::error_code ec;
  std::vector<uint8_t> h(kHeaderBytes);
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file(ec)) continue;
    if (name.find(kTmpMarker) != std::string::npos) {
      if (stale_tmp(name)) fs::remove(e.path(), ec);
      continue;
    }
    uint64_t hash;
    if (!ends_with(name, kExt) || !parse_hex16(name.substr(0, name.size() - 4), hash)) continue;
    const auto size = static_cast<int64_t>(e.file_size(ec));
    if (ec) continue;
    Entry entry;
    entry.bytes = size;
    entry.used_ns = file_ns(e.last_write_time(ec));
    if (key != key_) {  // another model's: counted for the budget, never read
      entries_[{key, hash}] = entry;
      total_bytes_ += size;
      continue;
    }
    std::ifstream in(e.path(), std::ios::binary);
    in.read(reinterpret_cast<char*>(h.data()), kHeaderBytes);
    if (in.gcount() != static_cast<std::streamsize>(kHeaderBytes)) {
      reject(e.path(), str_cat("truncated header (", size, " bytes)"));
      continue;
    }
    const uint8_t* p = h.data();
    std::string why;
    if (std::memcmp(p, kMagic, 8) != 0) why = "bad magic";
    else if (get<uint32_t>(p, kOffVersion) != kVersion)
      why = str_cat("format version ", get<uint32_t>(p, kOffVersion), " (expected ", kVersion, ")");
    else if (get<uint32_t>(p, kOffHeaderSize) != kHeaderBytes) why = "bad header size";
    else if (get<uint64_t>(p, kOffHeaderHash) != header_hash(p)) why = "header checksum mismatch";
    else if (get<uint64_t>(p, kOffKey) != key_) why = "model key differs from its folder";
    else if (get<uint64_t>(p, kOffHash) != hash) why = "chain hash differs from its name";
    else if (block_chain_hash(get<uint64_t>(p, kOffParent),
                              reinterpret_cast<const int32_t*>(p + kOffTokens)) != hash)
      why = "tokens do not match the chain hash";
    else if (get<uint32_t>(p, kOffKvType) != kv_type_ || get<uint64_t>(p, kOffRaw) != block_bytes_)
      why = "KV type or block size differs";
    else if (get<int32_t>(p, kOffDepth) < 0) why = "negative depth";
    else if (static_cast<int64_t>(kHeaderBytes + get<uint64_t>(p, kOffPayload)) != size)
      why = str_cat("size ", size, " bytes, header says ", kHeaderBytes + get<uint64_t>(p, kOffPayload),
                    " (truncated?)");
    if (!why.empty()) {
      reject(e.path(), why);
      continue;
    }
    entry.depth = get<int32_t>(p, kOffDepth);
    entry.parent = get<uint64_t>(p, kOffParent);
    entries_[{key, hash}] = entry;
    total_bytes_ += size;
    ++stats_.entries;
  }
}

bool DiskCache::contains(uint64_t hash) const {
  std::lock_guard lk(mu_);
  return entries_.count({key_, hash}) != 0;
}

bool DiskCache::pending(uint64_t hash) const {
  std::lock_guard lk(mu_);
  if (writing_ && writing_hash_ == hash) return true;
  return std::any_of(jobs_.begin(), jobs_.end(), [&](const Job& j) { return j.hash == hash; });
}

DiskCache::Load DiskCache::load(const DiskBlockKey& key, uint8_t* dst) {
  const Id id{key_, key.hash};
  if (!contains(key.hash)) return Load::kMissing;
  const fs::path path = path_of(id);
  std::vector<uint8_t> buf;
  auto corrupt = [&](const std::string& why) {
    std::lock_guard lk(mu_);
    // Only the entry we read is dropped: the writer may have replaced it meanwhile.
    if (entries_.count(id)) {
      total_bytes_ -= entries_[id].bytes;
      entries_.erase(id);
      --stats_.entries;
    }
    reject(path, why);
    return Load::kCorrupt;
  };
  if (!read_file(path, buf)) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      // Deleted behind our back (another process sharing the folder, or an operator's
      // `whale cache clear`): forget it.
      std::lock_guard lk(mu_);
      if (auto it = entries_.find(id); it != entries_.end()) {
        total_bytes_ -= it->second.bytes;
        entries_.erase(it);
        --stats_.entries;
      }
      return Load::kMissing;
    }
    return corrupt("cannot be read");
  }
  if (buf.size() < kHeaderBytes) return corrupt(str_cat("truncated (", buf.size(), " bytes)"));
  const uint8_t* h = buf.data();
  if (std::memcmp(h, kMagic, 8) != 0 || get<uint64_t>(h, kOffHeaderHash) != header_hash(h))
    return corrupt("header checksum mismatch");
  if (get<uint64_t>(h, kOffKey) != key_ || get<uint64_t>(h, kOffHash) != key.hash ||
      get<uint64_t>(h, kOffRaw) != block_bytes_)
    return corrupt("header does not match its name");
  const uint64_t n = get<uint64_t>(h, kOffPayload);
  if (buf.size() != kHeaderBytes + n)
    return corrupt(str_cat("size ", buf.size(), " bytes, header says ", kHeaderBytes + n));
  // A valid entry of another prefix with the same 64-bit hash: not ours, not damaged.
  if (get<uint64_t>(h, kOffParent) != key.parent || get<int32_t>(h, kOffDepth) != key.depth ||
      std::memcmp(h + kOffTokens, key.tokens, 4 * kBlockTokens) != 0)
    return Load::kMissing;
  const uint8_t* payload = h + kHeaderBytes;
  if (get<uint64_t>(h, kOffPayloadHash) != payload_hash(payload, n))
    return corrupt("payload checksum mismatch");
  const size_t got = ZSTD_decompress(dst, block_bytes_, payload, n);
  if (ZSTD_isError(got)) return corrupt(str_cat("zstd: ", ZSTD_getErrorName(got)));
  if (got != block_bytes_) return corrupt(str_cat("decompressed to ", got, " bytes, expected ", block_bytes_));
  std::lock_guard lk(mu_);
  ++stats_.hits;
  return Load::kOk;
}

void DiskCache::touch(const std::vector<uint64_t>& hashes) {
  const auto now = fs::file_time_type::clock::now();
  std::vector<fs::path> paths;
  {
    std::lock_guard lk(mu_);
    for (uint64_t h : hashes) {
      auto it = entries_.find({key_, h});
      if (it == entries_.end()) continue;
      it->second.used_ns = file_ns(now);
      paths.push_back(path_of(it->first));
    }
  }
  // The file times carry recency across restarts; a failure only costs LRU precision.
  std::error_code ec;
  for (const auto& p : paths) fs::last_write_time(p, now, ec);
}

void DiskCache::write(const DiskBlockKey& key, const uint8_t* data, int32_t tag) {
  {
    std::lock_guard lk(mu_);
    const bool queued = (writing_ && writing_hash_ == key.hash) ||
                        std::any_of(jobs_.begin(), jobs_.end(), [&](const Job& j) { return j.hash == key.hash; });
    if (queued || entries_.count({key_, key.hash})) {
      done_.push_back(tag);
      return;
    }
    Job j;
    j.hash = key.hash;
    j.parent = key.parent;
    j.depth = key.depth;
    std::memcpy(j.tokens, key.tokens, sizeof j.tokens);
    j.data = data;
    j.tag = tag;
    jobs_.push_back(j);
  }
  cv_.notify_all();
}

void DiskCache::finished_writes(std::vector<int32_t>& tags) {
  std::lock_guard lk(mu_);
  tags.insert(tags.end(), done_.begin(), done_.end());
  done_.clear();
}

void DiskCache::flush() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return jobs_.empty() && !writing_; });
}

DiskCacheStats DiskCache::stats() const {
  std::lock_guard lk(mu_);
  DiskCacheStats s = stats_;
  s.bytes = total_bytes_;
  return s;
}

void DiskCache::writer_loop() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stop_ and drained
    Job job = jobs_.front();
    jobs_.pop_front();
    writing_ = true;
    writing_hash_ = job.hash;
    lk.unlock();
    try {
      write_one(job);
    } catch (const std::exception& e) {
      if (log_) log_(str_cat("prompt cache: write failed: ", e.what()));
    }
    lk.lock();
    writing_ = false;
    done_.push_back(job.tag);
    cv_.notify_all();
  }
}

void DiskCache::write_one(const Job& job) {
  std::vector<uint8_t> file(kHeaderBytes + ZSTD_compressBound(block_bytes_));
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  if (!cctx) fail("zstd: out of memory");
  // Level 1: KV values are close to random bits, so higher levels buy little and cost the
  // writer thread time; the frame checksum is a second guard behind our payload hash.
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  const size_t n = ZSTD_compress2(cctx, file.data() + kHeaderBytes, file.size() - kHeaderBytes,
                                  job.data, block_bytes_);
  ZSTD_freeCCtx(cctx);
  if (ZSTD_isError(n)) fail("zstd: ", ZSTD_getErrorName(n));
  file.resize(kHeaderBytes + n);
  uint8_t* h = file.data();
  std::memcpy(h, kMagic, 8);
  put<uint32_t>(h, kOffVersion, kVersion);
  put<uint32_t>(h, kOffHeaderSize, static_cast<uint32_t>(kHeaderBytes));
  put<uint64_t>(h, kOffKey, key_);
  put<uint64_t>(h, kOffHash, job.hash);
  put<uint64_t>(h, kOffParent, job.parent);
  put<int32_t>(h, kOffDepth, job.depth);
  put<uint32_t>(h, kOffKvType, kv_type_);
  put<uint64_t>(h, kOffRaw, static_cast<uint64_t>(block_bytes_));
  put<uint64_t>(h, kOffPayload, static_cast<uint64_t>(n));
  put<uint64_t>(h, kOffPayloadHash, payload_hash(h + kHeaderBytes, n));
  std::memcpy(h + kOffTokens, job.tokens, sizeof job.tokens);
  put<uint64_t>(h, kOffHeaderHash, header_hash(h));

  const auto size = static_cast<int64_t>(file.size());
  const Id id{key_, job.hash};
  fs::path tmp;
  {
    std::lock_guard lk(mu_);
    if (entries_.count(id)) return;
    // Reserve the bytes before the temporary file exists, so the folder never holds more.
    if (!make_room_locked(size)) return;
    total_bytes_ += size;
    tmp = model_dir_ / str_cat(hex16(job.hash), kTmpMarker, ::getpid(), ".", tmp_counter_++);
  }
  const fs::path final_path = path_of(id);
  std::error_code ec;
  bool ok = false;
  if (FILE* f = std::fopen(tmp.c_str(), "wb")) {
    ok = std::fwrite(file.data(), 1, file.size(), f) == file.size();
    ok = (std::fclose(f) == 0) && ok;
  }
  if (ok) {
    fs::rename(tmp, final_path, ec);
    ok = !ec;
  }
  std::lock_guard lk(mu_);
  if (!ok) {
    fs::remove(tmp, ec);
    total_bytes_ -= size;
    if (log_) log_(str_cat("prompt cache: cannot write ", final_path.string()));
    return;
  }
  Entry e;
  e.bytes = size;
  e.used_ns = now_ns();
  e.depth = job.depth;
  e.parent = job.parent;
  entries_[id] = e;
  ++stats_.entries;
  ++stats_.writes;
  // Keep ancestors at least as recent as this entry (chains are evicted tail first).
  uint64_t parent = job.parent;
  for (int32_t d = job.depth - 1; d >= 0; --d) {
    auto it = entries_.find({key_, parent});
    if (it == entries_.end() || it->second.depth != d) break;
    it->second.used_ns = std::max(it->second.used_ns, e.used_ns);
    parent = it->second.parent;
  }
}

bool DiskCache::make_room_locked(int64_t bytes) {
  if (bytes > max_bytes_) return false;
  while (total_bytes_ + bytes > max_bytes_) {
    // Least recently used; among equals the deepest (the tail of a chain before its head).
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (victim == entries_.end() || it->second.used_ns < victim->second.used_ns ||
          (it->second.used_ns == victim->second.used_ns && it->second.depth > victim->second.depth))
        victim = it;
    }
    if (victim == entries_.end()) return false;  // only the file being written remains
    remove_locked(victim->first);
    ++stats_.evictions;
  }
  return true;
}

void DiskCache::remove_locked(const Id& id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  std::error_code ec;
  fs::remove(path_of(id), ec);
  total_bytes_ -= it->second.bytes;
  if (id.first == key_) --stats_.entries;
  entries_.erase(it);
}

std::string verify_cache_entry(const fs::path& file) {
  std::vector<uint8_t> buf;
  if (!read_file(file, buf)) return "cannot be read";
  if (buf.size() < DiskCache::kHeaderBytes) return str_cat("truncated (", buf.size(), " bytes)");
  const uint8_t* h = buf.data();
  if (std::memcmp(h, kMagic, 8) != 0) return "bad magic";
  if (get<uint32_t>(h, kOffVersion) != DiskCache::kVersion) return "unknown format version";
  if (get<uint64_t>(h, kOffHeaderHash) != header_hash(h)) return "header checksum mismatch";
  if (block_chain_hash(get<uint64_t>(h, kOffParent), reinterpret_cast<const int32_t*>(h + kOffTokens)) !=
      get<uint64_t>(h, kOffHash))
    return "tokens do not match the chain hash";
  const uint64_t n = get<uint64_t>(h, kOffPayload);
  if (buf.size() != DiskCache::kHeaderBytes + n)
    return str_cat("size ", buf.size(), " bytes, header says ", DiskCache::kHeaderBytes + n);
  const uint8_t* payload = h + DiskCache::kHeaderBytes;
  if (get<uint64_t>(h, kOffPayloadHash) != payload_hash(payload, n)) return "payload checksum mismatch";
  const uint64_t raw = get<uint64_t>(h, kOffRaw);
  if (raw > (uint64_t{1} << 32)) return "implausible block size";
  std::vector<uint8_t> out(raw);
  const size_t got = ZSTD_decompress(out.data(), out.size(), payload, n);
  if (ZSTD_isError(got)) return str_cat("zstd: ", ZSTD_getErrorName(got));
  if (got != raw) return "decompressed size differs";
  return {};
}

CacheFolderSummary summarize_cache_folder(const fs::path& dir, bool verify) {
  CacheFolderSummary out;
  std::error_code ec;
  for (const auto& m : fs::directory_iterator(dir, ec)) {
    uint64_t key;
    if (!m.is_directory(ec) || !parse_hex16(m.path().filename().string(), key)) continue;
    CacheFolderModel cm;
    cm.key = m.path().filename().string();
    bool first = true;
    for (const auto& e : fs::directory_iterator(m.path(), ec)) {
      const std::string name = e.path().filename().string();
      if (!e.is_regular_file(ec)) continue;
      if (name.find(kTmpMarker) != std::string::npos) {
        ++out.temp_files;
        continue;
      }
      if (!ends_with(name, kExt)) continue;
      ++cm.entries;
      cm.bytes += static_cast<int64_t>(e.file_size(ec));
      const auto t = e.last_write_time(ec);
      if (first || t < cm.oldest) cm.oldest = t;
      if (first || t > cm.newest) cm.newest = t;
      first = false;
      if (verify && !verify_cache_entry(e.path()).empty()) ++cm.bad;
    }
    out.entries += cm.entries;
    out.bytes += cm.bytes;
    out.models.push_back(cm);
  }
  std::sort(out.models.begin(), out.models.end(),
            [](const auto& a, const auto& b) { return a.bytes > b.bytes; });
  return out;
}

int64_t clear_cache_folder(const fs::path& dir) {
  int64_t n = 0;
  std::error_code ec;
  for (const auto& m : fs::directory_iterator(dir, ec)) {
    uint64_t key;
    if (!m.is_directory(ec) || !parse_hex16(m.path().filename().string(), key)) continue;
    std::vector<fs::path> victims;
    for (const auto& e : fs::directory_iterator(m.path(), ec)) {
      const std::string name = e.path().filename().string();
      if (e.is_regular_file(ec) && (ends_with(name, kExt) || name.find(kTmpMarker) != std::string::npos))
        victims.push_back(e.path());
    }
    for (const auto& v : victims) n += fs::remove(v, ec) ? 1 : 0;
    fs::remove(m.path(), ec);  // only succeeds when empty
  }
  return n;
}

}  // namespace whale::engine
