#include "processor/alertd/auth.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace exportwatch {
namespace {

constexpr size_t kMaxPemBytes = 1 << 20;

absl::StatusOr<std::string> ReadSmallFile(const std::string& what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(what, ": cannot read ", path));
  std::stringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", path, " is empty"));
  if (text.size() > kMaxPemBytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", path, " is over 1 MiB"));
  }
  return text;
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::vector<std::string> TokenLines(const std::string& text) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    out.emplace_back(line);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsFiles& files) {
  if (files.cert.empty()) {
    if (!files.key.empty() || !files.client_ca.empty()) {
      return absl::InvalidArgumentError("--tls-key and --tls-client-ca need --tls-cert");
    }
    return grpc::InsecureServerCredentials();
  }
  if (files.key.empty()) return absl::InvalidArgumentError("--tls-cert needs --tls-key");
  grpc::SslServerCredentialsOptions o(
      files.client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                              : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain, ReadSmallFile("--tls-cert", files.cert));
  ASSIGN_OR_RETURN(pair.private_key, ReadSmallFile("--tls-key", files.key));
  o.pem_key_cert_pairs.push_back(std::move(pair));
  if (!files.client_ca.empty()) {
    ASSIGN_OR_RETURN(o.pem_root_certs, ReadSmallFile("--tls-client-ca", files.client_ca));
  }
  return grpc::SslServerCredentials(o);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientTlsFiles& files) {
  if (files.ca.empty() && files.cert.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions o;
  if (!files.ca.empty()) {
    ASSIGN_OR_RETURN(o.pem_root_certs, ReadSmallFile("--tls-ca", files.ca));
  }
  if (!files.cert.empty()) {
    if (files.key.empty()) return absl::InvalidArgumentError("--tls-cert needs --tls-key");
    ASSIGN_OR_RETURN(o.pem_cert_chain, ReadSmallFile("--tls-cert", files.cert));
    ASSIGN_OR_RETURN(o.pem_private_key, ReadSmallFile("--tls-key", files.key));
  }
  return grpc::SslCredentials(o);
}

absl::StatusOr<std::shared_ptr<const BearerTokens>> BearerTokens::Load(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile("--auth-tokens", path));
  std::vector<std::string> tokens = TokenLines(text);
  if (tokens.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--auth-tokens: no token in ", path));
  }
  for (const auto& t : tokens) {
    if (t.size() < 16) {
      return absl::InvalidArgumentError(
          absl::StrCat("--auth-tokens: a token in ", path, " is shorter than 16 characters"));
    }
  }
  return Of(std::move(tokens));
}

std::shared_ptr<const BearerTokens> BearerTokens::Of(std::vector<std::string> tokens) {
  auto t = std::make_shared<BearerTokens>();
  t->tokens_ = std::move(tokens);
  return t;
}

bool BearerTokens::Allows(const grpc::CallbackServerContext& context) const {
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return false;
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::StartsWith(value, "Bearer ")) return false;
  value.remove_prefix(7);
  bool ok = false;
  for (const auto& t : tokens_) ok |= ConstantTimeEquals(value, t);  // no early exit
  return ok;
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile("--auth-token-file", path));
  std::vector<std::string> tokens = TokenLines(text);
  if (tokens.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--auth-token-file: no token in ", path));
  }
  return tokens.front();
}

}  // namespace exportwatch
