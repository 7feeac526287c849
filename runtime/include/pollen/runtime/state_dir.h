// What a node keeps on disk between runs (`pollen --state-dir DIR`):
//   DIR/global.npz   the arrays of the last train instruction, as received
//   DIR/local.npz    the arrays of the last train reply (the local model)
//   DIR/state.json   which run and server round they belong to, and when
//   DIR/node.key     the node's private key, when a persistent identity is
//                    asked for (made by the caller, see key_path())
// Files are numpy .npz archives, so `np.load("local.npz")` reads them, and
// every write goes to a temporary file renamed over the old one, so a node
// killed mid-write leaves the previous complete file behind.
#ifndef POLLEN_RUNTIME_STATE_DIR_H_
#define POLLEN_RUNTIME_STATE_DIR_H_

#include <cstdint>
#include <optional>
#include <string>

#include "pollen/core/client.h"
#include "pollen/core/records.h"
#include "pollen/core/status.h"

namespace pollen {

// One model file's provenance, from state.json.
struct SavedModel {
  uint64_t run_id = 0;
  int64_t server_round = 0;  // 0 when the instruction carried no "server-round"
  double saved_at = 0;       // Unix seconds
};

struct SavedState {
  std::optional<SavedModel> global;
  std::optional<SavedModel> local;
};

class StateDir {
 public:
  // Creates `path` (and its parents) when missing. FAILED_PRECONDITION when
  // it exists but is not a writable directory.
  static Result<StateDir> open(const std::string& path);

  const std::string& path() const { return path_; }
  std::string global_path() const { return path_ + "/global.npz"; }
  std::string local_path() const { return path_ + "/local.npz"; }
  std::string key_path() const { return path_ + "/node.key"; }

  // state.json; an empty SavedState when there is none. INVALID_ARGUMENT
  // naming the file when it cannot be parsed.
  Result<SavedState> read_state() const;

  Status save_global(const ArrayRecord& arrays, const SavedModel& info);
  Status save_local(const ArrayRecord& arrays, const SavedModel& info);

  // local.npz, when state.json says one was saved.
  Result<std::optional<ArrayRecord>> load_local() const;

 private:
  explicit StateDir(std::string path) : path_(std::move(path)) {}
  Status write_state(const SavedState& state) const;

  std::string path_;
};

// A Client that keeps `dir` up to date around `inner`: a train instruction's
// arrays are saved as the global model before `inner` runs, the reply's as
// the local model after it; a query reply's "config" record gains
// "state-run-id" and "state-server-round" of the local model. A failure to
// write is logged and does not fail the reply: training matters more than
// the copy on disk.
class StatefulClient final : public Client {
 public:
  StatefulClient(Client& inner, StateDir& dir) : inner_(inner), dir_(dir) {}
  Result<RecordDict> handle(const Message& instruction) override;

 private:
  Client& inner_;
  StateDir& dir_;
};

}  // namespace pollen

#endif  // POLLEN_RUNTIME_STATE_DIR_H_
