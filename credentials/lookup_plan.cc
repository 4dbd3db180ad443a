#include "credentials/lookup_plan.h"

#include <algorithm>
#include <sstream>

namespace pullfleet::credentials {
namespace {

void AddKeyringSteps(const DockerKeyring& keyring, const image::Reference& ref,
                     LookupStep::Kind kind, LookupPlan& plan) {
  for (const AuthConfig& auth : keyring.Lookup(ref)) {
    LookupStep step;
    step.kind = kind;
    step.source = auth.source;
    step.key = auth.matched_key;
    plan.steps.push_back(std::move(step));
  }
  plan.warnings.insert(plan.warnings.end(), keyring.warnings().begin(), keyring.warnings().end());
}

}  // namespace

LookupPlan BuildLookupPlan(const image::Reference& ref, const LookupSources& sources) {
  LookupPlan plan;
  plan.image = ref.Normalized();
  plan.problems = sources.problems;

  if (sources.pod_secrets != nullptr) {
    for (const SecretProblem& problem : sources.pod_secrets->problems) {
      plan.problems.push_back(problem.message);
    }
    AddKeyringSteps(sources.pod_secrets->keyring, ref, LookupStep::Kind::kPullSecret, plan);
  }
  if (sources.node_config != nullptr) {
    AddKeyringSteps(*sources.node_config, ref, LookupStep::Kind::kNodeConfig, plan);
  }
  if (sources.providers != nullptr) {
    for (const CredentialProviders::Match& match : MatchingProviders(*sources.providers, ref)) {
      LookupStep step;
      step.kind = LookupStep::Kind::kProvider;
      step.source = "credential provider " + match.provider->name;
      step.key = match.pattern;
      plan.steps.push_back(std::move(step));
    }
  }
  const bool static_credentials =
      std::any_of(plan.steps.begin(), plan.steps.end(),
                  [](const LookupStep& s) { return s.kind != LookupStep::Kind::kProvider; });
  if (!static_credentials) {
    // With providers only, the pull is anonymous when none of them answers with a match.
    LookupStep anonymous;
    anonymous.kind = LookupStep::Kind::kAnonymous;
    plan.steps.push_back(anonymous);
  }
  return plan;
}

std::string RenderLookupPlan(const LookupPlan& plan) {
  std::ostringstream out;
  out << "Credentials for " << plan.image << ", in the order a pull tries them:\n";
  int number = 0;
  bool any_provider = false;
  for (const LookupStep& step : plan.steps) {
    out << "  " << ++number << ". ";
    switch (step.kind) {
      case LookupStep::Kind::kPullSecret:
      case LookupStep::Kind::kNodeConfig:
        out << step.source << "  key \"" << step.key << "\"";
        break;
      case LookupStep::Kind::kProvider:
        any_provider = true;
        out << step.source << "  matchImages \"" << step.key << "\" (keys known when it runs)";
        break;
      case LookupStep::Kind::kAnonymous:
        out << (any_provider ? "anonymous, if no credential provider answers with a matching key"
                             : "anonymous (no credential matches this image)");
        break;
    }
    out << "\n";
  }
  if (!plan.problems.empty()) {
    out << "Problems:\n";
    for (const std::string& problem : plan.problems) out << "  " << problem << "\n";
  }
  if (!plan.warnings.empty()) {
    out << "Warnings:\n";
    for (const std::string& warning : plan.warnings) out << "  " << warning << "\n";
  }
  return out.str();
}

}  // namespace pullfleet::credentials
