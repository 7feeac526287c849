// Small helpers shared by the SuperLinkLite tests.
#ifndef POLLEN_TESTS_SUPERLINK_TEST_UTIL_H_
#define POLLEN_TESTS_SUPERLINK_TEST_UTIL_H_

#include <grpcpp/support/status.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fleet_test_client.h"
#include "pollen/core/records.h"
#include "pollen/superlink_lite/superlink_lite.h"

namespace pollen::testing {

// Success when `status` has exactly this code and details.
inline ::testing::AssertionResult has_status(const grpc::Status& status, grpc::StatusCode code,
                                             const std::string& details) {
  if (status.error_code() == code && status.error_message() == details) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "got " << describe(status) << "; want "
         << status_code_name(static_cast<StatusCode>(code)) << ": " << details;
}

inline std::unique_ptr<SuperLinkLite> start_link(const SuperLinkOptions& options = {}) {
  Result<std::unique_ptr<SuperLinkLite>> link = SuperLinkLite::start(options);
  EXPECT_TRUE(link.ok()) << link.status();
  return link.ok() ? std::move(link).value() : nullptr;
}

inline Array float_array(const std::vector<float>& values, std::vector<int64_t> shape) {
  return Array::from_elements(DType::kFloat32, shape, values.data(), values.size() * 4).value();
}

// {"arrays": {"w": float32 [2, 2]}, "config": {"lr": 0.1}}, like FedAvg's.
inline RecordDict small_content() {
  ArrayRecord arrays;
  arrays.set("w", float_array({1, 2, 3, 4}, {2, 2}));
  ConfigRecord config;
  config.set("lr", 0.1);
  RecordDict content;
  content.set("arrays", std::move(arrays));
  content.set("config", std::move(config));
  return content;
}

}  // namespace pollen::testing

#endif  // POLLEN_TESTS_SUPERLINK_TEST_UTIL_H_
