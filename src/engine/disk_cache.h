// The prompt cache's disk tier: one file per 64-token KV block, so prefixes survive restarts.
//
// Layout: DIR/<model key, 16 hex>/<chain hash, 16 hex>.wkv. The model key hashes the model's
// identity (model/model_identity.h), the KV type and layout, so another model (or the same one
// with another KV type) looks in another folder and never reads these entries; the header repeats
// the key as a second check. The chain hash names a whole prefix (block_chain_hash below): the file of block i holds the KV of positions [64 i, 64 i + 64) of exactly one
// token sequence.
//
// File format (little-endian), kHeaderBytes of header then the payload:
//   magic "WHALEKV1", u32 version, u32 header size, u64 model key, u64 chain hash,
//   u64 parent chain hash, u32 depth (block index), u32 KV type, u64 raw (block) bytes,
//   u64 payload bytes, u64 payload hash, i32 tokens[64], u64 header hash (of all bytes before it).
//   Payload: the block's bytes (KvPool::block_data) compressed as one zstd frame with its
//   content checksum.
// A file is written to a temporary name in the same folder and renamed, so a crash never leaves a
// half entry under a real name; leftover temporary files are deleted at start.
//
// Integrity: at start every header is read and checked (magic, version, header hash, key, name,
// size = header + payload, which catches truncation); the payload is checked (hash, zstd frame
// checksum, size) when loaded. A bad entry is logged, deleted and treated as a miss.
//
// Budget: the .wkv files of the whole folder (every model's) never exceed max_bytes: a write
// first evicts least recently used entries (any model's) until it fits, and is skipped when it
// cannot fit at all. Recency survives restarts through file modification times (a hit touches
// its file); a parent entry is never older than its children, so chains are evicted tail first.
//
// Threads: writes run on the tier's own writer thread; everything else may be called from any
// one thread (the engine's scheduler). The index is guarded by a mutex; file reads happen
// outside it. Blocks handed to write() must stay unchanged until finished_writes() returns them.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace whale::engine {

using CacheLog = std::function<void(const std::string&)>;

// $XDG_CACHE_HOME/whale/prompt-cache, else $HOME/.cache/whale/prompt-cache; empty when neither
// variable is set.
std::filesystem::path default_cache_dir();

// The chain hash of a prefix that ends with the 64 `tokens`, given the chain hash of the prefix
// before them (`parent`; for the first block, the model key). Equal hashes mean equal prefixes
// (up to 64-bit collisions, which the stored parent and tokens make harmless).
uint64_t block_chain_hash(uint64_t parent, const int32_t* tokens);

struct DiskBlockKey {
  uint64_t hash = 0;         // chain hash of the prefix ending with this block
  uint64_t parent = 0;       // chain hash of the prefix before it (the model key for block 0)
  int32_t depth = 0;         // block index in the sequence
  const int32_t* tokens = nullptr;  // the block's 64 tokens
};

struct DiskCacheStats {
  int64_t bytes = 0;           // .wkv files in the folder, every model's
  int64_t entries = 0;         // this model's entries
  int64_t evictions = 0;       // entries deleted to stay under the budget
  int64_t writes = 0;          // entries written
  int64_t hits = 0;            // blocks loaded
  int64_t errors = 0;          // corrupt or truncated entries rejected (and deleted)
};

// For operators (whale cache stats|clear): what a cache folder holds, per model key.
struct CacheFolderModel {
  std::string key;        // folder name (model key in hex)
  int64_t entries = 0;
  int64_t bytes = 0;
  int64_t bad = 0;        // entries that fail verification (when asked to verify)
  std::filesystem::file_time_type oldest{}, newest{};
};
struct CacheFolderSummary {
  std::vector<CacheFolderModel> models;
  int64_t entries = 0;
  int64_t bytes = 0;
  int64_t temp_files = 0;  // temporary files of writes in progress (or of a crash)
};
// Reads the folder; with `verify`, checks every entry fully (header, size, payload, zstd), which
// reads every byte. A missing folder is empty.
CacheFolderSummary summarize_cache_folder(const std::filesystem::path& dir, bool verify);
// Deletes the cache entries and temporary files (and the emptied model folders) under `dir`;
// nothing else. Returns the number of files deleted.
int64_t clear_cache_folder(const std::filesystem::path& dir);
// "" when the entry file is whole and consistent, else what is wrong with it.
std::string verify_cache_entry(const std::filesystem::path& file);

class DiskCache {
 public:
  static constexpr int kBlockTokens = 64;
  static constexpr size_t kHeaderBytes = 336;
  static constexpr uint32_t kVersion = 1;

  // Creates the folder if needed and rebuilds the index from it. `kv_type` is stored in headers;
  // `block_bytes` is the size of one block. Throws whale::Error when the folder cannot be created.
  DiskCache(std::filesystem::path dir, uint64_t model_key, uint32_t kv_type, size_t block_bytes,
            int64_t max_bytes, CacheLog log);
  // Finishes queued writes, then stops the writer.
  ~DiskCache();
  DiskCache(const DiskCache&) = delete;
  DiskCache& operator=(const DiskCache&) = delete;

  const std::filesystem::path& model_dir() const { return model_dir_; }
  bool contains(uint64_t hash) const;
  // Queued or being written.
  bool pending(uint64_t hash) const;

  enum class Load { kOk, kMissing, kCorrupt };
  // Reads the entry of `key` into `dst` (block_bytes bytes). kMissing when absent or when the
  // file belongs to another prefix (hash collision); kCorrupt (logged, deleted) when damaged.
  // `dst` holds garbage unless kOk.
  Load load(const DiskBlockKey& key, uint8_t* dst);
  // Marks entries as just used (one timestamp for a whole matched chain).
  void touch(const std::vector<uint64_t>& hashes);

  // Queues `data` (block_bytes bytes) for writing under `key`; `tag` comes back from
  // finished_writes() once the writer no longer reads `data`. Skipped (tag returned at once)
  // when the entry exists or is queued.
  void write(const DiskBlockKey& key, const uint8_t* data, int32_t tag);
  // Tags of writes that are done (written, skipped or failed).
  void finished_writes(std::vector<int32_t>& tags);
  // Blocks until the write queue is empty (tests, shutdown).
  void flush();

  DiskCacheStats stats() const;

 private:
  struct Entry {
    int64_t bytes = 0;
    int64_t used_ns = 0;     // last use (file mtime at start)
    int32_t depth = 0;
    uint64_t parent = 0;
  };
  // Entries of every model folder: (model key, chain hash).
  using Id = std::pair<uint64_t, uint64_t>;
  struct Job {
    uint64_t hash, parent;
    int32_t depth;
    int32_t tokens[kBlockTokens];
    const uint8_t* data;
    int32_t tag;
  };

  void scan();
  void scan_model_dir(const std::filesystem::path& dir, uint64_t key);
  void writer_loop();
  void write_one(const Job& job);
  bool make_room_locked(int64_t bytes);  // evicts LRU entries until `bytes` more fit
  void remove_locked(const Id& id);
  std::filesystem::path path_of(const Id& id) const;
  void reject(const std::filesystem::path& path, const std::string& why);

  const std::filesystem::path dir_;
  const std::filesystem::path model_dir_;
  const uint64_t key_;
  const uint32_t kv_type_;
  const size_t block_bytes_;
  const int64_t max_bytes_;
  CacheLog log_;

  mutable std::mutex mu_;
  std::condition_variable cv_;       // the writer waits for jobs; flush() for an empty queue
  std::map<Id, Entry> entries_;
  int64_t total_bytes_ = 0;          // entries_ plus the file being written
  std::deque<Job> jobs_;
  bool writing_ = false;
  uint64_t writing_hash_ = 0;
  std::vector<int32_t> done_;
  bool stop_ = false;
  DiskCacheStats stats_;
  uint64_t tmp_counter_ = 0;
  std::thread writer_;
};

}  // namespace whale::engine
