// Request signing: our signatures verify with OpenSSL, a tampered timestamp
// fails, and every real (key, timestamp, signature) triple recorded from
// Python SuperNodes verifies with our verifier.
#include "pollen/core/signing.h"

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>

#include "support/transcript.h"

namespace pollen {
namespace {

using std::chrono::system_clock;

TEST(SigningTest, SignsAndVerifies) {
  Result<NodeKey> key = NodeKey::generate();
  ASSERT_TRUE(key.ok()) << key.status();
  const std::string& pem = key->public_key_pem();
  EXPECT_EQ(pem.rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u);
  EXPECT_EQ(pem.size(), 215u);  // P-384 SPKI PEM, as Python writes it

  Result<SignedHeaders> h = sign_request(*key, system_clock::now());
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->public_key, pem);
  EXPECT_TRUE(verify_signature(pem, h->timestamp, h->signature).ok());
  EXPECT_GE(h->signature.size(), 100u);
  EXPECT_EQ(static_cast<unsigned char>(h->signature[0]), 0x30);  // DER SEQUENCE

  std::string tampered = h->timestamp;
  tampered[18] = tampered[18] == '1' ? '2' : '1';  // one second digit
  Status bad = verify_signature(pem, tampered, h->signature);
  EXPECT_EQ(bad.code(), StatusCode::kUnauthenticated);

  Result<NodeKey> other = NodeKey::generate();
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(verify_signature(other->public_key_pem(), h->timestamp, h->signature).ok());
  EXPECT_FALSE(verify_signature("not a key", h->timestamp, h->signature).ok());
  EXPECT_FALSE(verify_signature(pem, h->timestamp, "garbage").ok());
}

TEST(SigningTest, PrivateKeyPemRoundTrip) {
  Result<NodeKey> key = NodeKey::generate();
  ASSERT_TRUE(key.ok());
  Result<std::string> pem = key->private_key_pem();
  ASSERT_TRUE(pem.ok());
  Result<NodeKey> again = NodeKey::from_private_pem(*pem);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->public_key_pem(), key->public_key_pem());
  Result<std::string> sig = again->sign("x");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(verify_signature(key->public_key_pem(), "x", *sig).ok());

  EXPECT_EQ(NodeKey::from_private_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(NodeKey::load("/nonexistent/key.pem").status().code(), StatusCode::kNotFound);
}

TEST(SigningTest, TimestampFormatMatchesPython) {
  const auto t = system_clock::time_point(std::chrono::seconds(1767225600)) +
                 std::chrono::microseconds(250000);
  EXPECT_EQ(format_flwr_timestamp(t), "2026-01-01T00:00:00.250000+00:00");
  EXPECT_EQ(format_flwr_timestamp(system_clock::time_point(std::chrono::seconds(1767225600))),
            "2026-01-01T00:00:00.000000+00:00");
  const std::string now = format_flwr_timestamp(system_clock::now());
  // Shape YYYY-MM-DDTHH:MM:SS.ffffff+00:00: digits everywhere but the fixed marks.
  const std::string shape = "dddd-dd-ddTdd:dd:dd.dddddd+00:00";
  ASSERT_EQ(now.size(), shape.size()) << now;
  for (size_t i = 0; i < shape.size(); ++i) {
    EXPECT_TRUE(shape[i] == 'd' ? std::isdigit(static_cast<unsigned char>(now[i])) != 0
                                : now[i] == shape[i])
        << now;
  }
  Result<system_clock::time_point> parsed = parse_flwr_timestamp(format_flwr_timestamp(t));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, t);
  EXPECT_TRUE(parse_flwr_timestamp("2026-01-01T00:00:00Z").ok());
  EXPECT_FALSE(parse_flwr_timestamp("2026-01-01 00:00:00").ok());
  EXPECT_FALSE(parse_flwr_timestamp("2026-01-01T00:00:00.5+02:00").ok());
}

// 342 + 90 calls signed by Python's cryptography library.
TEST(SigningTest, RecordedPythonSignaturesVerify) {
  int verified = 0;
  for (const char* file : {"fedavg_2rounds_2nodes.jsonl.gz", "errors_probe.jsonl.gz"}) {
    for (const auto& call : testing::load_transcript(file)) {
      std::string key, ts, sig;
      for (const auto& [k, v] : call.request_metadata) {
        if (k == kPublicKeyMetadata) key = v;
        if (k == kTimestampMetadata) ts = v;
        if (k == kSignatureMetadata) sig = v;
      }
      if (key.empty() || ts.empty() || sig.empty()) continue;  // probes without auth
      Status s = verify_signature(key, ts, sig);
      // The probe signs a different string or sends non-DER bytes on purpose.
      const bool meant_bad = call.status_details == "Invalid signature";
      EXPECT_EQ(s.ok(), !meant_bad) << file << " seq " << call.seq << ": " << s;
      if (s.ok()) {
        ++verified;
        EXPECT_TRUE(parse_flwr_timestamp(ts).ok()) << ts;
      }
    }
  }
  EXPECT_GE(verified, 342 + 80);
}

}  // namespace
}  // namespace pollen
