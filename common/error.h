// Error and Result: the one way pullfleet's plain C++ libraries report failure.
//
// Every fallible function returns Status (no value) or Result<T>. Callers branch on
// Error::code(), never on the message text. Messages gain context as they rise through the
// layers with Wrap(), so the line a user finally sees reads like
//   pull 127.0.0.1:5000/busybox:1.36: fetch layer sha256:ab12...: HTTP 503
// No exception crosses a library boundary, and no message ever contains a credential.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace pullfleet {

// A closed set of failure kinds. Actors map them to Kubernetes reasons; metrics use them as
// label values, so adding one is a deliberate change.
enum class ErrorCode {
  kInvalidArgument,     // malformed input: an image name, manifest, config, secret, reply
  kNotFound,            // the registry or store has no such manifest, blob or object
  kUnauthorized,        // 401: no or wrong credentials
  kForbidden,           // 403, or 401 with insufficient_scope
  kRateLimited,         // 429 Too Many Requests
  kRegistryError,       // any other non-success HTTP status
  kNetwork,             // connect, TLS, DNS or transfer failure
  kTimeout,             // no progress or no answer in time
  kDigestMismatch,      // content does not hash to the digest it was asked for
  kSizeMismatch,        // content is longer or shorter than its descriptor says
  kNoMatchingPlatform,  // an image index lacks an entry for the node's platform
  kUnsupported,         // a media type, scheme or algorithm pullfleet does not handle
  kIo,                  // local file system or database failure
  kCancelled,           // the caller asked the work to stop
  kInternal,            // a bug: an invariant did not hold
  kStalled,             // a node's pull moved no byte for stallTimeoutSeconds and was cancelled
};

// Stable lowercase name of a code, for logs and metric labels ("not_found").
std::string_view ErrorCodeName(ErrorCode code);

class [[nodiscard]] Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns this error with `context` in front: "context: message".
  Error Wrap(std::string_view context) const&;
  Error Wrap(std::string_view context) &&;

 private:
  ErrorCode code_;
  std::string message_;
};

// Result<T> holds either a value or an Error.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}   // NOLINT: implicit by design
  Result(Error error) : data_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(data_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(data_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(data_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(data_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(data_));
  }

 private:
  std::variant<T, Error> data_;
};

// Status is a Result without a value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  static Status Ok() { return Status(); }
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_{ErrorCode::kInternal, ""};
  bool ok_ = true;
};

}  // namespace pullfleet
