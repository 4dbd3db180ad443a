#include "actors/cluster/admission.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <cstdio>

#include "common/names.h"
#include "image/policy.h"

namespace pullfleet::actors {
namespace {

constexpr std::string_view kNameAlphabet = "bcdfghjklmnpqrstvwxz2456789";

void DefaultContainers(google::protobuf::RepeatedPtrField<pb::Container>* containers,
                       const google::protobuf::RepeatedPtrField<pb::Container>* previous,
                       const AdmissionOptions& options) {
  for (auto& container : *containers) {
    if (options.always_pull_images) {
      container.set_image_pull_policy("Always");
      continue;
    }
    if (!container.image_pull_policy().empty()) continue;
    if (previous != nullptr) {
      for (const auto& old : *previous) {
        if (old.name() == container.name() && !old.image_pull_policy().empty()) {
          container.set_image_pull_policy(old.image_pull_policy());
        }
      }
      if (!container.image_pull_policy().empty()) continue;
    }
    container.set_image_pull_policy(
        std::string(image::ToString(image::DefaultPullPolicy(container.image()))));
  }
}

// volumes[].image.pullPolicy has the containers' default (the API server's
// SetDefaults_ImageVolumeSource); AlwaysPullImages sets it to Always too.
void DefaultImageVolumes(google::protobuf::RepeatedPtrField<pb::ImageVolume>* volumes,
                         const google::protobuf::RepeatedPtrField<pb::ImageVolume>* previous,
                         const AdmissionOptions& options) {
  for (auto& volume : *volumes) {
    if (options.always_pull_images) {
      volume.set_pull_policy("Always");
      continue;
    }
    if (!volume.pull_policy().empty()) continue;
    if (previous != nullptr) {
      for (const auto& old : *previous) {
        if (old.name() == volume.name() && !old.pull_policy().empty()) {
          volume.set_pull_policy(old.pull_policy());
        }
      }
      if (!volume.pull_policy().empty()) continue;
    }
    volume.set_pull_policy(
        std::string(image::ToString(image::DefaultPullPolicy(volume.reference()))));
  }
}

// Appends the API server's wording of what is wrong with `meta` of an object of `kind`.
// Namespaces are themselves named by the label rule, every other kind by the subdomain rule.
void CheckMeta(const std::string& kind, const pb::ObjectMeta& meta,
               std::vector<std::string>* errors) {
  const Status name = kind == "Namespace" ? CheckLabelName("metadata.name", meta.name())
                                          : CheckObjectName("metadata.name", meta.name());
  const Status ns = meta.namespace_().empty()
                        ? Status::Ok()
                        : CheckLabelName("metadata.namespace", meta.namespace_());
  for (const Status* status : {&name, &ns}) {
    if (status->ok()) continue;
    errors->push_back("The " + kind + " \"" + meta.name() +
                      "\" is invalid: " + status->error().message());
  }
}

}  // namespace

std::vector<std::string> InvalidObjectNames(const pb::ApplyRequest& request) {
  std::vector<std::string> errors;
  for (const auto& ns : request.namespaces()) CheckMeta("Namespace", ns.metadata(), &errors);
  for (const auto& secret : request.secrets()) CheckMeta("Secret", secret.metadata(), &errors);
  for (const auto& account : request.service_accounts()) {
    CheckMeta("ServiceAccount", account.metadata(), &errors);
  }
  for (const auto& rc : request.runtime_classes()) {
    CheckMeta("RuntimeClass", rc.metadata(), &errors);
  }
  for (const auto& pod : request.pods()) CheckMeta("Pod", pod.metadata(), &errors);
  for (const auto& workload : request.workloads()) {
    const std::string kind = workload.kind().empty() ? "Workload" : workload.kind();
    CheckMeta(kind, workload.metadata(), &errors);
    if (kind != "StatefulSet") continue;
    // A StatefulSet's pods are NAME-ORDINAL: the last of them must be a valid name too.
    const std::string last_pod =
        workload.metadata().name() + "-" + std::to_string(std::max(0, workload.replicas() - 1));
    if (last_pod.size() > 253) {
      errors.push_back("The StatefulSet \"" + workload.metadata().name() +
                       "\" is invalid: metadata.name: its pod " + last_pod.substr(0, 40) +
                       "... would be " + std::to_string(last_pod.size()) +
                       " characters long, more than 253");
    }
  }
  return errors;
}

void DefaultPodSpec(pb::PodSpec* spec, const pb::PodSpec* previous,
                    const AdmissionOptions& options) {
  DefaultContainers(spec->mutable_init_containers(),
                    previous ? &previous->init_containers() : nullptr, options);
  DefaultContainers(spec->mutable_containers(), previous ? &previous->containers() : nullptr,
                    options);
  DefaultImageVolumes(spec->mutable_image_volumes(),
                      previous ? &previous->image_volumes() : nullptr, options);
}

std::string RandomSuffix(std::mt19937_64& rng, size_t length) {
  std::string out;
  for (size_t i = 0; i < length; ++i) out += kNameAlphabet[rng() % kNameAlphabet.size()];
  return out;
}

std::string NewUid(std::mt19937_64& rng) {
  const uint64_t a = rng(), b = rng();
  char buffer[40];
  std::snprintf(buffer, sizeof(buffer), "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(a >> 32), static_cast<unsigned>((a >> 16) & 0xffff),
                static_cast<unsigned>(a & 0xffff), static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buffer;
}

std::string TemplateHash(const pb::PodSpec& spec) {
  // FNV-1a over the deterministic serialisation of the template.
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    spec.SerializeToCodedStream(&coded);
  }
  uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  std::string out;
  for (int i = 0; i < 10; ++i) {
    out += kNameAlphabet[hash % kNameAlphabet.size()];
    hash /= kNameAlphabet.size();
  }
  return out;
}

}  // namespace pullfleet::actors
