#include "gateway/presets.hpp"

#include "gateway/core/model_name.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace corral {

namespace json = boost::json;

namespace {

constexpr std::size_t max_prompt_bytes = 64 * 1024;       // system_prompt and template
constexpr std::size_t max_description_bytes = 1024;
constexpr int max_tokens_limit = 1'000'000;

bool is_lower_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}
bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }

// A double as a person writes it: "0.7", "3" (Boost.JSON prints "7E-1", "3E0"). The shortest
// of 15 or 17 significant digits that reads back to the same value.
std::string number_text(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", d);
  if (std::strtod(buf, nullptr) != d) std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

// A scalar's text in a prompt or an error: strings as JSON strings, doubles by number_text.
std::string scalar_text(const json::value& v) {
  if (v.is_double()) return number_text(v.get_double());
  return json::serialize(v);
}

// How a wrong value reads in an error: short, and never the whole of a long string.
std::string shown(const json::value& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  auto text = scalar_text(v);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

std::string quoted(std::string_view field) { return "\"" + std::string(field) + "\""; }

// One {{name}} of a template: the bytes [begin, end) it covers.
struct placeholder {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string_view name;
};

// Every placeholder of `text`, in order, or (in `error`) the first "{{" that opens none: a
// template has no escape for a literal "{{", so a typo like "{{topic}" is reported instead of
// reaching the model as text.
std::vector<placeholder> placeholders_of(std::string_view text, std::string& error) {
  std::vector<placeholder> out;
  std::size_t pos = 0;
  while ((pos = text.find("{{", pos)) != std::string_view::npos) {
    std::size_t i = pos + 2;
    auto skip_spaces = [&] { while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i; };
    skip_spaces();
    std::size_t name_begin = i;
    if (i < text.size() && is_ident_start(text[i]))
      while (i < text.size() && is_ident_char(text[i])) ++i;
    std::size_t name_end = i;
    skip_spaces();
    if (name_end == name_begin || text.substr(i, 2) != "}}") {
      error = "\"template\": the \"{{\" at byte " + std::to_string(pos) +
              " does not open a placeholder {{name}} (a name is a letter or '_', then letters, digits or '_')";
      return {};
    }
    out.push_back({pos, i + 2, text.substr(name_begin, name_end - name_begin)});
    pos = i + 2;
  }
  return out;
}

// The parse of one field: each returns an error message, "" when the value is acceptable.

std::string read_number(const json::value& v, std::string_view field, double lo, double hi,
                        std::optional<double>& out) {
  if (v.is_null()) return {};
  auto range = " must be a number from " + number_text(lo) + " to " + number_text(hi);
  if (!v.is_number()) return quoted(field) + range + ", got " + shown(v);
  double d = v.to_number<double>();
  if (!(d >= lo && d <= hi)) return quoted(field) + range + ", got " + shown(v);
  out = d;
  return {};
}

std::string read_max_tokens(const json::value& v, std::optional<int>& out) {
  if (v.is_null()) return {};
  std::string wanted = "\"max_tokens\" must be an integer from 1 to " + std::to_string(max_tokens_limit) +
                       ", got " + shown(v);
  if (!v.is_number()) return wanted;
  double d = v.to_number<double>();
  if (d != std::floor(d) || d < 1 || d > max_tokens_limit) return wanted;
  out = static_cast<int>(d);
  return {};
}

std::string read_text(const json::value& v, std::string_view field, std::size_t max_bytes, std::string& out) {
  if (v.is_null()) return {};
  if (!v.is_string()) return quoted(field) + " must be a string, got " + shown(v);
  if (v.get_string().size() > max_bytes)
    return quoted(field) + " is " + std::to_string(v.get_string().size()) + " bytes long; at most " +
           std::to_string(max_bytes) + " are allowed";
  out = std::string(v.get_string());
  return {};
}

bool is_scalar(const json::value& v) { return v.is_string() || v.is_number() || v.is_bool(); }

std::string read_options(const json::value& v, json::object& out) {
  if (v.is_null()) return {};
  if (!v.is_object()) return "\"options\" must be an object of Ollama options, got " + shown(v);
  for (const auto& kv : v.get_object()) {
    if (kv.key().empty()) return "\"options\" has an empty key";
    auto field = "\"options." + std::string(kv.key()) + "\"";
    // These three have their own fields; one place for each value keeps "which wins" moot.
    if (kv.key() == "temperature" || kv.key() == "top_p")
      return field + ": set the preset's \"" + std::string(kv.key()) + "\" field instead";
    if (kv.key() == "num_predict") return field + ": set the preset's \"max_tokens\" field instead";
    const auto& val = kv.value();
    bool ok = is_scalar(val);
    if (val.is_array())
      ok = std::all_of(val.get_array().begin(), val.get_array().end(), is_scalar);
    if (!ok)
      return field + " must be a string, number, boolean or an array of those, got " +
             (val.is_null() ? std::string("null") : shown(val));
  }
  out = v.get_object();
  return {};
}

std::string name_rule() {
  return "1 to 64 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit";
}

constexpr std::array<std::string_view, 11> known_fields = {
    "name", "model", "description", "temperature", "max_tokens", "top_p",
    "system_prompt", "template", "options", "builtin", "read_only"};

// The parse proper; returns the error, filling `p` as it goes.
std::string parse_into(const json::value& doc, std::string_view path_name, preset& p) {
  if (!doc.is_object()) return "a preset must be a JSON object, got " + shown(doc);
  const auto& obj = doc.get_object();
  for (const auto& kv : obj) {
    if (std::find(known_fields.begin(), known_fields.end(), kv.key()) != known_fields.end()) continue;
    std::string list;
    for (auto k : known_fields) list.append(list.empty() ? "" : ", ").append(k);
    return "unknown field " + quoted(kv.key()) + " (known: " + list + ")";
  }

  if (!path_name.empty() && !valid_preset_name(path_name))
    return "the preset name '" + std::string(path_name) + "' in the URL is not valid: " + name_rule();
  if (auto it = obj.find("name"); it != obj.end() && !it->value().is_null()) {
    if (!it->value().is_string()) return "\"name\" must be a string, got " + shown(it->value());
    std::string_view name = it->value().get_string();
    if (!valid_preset_name(name)) return "\"name\" " + shown(it->value()) + " is not valid: " + name_rule();
    if (!path_name.empty() && name != path_name)
      return "\"name\" '" + std::string(name) + "' does not match the name in the URL '" +
             std::string(path_name) + "'";
    p.name = std::string(name);
  } else if (path_name.empty()) {
    return "\"name\" is required";
  } else {
    p.name = std::string(path_name);
  }

  auto model = obj.find("model");
  if (model == obj.end() || model->value().is_null()) return "\"model\" is required";
  if (!model->value().is_string()) return "\"model\" must be a string, got " + shown(model->value());
  std::string_view model_name = model->value().get_string();
  if (preset_of_model_name(model_name))
    return "\"model\" " + shown(model->value()) + " names a preset; a preset's model must be an Ollama model";
  if (!is_valid_model_name(model_name))
    return "\"model\" " + shown(model->value()) + " is not a valid Ollama model name ([host/][namespace/]model[:tag])";
  p.model = std::string(model_name);

  static const json::value null_value;
  auto field = [&](std::string_view key) -> const json::value& {
    auto it = obj.find(key);
    return it == obj.end() ? null_value : it->value();
  };
  std::string error;
  if (!(error = read_number(field("temperature"), "temperature", 0, 2, p.temperature)).empty()) return error;
  if (!(error = read_max_tokens(field("max_tokens"), p.max_tokens)).empty()) return error;
  if (!(error = read_number(field("top_p"), "top_p", 0, 1, p.top_p)).empty()) return error;
  if (!(error = read_text(field("system_prompt"), "system_prompt", max_prompt_bytes, p.system_prompt)).empty())
    return error;
  if (!(error = read_text(field("description"), "description", max_description_bytes, p.description)).empty())
    return error;
  if (!(error = read_text(field("template"), "template", max_prompt_bytes, p.template_text)).empty()) return error;
  placeholders_of(p.template_text, error);
  if (!error.empty()) return error;
  return read_options(field("options"), p.options);
}

preset make_builtin(std::string name, std::string model, double temperature, std::string description,
                    std::string system_prompt) {
  preset p;
  p.name = std::move(name);
  p.model = std::move(model);
  p.temperature = temperature;
  p.description = std::move(description);
  p.system_prompt = std::move(system_prompt);
  p.builtin = true;
  p.read_only = true;
  return p;
}

// True when the client gave `key` a value (null is no value: clients send it for "default").
bool is_set(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && !it->value().is_null();
}

void fill(json::object& o, std::string_view key, json::value v) {
  if (!is_set(o, key)) o[key] = std::move(v);
}

void fill_ollama_options(const preset& p, json::object& body, bool sampling) {
  if (p.options.empty() && !(sampling && (p.temperature || p.top_p || p.max_tokens))) return;
  json::object* options = nullptr;
  auto it = body.find("options");
  if (it == body.end() || it->value().is_null()) options = &body["options"].emplace_object();
  else if (it->value().is_object()) options = &it->value().get_object();
  else return;  // the validation policy names the mistake
  for_each_ollama_option(p, sampling, [&](std::string_view k, const json::value& v) { fill(*options, k, v); });
}

void insert_system_message(const preset& p, json::object& body) {
  if (p.system_prompt.empty()) return;
  auto it = body.find("messages");
  if (it == body.end() || !it->value().is_array()) return;
  auto& messages = it->value().get_array();
  for (const auto& m : messages) {
    if (!m.is_object()) continue;
    auto role = m.get_object().find("role");
    if (role != m.get_object().end() && role->value().is_string() && role->value().get_string() == "system")
      return;
  }
  messages.insert(messages.begin(), json::object{{"role", "system"}, {"content", p.system_prompt}});
}

void fill_openai_sampling(const preset& p, json::object& body, preset_route route) {
  if (p.temperature) fill(body, "temperature", *p.temperature);
  if (p.top_p) fill(body, "top_p", *p.top_p);
  // Newer OpenAI clients send max_completion_tokens instead; either one is the client's limit.
  bool client_limit = route == preset_route::openai_chat && is_set(body, "max_completion_tokens");
  if (p.max_tokens && !client_limit) fill(body, "max_tokens", *p.max_tokens);
  for (std::string_view key : {"seed", "stop"})
    if (auto it = p.options.find(key); it != p.options.end()) fill(body, key, it->value());
}

}  // namespace

bool valid_preset_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  char first = name.front();
  if (!((first >= 'a' && first <= 'z') || (first >= '0' && first <= '9'))) return false;
  return std::all_of(name.begin(), name.end(), is_lower_name_char);
}

preset_parse parse_preset(const json::value& doc, std::string_view path_name) {
  preset_parse out;
  out.error = parse_into(doc, path_name, out.value);
  if (!out.ok()) out.value = preset{};
  return out;
}

json::object to_json(const preset& p) {
  json::object o;
  o["name"] = p.name;
  o["model"] = p.model;
  o["description"] = p.description;
  o["temperature"] = p.temperature ? json::value(*p.temperature) : json::value(nullptr);
  o["max_tokens"] = p.max_tokens ? json::value(*p.max_tokens) : json::value(nullptr);
  o["top_p"] = p.top_p ? json::value(*p.top_p) : json::value(nullptr);
  o["system_prompt"] = p.system_prompt;
  o["template"] = p.template_text;
  o["options"] = p.options;
  o["builtin"] = p.builtin;
  o["read_only"] = p.read_only;
  return o;
}

const std::vector<preset>& builtin_presets() {
  static const std::vector<preset> presets = {
      make_builtin(
          "general", "llama2", 0.7, "Everyday questions, writing and explanations: a balanced assistant.",
          "You are a helpful, knowledgeable assistant. Answer clearly and accurately, and keep the answer "
          "as short as the question allows. When you are not sure of something, say so instead of "
          "guessing. When a request is ambiguous, ask one clarifying question before answering."),
      make_builtin(
          "coding", "codellama", 0.1, "Writing, reviewing and debugging code: precise and nearly deterministic.",
          "You are an experienced software engineer. Write correct, idiomatic, well-structured code for "
          "the language and version the user works with, and handle errors and edge cases. Prefer the "
          "simplest solution that works. Never invent functions or libraries: if you are unsure an API "
          "exists, say so. Put code in fenced code blocks naming the language, and explain briefly why "
          "the code is written the way it is. When reviewing code, list bugs, security problems and "
          "unclear parts, the most important first, each with a concrete fix."),
      make_builtin(
          "security", "llama2", 0.2, "Security reviews and secure-coding advice: careful and defensive.",
          "You are an application security engineer. Review code, configurations and designs for "
          "vulnerabilities such as injection, broken authentication and access control, unsafe "
          "deserialization, secrets in code and missing input validation. For each finding give its "
          "severity, how it could be exploited and a concrete fix. Favour defence in depth and least "
          "privilege. Describe attacks only as far as needed to understand and defend against them; do "
          "not write working exploits or malware."),
      make_builtin(
          "creative", "mistral", 0.9, "Stories, poems and brainstorming: varied and imaginative.",
          "You are a creative writing partner. Write with vivid, concrete detail, varied rhythm and a "
          "distinct voice. When brainstorming, offer several different directions, including unexpected "
          "ones. Follow the form, tone and length the user asks for, and keep characters and facts "
          "consistent within a piece."),
  };
  return presets;
}

std::optional<std::string_view> preset_of_model_name(std::string_view model) {
  if (model.empty() || model.front() != '@') return std::nullopt;
  return model.substr(1);
}

std::string virtual_model_name(std::string_view preset_name) { return "@" + std::string(preset_name); }

rendered_prompt render_template(const preset& p, std::string_view prompt, const json::object* variables) {
  rendered_prompt out;
  if (p.template_text.empty()) {
    out.text = std::string(prompt);
    return out;
  }
  auto where = " (preset '" + p.name + "')";
  if (variables && variables->contains("prompt")) {
    out.error = "template variable 'prompt' is reserved for the request's prompt" + where;
    return out;
  }
  auto parts = placeholders_of(p.template_text, out.error);
  if (!out.ok()) {
    out.error += where;
    return out;
  }
  std::string_view text = p.template_text;
  std::size_t done = 0;
  for (const auto& ph : parts) {
    out.text.append(text.substr(done, ph.begin - done));
    done = ph.end;
    auto missing = "template variable '" + std::string(ph.name) + "' is missing" + where;
    if (ph.name == "prompt") {
      if (prompt.empty()) {
        out.error = missing;
        return out;
      }
      out.text.append(prompt);
      continue;
    }
    const json::value* v = variables ? variables->if_contains(ph.name) : nullptr;
    if (!v) {
      out.error = missing;
      return out;
    }
    if (v->is_string()) {
      out.text.append(v->get_string());
    } else if (v->is_number() || v->is_bool()) {
      out.text.append(scalar_text(*v));
    } else {
      out.error = "template variable '" + std::string(ph.name) + "' must be a string, number or boolean, got " +
                  (v->is_null() ? std::string("null") : shown(*v)) + where;
      return out;
    }
  }
  out.text.append(text.substr(done));
  return out;
}

void apply_preset(const preset& p, json::object& body, preset_route route) {
  body["model"] = p.model;
  switch (route) {
    case preset_route::ollama_generate:
      fill_ollama_options(p, body, true);
      if (!p.system_prompt.empty()) {
        auto it = body.find("system");
        // Absent, null or "": the client gave no system prompt. Any other value is the client's
        // (a wrong type is the validation policy's to report).
        bool unset = it == body.end() || it->value().is_null() ||
                     (it->value().is_string() && it->value().get_string().empty());
        if (unset) body["system"] = p.system_prompt;
      }
      break;
    case preset_route::ollama_chat:
      fill_ollama_options(p, body, true);
      insert_system_message(p, body);
      break;
    case preset_route::ollama_embed:
      fill_ollama_options(p, body, false);  // sampling values mean nothing to an embedding
      break;
    case preset_route::openai_chat:
      fill_openai_sampling(p, body, route);
      insert_system_message(p, body);
      break;
    case preset_route::openai_completion:  // /v1/completions has no system prompt
      fill_openai_sampling(p, body, route);
      break;
    case preset_route::openai_embeddings:
      break;
  }
}

}  // namespace corral
