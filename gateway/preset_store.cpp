#include "gateway/preset_store.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace corral {

namespace json = boost::json;

namespace {

[[noreturn]] void fail_errno(const std::string& what, int err) {
  throw std::runtime_error(what + ": " + std::strerror(err));
}

// Closes a file descriptor on every path out of a scope.
class fd_guard {
 public:
  explicit fd_guard(int fd) : fd_(fd) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() { if (fd_ >= 0) ::close(fd_); }
  int get() const noexcept { return fd_; }
  // Closes now, reporting close()'s error (on some file systems the write's error shows here).
  int close() noexcept {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

// The whole file, or nullopt when it does not exist.
std::optional<std::string> read_file(const std::filesystem::path& path) {
  fd_guard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::nullopt;
    fail_errno("cannot open " + path.string(), errno);
  }
  std::string text;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno("cannot read " + path.string(), errno);
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  return text;
}

void write_all(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno("cannot write " + path.string(), errno);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// The state file's text: one preset per line, so a person can read and diff it.
std::string document_of(const std::vector<preset>& custom) {
  std::string text = "{\"version\":1,\"presets\":[\n";
  for (std::size_t i = 0; i < custom.size(); ++i) {
    text += json::serialize(to_json(custom[i]));
    text += i + 1 < custom.size() ? ",\n" : "\n";
  }
  text += "]}\n";
  return text;
}

std::string describe_origin(const preset& p) {
  if (p.builtin) return "a built-in preset";
  if (p.read_only) return "a preset from the config file";
  return "a custom preset";
}

}  // namespace

file_preset_store::file_preset_store(std::filesystem::path dir)
    : dir_(std::move(dir)), file_(dir_ / "presets.json") {}

std::string file_preset_store::describe() const { return file_.string(); }

std::vector<preset> file_preset_store::load() {
  auto text = read_file(file_);
  if (!text) return {};
  auto where = file_.string();
  boost::system::error_code ec;
  json::value doc = json::parse(*text, ec);
  if (ec) throw std::runtime_error(where + ": not valid JSON (" + ec.message() + ")");
  if (!doc.is_object()) throw std::runtime_error(where + ": expected an object {\"version\":1,\"presets\":[...]}");
  const auto& obj = doc.get_object();
  for (const auto& kv : obj)
    if (kv.key() != "version" && kv.key() != "presets")
      throw std::runtime_error(where + ": unknown field \"" + std::string(kv.key()) + "\" (known: version, presets)");
  const auto* version = obj.if_contains("version");
  if (!version || !version->is_int64() || version->get_int64() != 1)
    throw std::runtime_error(where + ": \"version\" must be 1 (a file written by another corral version?)");
  const auto* list = obj.if_contains("presets");
  if (!list || !list->is_array()) throw std::runtime_error(where + ": \"presets\" must be an array");

  std::vector<preset> out;
  const auto& entries = list->get_array();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto at = where + ": presets[" + std::to_string(i) + "]";
    if (const auto* o = entries[i].if_object())
      if (const auto* name = o->if_contains("name"); name && name->is_string())
        at += " ('" + std::string(name->get_string()) + "')";
    auto parsed = parse_preset(entries[i], "");
    if (!parsed.ok()) throw std::runtime_error(at + ": " + parsed.error);
    for (const auto& earlier : out)
      if (earlier.name == parsed.value.name) throw std::runtime_error(at + ": the name appears twice");
    out.push_back(std::move(parsed.value));
  }
  return out;
}

void file_preset_store::save(const std::vector<preset>& custom) {
  // The directory holds prompts someone wrote: private to the gateway's user.
  if (!dir_.empty() && ::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    if (errno != ENOENT) fail_errno("cannot create the directory " + dir_.string(), errno);
    std::error_code ec;
    std::filesystem::create_directories(dir_.parent_path(), ec);
    if (ec) throw std::runtime_error("cannot create the directory " + dir_.parent_path().string() + ": " + ec.message());
    if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST)
      fail_errno("cannot create the directory " + dir_.string(), errno);
  }

  auto tmp = file_;
  tmp += ".tmp";
  auto text = document_of(custom);
  {
    fd_guard fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (fd.get() < 0) fail_errno("cannot create " + tmp.string(), errno);
    try {
      write_all(fd.get(), text, tmp);
      if (::fsync(fd.get()) != 0) fail_errno("cannot flush " + tmp.string() + " to disk", errno);
      if (fd.close() != 0) fail_errno("cannot write " + tmp.string(), errno);
    } catch (...) {
      ::unlink(tmp.c_str());  // presets.json itself was not touched
      throw;
    }
  }
  if (::rename(tmp.c_str(), file_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail_errno("cannot rename " + tmp.string() + " to " + file_.string(), err);
  }
  // The rename is only durable once the directory entry is on disk.
  auto dir = dir_.empty() ? std::filesystem::path(".") : dir_;
  fd_guard dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0 || ::fsync(dir_fd.get()) != 0)
    fail_errno("cannot flush the directory " + dir.string() + " to disk", errno);
}

const preset* preset_set::find(std::string_view name) const {
  auto it = std::lower_bound(all.begin(), all.end(), name,
                             [](const preset& p, std::string_view n) { return p.name < n; });
  return it != all.end() && it->name == name ? &*it : nullptr;
}

preset_registry::preset_registry(std::unique_ptr<preset_store> store, std::vector<preset> configured)
    : store_(std::move(store)) {
  custom_ = store_->load();
  const auto& builtins = builtin_presets();
  for (std::size_t i = 0; i < custom_.size(); ++i) {
    auto& p = custom_[i];
    p.builtin = false;
    p.read_only = false;
    auto from = "custom preset '" + p.name + "' (" + store_->describe() + ")";
    if (!valid_preset_name(p.name)) throw std::runtime_error(from + ": the name is not a valid preset name");
    for (const auto& b : builtins)
      if (b.name == p.name) throw std::runtime_error(from + " takes the name of a built-in preset; rename or delete it");
    for (std::size_t j = 0; j < i; ++j)
      if (custom_[j].name == p.name) throw std::runtime_error(from + " appears twice");
  }
  check_configured(configured);
  configured_ = std::move(configured);
  publish();
}

void preset_registry::check_configured(std::vector<preset>& configured) const {
  const auto& builtins = builtin_presets();
  for (std::size_t i = 0; i < configured.size(); ++i) {
    auto& p = configured[i];
    p.builtin = false;
    p.read_only = true;
    auto from = "preset '" + p.name + "' of the config file";
    if (!valid_preset_name(p.name)) throw std::runtime_error(from + ": the name is not a valid preset name");
    for (const auto& b : builtins)
      if (b.name == p.name) throw std::runtime_error(from + " takes the name of a built-in preset; choose another name");
    for (std::size_t j = 0; j < i; ++j)
      if (configured[j].name == p.name) throw std::runtime_error(from + " appears twice");
    for (const auto& c : custom_)
      if (c.name == p.name)
        throw std::runtime_error(from + " is also a custom preset (" + store_->describe() +
                                 "); delete the custom one (DELETE /api/v1/presets/" + p.name +
                                 ") or rename one of them");
  }
}

void preset_registry::publish() {
  auto next = std::make_shared<preset_set>();
  const auto& builtins = builtin_presets();
  next->all.reserve(builtins.size() + configured_.size() + custom_.size());
  next->all.insert(next->all.end(), builtins.begin(), builtins.end());
  next->all.insert(next->all.end(), configured_.begin(), configured_.end());
  next->all.insert(next->all.end(), custom_.begin(), custom_.end());
  std::sort(next->all.begin(), next->all.end(), [](const preset& a, const preset& b) { return a.name < b.name; });
  std::lock_guard lock(snapshot_mu_);
  snapshot_ = std::move(next);
}

std::shared_ptr<const preset_set> preset_registry::snapshot() const {
  std::lock_guard lock(snapshot_mu_);
  return snapshot_;
}

std::string preset_registry::store_description() const { return store_->describe(); }

namespace {
// Checks a preset built in code as parse_preset checks one read from JSON, so nothing the
// store could not load back is ever saved. Returns the error ("" when valid).
std::string validate(preset& p) {
  auto parsed = parse_preset(to_json(p), "");
  if (!parsed.ok()) return parsed.error;
  p = std::move(parsed.value);  // builtin and read_only cleared: a custom preset is neither
  return {};
}

preset_change read_only_change(const preset& p) {
  if (p.builtin) return {403, "preset '" + p.name + "' is built in and cannot be changed or deleted"};
  return {403, "preset '" + p.name + "' comes from the config file; change it there"};
}
}  // namespace

preset_change preset_registry::create(preset p) {
  std::lock_guard lock(write_mu_);
  if (auto error = validate(p); !error.empty()) return {400, error};
  auto current = snapshot();
  if (const auto* existing = current->find(p.name))
    return {409, "preset '" + p.name + "' already exists (" + describe_origin(*existing) + ")"};
  auto next = custom_;
  next.push_back(std::move(p));
  return commit(std::move(next), 201);
}

preset_change preset_registry::replace(std::string_view name, preset p) {
  std::lock_guard lock(write_mu_);
  auto current = snapshot();
  const auto* existing = current->find(name);
  if (!existing) return {404, "unknown preset '" + std::string(name) + "'"};
  if (existing->read_only || existing->builtin) return read_only_change(*existing);
  if (p.name.empty()) p.name = std::string(name);
  if (p.name != name)
    return {400, "\"name\" '" + p.name + "' does not match the preset being replaced '" + std::string(name) + "'"};
  if (auto error = validate(p); !error.empty()) return {400, error};
  auto next = custom_;
  for (auto& c : next)
    if (c.name == name) c = std::move(p);
  return commit(std::move(next), 200);
}

preset_change preset_registry::remove(std::string_view name) {
  std::lock_guard lock(write_mu_);
  auto current = snapshot();
  const auto* existing = current->find(name);
  if (!existing) return {404, "unknown preset '" + std::string(name) + "'"};
  if (existing->read_only || existing->builtin) return read_only_change(*existing);
  auto next = custom_;
  std::erase_if(next, [&](const preset& c) { return c.name == name; });
  return commit(std::move(next), 200);
}

preset_change preset_registry::commit(std::vector<preset> next, unsigned status) {
  // Saved first: a failed save leaves both the store and the snapshot as they were.
  try {
    store_->save(next);
  } catch (const std::exception& e) {
    return {500, "could not save presets to " + store_->describe() + ": " + e.what()};
  }
  custom_ = std::move(next);
  publish();
  return {status, {}};
}

void preset_registry::set_configured(std::vector<preset> configured) {
  std::lock_guard lock(write_mu_);
  check_configured(configured);
  configured_ = std::move(configured);
  publish();
}

}  // namespace corral
