// OpenSSH ECDSA keys (PROTOCOL.key in OpenSSH's sources):
//   "openssh-key-v1\0" string cipher, string kdf, string kdf options,
//   uint32 count (1), string public key, string private section
// public key = string type ("ecdsa-sha2-nistp384"), string curve ("nistp384"),
//              string Q (uncompressed point)
// private section = uint32 check, uint32 check (equal), type, curve, Q,
//              mpint d, string comment, padding 1, 2, 3, ... to 8 bytes.
// Strings are a big-endian uint32 length and that many bytes.
#include "openssh_key.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>

#include "pollen/transport/fleet.h"
#include "ssh_codec.h"

namespace pollen::fleet {

namespace {

constexpr std::string_view kBegin = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr std::string_view kEnd = "-----END OPENSSH PRIVATE KEY-----";
constexpr std::string_view kMagic{"openssh-key-v1\0", 15};
constexpr size_t kMaxKeyFile = 64 * 1024;  // an EC key file is well under 1 KiB

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_clear_free(p); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Wipes a string holding key material when it goes out of scope.
struct Wipe {
  std::string* s;
  ~Wipe() { OPENSSL_cleanse(s->data(), s->size()); }
};

// Also clears OpenSSL's error queue, so a failure here cannot show up in
// the message of a later, unrelated OpenSSL call.
Status bad_key(const std::string& why) {
  ERR_clear_error();
  return invalid_argument("OpenSSH private key: " + why);
}

Result<SshCurve> curve_of(std::string_view type) {
  for (const SshCurve& c : kSshCurves) {
    if (type == c.key_type) return c;
  }
  return bad_key("the key is of type '" + std::string(type) +
                 "'; Flower node keys are ECDSA keys (ecdsa-sha2-nistp256/384/521). Make one "
                 "with `ssh-keygen -t ecdsa -b 384 -N \"\" -f <file>`");
}

// The curve and uncompressed public point of an EC key.
Result<EcPublicKey> ec_public_key(EVP_PKEY* key) {
  char group[80] = {0};
  size_t group_len = 0;
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                     &group_len) != 1) {
    return invalid_argument("the node key is not a named-curve EC key");
  }
  const std::string_view name(group, group_len);
  for (const SshCurve& curve : kSshCurves) {
    if (name != curve.openssl_sn && name != curve.openssl_name) continue;
    BIGNUM* raw_x = nullptr;
    BIGNUM* raw_y = nullptr;
    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &raw_x);
    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &raw_y);
    std::unique_ptr<BIGNUM, BnFree> x(raw_x), y(raw_y);
    EcPublicKey out{curve, std::string(1 + 2 * curve.field_bytes, '\x04')};
    auto* p = reinterpret_cast<unsigned char*>(out.point.data());
    const int n = static_cast<int>(curve.field_bytes);
    if (!x || !y || BN_bn2binpad(x.get(), p + 1, n) != n ||
        BN_bn2binpad(y.get(), p + 1 + n, n) != n) {
      return internal_error("cannot read the node's public point");
    }
    return out;
  }
  return invalid_argument("the node key's curve '" + std::string(name) +
                          "' has no OpenSSH form (nistp256, nistp384 and nistp521 have)");
}

// An EC key pair from its curve, private scalar and public point; OpenSSL
// checks that the point is on the curve and belongs to the scalar.
Result<PkeyPtr> ec_key_from(const SshCurve& curve, std::string_view d, std::string_view q) {
  std::unique_ptr<BIGNUM, BnFree> priv(BN_bin2bn(reinterpret_cast<const unsigned char*>(d.data()),
                                                 static_cast<int>(d.size()), nullptr));
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!priv || !bld ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                       curve.openssl_name.data(), 0) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv.get()) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, q.data(), q.size())) {
    ERR_clear_error();
    return internal_error("cannot build the OpenSSL key parameters");
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) != 1) {
    return bad_key("the " + std::string(curve.ssh_name) + " key data is not a valid EC key");
  }
  PkeyPtr key(raw);
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_check(check.get()) != 1) {
    return bad_key("the public key does not belong to the private key (corrupt file?)");
  }
  return key;
}

Result<std::string> private_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return internal_error("cannot convert the OpenSSH key to PEM");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  std::string pem(data, static_cast<size_t>(len));
  OPENSSL_cleanse(data, static_cast<size_t>(len));
  return pem;
}

}  // namespace

Result<NodeKey> parse_openssh_private_key(std::string_view text) {
  const size_t begin = text.find(kBegin);
  const size_t end = text.find(kEnd);
  if (begin == std::string_view::npos || end == std::string_view::npos || end < begin) {
    return bad_key("no '" + std::string(kBegin) + "' ... '" + std::string(kEnd) + "' block");
  }
  const size_t body = begin + kBegin.size();
  POLLEN_ASSIGN_OR_RETURN(std::string blob, base64_decode(text.substr(body, end - body)));
  Wipe wipe_blob{&blob};

  SshReader in(blob);
  std::string_view magic, cipher, kdf, kdf_options, public_blob, section;
  uint32_t count = 0;
  if (!in.bytes(kMagic.size(), &magic) || magic != kMagic) {
    return bad_key("not in openssh-key-v1 format");
  }
  if (!in.string(&cipher) || !in.string(&kdf) || !in.string(&kdf_options) || !in.u32(&count)) {
    return bad_key("truncated header");
  }
  if (cipher != "none" || kdf != "none") {
    return bad_key("the key is encrypted (cipher '" + std::string(cipher) +
                   "'); Pollen reads unencrypted keys. Remove the passphrase with "
                   "`ssh-keygen -p -N \"\" -f <file>` and keep the file readable only by the "
                   "node's user");
  }
  if (count != 1) return bad_key("the file holds " + std::to_string(count) + " keys, not 1");
  if (!in.string(&public_blob) || !in.string(&section) || in.remaining() != 0) {
    return bad_key("truncated or trailing data after the keys");
  }

  SshReader pub(public_blob);
  std::string_view pub_type, pub_curve, pub_q;
  if (!pub.string(&pub_type)) return bad_key("truncated public key");
  POLLEN_ASSIGN_OR_RETURN(SshCurve curve, curve_of(pub_type));
  if (!pub.string(&pub_curve) || !pub.string(&pub_q) || pub.remaining() != 0) {
    return bad_key("malformed public key");
  }

  SshReader priv(section);
  uint32_t check1 = 0, check2 = 0;
  std::string_view type, curve_name, q, d, comment;
  if (!priv.u32(&check1) || !priv.u32(&check2) || !priv.string(&type) ||
      !priv.string(&curve_name) || !priv.string(&q) || !priv.string(&d) || !priv.string(&comment)) {
    return bad_key("truncated private section");
  }
  if (check1 != check2) return bad_key("check bytes differ (corrupt file)");
  if (type != pub_type || curve_name != curve.ssh_name || pub_curve != curve.ssh_name ||
      q != pub_q) {
    return bad_key("the private section does not match the public key");
  }
  for (int expected = 1; priv.remaining() > 0; ++expected) {
    std::string_view pad;
    if (!priv.bytes(1, &pad) || static_cast<uint8_t>(pad[0]) != expected) {
      return bad_key("bad padding after the private key");
    }
  }
  if (q.size() != 1 + 2 * curve.field_bytes || q[0] != '\x04') {
    return bad_key("the public point is not an uncompressed " + std::string(curve.ssh_name) +
                   " point");
  }
  POLLEN_ASSIGN_OR_RETURN(std::string_view scalar, mpint_magnitude(d, curve.field_bytes));
  POLLEN_ASSIGN_OR_RETURN(PkeyPtr key, ec_key_from(curve, scalar, q));
  POLLEN_ASSIGN_OR_RETURN(std::string pem, private_pem(key.get()));
  Wipe wipe_pem{&pem};
  return NodeKey::from_private_pem(pem);
}

Result<std::string> format_openssh_private_key(const NodeKey& key, std::string_view comment) {
  POLLEN_ASSIGN_OR_RETURN(std::string pem, key.private_key_pem());
  Wipe wipe_pem{&pem};
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr pkey(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  BIGNUM* raw_d = nullptr;
  if (!pkey || EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_PRIV_KEY, &raw_d) != 1) {
    return internal_error("cannot read the node's private key");
  }
  std::unique_ptr<BIGNUM, BnFree> d(raw_d);
  POLLEN_ASSIGN_OR_RETURN(EcPublicKey pub, ec_public_key(pkey.get()));

  std::string scalar(static_cast<size_t>(BN_num_bytes(d.get())), '\0');
  BN_bn2bin(d.get(), reinterpret_cast<unsigned char*>(scalar.data()));
  Wipe wipe_scalar{&scalar};

  uint32_t check = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&check), sizeof(check)) != 1) {
    return internal_error("no random bytes for the key file's check value");
  }
  SshWriter section;
  section.u32(check);
  section.u32(check);
  section.string(pub.curve.key_type);
  section.string(pub.curve.ssh_name);
  section.string(pub.point);
  section.mpint(scalar);
  section.string(comment);
  for (uint8_t pad = 1; section.size() % 8 != 0; ++pad) section.byte(pad);

  SshWriter out;
  out.raw(kMagic);
  out.string("none");
  out.string("none");
  out.string("");
  out.u32(1);
  out.string(ssh_public_blob(pub));
  out.string(section.data());
  std::string blob = out.data();
  Wipe wipe_blob{&blob};
  Wipe wipe_section{&section.mutable_data()};

  std::string text = std::string(kBegin) + "\n";
  const std::string encoded = base64_encode(blob);
  for (size_t i = 0; i < encoded.size(); i += 70) text += encoded.substr(i, 70) + "\n";
  return text + std::string(kEnd) + "\n";
}

}  // namespace pollen::fleet

namespace pollen {

Result<NodeKey> load_node_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot read private key file '" + path + "'");
  std::string text(fleet::kMaxKeyFile + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  fleet::Wipe wipe{&text};
  auto fail = [&](Status status) { return status.with_context("private key file '" + path + "'"); };
  if (text.size() > fleet::kMaxKeyFile) return fail(invalid_argument("too large for a key file"));

  if (text.find(fleet::kBegin) != std::string::npos) {
    Result<NodeKey> key = fleet::parse_openssh_private_key(text);
    if (!key.ok()) return fail(key.status());
    return key;
  }
  // Checked before OpenSSL sees the text: with no passphrase callback it
  // would prompt on the terminal.
  if (text.find("ENCRYPTED") != std::string::npos) {
    return fail(invalid_argument(
        "the key is encrypted; Pollen reads unencrypted keys (convert with `openssl pkey -in "
        "<file> -out <new file>`)"));
  }
  if (text.find("-----BEGIN") != std::string::npos &&
      text.find("PRIVATE KEY") != std::string::npos) {
    Result<NodeKey> key = NodeKey::from_private_pem(text);
    if (!key.ok()) return fail(key.status());
    return key;
  }
  if (text.rfind("ecdsa-sha2-", 0) == 0 || text.rfind("ssh-", 0) == 0 ||
      text.find("BEGIN PUBLIC KEY") != std::string::npos) {
    return fail(invalid_argument("this is a public key; pass the private key file"));
  }
  return fail(invalid_argument(
      "not a private key (expected an OpenSSH 'BEGIN OPENSSH PRIVATE KEY' or a PEM 'BEGIN "
      "PRIVATE KEY' / 'BEGIN EC PRIVATE KEY' file)"));
}

Result<std::string> openssh_public_key(const NodeKey& key) {
  const std::string& pem = key.public_key_pem();
  std::unique_ptr<BIO, fleet::BioFree> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  fleet::PkeyPtr pkey(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!pkey) {
    ERR_clear_error();
    return internal_error("cannot read the node's public key");
  }
  POLLEN_ASSIGN_OR_RETURN(fleet::EcPublicKey pub, fleet::ec_public_key(pkey.get()));
  return std::string(pub.curve.key_type) + " " + fleet::base64_encode(fleet::ssh_public_blob(pub)) +
         " pollen";
}

}  // namespace pollen
