// What `ecsimage serve` prints for a person at start: the demo account's
// token with ready-to-paste grpcurl commands, or why it is not shown.
#ifndef ECSIMAGE_SERVICE_CMD_DEMO_BANNER_H_
#define ECSIMAGE_SERVICE_CMD_DEMO_BANNER_H_

#include <string>

#include "service/cmd/db.h"

namespace ecsimage::cmd {

// "0.0.0.0:0" + 43121 -> "127.0.0.1:43121": an address a local client can
// paste.
std::string DialAddress(const std::string& listen, int port);

// `transport`: grpcurl's flags for the API port ("-plaintext", or the CA
// and client certificate options under TLS).
void PrintDemoBanner(const DemoAccount& demo, const std::string& address,
                     const std::string& token_file,
                     const std::string& transport);

// Instead of the banner when the demo token was revoked (`account token
// revoke`): the file's token is dead, so it is not shown. Serve does not
// mint a replacement, which would undo the operator's revocation.
void PrintRevokedDemoNote(const DemoAccount& demo, const std::string& db,
                          const std::string& token_file);

}  // namespace ecsimage::cmd

#endif  // ECSIMAGE_SERVICE_CMD_DEMO_BANNER_H_
