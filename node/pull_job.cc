#include "node/pull_job.h"

#include <chrono>

#include "node/local_images.h"
#include "store/content_store.h"

namespace pullfleet::node {
namespace {

pb::ImageRecord MakeRecord(const PullJob& job, const pull::PullResult& result) {
  pb::ImageRecord record;
  record.set_reference(job.reference.Normalized());
  record.set_digest(result.resolved_digest);
  record.set_manifest_digest(result.manifest_digest);
  record.set_config_digest(result.config_digest);
  record.set_size(result.image_size);
  for (const auto& layer : result.layer_digests) record.add_layer_digests(layer);
  record.set_pulled_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  record.set_runtime_handler(job.runtime_handler);
  return record;
}

PullOutcome Failure(const Error& error) {
  PullOutcome outcome;
  outcome.ok = false;
  outcome.code = error.code();
  outcome.error = error.message();
  return outcome;
}

// Policy Always: the registry names the digest; a complete local copy of it is enough.
std::optional<pull::PullResult> FindCurrentLocally(const PullJob& job, pull::Puller& puller,
                                                   Status* failure) {
  auto digest = puller.Resolve(job.options);
  if (!digest.ok()) {
    *failure = digest.error();
    return std::nullopt;
  }
  auto local = puller.FindLocal(*digest, job.options.platform);
  if (!local.ok()) return std::nullopt;
  return *local;
}

}  // namespace

std::string MakeJobKey(const PullJob& job) {
  // The fingerprint names the credential sources, not the secrets: two pods whose secrets
  // come from different places never share a download (and its authorisation).
  std::string sources;
  for (const auto& candidate : job.options.credentials) {
    sources += candidate.source + ";";
  }
  return job.runtime_handler + "|" + job.reference.Normalized() + "|" +
         (job.resolve_first ? "resolve" : "present") + "|" + sources;
}

PullOutcome RunPullJob(const PullJob& job, LocalImages& images) {
  const auto started = std::chrono::steady_clock::now();
  pull::Puller puller(images.store());
  PullOutcome outcome;

  std::optional<pull::PullResult> result;
  if (job.resolve_first) {
    Status failure;
    result = FindCurrentLocally(job, puller, &failure);
    if (!failure.ok()) return Failure(failure.error());
    outcome.already_present = result.has_value();
  }
  if (!result) {
    auto pulled = puller.Pull(job.options);
    if (!pulled.ok()) return Failure(pulled.error());
    result = std::move(pulled).value();
  }

  auto recorded = images.Record(MakeRecord(job, *result));
  if (!recorded.ok()) return Failure(recorded.error().Wrap("record image"));

  outcome.ok = true;
  outcome.result = std::move(*result);
  outcome.transfer_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return outcome;
}

}  // namespace pullfleet::node
