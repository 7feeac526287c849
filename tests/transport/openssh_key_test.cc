// Node key files: OpenSSH ECDSA keys (from ssh-keygen when it is installed,
// else written by Pollen), their public form, and every way a key file can
// be wrong.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "openssh_key.h"
#include "pollen/transport/fleet.h"
#include "ssh_codec.h"

namespace pollen {
namespace {

namespace fs = std::filesystem;

// Runs a shell command; its standard output, or nullopt when it failed.
std::optional<std::string> run(const std::string& command) {
  FILE* pipe = popen((command + " 2>/dev/null").c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::string out;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  if (pclose(pipe) != 0) return std::nullopt;
  return out;
}

bool have_ssh_keygen() {
  static const bool found = run("command -v ssh-keygen").has_value();
  return found;
}

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "pollen-keys-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    chmod(path.c_str(), 0600);  // ssh-keygen refuses readable private keys
    return path;
  }

  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // "type base64" of an OpenSSH public key line, without the comment.
  static std::string without_comment(const std::string& line) {
    std::istringstream in(line);
    std::string type, blob;
    in >> type >> blob;
    return type + " " + blob;
  }

  // An OpenSSH private key file with the given header fields and blobs.
  static std::string openssh_file(std::string_view cipher, std::string_view kdf,
                                  const std::string& public_blob, const std::string& section) {
    fleet::SshWriter out;
    out.raw(std::string_view("openssh-key-v1\0", 15));
    out.string(cipher);
    out.string(kdf);
    out.string(kdf == "none" ? "" : std::string(24, 'k'));
    out.u32(1);
    out.string(public_blob);
    out.string(section);
    return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + fleet::base64_encode(out.data()) +
           "\n-----END OPENSSH PRIVATE KEY-----\n";
  }

  fs::path dir_;
};

// An OpenSSH ECDSA key file of `bits` at `path` (and its .pub): made by
// ssh-keygen, or by Pollen's own writer when ssh-keygen is not installed.
void make_ecdsa_key(const std::string& bits, const std::string& path) {
  if (have_ssh_keygen()) {
    ASSERT_TRUE(run("ssh-keygen -q -t ecdsa -b " + bits + " -N '' -C node -f " + path));
    return;
  }
  const std::string curve = bits == "256" ? "P-256" : bits == "384" ? "P-384" : "P-521";
  EVP_PKEY* raw = EVP_EC_gen(curve.c_str());
  ASSERT_NE(raw, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, raw, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  Result<NodeKey> key = NodeKey::from_private_pem(std::string_view(data, static_cast<size_t>(len)));
  BIO_free(bio);
  EVP_PKEY_free(raw);
  ASSERT_TRUE(key.ok()) << key.status();
  std::ofstream(path) << *fleet::format_openssh_private_key(*key, "node");
  std::ofstream(path + ".pub") << *openssh_public_key(*key) << "\n";
}

TEST_F(KeyFileTest, ReadsOpenSshEcdsaKeysOfEveryCurve) {
  if (!have_ssh_keygen()) {
    std::cout << "[ INFO     ] ssh-keygen is not installed: the OpenSSH key files of this test "
                 "are written by Pollen instead\n";
  }
  for (const std::string bits : {"256", "384", "521"}) {
    const std::string path = (dir_ / ("id_ecdsa_" + bits)).string();
    make_ecdsa_key(bits, path);
    Result<NodeKey> key = load_node_key(path);
    ASSERT_TRUE(key.ok()) << key.status();
    Result<std::string> pub = openssh_public_key(*key);
    ASSERT_TRUE(pub.ok()) << pub.status();
    EXPECT_EQ(without_comment(*pub), without_comment(read(path + ".pub"))) << bits;
    EXPECT_EQ(pub->rfind("ecdsa-sha2-nistp" + bits + " AAAA", 0), 0u) << *pub;
    EXPECT_EQ(pub->substr(pub->size() - 7), " pollen");
    // The key signs what the SuperLink verifies.
    const std::string timestamp = "2026-01-01T00:00:00.000000+00:00";
    Result<std::string> signature = key->sign(timestamp);
    ASSERT_TRUE(signature.ok());
    EXPECT_TRUE(verify_signature(key->public_key_pem(), timestamp, *signature).ok());
  }
}

TEST_F(KeyFileTest, RoundTripsKeysWrittenByPollen) {
  Result<NodeKey> key = NodeKey::generate();
  ASSERT_TRUE(key.ok());
  Result<std::string> text = fleet::format_openssh_private_key(*key, "node");
  ASSERT_TRUE(text.ok()) << text.status();
  const std::string path = write("pollen_key", *text);
  Result<NodeKey> loaded = load_node_key(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->public_key_pem(), key->public_key_pem());

  Result<std::string> pub = openssh_public_key(*key);
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(pub->rfind("ecdsa-sha2-nistp384 AAAA", 0), 0u) << *pub;
  if (have_ssh_keygen()) {
    // OpenSSH itself reads the file and derives the same public key.
    std::optional<std::string> derived = run("ssh-keygen -y -f " + path);
    ASSERT_TRUE(derived.has_value());
    EXPECT_EQ(without_comment(*derived), without_comment(*pub));
  } else {
    std::cout << "[ INFO     ] ssh-keygen is not installed: not cross-checked with OpenSSH\n";
  }
}

TEST_F(KeyFileTest, ReadsPemKeys) {
  Result<NodeKey> key = NodeKey::generate();
  ASSERT_TRUE(key.ok());
  Result<std::string> pem = key->private_key_pem();
  ASSERT_TRUE(pem.ok());
  Result<NodeKey> loaded = load_node_key(write("key.pem", *pem));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->public_key_pem(), key->public_key_pem());
}

TEST_F(KeyFileTest, MissingFileIsNotFound) {
  Result<NodeKey> key = load_node_key((dir_ / "nope").string());
  EXPECT_EQ(key.status().code(), StatusCode::kNotFound);
  EXPECT_NE(key.status().message().find("nope"), std::string::npos);
}

TEST_F(KeyFileTest, GarbageIsRefused) {
  for (const std::string& text :
       {std::string(""), std::string("hello\n"), std::string(1000, '\xff'),
        std::string("-----BEGIN OPENSSH PRIVATE KEY-----\n!!!\n"
                    "-----END OPENSSH PRIVATE KEY-----\n")}) {
    Result<NodeKey> key = load_node_key(write("garbage", text));
    EXPECT_EQ(key.status().code(), StatusCode::kInvalidArgument) << key.status();
  }
}

TEST_F(KeyFileTest, EncryptedOpenSshKeyIsRefusedWithAHint) {
  std::string path;
  if (have_ssh_keygen()) {
    path = (dir_ / "encrypted").string();
    ASSERT_TRUE(run("ssh-keygen -q -t ecdsa -b 384 -N secret -f " + path));
  } else {
    std::cout << "[ INFO     ] ssh-keygen is not installed: encrypted key built by the test\n";
    path = write("encrypted", openssh_file("aes256-ctr", "bcrypt", "pub", std::string(64, 'x')));
  }
  Result<NodeKey> key = load_node_key(path);
  EXPECT_EQ(key.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(key.status().message().find("encrypted"), std::string::npos) << key.status();
  EXPECT_NE(key.status().message().find("ssh-keygen -p"), std::string::npos) << key.status();
}

TEST_F(KeyFileTest, EncryptedPemKeyIsRefusedWithoutPrompting) {
  Result<NodeKey> key = load_node_key(
      write("enc.pem",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"));
  EXPECT_EQ(key.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(key.status().message().find("encrypted"), std::string::npos) << key.status();
}

TEST_F(KeyFileTest, RsaKeysAreRefused) {
  EVP_PKEY* rsa = EVP_RSA_gen(2048);
  ASSERT_NE(rsa, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, rsa, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  const std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(rsa);
  Result<NodeKey> key = load_node_key(write("rsa.pem", pem));
  EXPECT_EQ(key.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(key.status().message().find("elliptic-curve"), std::string::npos) << key.status();

  std::string path;
  if (have_ssh_keygen()) {
    path = (dir_ / "id_rsa").string();
    ASSERT_TRUE(run("ssh-keygen -q -t rsa -b 2048 -N '' -f " + path));
  } else {
    fleet::SshWriter pub;
    pub.string("ssh-rsa");
    pub.string("\x01\x00\x01");
    pub.string(std::string(256, '\x7f'));
    path = write("id_rsa", openssh_file("none", "none", pub.data(), std::string(16, 'x')));
  }
  key = load_node_key(path);
  EXPECT_EQ(key.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(key.status().message().find("ssh-rsa"), std::string::npos) << key.status();
  EXPECT_NE(key.status().message().find("ssh-keygen -t ecdsa"), std::string::npos);
}

TEST_F(KeyFileTest, PublicKeyFileIsRefused) {
  Result<NodeKey> key = NodeKey::generate();
  ASSERT_TRUE(key.ok());
  Result<NodeKey> loaded = load_node_key(write("key.pub", *openssh_public_key(*key) + "\n"));
  EXPECT_NE(loaded.status().message().find("public key"), std::string::npos) << loaded.status();
}

// Every truncation and many byte flips of a valid file give an error, never
// a crash or a wrong key.
TEST_F(KeyFileTest, DamagedOpenSshKeysAreRefused) {
  Result<NodeKey> key = NodeKey::generate();
  ASSERT_TRUE(key.ok());
  const std::string text = *fleet::format_openssh_private_key(*key, "c");
  const size_t begin = text.find('\n') + 1;
  const size_t end = text.find("-----END");
  Result<std::string> blob = fleet::base64_decode(text.substr(begin, end - begin));
  ASSERT_TRUE(blob.ok());
  auto as_file = [](const std::string& bytes) {
    return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + fleet::base64_encode(bytes) +
           "\n-----END OPENSSH PRIVATE KEY-----\n";
  };
  for (size_t n = 0; n < blob->size(); ++n) {
    Result<NodeKey> cut = fleet::parse_openssh_private_key(as_file(blob->substr(0, n)));
    EXPECT_FALSE(cut.ok()) << "truncated to " << n;
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string damaged = *blob;
    const size_t at = rng() % damaged.size();
    damaged[at] = static_cast<char>(damaged[at] ^ (1 + rng() % 255));
    Result<NodeKey> parsed = fleet::parse_openssh_private_key(as_file(damaged));
    // A flip in the comment leaves a valid key; anything else must not load
    // a key other than the original.
    if (parsed.ok()) {
      EXPECT_EQ(parsed->public_key_pem(), key->public_key_pem()) << "byte " << at;
    }
  }
}

TEST(SshCodecTest, Base64RoundTrips) {
  for (const std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    Result<std::string> back = fleet::base64_decode(fleet::base64_encode(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(fleet::base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(fleet::base64_encode("fo"), "Zm8=");
  EXPECT_FALSE(fleet::base64_decode("Zm9v!").ok());
}

}  // namespace
}  // namespace pollen
