#include "node/pull_job.h"

#include <chrono>
#include <optional>

#include "node/local_images.h"
#include "store/content_store.h"

namespace pullfleet::node {
namespace {

// Adds to `record` who pulled it: the pull secret that worked, or the node (anonymous or the
// node's own credentials), on top of what the node knew of the same content before.
void RecordOrigin(const PullJob& job, const pull::PullResult& result,
                  const std::optional<pb::ImageRecord>& before, pb::ImageRecord& record) {
  if (before && before->digest() == record.digest()) {
    record.set_preloaded(before->preloaded());
    record.set_node_accessible(before->node_accessible());
    *record.mutable_pulled_with() = before->pulled_with();
  }
  const int used = result.credential_index;
  if (used < 0 || used >= static_cast<int>(job.origins.size()) ||
      !job.origins[used].pull_secret) {
    record.set_node_accessible(true);
    return;
  }
  const CandidateOrigin& origin = job.origins[used];
  for (const auto& known : record.pulled_with()) {
    if (known.fingerprint() == origin.fingerprint && known.namespace_() == origin.secret_namespace &&
        known.name() == origin.secret_name && known.uid() == origin.secret_uid) {
      return;
    }
  }
  pb::PulledWithSecret* with = record.add_pulled_with();
  with->set_namespace_(origin.secret_namespace);
  with->set_name(origin.secret_name);
  with->set_uid(origin.secret_uid);
  with->set_fingerprint(origin.fingerprint);
}

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
  int credential_index = -1;
  auto digest = puller.Resolve(job.options, &credential_index);
  if (!digest.ok()) {
    *failure = digest.error();
    return std::nullopt;
  }
  auto local = puller.FindLocal(*digest, job.options.platform);
  if (!local.ok()) return std::nullopt;
  local->credential_index = credential_index;
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

  pb::ImageRecord record = MakeRecord(job, *result);
  RecordOrigin(job, *result, images.Find(job.reference, job.runtime_handler), record);
  auto recorded = images.Record(record);
  if (!recorded.ok()) return Failure(recorded.error().Wrap("record image"));

  outcome.ok = true;
  outcome.result = std::move(*result);
  outcome.transfer_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return outcome;
}

}  // namespace pullfleet::node
