// Who may talk to the alert service: TLS (server certificate; with a client
// CA, mutual TLS) and bearer tokens. ALERTS.md: "TLS and mutual TLS are
// configurable; a client without valid credentials gets UNAUTHENTICATED and
// nothing else."
//
// A TLS failure ends the connection during the handshake (the client sees
// UNAVAILABLE: gRPC has no call yet to put a status on); a call without a
// valid token gets UNAUTHENTICATED and no data. The health service stays
// open to probes whatever the token settings (it reveals nothing).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_context.h"

namespace exportwatch {

struct ServerTlsFiles {
  std::string cert;       // PEM certificate chain; empty: no TLS
  std::string key;        // PEM private key
  std::string client_ca;  // PEM CA bundle; set: clients must present a cert it signed
};

// Insecure credentials when `files.cert` is empty; INVALID_ARGUMENT when a
// file is missing, unreadable or a key is given without a cert.
[[nodiscard]] absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsFiles& files);

struct ClientTlsFiles {
  std::string ca;    // PEM roots to verify the server; empty with no cert: insecure
  std::string cert;  // client certificate for mutual TLS (optional)
  std::string key;
};

[[nodiscard]] absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientTlsFiles& files);

// The accepted bearer tokens (`authorization: Bearer <token>`), one per
// line of a file; blank lines and lines starting with '#' are skipped.
class BearerTokens {
 public:
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const BearerTokens>> Load(
      const std::string& path);
  static std::shared_ptr<const BearerTokens> Of(std::vector<std::string> tokens);

  // True when the call carries one of the tokens (compared in constant time).
  bool Allows(const grpc::CallbackServerContext& context) const;

 private:
  std::vector<std::string> tokens_;
};

// The first non-empty, non-comment line of a token file.
[[nodiscard]] absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

}  // namespace exportwatch
