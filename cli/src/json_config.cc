#include "json_config.h"

#include <nlohmann/json.hpp>

namespace pollen::cli {

namespace {

using nlohmann::json;

// Options a config file must not set: they act on the parse itself.
bool settable(const CLI::Option* option) {
  return option != nullptr && option->get_configurable() && option->get_lnames().size() == 1 &&
         option->get_lnames()[0] != "help" && option->get_lnames()[0] != "version" &&
         option->get_lnames()[0] != "config";
}

std::string scalar_text(const std::string& key, const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number()) return value.dump();
  throw CLI::ConfigError("--config: key '" + key + "' must be a string, number or boolean, not " +
                         std::string(value.type_name()));
}

}  // namespace

std::string JsonConfig::to_config(const CLI::App* app, bool default_also, bool, std::string) const {
  json out = json::object();
  for (const CLI::Option* option : app->get_options()) {
    if (!settable(option)) continue;
    std::vector<std::string> values = option->reduced_results();
    if (values.empty() && default_also && !option->get_default_str().empty()) {
      values = {option->get_default_str()};
    }
    if (values.empty()) continue;
    const std::string& key = option->get_lnames()[0];
    out[key] = values.size() == 1 ? json(values[0]) : json(values);
  }
  return out.dump(2) + "\n";
}

std::vector<CLI::ConfigItem> JsonConfig::from_config(std::istream& input) const {
  json document;
  try {
    document = json::parse(input);
  } catch (const json::exception& e) {
    throw CLI::ConfigError(std::string("--config: not valid JSON: ") + e.what());
  }
  if (!document.is_object()) {
    throw CLI::ConfigError("--config: the file must hold a JSON object of flag names and values");
  }
  std::vector<CLI::ConfigItem> items;
  for (const auto& [key, value] : document.items()) {
    const CLI::Option* option = app_->get_option_no_throw("--" + key);
    if (!settable(option)) {
      throw CLI::ConfigError("--config: unknown key '" + key +
                             "' (keys are the long flag names without --, see pollen --help)");
    }
    CLI::ConfigItem item;
    item.name = key;
    if (value.is_array()) {
      if (option->get_items_expected_max() < 2) {
        throw CLI::ConfigError("--config: key '" + key + "' takes one value, not a list");
      }
      for (const json& element : value) item.inputs.push_back(scalar_text(key, element));
    } else {
      item.inputs.push_back(scalar_text(key, value));
    }
    items.push_back(std::move(item));
  }
  return items;
}

}  // namespace pollen::cli
