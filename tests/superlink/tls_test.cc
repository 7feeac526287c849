// TLS and SuperNode authentication mode (--enable-supernode-auth): keys are
// registered through the driver, the Fleet API refuses self-registration.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "fleet_test_client.h"
#include "test_certificate.h"
#include "test_util.h"

namespace pollen::testing {
namespace {

using grpc::StatusCode;

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "superlink_tls_" + std::to_string(::getpid());
    std::filesystem::create_directories(dir_);
    Result<TestCertificate> cert = make_test_certificate(dir_);
    ASSERT_TRUE(cert.ok()) << cert.status();
    cert_ = *cert;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  SuperLinkOptions tls_options(bool auth) const {
    SuperLinkOptions options;
    options.ssl_certfile = cert_.cert_path;
    options.ssl_keyfile = cert_.key_path;
    options.enable_supernode_auth = auth;
    return options;
  }

  std::shared_ptr<grpc::ChannelCredentials> trusting() const {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = cert_.cert_pem;
    return grpc::SslCredentials(options);
  }

  std::string dir_;
  TestCertificate cert_;
};

TEST_F(TlsTest, NodeAuthenticationMode) {
  std::unique_ptr<SuperLinkLite> link = start_link(tls_options(true));
  ASSERT_NE(link, nullptr);
  FleetTestClient client(link->address(), trusting());
  EXPECT_TRUE(has_status(client.register_node(), StatusCode::FAILED_PRECONDITION,
                         "SuperNode authentication is enabled. All SuperNodes must be registered "
                         "via the CLI."));
  EXPECT_TRUE(has_status(client.activate(30), StatusCode::FAILED_PRECONDITION,
                         "No SuperNode found with the given public key."));

  Result<uint64_t> id = link->register_node_key(client.key().public_key_pem());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(link->register_node_key(client.key().public_key_pem()).status().code(),
            pollen::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(client.activate(30).ok());
  EXPECT_EQ(client.node_id(), *id);
  EXPECT_TRUE(client.heartbeat().ok());
  ASSERT_TRUE(client.deactivate().ok());
  EXPECT_TRUE(has_status(client.unregister(), StatusCode::FAILED_PRECONDITION,
                         "SuperNode authentication is enabled. All SuperNodes must be "
                         "unregistered via the CLI."));
}

TEST_F(TlsTest, PlaintextClientCannotConnect) {
  std::unique_ptr<SuperLinkLite> link = start_link(tls_options(false));
  ASSERT_NE(link, nullptr);
  FleetTestClient secure(link->address(), trusting());
  EXPECT_TRUE(secure.register_node().ok());
  FleetTestClient plain(link->address());
  EXPECT_EQ(plain.register_node().error_code(), StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, StartErrors) {
  SuperLinkOptions insecure_auth;
  insecure_auth.enable_supernode_auth = true;
  EXPECT_EQ(SuperLinkLite::start(insecure_auth).status().code(),
            pollen::StatusCode::kFailedPrecondition);
  SuperLinkOptions missing = tls_options(false);
  missing.ssl_keyfile = dir_ + "/nonexistent.key";
  EXPECT_EQ(SuperLinkLite::start(missing).status().code(), pollen::StatusCode::kNotFound);
  SuperLinkOptions half = tls_options(false);
  half.ssl_keyfile.clear();
  EXPECT_EQ(SuperLinkLite::start(half).status().code(), pollen::StatusCode::kInvalidArgument);

  std::unique_ptr<SuperLinkLite> first = start_link();
  ASSERT_NE(first, nullptr);
  SuperLinkOptions taken;
  taken.address = first->address();
  EXPECT_EQ(SuperLinkLite::start(taken).status().code(), pollen::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace pollen::testing
