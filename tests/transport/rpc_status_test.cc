// gRPC status -> Pollen status: retryable codes, TLS handshake failures,
// and the messages that tell a user what to do.
#include "rpc_status.h"

#include <gtest/gtest.h>

namespace pollen::fleet {
namespace {

constexpr int kCancelled = 1;
constexpr int kUnavailable = 14;
constexpr int kDeadlineExceeded = 4;
constexpr int kUnauthenticated = 16;
constexpr int kPermissionDenied = 7;

bool contains(const Status& s, const std::string& text) {
  return s.message().find(text) != std::string::npos;
}

TEST(RpcStatusTest, OkIsOk) {
  Attempt a = map_rpc_status("PullMessages", 0, "");
  EXPECT_TRUE(a.status.ok());
}

TEST(RpcStatusTest, MessageNamesTheMethodAndCode) {
  Attempt a = map_rpc_status("PullObject", kUnavailable, "failed to connect to all addresses");
  EXPECT_EQ(a.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(a.status.message(), "PullObject: UNAVAILABLE: failed to connect to all addresses");
  EXPECT_TRUE(a.retryable);
}

// CANCELLED: what a SuperLink stopped with SIGTERM answers the calls in
// progress ("PullObject: CANCELLED: CANCELLED").
TEST(RpcStatusTest, OnlyUnavailableDeadlineExceededAndCancelledAreRetried) {
  for (int code = 1; code <= 16; ++code) {
    Attempt a = map_rpc_status("PushMessages", code, "details");
    EXPECT_EQ(static_cast<int>(a.status.code()), code);
    EXPECT_EQ(a.retryable, code == kUnavailable || code == kDeadlineExceeded || code == kCancelled)
        << code;
  }
}

TEST(RpcStatusTest, TlsHandshakeFailuresFailFast) {
  const char* details[] = {
      "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:9092: Ssl "
      "handshake failed: SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:"
      "CERTIFICATE_VERIFY_FAILED",
      "Handshake failed",
      "Handshake read failed",
      "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:9092: "
      "Peer name localhost is not in peer certificate",
  };
  for (const char* d : details) {
    Attempt a = map_rpc_status("RegisterNode", kUnavailable, d);
    EXPECT_FALSE(a.retryable) << d;
    EXPECT_EQ(a.status.code(), StatusCode::kUnavailable);
    EXPECT_TRUE(contains(a.status, "TLS handshake")) << a.status;
    EXPECT_TRUE(contains(a.status, "--root-certificates")) << a.status;
  }
  EXPECT_FALSE(
      is_tls_handshake_failure("failed to connect to all addresses; last error: "
                               "UNAVAILABLE: ipv4:127.0.0.1:9092: Connection refused"));
}

TEST(RpcStatusTest, InvalidTimestampSaysTheClockIsOff) {
  Attempt a = map_rpc_status("PullMessages", kUnauthenticated, "Invalid timestamp");
  EXPECT_EQ(a.status.code(), StatusCode::kUnauthenticated);
  EXPECT_FALSE(a.retryable);
  EXPECT_TRUE(contains(a.status, "clock is off")) << a.status;
  EXPECT_TRUE(contains(a.status, "5 s ahead")) << a.status;
  EXPECT_TRUE(contains(a.status, "300 s")) << a.status;
  EXPECT_TRUE(contains(a.status, "timedatectl")) << a.status;
}

TEST(RpcStatusTest, InvalidNodeIdSaysTheSuperLinkForgotTheNode) {
  Attempt a = map_rpc_status("SendNodeHeartbeat", kUnauthenticated, "Invalid node ID");
  EXPECT_EQ(a.status.code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(contains(a.status, "no longer knows this node")) << a.status;
}

TEST(RpcStatusTest, PermissionDeniedIsKept) {
  Attempt a = map_rpc_status("PullObject", kPermissionDenied, "Run is finished.");
  EXPECT_EQ(a.status.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(a.status.message(), "PullObject: PERMISSION_DENIED: Run is finished.");
}

TEST(RpcStatusTest, UnknownCodesBecomeUnknown) {
  EXPECT_EQ(map_rpc_status("PullObject", 99, "?").status.code(), StatusCode::kUnknown);
  EXPECT_EQ(map_rpc_status("PullObject", -1, "?").status.code(), StatusCode::kUnknown);
}

}  // namespace
}  // namespace pollen::fleet
