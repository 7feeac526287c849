// `--config client.json`: a JSON object whose keys are the long flag names
// without "--" ({"superlink": "10.0.0.2:9092", "lr": 0.05, "insecure": true,
// "trainable": ["head."]}). Flags given on the command line override it.
#ifndef POLLEN_CLI_JSON_CONFIG_H_
#define POLLEN_CLI_JSON_CONFIG_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace pollen::cli {

// A CLI11 config reader for JSON. Every key must name an option of `app`
// that a config file may set; anything else (an unknown key, a nested
// object, null, a list for a single-valued option) is a CLI::ConfigError
// naming the key.
class JsonConfig : public CLI::Config {
 public:
  explicit JsonConfig(const CLI::App* app) : app_(app) {}

  std::string to_config(const CLI::App* app, bool default_also, bool write_description,
                        std::string prefix) const override;
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;

 private:
  const CLI::App* app_;
};

}  // namespace pollen::cli

#endif  // POLLEN_CLI_JSON_CONFIG_H_
