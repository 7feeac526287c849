// A throwaway self-signed TLS certificate for tests (OpenSSL).
#ifndef POLLEN_TESTS_SUPERLINK_TEST_CERTIFICATE_H_
#define POLLEN_TESTS_SUPERLINK_TEST_CERTIFICATE_H_

#include <string>

#include "pollen/core/status.h"

namespace pollen::testing {

struct TestCertificate {
  std::string cert_pem;  // also the root a client must trust
  std::string cert_path;
  std::string key_path;
};

// A P-256 certificate for "localhost" and 127.0.0.1, valid for a day,
// written with its key into `dir` (which must exist).
Result<TestCertificate> make_test_certificate(const std::string& dir);

}  // namespace pollen::testing

#endif  // POLLEN_TESTS_SUPERLINK_TEST_CERTIFICATE_H_
