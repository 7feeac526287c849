// HOST:PORT as the node takes it for --superlink. gRPC itself accepts a port
// such as 84631 (and connects to 84631 - 65536) or no port at all (port 0,
// retried forever in silence), so the address is checked before any channel
// is made.
#include <cctype>
#include <string>

#include "pollen/transport/fleet.h"

namespace pollen {

namespace {

Status bad_address(std::string_view address, const std::string& why) {
  return invalid_argument("SuperLink address '" + std::string(address) + "': " + why +
                          " (expected HOST:PORT, e.g. 192.168.1.10:9092, superlink.local:9092 or "
                          "[fd00::1]:9092)");
}

bool is_host_name(std::string_view host) {
  for (char c : host) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

bool is_ipv6_text(std::string_view host) {
  bool colon = false;
  for (char c : host) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == ':') colon = true;
    if (!std::isxdigit(u) && c != ':' && c != '.' && c != '%') return false;
  }
  return colon;
}

}  // namespace

Status check_superlink_address(std::string_view address) {
  std::string_view host, port;
  if (const size_t scheme = address.find("://"); scheme != std::string_view::npos) {
    return bad_address(address, "drop '" + std::string(address.substr(0, scheme + 3)) +
                                    "': the address is only HOST:PORT");
  }
  if (!address.empty() && address.front() == '[') {
    const size_t close = address.find(']');
    if (close == std::string_view::npos)
      return bad_address(address, "no ']' after the IPv6 address");
    host = address.substr(1, close - 1);
    if (close + 1 >= address.size() || address[close + 1] != ':') {
      return bad_address(address, "no port after ']'");
    }
    port = address.substr(close + 2);
    if (!is_ipv6_text(host))
      return bad_address(address, "'" + std::string(host) + "' is not an IPv6 address");
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) return bad_address(address, "no port");
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return bad_address(address, "an IPv6 address goes in brackets");
    }
    if (!is_host_name(host)) {
      return bad_address(address, "'" + std::string(host) + "' is not a host name or address");
    }
  }
  if (host.empty()) return bad_address(address, "no host");
  if (port.empty()) return bad_address(address, "no port");
  if (port.size() > 5)
    return bad_address(address, "port " + std::string(port) + " is out of range 1-65535");
  int value = 0;
  for (char c : port) {
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return bad_address(address, "port '" + std::string(port) + "' is not a number");
    }
    value = value * 10 + (c - '0');
  }
  if (value < 1 || value > 65535) {
    return bad_address(address, "port " + std::string(port) + " is out of range 1-65535");
  }
  return Status::Ok();
}

}  // namespace pollen
