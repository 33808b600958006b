#include "gateway/model_catalog.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace corral {
namespace {

namespace json = boost::json;

class model_catalog_test : public ::testing::Test {
 protected:
  static json::array array_of(std::string_view text) { return json::parse(text).as_array(); }

  static backend_models backend(std::string_view tags, std::string_view running = "[]") {
    backend_models m;
    m.known = true;
    m.tags = array_of(tags);
    m.running = array_of(running);
    return m;
  }

  static json::object tag(std::string_view name, std::string_view modified_at) {
    json::object o;
    o["name"] = name;
    o["model"] = name;
    o["modified_at"] = modified_at;
    o["size"] = 1;
    return o;
  }

  static json::object running(std::string_view name, std::string_view expires_at) {
    json::object o;
    o["name"] = name;
    o["model"] = name;
    o["expires_at"] = expires_at;
    return o;
  }

  // The "name" of each entry of merged["models"], in order.
  static std::vector<std::string> names(const json::object& merged) {
    std::vector<std::string> out;
    for (const auto& v : merged.at("models").as_array())
      out.emplace_back(v.as_object().at("name").as_string());
    return out;
  }

  static constexpr backend_mask bit(int i) { return backend_mask{1} << i; }
};

TEST_F(model_catalog_test, installed_on_has_a_bit_for_each_backend_whose_tags_list_the_model) {
  model_catalog cat({
      backend(R"([{"name":"llama2:latest"},{"name":"mistral:7b"}])"),
      backend(R"([{"name":"mistral:7b"}])"),
      backend(R"([{"name":"llama2:latest"}])"),
  });
  EXPECT_EQ(cat.installed_on("llama2:latest"), bit(0) | bit(2));
  EXPECT_EQ(cat.installed_on("mistral:7b"), bit(0) | bit(1));
  EXPECT_EQ(cat.installed_on("phi:latest"), 0u);
}

TEST_F(model_catalog_test, loaded_on_has_a_bit_for_each_backend_whose_ps_lists_the_model) {
  model_catalog cat({
      backend(R"([{"name":"llama2:latest"}])", R"([{"name":"llama2:latest","model":"llama2:latest"}])"),
      backend(R"([{"name":"llama2:latest"}])"),
      backend(R"([{"name":"llama2:latest"}])", R"([{"model":"llama2:latest"}])"),
  });
  EXPECT_EQ(cat.installed_on("llama2:latest"), bit(0) | bit(1) | bit(2));
  EXPECT_EQ(cat.loaded_on("llama2:latest"), bit(0) | bit(2));
  EXPECT_EQ(cat.loaded_on("mistral:latest"), 0u);
}

TEST_F(model_catalog_test, names_from_backends_are_normalized_before_lookup) {
  model_catalog cat({
      backend(R"([{"name":"Llama2"}])", R"([{"name":"Llama2:Latest"}])"),
      backend(R"([{"name":"User/Model"}])"),
  });
  EXPECT_EQ(cat.installed_on("llama2:latest"), bit(0));
  EXPECT_EQ(cat.loaded_on("llama2:latest"), bit(0));
  EXPECT_EQ(cat.installed_on("user/model:latest"), bit(1));
}

TEST_F(model_catalog_test, entries_without_a_name_are_ignored) {
  model_catalog cat({backend(R"([{"size":3},42,{"name":7},{"name":"ok"}])")});
  EXPECT_EQ(cat.installed_on("ok:latest"), bit(0));
  EXPECT_EQ(cat.installed_on(":latest"), 0u);
}

TEST_F(model_catalog_test, with_backend_replaces_only_that_backends_entry) {
  model_catalog before({
      backend(R"([{"name":"llama2"}])"),
      backend(R"([{"name":"llama2"}])"),
  });
  auto after = before.with_backend(1, backend(R"([{"name":"mistral"}])", R"([{"name":"mistral"}])"));
  EXPECT_EQ(after.installed_on("llama2:latest"), bit(0));
  EXPECT_EQ(after.installed_on("mistral:latest"), bit(1));
  EXPECT_EQ(after.loaded_on("mistral:latest"), bit(1));
  ASSERT_EQ(after.per_backend().size(), 2u);
  // The original is untouched: readers holding it keep a consistent snapshot.
  EXPECT_EQ(before.installed_on("llama2:latest"), bit(0) | bit(1));
  EXPECT_EQ(before.installed_on("mistral:latest"), 0u);
}

TEST_F(model_catalog_test, with_backend_past_the_end_grows_the_catalog) {
  model_catalog before({backend(R"([{"name":"llama2"}])")});
  auto after = before.with_backend(2, backend(R"([{"name":"llama2"}])"));
  ASSERT_EQ(after.per_backend().size(), 3u);
  EXPECT_FALSE(after.per_backend()[1].known);
  EXPECT_EQ(after.installed_on("llama2:latest"), bit(0) | bit(2));
}

TEST_F(model_catalog_test, merge_tags_keeps_one_entry_per_model_name_across_backends) {
  json::array a{tag("llama2:latest", "2024-05-01T09:00:00Z"), tag("mistral:7b", "2024-04-01T09:00:00Z")};
  json::array b{tag("Llama2", "2024-05-01T09:00:00Z"), tag("phi:latest", "2024-03-01T09:00:00Z")};
  json::array c{tag("mistral:7b", "2024-04-01T09:00:00Z")};
  auto merged = merge_tags({&a, &b, &c});
  EXPECT_EQ(names(merged), (std::vector<std::string>{"llama2:latest", "mistral:7b", "phi:latest"}));
}

TEST_F(model_catalog_test, merge_tags_orders_newest_modified_at_first) {
  json::array a{tag("old", "2023-01-01T00:00:00Z"), tag("newest", "2024-06-01T00:00:00Z")};
  json::array b{tag("middle", "2024-01-01T00:00:00Z")};
  EXPECT_EQ(names(merge_tags({&a, &b})), (std::vector<std::string>{"newest", "middle", "old"}));
}

TEST_F(model_catalog_test, merge_tags_compares_instants_not_text_across_time_zones) {
  // 10:00:00.5+02:00 is 08:00:00.5Z: older than 09:00Z although it sorts later as text.
  // 05:30-04:00 is 09:30Z: the newest, although it sorts first as text.
  json::array a{tag("east", "2024-05-01T10:00:00.5+02:00")};
  json::array b{tag("utc", "2024-05-01T09:00:00Z")};
  json::array c{tag("west", "2024-05-01T05:30:00-04:00")};
  EXPECT_EQ(names(merge_tags({&a, &b, &c})), (std::vector<std::string>{"west", "utc", "east"}));
}

TEST_F(model_catalog_test, merge_tags_compares_fractional_seconds_of_different_precision) {
  // As text, 'Z' sorts after '.', which would put the whole second first.
  json::array a{tag("whole", "2024-05-01T09:00:00Z")};
  json::array b{tag("tenth", "2024-05-01T09:00:00.1Z")};
  json::array c{tag("nanos", "2024-05-01T09:00:00.050000001Z")};
  EXPECT_EQ(names(merge_tags({&a, &b, &c})), (std::vector<std::string>{"tenth", "nanos", "whole"}));
}

TEST_F(model_catalog_test, merge_tags_keeps_the_entries_as_the_backend_sent_them) {
  json::array a{tag("llama2:latest", "2024-05-01T09:00:00Z")};
  a[0].as_object()["details"] = json::parse(R"({"family":"llama"})");
  auto merged = merge_tags({&a});
  ASSERT_EQ(merged.at("models").as_array().size(), 1u);
  EXPECT_EQ(merged.at("models").as_array()[0], a[0]);
}

TEST_F(model_catalog_test, merge_tags_of_nothing_is_an_empty_models_array) {
  json::array empty;
  auto merged = merge_tags({&empty, nullptr});
  ASSERT_TRUE(merged.at("models").is_array());
  EXPECT_TRUE(merged.at("models").as_array().empty());
}

TEST_F(model_catalog_test, merge_running_orders_longest_remaining_expires_at_first) {
  json::array a{running("soon", "2024-05-01T09:05:00Z"), running("later", "2024-05-01T11:00:00+01:00")};
  json::array b{running("latest", "2024-05-01T10:30:00Z"), running("soon", "2024-05-01T09:05:00Z")};
  EXPECT_EQ(names(merge_running({&a, &b})), (std::vector<std::string>{"latest", "later", "soon"}));
}

TEST_F(model_catalog_test, openai_model_list_has_null_data_when_there_are_no_models) {
  auto list = openai_model_list(merge_tags({}));
  EXPECT_EQ(list.at("object"), "list");
  EXPECT_TRUE(list.at("data").is_null());
  EXPECT_TRUE(openai_model_list(json::object{}).at("data").is_null());
}

TEST_F(model_catalog_test, openai_model_list_maps_each_tag_entry_to_a_model_object) {
  json::array a{tag("llama2:latest", "2024-05-01T09:00:00Z"), tag("user/model:latest", "2024-04-01T00:00:00Z")};
  auto list = openai_model_list(merge_tags({&a}));
  EXPECT_EQ(list.at("object"), "list");
  const auto& data = list.at("data").as_array();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[0].at("id"), "llama2:latest");
  EXPECT_EQ(data[0].at("object"), "model");
  EXPECT_EQ(data[0].at("owned_by"), "library");
  EXPECT_EQ(data[1].at("id"), "user/model:latest");
  EXPECT_EQ(data[1].at("owned_by"), "user");
}

TEST_F(model_catalog_test, openai_model_owner_is_the_namespace_even_behind_a_registry_host) {
  EXPECT_EQ(openai_model(tag("registry:5000/team/model:v1", "2024-05-01T09:00:00Z")).at("owned_by"), "team");
  EXPECT_EQ(openai_model(tag("model:v1", "2024-05-01T09:00:00Z")).at("owned_by"), "library");
}

TEST_F(model_catalog_test, openai_model_created_is_unix_seconds_of_modified_at) {
  // 2024-05-01T00:00:00Z = 1714521600.
  EXPECT_EQ(openai_model(tag("a", "2024-05-01T09:00:00Z")).at("created").to_number<std::int64_t>(),
            1714521600 + 9 * 3600);
  EXPECT_EQ(openai_model(tag("a", "2024-05-01T10:00:00.5+02:00")).at("created").to_number<std::int64_t>(),
            1714521600 + 8 * 3600);
  EXPECT_EQ(openai_model(tag("a", "2024-05-01T05:30:00.123456789-04:00")).at("created").to_number<std::int64_t>(),
            1714521600 + 9 * 3600 + 30 * 60);
}

TEST_F(model_catalog_test, openai_model_uses_model_field_when_name_is_missing) {
  json::object entry;
  entry["model"] = "phi:latest";
  entry["modified_at"] = "2024-05-01T00:00:00Z";
  auto m = openai_model(entry);
  EXPECT_EQ(m.at("id"), "phi:latest");
  EXPECT_EQ(m.at("created").to_number<std::int64_t>(), 1714521600);
}

}  // namespace
}  // namespace corral
