// A model's identity for caches that outlive the process (the prompt cache's disk tier): a
// fingerprint of what decides the KV values a model computes, so an entry written by one model
// can never be read by another.
//
// GGUF: every metadata key and value, the tensor table (names, types, shapes, offsets) and a
// sample of every tensor's bytes (its first and last 64 bytes; metadata and layout alone cannot
// tell apart two files that differ only in their weights, e.g. synthetic files with other seeds).
// Hugging Face folder: config.json, and for each *.safetensors file its name, size, JSON header
// and first/last 4 KiB.
//
// Cheap: reads headers and a few bytes per tensor, not the weights.
#pragma once
#include <filesystem>
#include <string>

namespace whale::model {

// "gguf-<16 hex digits>" or "hf-<16 hex digits>". Throws whale::Error naming the path when it is
// neither a readable GGUF file nor a folder with config.json.
std::string model_identity(const std::filesystem::path& path);

}  // namespace whale::model
