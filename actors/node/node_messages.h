// CAF registration of the messages that stay inside one node process (node/pull_job.h).
// They carry credentials, so CAF may not serialise them: sending one to another process is
// refused, and CAF prints them as "<unprintable>", which keeps secrets out of diagnostics.
#pragma once

#include "caf/allowed_unsafe_message_type.hpp"
#include "image/reference.h"
#include "metrics/metrics.h"
#include "node/pull_job.h"
#include "pull/puller.h"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pullfleet::node::CredentialSet)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pullfleet::node::PullJob)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pullfleet::node::PullOutcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pullfleet::pull::Progress)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pullfleet::metrics::PullProgress)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pullfleet::image::Reference)

#include "actors/node/node_actors.h"
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pullfleet::actors::NodeServices)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pullfleet::actors::ResolveRequest)
