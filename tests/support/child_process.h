// A program started by a test, with its output in a log file, that is
// always reaped: killed if the test ends while it still runs.
#ifndef POLLEN_TESTS_SUPPORT_CHILD_PROCESS_H_
#define POLLEN_TESTS_SUPPORT_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace pollen::testing {

class ChildProcess {
 public:
  // Starts argv[0] with argv; stdout and stderr go to `log` (created or
  // truncated), or stay the test's own when `log` is empty.
  ChildProcess(std::vector<std::string> argv, std::string log = "");
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Waits up to `timeout` for the exit; the exit code, or -1 when it was
  // killed by a signal or is still running (it is then left running).
  int wait(std::chrono::seconds timeout);
  // SIGTERM, then wait().
  int stop(std::chrono::seconds timeout = std::chrono::seconds(30));
  // What the process wrote so far ("" without a log file).
  std::string log() const;

 private:
  pid_t pid_ = 0;
  std::string log_;
};

}  // namespace pollen::testing

#endif  // POLLEN_TESTS_SUPPORT_CHILD_PROCESS_H_
