#include "pollen/runtime/state_dir.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pollen/core/durable_file.h"
#include "pollen/core/message.h"
#include "pollen/core/npz.h"
#include "pollen/runtime/log.h"

namespace pollen {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json model_json(const SavedModel& m) {
  return {{"run-id", m.run_id}, {"server-round", m.server_round}, {"saved-at", m.saved_at}};
}

SavedModel model_from_json(const json& j) {
  SavedModel m;
  m.run_id = j.at("run-id").get<uint64_t>();
  m.server_round = j.at("server-round").get<int64_t>();
  m.saved_at = j.at("saved-at").get<double>();
  return m;
}

// The device's own trained weights and state: owner-only, like a key.
constexpr mode_t kFileMode = 0600;
constexpr fs::perms kDirPerms = fs::perms::owner_all;

// The instruction's model: "arrays", else its only ArrayRecord.
const ArrayRecord* model_arrays(const RecordDict& content) {
  if (const ArrayRecord* arrays = find_array_record(content, "arrays")) return arrays;
  const ArrayRecord* found = nullptr;
  for (const auto& [name, record] : content) {
    if (const auto* a = std::get_if<ArrayRecord>(&record)) {
      if (found != nullptr) return nullptr;
      found = a;
    }
  }
  return found;
}

SavedModel provenance(const Message& instruction) {
  SavedModel info;
  info.run_id = instruction.metadata.run_id;
  info.saved_at = unix_now();
  if (instruction.content) {
    if (const ConfigRecord* config = find_config_record(*instruction.content, "config")) {
      if (const ConfigValue* round = config->find("server-round")) {
        Result<int64_t> value = config_as_int(*round);
        if (value.ok()) info.server_round = *value;
      }
    }
  }
  return info;
}

std::string category(const std::string& message_type) {
  return message_type.substr(0, message_type.find('.'));
}

}  // namespace

Result<StateDir> StateDir::open(const std::string& path) {
  std::error_code ec;
  const bool created = fs::create_directories(path, ec);
  if (ec || !fs::is_directory(path)) {
    return failed_precondition("--state-dir '" + path + "' is not a directory I can create" +
                               (ec ? ": " + ec.message() : ""));
  }
  if (created) fs::permissions(path, kDirPerms, fs::perm_options::replace, ec);
  if (access(path.c_str(), W_OK) != 0) {
    return failed_precondition("--state-dir '" + path + "' is not writable");
  }
  const fs::perms perms = fs::status(path, ec).permissions();
  if (!ec && (perms & (fs::perms::group_all | fs::perms::others_all)) != fs::perms::none) {
    POLLEN_LOG(Warning) << "--state-dir '" << path
                        << "' is open to other users; it will hold this device's trained "
                           "weights and node key: chmod 700 it";
  }
  return StateDir(path);
}

Result<SavedState> StateDir::read_state() const {
  const std::string file = path_ + "/state.json";
  std::error_code ec;
  const fs::file_status status = fs::status(file, ec);
  if (status.type() == fs::file_type::not_found) return SavedState{};
  if (ec || status.type() != fs::file_type::regular) {
    return failed_precondition("'" + file + "' is not a regular file" +
                               (ec ? " (" + ec.message() + ")" : "") +
                               "; move it away to start afresh");
  }
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in || !text) return failed_precondition("cannot read '" + file + "'");
  try {
    const json j = json::parse(text.str());
    SavedState state;
    if (j.contains("global")) state.global = model_from_json(j.at("global"));
    if (j.contains("local")) state.local = model_from_json(j.at("local"));
    return state;
  } catch (const json::exception& e) {
    return invalid_argument("'" + file + "' is damaged (" + e.what() +
                            "); delete it to start afresh");
  }
}

Status StateDir::write_state(const SavedState& state) const {
  json j = json::object();
  if (state.global) j["global"] = model_json(*state.global);
  if (state.local) j["local"] = model_json(*state.local);
  return write_file_durably(path_ + "/state.json", j.dump(2) + "\n", kFileMode);
}

Status StateDir::save_global(const ArrayRecord& arrays, const SavedModel& info) {
  POLLEN_RETURN_IF_ERROR(write_npz(global_path(), arrays, kFileMode));
  POLLEN_ASSIGN_OR_RETURN(SavedState state, read_state());
  state.global = info;
  return write_state(state);
}

Status StateDir::save_local(const ArrayRecord& arrays, const SavedModel& info) {
  POLLEN_RETURN_IF_ERROR(write_npz(local_path(), arrays, kFileMode));
  POLLEN_ASSIGN_OR_RETURN(SavedState state, read_state());
  state.local = info;
  return write_state(state);
}

Result<std::optional<ArrayRecord>> StateDir::load_local() const {
  POLLEN_ASSIGN_OR_RETURN(SavedState state, read_state());
  if (!state.local) return std::optional<ArrayRecord>();
  POLLEN_ASSIGN_OR_RETURN(ArrayRecord arrays, read_npz(local_path()));
  return std::optional<ArrayRecord>(std::move(arrays));
}

Result<RecordDict> StatefulClient::handle(const Message& instruction) {
  const std::string kind = category(instruction.metadata.message_type);
  const SavedModel info = provenance(instruction);
  if (kind == "train" && instruction.content) {
    if (const ArrayRecord* arrays = model_arrays(*instruction.content)) {
      Status saved = dir_.save_global(*arrays, info);
      if (!saved.ok()) POLLEN_LOG(Warning) << "state dir: " << saved.message();
    }
  }
  Result<RecordDict> reply = inner_.handle(instruction);
  if (!reply.ok()) return reply;
  if (kind == "train") {
    if (const ArrayRecord* arrays = model_arrays(*reply)) {
      Status saved = dir_.save_local(*arrays, info);
      if (!saved.ok()) POLLEN_LOG(Warning) << "state dir: " << saved.message();
    }
  } else if (kind == "query") {
    Result<SavedState> state = dir_.read_state();
    ConfigRecord* config = nullptr;
    if (Record* record = reply->find("config")) config = std::get_if<ConfigRecord>(record);
    if (state.ok() && state->local && config != nullptr) {
      config->set("state-run-id", state->local->run_id);
      config->set("state-server-round", state->local->server_round);
    }
  }
  return reply;
}

}  // namespace pollen
