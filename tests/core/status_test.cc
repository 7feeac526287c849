#include "pollen/core/status.h"

#include <gtest/gtest.h>

namespace pollen {
namespace {

Result<int> parse_positive(int x) {
  if (x <= 0) return invalid_argument("x must be positive, got " + std::to_string(x));
  return x;
}

Status use_macros(int x, int* out) {
  POLLEN_ASSIGN_OR_RETURN(*out, parse_positive(x));
  POLLEN_RETURN_IF_ERROR(parse_positive(x - 1).status());
  return Status::Ok();
}

TEST(StatusTest, OkAndErrors) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = data_loss("chunk missing");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.to_string(), "DATA_LOSS: chunk missing");
  EXPECT_EQ(s.with_context("array 'w'").message(), "array 'w': chunk missing");
  EXPECT_TRUE(Status::Ok().with_context("ignored").ok());
}

TEST(StatusTest, MacrosPropagate) {
  int out = 0;
  EXPECT_TRUE(use_macros(5, &out).ok());
  EXPECT_EQ(out, 5);
  Status first = use_macros(-1, &out);
  EXPECT_EQ(first.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(first.message(), "x must be positive, got -1");
  EXPECT_EQ(use_macros(1, &out).message(), "x must be positive, got 0");
}

TEST(StatusTest, ResultHoldsMoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> v = std::move(r).value();
  EXPECT_EQ(*v, 7);
}

}  // namespace
}  // namespace pollen
