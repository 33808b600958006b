#pragma once
// Where presets live and how they change while serving.
//
// Three kinds: the built-ins (builtin_presets()), those of the config file (read-only, replaced
// on reload) and custom ones made through the API, kept in a preset_store so they survive a
// restart. The registry joins them into one immutable, sorted snapshot that request handlers
// read without waiting for a writer.
#include "gateway/presets.hpp"

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace corral {

// Persistence of the custom presets. A PostgreSQL store can implement the same interface.
class preset_store {
 public:
  virtual ~preset_store() = default;
  // The custom presets saved last. Throws std::runtime_error naming the store and what is wrong.
  virtual std::vector<preset> load() = 0;
  // Replaces every saved custom preset with `custom`. Throws std::runtime_error; on failure the
  // previously saved state is intact.
  virtual void save(const std::vector<preset>& custom) = 0;
  // For logs and status: the file path, the database, ...
  virtual std::string describe() const = 0;
};

// <dir>/presets.json: {"version":1,"presets":[...]}, one preset per line. save() writes
// presets.json.tmp, fsync()s it, rename()s it over presets.json and fsync()s the directory, so a
// crash leaves either the old or the new file, never half of one. The directory is created
// (mode 0700) on the first save. A missing file loads as no presets.
class file_preset_store : public preset_store {
 public:
  explicit file_preset_store(std::filesystem::path dir);
  std::vector<preset> load() override;
  void save(const std::vector<preset>& custom) override;
  std::string describe() const override;

 private:
  std::filesystem::path dir_;
  std::filesystem::path file_;
};

// Keeps the presets in memory only: for tests, and for running without persistence.
class memory_preset_store : public preset_store {
 public:
  memory_preset_store() = default;
  explicit memory_preset_store(std::vector<preset> initial) : saved_(std::move(initial)) {}
  std::vector<preset> load() override { return saved_; }
  void save(const std::vector<preset>& custom) override { saved_ = custom; }
  std::string describe() const override { return "memory (not persisted)"; }

 private:
  std::vector<preset> saved_;
};

// Every preset of all three kinds, sorted by name (names are unique across kinds).
struct preset_set {
  std::vector<preset> all;
  // The preset named `name`, or nullptr.
  const preset* find(std::string_view name) const;
};

// The outcome of a change through the API, as the HTTP status to answer with: 200/201 done,
// 400 invalid, 403 read-only (built-in or from the config file), 404 unknown, 409 the name is
// taken, 500 the store failed. `error` is for the client, naming the preset.
struct preset_change {
  unsigned status = 200;
  std::string error;
};

// Thread-safe. Readers take snapshot(), an immutable set kept alive as long as they hold it.
// Writers are serialized, save to the store FIRST and only then publish a new snapshot, so a
// failed save changes nothing anyone can see.
class preset_registry {
 public:
  // Loads the custom presets from `store`. Throws std::runtime_error when the store cannot be
  // read, or when a configured or custom preset takes a built-in's name, or the same name is
  // both configured and custom (naming the preset and where each comes from).
  preset_registry(std::unique_ptr<preset_store> store, std::vector<preset> configured);

  std::shared_ptr<const preset_set> snapshot() const;

  preset_change create(preset p);                          // 201; 409 when the name is taken
  preset_change replace(std::string_view name, preset p);  // 200; 404 unknown; 403 read-only
  preset_change remove(std::string_view name);             // 200; 404 unknown; 403 read-only

  // The config file's presets after a reload. Throws std::runtime_error, changing nothing, when
  // a name clashes with a built-in or a custom preset or appears twice.
  void set_configured(std::vector<preset> configured);

  std::string store_description() const;

 private:
  void check_configured(std::vector<preset>& configured) const;
  // Saves `next` as the custom presets and publishes it; the caller holds write_mu_.
  preset_change commit(std::vector<preset> next, unsigned status);
  void publish();

  std::unique_ptr<preset_store> store_;
  std::mutex write_mu_;  // held across a whole change, store included
  std::vector<preset> configured_;
  std::vector<preset> custom_;
  // Guards only the pointer: a reader copies it (an atomic increment) and lets go, never
  // waiting for a writer's save.
  mutable std::mutex snapshot_mu_;
  std::shared_ptr<const preset_set> snapshot_;
};

}  // namespace corral
