// ModifyImageSharePermission and DescribeImageSharePermission (api.md §2).
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "service/domain/errors.h"
#include "service/domain/ids.h"
#include "service/domain/image_domain.h"
#include "service/domain/lookup.h"
#include "service/domain/validation.h"
#include "util/status_macros.h"

namespace ecsimage::domain {
namespace {

constexpr int kMaxAccountsPerCall = 10;
constexpr int64_t kMaxSharesPerImage = 50;

absl::StatusOr<std::vector<std::string>> CheckAccountList(
    std::string_view param,
    const google::protobuf::RepeatedPtrField<std::string>& accounts) {
  if (accounts.size() > kMaxAccountsPerCall) {
    return Error(Err::kInvalidParameter)
        .Param(param, absl::StrCat("at most ", kMaxAccountsPerCall,
                                   " accounts per call"));
  }
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& account : accounts) {
    if (account.empty()) {
      return Error(Err::kInvalidParameter).Param(param, "empty account id");
    }
    if (seen.insert(account).second) out.push_back(account);
  }
  return out;
}

// Self first (Forbbiden), then existence (NotFound).
absl::Status CheckAccounts(storage::ReadTxn& txn, const Caller& caller,
                           std::string_view param,
                           const std::vector<std::string>& accounts) {
  for (const auto& account : accounts) {
    if (account == caller.account_id) {
      return Error(Err::kInvalidAccountForbbiden)
          .Param(param, "an image is never shared with its owner")
          .Meta("account", account);
    }
  }
  for (const auto& account : accounts) {
    bool exists = false;
    if (IsAccountIdShape(account)) {
      ASSIGN_OR_RETURN(exists, txn.AccountExists(account));
    }
    if (!exists) {
      return Error(Err::kInvalidAccountNotFound)
          .Meta("account", account.substr(0, 64))
          .Resource("account", account.substr(0, 64));
    }
  }
  return absl::OkStatus();
}

}  // namespace

void ImageDomain::ModifyImageSharePermissionAsync(
    const Caller& caller, const v1::ModifyImageSharePermissionRequest& req,
    v1::ModifyImageSharePermissionResponse* resp, Done done) {
  StartWrite(
      caller, std::move(done),
      [&]() -> absl::StatusOr<WriteFn> {
        RETURN_IF_ERROR(Require("RegionId", req.region_id()));
        RETURN_IF_ERROR(Require("ImageId", req.image_id()));
        ASSIGN_OR_RETURN(auto adds,
                         CheckAccountList("AddAccount", req.add_account()));
        ASSIGN_OR_RETURN(auto removes, CheckAccountList("RemoveAccount",
                                                        req.remove_account()));
        return WriteFn([this, caller, &req, resp, adds = std::move(adds),
                        removes = std::move(removes)](
                           storage::WriteTxn& txn) -> absl::Status {
          RETURN_IF_ERROR(CheckRegion(txn, req.region_id()));
          ASSIGN_OR_RETURN(
              auto image,
              OwnLiveImage(txn, caller, req.region_id(), req.image_id()));
          RETURN_IF_ERROR(CheckAccounts(txn, caller, "AddAccount", adds));
          RETURN_IF_ERROR(CheckAccounts(txn, caller, "RemoveAccount", removes));
          const bool publish = req.has_is_public() && req.is_public();
          if ((!adds.empty() || publish) && image.status != "Available") {
            return Error(Err::kIncorrectImageStatusNotAvailable)
                .Meta("imageId", image.image_id)
                .Meta("regionId", image.region_id)
                .Meta("status", image.status)
                .Precondition(absl::StrCat("image/", image.image_id),
                              absl::StrCat("image is ", image.status));
          }
          ASSIGN_OR_RETURN(int64_t count, txn.CountShares(image.rowid));
          int64_t after = count;
          std::vector<std::string> new_adds;
          for (const auto& account : adds) {
            ASSIGN_OR_RETURN(bool has, txn.HasShare(image.rowid, account));
            if (!has) {
              new_adds.push_back(account);
              ++after;
            }
          }
          for (const auto& account : removes) {
            ASSIGN_OR_RETURN(bool has, txn.HasShare(image.rowid, account));
            bool re_added = std::find(new_adds.begin(), new_adds.end(),
                                      account) != new_adds.end();
            if (has && !re_added) --after;
          }
          if (after > kMaxSharesPerImage) {
            return Error(Err::kQuotaExceedShareImageUser)
                .Meta("imageId", image.image_id)
                .Meta("regionId", image.region_id)
                .Meta("quota", absl::StrCat(kMaxSharesPerImage))
                .Precondition(absl::StrCat("image/", image.image_id),
                              absl::StrCat("shared with ", count, " of ",
                                           kMaxSharesPerImage, " accounts"));
          }
          const int64_t now = clock_.NowMs();
          for (const auto& account : removes) {
            RETURN_IF_ERROR(txn.RemoveShare(image.rowid, account));
          }
          for (const auto& account : adds) {
            RETURN_IF_ERROR(txn.AddShare(image.rowid, account, now));
          }
          if (req.has_is_public() && req.is_public() != image.is_public) {
            image.is_public = req.is_public();
            RETURN_IF_ERROR(txn.UpdateImage(image));
          }
          return absl::OkStatus();
        });
      },
      Batch::kWithAccount);
}

absl::Status ImageDomain::DescribeImageSharePermission(
    const Caller& caller, const v1::DescribeImageSharePermissionRequest& req,
    v1::DescribeImageSharePermissionResponse* resp) {
  RETURN_IF_ERROR(Require("RegionId", req.region_id()));
  RETURN_IF_ERROR(Require("ImageId", req.image_id()));
  ASSIGN_OR_RETURN(Page page, CheckPage(req.page_number(), req.page_size()));
  return store_.RunInReadTransaction([&](storage::ReadTxn& txn) {
    RETURN_IF_ERROR(CheckRegion(txn, req.region_id()));
    ASSIGN_OR_RETURN(
        auto image, OwnLiveImage(txn, caller, req.region_id(), req.image_id()));
    ASSIGN_OR_RETURN(int64_t count, txn.CountShares(image.rowid));
    ASSIGN_OR_RETURN(auto shares,
                     txn.ListShares(image.rowid, page.offset(), page.size));
    resp->set_region_id(image.region_id);
    resp->set_image_id(image.image_id);
    resp->set_total_count(static_cast<int32_t>(count));
    resp->set_page_number(page.number);
    resp->set_page_size(page.size);
    for (const auto& share : shares) {
      auto* a = resp->add_accounts();
      a->set_aliyun_id(share.account_id);
      a->set_shared_time(FormatIso8601(share.created_at_ms));
    }
    if (image.is_public) resp->add_share_groups()->set_group("all");
    return absl::OkStatus();
  });
}

}  // namespace ecsimage::domain
