#include "service/cmd/demo_banner.h"

#include <iostream>

#include "absl/strings/str_cat.h"

namespace ecsimage::cmd {

std::string DialAddress(const std::string& listen, int port) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "[::]") host = "[::1]";
  return absl::StrCat(host, ":", port);
}

void PrintDemoBanner(const DemoAccount& demo, const std::string& address,
                     const std::string& token_file,
                     const std::string& transport) {
  const std::string auth = absl::StrCat(
      "grpcurl ", transport, " -H 'authorization: Bearer ", demo.token, "'");
  const std::string svc = absl::StrCat(address, " ecs.image.v1.ImageService/");
  std::string out = absl::StrCat(
      "\necsimage demo account (token kept in ", token_file, ")\n",
      "  account id: ", demo.account_id, "\n", "  token:      ", demo.token,
      "\n\nTry it:\n", "  grpcurl ", transport, " ", address, " list\n", "  ",
      auth, " ", svc, "DescribeRegions\n", "  ", auth,
      " -d '{\"RegionId\":\"cn-hangzhou\",\"ImageName\":\"demo-image\","
      "\"Size\":40}' ",
      svc, "CreateImage\n",
      "  # once DescribeImages shows it Available (a few seconds):\n", "  ",
      auth,
      " -d '{\"RegionId\":\"cn-hangzhou\",\"ImageId\":\"m-SOURCE\","
      "\"DestinationRegionId\":\"cn-shanghai\","
      "\"DestinationImageName\":\"demo-copy\"}' ",
      svc, "CopyImage\n", "  ", auth,
      " -d '{\"RegionId\":\"cn-shanghai\",\"Status\":\"Waiting,Creating\"}' ",
      svc, "DescribeImages\n", "  ", auth,
      " -d '{\"RegionId\":\"cn-shanghai\",\"ImageId\":\"m-COPY\"}' ", svc,
      "CancelCopyImage\n", "  ", auth,
      " -d '{\"RegionId\":\"cn-hangzhou\",\"ImageId\":\"m-SOURCE\"}' ", svc,
      "DeleteImage\n\n");
  std::cout << out << std::flush;
}

void PrintRevokedDemoNote(const DemoAccount& demo, const std::string& db,
                          const std::string& token_file) {
  std::cout << absl::StrCat(
                   "\necsimage demo account ", demo.account_id,
                   ": the token kept in ", token_file,
                   " no longer authenticates (revoked).\n",
                   "  A new token for it: ecsimage account token create --db ",
                   db, " --account ", demo.account_id, "\n\n")
            << std::flush;
}

}  // namespace ecsimage::cmd
