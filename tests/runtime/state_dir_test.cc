// The state directory: what a node keeps between runs, and the Client
// wrapper that keeps it current.
#include "pollen/runtime/state_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "pollen/core/npz.h"
#include "support/test_data.h"

namespace pollen {
namespace {

namespace fs = std::filesystem;
using pollen::testing::contains;

std::string fresh_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/state-" + name;
  fs::remove_all(dir);
  return dir;
}

ArrayRecord arrays(float value) {
  const float w[] = {value, value + 1};
  ArrayRecord record;
  record.set("fc.weight", *Array::from_elements(DType::kFloat32, {2}, w, sizeof(w)));
  return record;
}

Message instruction(const std::string& type, float value, int64_t round) {
  Message m;
  m.metadata.run_id = 42;
  m.metadata.message_type = type;
  RecordDict content;
  content.set("arrays", arrays(value));
  ConfigRecord config;
  config.set("server-round", round);
  content.set("config", config);
  m.content = std::move(content);
  return m;
}

// Answers train with its input plus one, query with an empty "config".
class AddOne final : public Client {
 public:
  Result<RecordDict> handle(const Message& m) override {
    if (fail) return invalid_argument("inner failure");
    RecordDict reply;
    if (m.metadata.message_type == "query") {
      reply.set("config", ConfigRecord());
      return reply;
    }
    const Array& in = *find_array_record(*m.content, "arrays")->find("fc.weight");
    Result<NpyArray> npy = in.to_npy();
    if (!npy.ok()) return npy.status();
    float first = 0;
    std::memcpy(&first, npy->data.data(), sizeof(first));
    reply.set("arrays", arrays(first + 1));
    return reply;
  }
  bool fail = false;
};

bool same_bytes(const ArrayRecord& a, const ArrayRecord& b) {
  if (a.size() != b.size()) return false;
  auto ia = a.begin();
  for (auto ib = b.begin(); ib != b.end(); ++ia, ++ib) {
    if (ia->first != ib->first || !(ia->second == ib->second)) return false;
  }
  return true;
}

TEST(StateDirTest, CreatesTheDirectoryAndStartsEmpty) {
  const std::string path = fresh_dir("empty") + "/a/b";
  Result<StateDir> dir = StateDir::open(path);
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_TRUE(fs::is_directory(path));
  Result<SavedState> state = dir->read_state();
  ASSERT_TRUE(state.ok());
  EXPECT_FALSE(state->global.has_value());
  EXPECT_FALSE(state->local.has_value());
  Result<std::optional<ArrayRecord>> local = dir->load_local();
  ASSERT_TRUE(local.ok());
  EXPECT_FALSE(local->has_value());
}

TEST(StateDirTest, RefusesAFileAndAnUnwritableDirectory) {
  const std::string base = fresh_dir("bad");
  fs::create_directories(base);
  std::ofstream(base + "/file") << "x";
  Result<StateDir> file = StateDir::open(base + "/file");
  ASSERT_FALSE(file.ok());
  EXPECT_TRUE(contains(file.status().message(), base + "/file"));
  if (geteuid() != 0) {  // root writes anywhere
    fs::create_directories(base + "/ro");
    chmod((base + "/ro").c_str(), 0500);
    EXPECT_FALSE(StateDir::open(base + "/ro").ok());
  }
}

TEST(StateDirTest, StatefulClientSavesGlobalAndLocalPerTrainRound) {
  Result<StateDir> dir = StateDir::open(fresh_dir("train"));
  ASSERT_TRUE(dir.ok());
  AddOne inner;
  StatefulClient client(inner, *dir);
  for (int64_t round = 1; round <= 2; ++round) {
    Result<RecordDict> reply = client.handle(instruction("train", 10.0f * round, round));
    ASSERT_TRUE(reply.ok()) << reply.status();
    Result<ArrayRecord> global = read_npz(dir->global_path());
    ASSERT_TRUE(global.ok()) << global.status();
    EXPECT_TRUE(same_bytes(*global, arrays(10.0f * round)));
    Result<std::optional<ArrayRecord>> local = dir->load_local();
    ASSERT_TRUE(local.ok() && local->has_value());
    EXPECT_TRUE(same_bytes(**local, *find_array_record(*reply, "arrays")));
    Result<SavedState> state = dir->read_state();
    ASSERT_TRUE(state.ok());
    EXPECT_EQ(state->global->server_round, round);
    EXPECT_EQ(state->local->server_round, round);
    EXPECT_EQ(state->local->run_id, 42u);
  }
  // Only complete files are left: no temporary file survives a write.
  for (const auto& entry : fs::directory_iterator(dir->path())) {
    EXPECT_FALSE(contains(entry.path().filename().string(), ".tmp"));
  }
}

TEST(StateDirTest, AFailedRoundKeepsTheLastLocalModel) {
  Result<StateDir> dir = StateDir::open(fresh_dir("fail"));
  ASSERT_TRUE(dir.ok());
  AddOne inner;
  StatefulClient client(inner, *dir);
  ASSERT_TRUE(client.handle(instruction("train", 1.0f, 1)).ok());
  inner.fail = true;
  EXPECT_FALSE(client.handle(instruction("train", 5.0f, 2)).ok());
  Result<SavedState> state = dir->read_state();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->global->server_round, 2);  // received
  EXPECT_EQ(state->local->server_round, 1);   // not replaced
  Result<std::optional<ArrayRecord>> local = dir->load_local();
  ASSERT_TRUE(local.ok() && local->has_value());
  EXPECT_TRUE(same_bytes(**local, arrays(2.0f)));
}

TEST(StateDirTest, QueryRepliesReportTheSavedRound) {
  Result<StateDir> dir = StateDir::open(fresh_dir("query"));
  ASSERT_TRUE(dir.ok());
  AddOne inner;
  StatefulClient client(inner, *dir);
  ASSERT_TRUE(client.handle(instruction("train", 1.0f, 3)).ok());
  Message query;
  query.metadata.message_type = "query";
  query.content = RecordDict();
  Result<RecordDict> reply = client.handle(query);
  ASSERT_TRUE(reply.ok());
  const ConfigRecord* config = find_config_record(*reply, "config");
  ASSERT_NE(config, nullptr);
  ASSERT_NE(config->find("state-server-round"), nullptr);
  EXPECT_EQ(std::get<int64_t>(*config->find("state-server-round")), 3);
  EXPECT_EQ(std::get<uint64_t>(*config->find("state-run-id")), 42u);
}

fs::perms mode_of(const std::string& path) {
  return fs::status(path).permissions() & fs::perms::mask;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The device's locally trained weights are its users' data: owner-only.
TEST(StateDirTest, TheDirectoryAndItsFilesAreOwnerOnly) {
  const std::string path = fresh_dir("modes") + "/state";
  ::umask(022);
  Result<StateDir> dir = StateDir::open(path);
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(mode_of(path), fs::perms::owner_all);
  SavedModel info;
  info.run_id = 7;
  ASSERT_TRUE(dir->save_global(arrays(1), info).ok());
  ASSERT_TRUE(dir->save_local(arrays(2), info).ok());
  const fs::perms owner_rw = fs::perms::owner_read | fs::perms::owner_write;
  for (const std::string& file : {dir->global_path(), dir->local_path(), path + "/state.json"}) {
    EXPECT_EQ(mode_of(file), owner_rw) << file;
  }
}

// A state.json that is not a file was an uncaught std::ios_base::failure
// (exit 134); now an error naming the file, for reading and for writing.
TEST(StateDirTest, AStateFileThatIsADirectoryIsAnErrorNotACrash) {
  const std::string path = fresh_dir("dir-state");
  Result<StateDir> dir = StateDir::open(path);
  ASSERT_TRUE(dir.ok());
  fs::create_directories(path + "/state.json");
  Result<SavedState> state = dir->read_state();
  ASSERT_FALSE(state.ok());
  EXPECT_TRUE(contains(state.status().message(), path + "/state.json"));
  EXPECT_TRUE(contains(state.status().message(), "not a regular file"));
  Status saved = dir->save_local(arrays(1), SavedModel{});
  EXPECT_FALSE(saved.ok());
  Result<std::optional<ArrayRecord>> local = dir->load_local();
  EXPECT_FALSE(local.ok());
}

// A write that fails (here: a directory sits where its temporary file would
// go, which stops root too) leaves the previous file whole and no temporary
// file behind.
TEST(StateDirTest, AFailedWriteLeavesThePreviousFilesWhole) {
  const std::string path = fresh_dir("failed-write");
  Result<StateDir> dir = StateDir::open(path);
  ASSERT_TRUE(dir.ok());
  SavedModel first;
  first.run_id = 1;
  ASSERT_TRUE(dir->save_local(arrays(1), first).ok());
  const std::string state_before = read_text(path + "/state.json");
  const std::string model_before = read_text(dir->local_path());
  const std::string tmp = ".tmp-" + std::to_string(getpid());
  SavedModel second;
  second.run_id = 2;

  fs::create_directories(dir->local_path() + tmp);
  Status saved = dir->save_local(arrays(2), second);
  ASSERT_FALSE(saved.ok());
  EXPECT_TRUE(contains(saved.message(), dir->local_path() + tmp)) << saved;
  EXPECT_EQ(read_text(dir->local_path()), model_before);
  EXPECT_EQ(read_text(path + "/state.json"), state_before);
  fs::remove(dir->local_path() + tmp);

  fs::create_directories(path + "/state.json" + tmp);
  EXPECT_FALSE(dir->save_local(arrays(2), second).ok());
  EXPECT_EQ(read_text(path + "/state.json"), state_before);
  fs::remove(path + "/state.json" + tmp);
  for (const auto& entry : fs::directory_iterator(path)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
  }
  Result<SavedState> state = dir->read_state();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->local->run_id, 1u);
}

TEST(StateDirTest, ADamagedStateFileIsReportedByName) {
  const std::string path = fresh_dir("damaged");
  Result<StateDir> dir = StateDir::open(path);
  ASSERT_TRUE(dir.ok());
  std::ofstream(path + "/state.json") << "{\"local\": {\"run-id\": ";
  Result<SavedState> state = dir->read_state();
  ASSERT_FALSE(state.ok());
  EXPECT_TRUE(contains(state.status().message(), path + "/state.json"));
}

}  // namespace
}  // namespace pollen
