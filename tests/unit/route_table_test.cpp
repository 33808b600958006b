#include "gateway/route_table.hpp"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace corral {
namespace {

class route_table_test : public ::testing::Test {
 protected:
  struct expected_route {
    std::string_view method;
    std::string_view path;
    route_kind kind;
    api_flavor flavor;
  };

  // Every route Ollama serves, with the method it serves it on.
  static std::vector<expected_route> ollama_routes() {
    using k = route_kind;
    constexpr auto ollama = api_flavor::ollama;
    constexpr auto openai = api_flavor::openai;
    return {
        {"GET", "/", k::root, ollama},
        {"HEAD", "/", k::root, ollama},
        {"GET", "/health", k::health, ollama},
        {"GET", "/ready", k::ready, ollama},
        {"GET", "/metrics", k::metrics, ollama},
        {"GET", "/api/version", k::version, ollama},
        {"HEAD", "/api/version", k::version, ollama},
        {"GET", "/api/tags", k::tags, ollama},
        {"HEAD", "/api/tags", k::tags, ollama},
        {"GET", "/api/ps", k::ps, ollama},
        {"POST", "/api/generate", k::inference, ollama},
        {"POST", "/api/chat", k::inference, ollama},
        {"POST", "/api/embed", k::inference, ollama},
        {"POST", "/api/embeddings", k::inference, ollama},
        {"POST", "/api/show", k::show, ollama},
        {"POST", "/api/pull", k::pull, ollama},
        {"POST", "/api/push", k::primary, ollama},
        {"POST", "/api/create", k::primary, ollama},
        {"POST", "/api/copy", k::copy, ollama},
        {"DELETE", "/api/delete", k::delete_model, ollama},
        {"HEAD", "/api/blobs/sha256:abc", k::primary, ollama},
        {"POST", "/api/blobs/sha256:abc", k::primary, ollama},
        {"POST", "/v1/chat/completions", k::inference, openai},
        {"POST", "/v1/completions", k::inference, openai},
        {"POST", "/v1/embeddings", k::inference, openai},
        {"GET", "/v1/models", k::v1_models, openai},
        {"GET", "/v1/models/llama2:latest", k::v1_model, openai},
        {"POST", "/v1/responses", k::passthrough, openai},
        {"POST", "/v1/audio/transcriptions", k::passthrough, openai},
        {"GET", "/api/status", k::passthrough, ollama},
        {"POST", "/api/me", k::passthrough, ollama},
        {"POST", "/api/signout", k::passthrough, ollama},
        {"GET", "/api/experimental/anything", k::passthrough, ollama},
    };
  }
};

TEST_F(route_table_test, every_ollama_route_maps_to_its_kind_and_flavor) {
  for (const auto& r : ollama_routes()) {
    auto m = match_route(r.method, r.path);
    EXPECT_EQ(m.kind, r.kind) << r.method << " " << r.path;
    EXPECT_EQ(m.flavor, r.flavor) << r.method << " " << r.path;
    EXPECT_NE(m.label, "other") << r.method << " " << r.path;
  }
}

TEST_F(route_table_test, labels_of_exact_routes_are_their_paths) {
  EXPECT_EQ(match_route("POST", "/api/chat").label, "/api/chat");
  EXPECT_EQ(match_route("GET", "/v1/models").label, "/v1/models");
  EXPECT_EQ(match_route("GET", "/").label, "/");
}

TEST_F(route_table_test, labels_of_parameterised_routes_do_not_contain_the_parameter) {
  // Metrics label sets must stay bounded whatever clients send.
  EXPECT_EQ(match_route("GET", "/v1/models/anything").label, "/v1/models/{model}");
  EXPECT_EQ(match_route("POST", "/api/blobs/sha256:0123").label, "/api/blobs/{digest}");
  EXPECT_EQ(match_route("GET", "/api/experimental/x/y").label, "/api/experimental");
}

TEST_F(route_table_test, wrong_method_on_a_known_path_is_method_not_allowed) {
  struct wrong {
    std::string_view method, path;
  };
  for (auto [method, path] : std::vector<wrong>{
           {"GET", "/api/chat"},
           {"GET", "/api/generate"},
           {"POST", "/api/tags"},
           {"POST", "/"},
           {"DELETE", "/api/ps"},
           {"HEAD", "/api/ps"},
           {"POST", "/api/delete"},
           {"GET", "/api/delete"},
           {"GET", "/v1/chat/completions"},
           {"POST", "/v1/models"},
           {"DELETE", "/v1/models/llama2"},
           {"GET", "/api/blobs/sha256:abc"},
           {"POST", "/metrics"},
           {"PUT", "/api/chat"},
           {"PATCH", "/api/tags"},
       }) {
    auto m = match_route(method, path);
    EXPECT_EQ(m.kind, route_kind::method_not_allowed) << method << " " << path;
    EXPECT_NE(m.label, "other") << method << " " << path;
  }
}

TEST_F(route_table_test, wrong_method_keeps_the_flavor_of_the_route) {
  // A 405 on /v1/* is answered in OpenAI's error shape.
  EXPECT_EQ(match_route("GET", "/v1/chat/completions").flavor, api_flavor::openai);
  EXPECT_EQ(match_route("GET", "/api/chat").flavor, api_flavor::ollama);
}

TEST_F(route_table_test, unknown_paths_are_not_found_with_the_other_label) {
  for (std::string_view path : {"/nope", "/api", "/api/", "/api/chat/", "/API/CHAT", "/v1/models/",
                                "/v1/models/a/b", "/api/blobs/", "/api/blobs/a/b", "/v1", ""}) {
    auto m = match_route("GET", path);
    EXPECT_EQ(m.kind, route_kind::not_found) << path;
    EXPECT_EQ(m.label, "other") << path;
    EXPECT_TRUE(m.path_param.empty()) << path;
  }
  EXPECT_EQ(match_route("POST", "/api/nope").kind, route_kind::not_found);
}

TEST_F(route_table_test, v1_model_route_carries_the_model_as_path_param) {
  auto m = match_route("GET", "/v1/models/llama2:latest");
  EXPECT_EQ(m.kind, route_kind::v1_model);
  EXPECT_EQ(m.path_param, "llama2:latest");
  EXPECT_TRUE(match_route("GET", "/v1/models").path_param.empty());
}

TEST_F(route_table_test, blobs_route_carries_the_digest_as_path_param) {
  auto m = match_route("HEAD", "/api/blobs/sha256:abc");
  EXPECT_EQ(m.kind, route_kind::primary);
  EXPECT_EQ(m.path_param, "sha256:abc");
  EXPECT_EQ(match_route("POST", "/api/blobs/sha256:def").path_param, "sha256:def");
}

TEST_F(route_table_test, path_of_strips_the_query_string) {
  EXPECT_EQ(path_of("/api/tags?verbose=true"), "/api/tags");
  EXPECT_EQ(path_of("/api/tags?a=1?b=2"), "/api/tags");
  EXPECT_EQ(path_of("/api/tags?"), "/api/tags");
  EXPECT_EQ(path_of("/api/tags"), "/api/tags");
  EXPECT_EQ(path_of("?x"), "");
  EXPECT_EQ(match_route("GET", path_of("/v1/models/phi?x=1")).path_param, "phi");
}

TEST(route_class_test, every_route_has_the_class_policies_expect) {
  auto cls = [](std::string_view m, std::string_view p) { return class_of(match_route(m, p)); };
  EXPECT_EQ(cls("GET", "/health"), route_class::probe);
  EXPECT_EQ(cls("OPTIONS", "/api/chat"), route_class::probe) << "preflights carry no credentials";
  EXPECT_EQ(cls("POST", "/api/chat"), route_class::inference);
  EXPECT_EQ(cls("POST", "/v1/messages"), route_class::inference);
  EXPECT_EQ(cls("GET", "/api/tags"), route_class::fleet_read);
  EXPECT_EQ(cls("POST", "/api/show"), route_class::fleet_read);
  for (auto p : {"/api/pull", "/api/push", "/api/create", "/api/copy", "/api/signout"})
    EXPECT_EQ(cls("POST", p), route_class::fleet_change) << p;
  EXPECT_EQ(cls("DELETE", "/api/delete"), route_class::fleet_change);
  EXPECT_EQ(cls("POST", "/api/blobs/sha256:abc"), route_class::fleet_change);
  EXPECT_EQ(cls("GET", "/api/experimental/x"), route_class::fleet_change);
  EXPECT_EQ(cls("GET", "/nope"), route_class::other);
}

TEST(route_class_test, route_labels_are_known_by_name) {
  for (auto l : {"/api/chat", "/v1/chat/completions", "/api/blobs/{digest}", "/v1/models/{model}", "/metrics"})
    EXPECT_TRUE(is_route_label(l)) << l;
  EXPECT_FALSE(is_route_label("/api/chatt"));
  EXPECT_FALSE(is_route_label("/api/blobs/sha256:abc")) << "a path, not a label";
}

TEST(management_routes_test, each_path_and_method_is_one_operation) {
  struct row {
    std::string_view method, path;
    mgmt_op op;
    std::string_view label, param;
  };
  const row rows[] = {
      {"GET", "/api/v1/models", mgmt_op::models_list, "/api/v1/models", ""},
      {"POST", "/api/v1/models/pull", mgmt_op::models_pull, "/api/v1/models/pull", ""},
      {"POST", "/api/v1/models/copy", mgmt_op::models_copy, "/api/v1/models/copy", ""},
      {"GET", "/api/v1/models/llama2:7b", mgmt_op::model_get, "/api/v1/models/{model}", "llama2:7b"},
      {"GET", "/api/v1/models/library/llama2/info", mgmt_op::model_info, "/api/v1/models/{model}/info", "library/llama2"},
      {"DELETE", "/api/v1/models/me/mine:1", mgmt_op::model_delete, "/api/v1/models/{model}", "me/mine:1"},
      {"DELETE", "/api/v1/models/pull", mgmt_op::model_delete, "/api/v1/models/{model}", "pull"},
      {"GET", "/api/v1/models/copy", mgmt_op::model_get, "/api/v1/models/{model}", "copy"},
      {"POST", "/api/v1/generate/stream", mgmt_op::generate_stream, "/api/v1/generate/stream", ""},
      {"POST", "/api/v1/batch/embeddings", mgmt_op::batch_embeddings, "/api/v1/batch/embeddings", ""},
      {"PUT", "/api/v1/presets/coding", mgmt_op::preset_replace, "/api/v1/presets/{preset}", "coding"},
      {"DELETE", "/api/v1/presets/coding", mgmt_op::preset_delete, "/api/v1/presets/{preset}", "coding"},
      {"PUT", "/api/v1/config", mgmt_op::config_put, "/api/v1/config", ""},
      {"GET", "/api/v1/monitoring/usage", mgmt_op::usage, "/api/v1/monitoring/usage", ""},
  };
  for (const auto& r : rows) {
    auto m = match_route(r.method, r.path);
    EXPECT_EQ(m.kind, route_kind::management) << r.method << " " << r.path;
    EXPECT_EQ(m.op, r.op) << r.method << " " << r.path;
    EXPECT_EQ(m.label, r.label) << r.path;
    EXPECT_EQ(m.path_param, r.param) << r.path;
    EXPECT_TRUE(is_route_label(m.label)) << m.label;
  }
}

TEST(management_routes_test, a_known_path_with_another_method_is_405_and_unknown_paths_404) {
  EXPECT_EQ(match_route("DELETE", "/api/v1/config").kind, route_kind::method_not_allowed);
  EXPECT_EQ(match_route("GET", "/api/v1/generate").kind, route_kind::method_not_allowed);
  EXPECT_EQ(match_route("POST", "/api/v1/models/x/info").kind, route_kind::method_not_allowed);
  EXPECT_EQ(match_route("GET", "/api/v1/nothing").kind, route_kind::not_found);
  EXPECT_EQ(match_route("GET", "/api/v1/models/").kind, route_kind::not_found) << "an empty model name";
}

TEST(management_routes_test, reads_inference_and_changes_have_the_classes_auth_checks) {
  auto cls = [](std::string_view m, std::string_view p) { return class_of(match_route(m, p)); };
  EXPECT_EQ(cls("GET", "/api/v1/models"), route_class::fleet_read);
  EXPECT_EQ(cls("POST", "/api/v1/models/pull"), route_class::fleet_change);
  EXPECT_EQ(cls("DELETE", "/api/v1/models/llama2"), route_class::fleet_change);
  EXPECT_EQ(cls("POST", "/api/v1/chat"), route_class::inference);
  EXPECT_EQ(cls("POST", "/api/v1/batch/generate"), route_class::inference);
  EXPECT_EQ(cls("POST", "/api/v1/presets"), route_class::management);
  EXPECT_EQ(cls("PUT", "/api/v1/config"), route_class::management);
  EXPECT_EQ(cls("DELETE", "/api/v1/config"), route_class::management) << "a wrong method on a management path";
  EXPECT_EQ(cls("GET", "/api/v1/nothing"), route_class::other);
}

TEST(management_routes_test, path_parameters_are_percent_decoded) {
  EXPECT_EQ(percent_decode("library%2Fllama2%3A7b"), "library/llama2:7b");
  EXPECT_EQ(percent_decode("100%"), "100%");
  EXPECT_EQ(percent_decode("%zz"), "%zz");
}

}  // namespace
}  // namespace corral
