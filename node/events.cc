#include "node/events.h"

#include <cmath>
#include <cstdio>

namespace pullfleet::node {
namespace {

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Go's %v of a float seconds part: shortest form without trailing zeros.
std::string TrimmedSeconds(int64_t millis) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%lld.%03lld", static_cast<long long>(millis / 1000),
                static_cast<long long>(millis % 1000));
  std::string s = buffer;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

std::string GoDuration(double seconds) {
  const auto millis = static_cast<int64_t>(std::floor(seconds * 1000.0));
  if (millis <= 0) return "0s";
  if (millis < 1000) return std::to_string(millis) + "ms";
  const int64_t hours = millis / 3'600'000;
  const int64_t minutes = (millis / 60'000) % 60;
  const int64_t rest = millis % 60'000;
  std::string out;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  return out + TrimmedSeconds(rest) + "s";
}

std::string PullingMessage(std::string_view image) { return "Pulling image " + Quoted(image); }

std::string PulledMessage(std::string_view image, double pull_seconds, double total_seconds,
                          int64_t image_size) {
  return "Successfully pulled image " + Quoted(image) + " in " + GoDuration(pull_seconds) + " (" +
         GoDuration(total_seconds) + " including waiting). Image size: " +
         std::to_string(image_size) + " bytes.";
}

std::string AlreadyPresentMessage(std::string_view image) {
  return "Container image " + Quoted(image) + " already present on machine";
}

std::string FailedToPullMessage(std::string_view image, std::string_view error) {
  return "Failed to pull image " + Quoted(image) + ": " + std::string(error);
}

std::string NeverPullUnverifiedMessage(std::string_view image) {
  return "Container image " + Quoted(image) +
         " is present but was pulled with credentials this pod does not have, and pull policy "
         "Never forbids the pull that would verify its own";
}

std::string BackOffMessage(std::string_view image) {
  return "Back-off pulling image " + Quoted(image);
}

std::string NeverPullMessage(std::string_view image) {
  return "Container image " + Quoted(image) + " is not present with pull policy of Never";
}

std::string InvalidImageNameMessage(std::string_view image, std::string_view parse_error) {
  return "Failed to apply default image tag " + Quoted(image) + ": " + std::string(parse_error);
}

std::string ErrorReasonMessage(std::string_view reason) { return "Error: " + std::string(reason); }

}  // namespace pullfleet::node
