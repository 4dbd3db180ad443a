#include "actors/common/protocol.h"

#include "caf/actor_system_config.hpp"

namespace pullfleet {

void RegisterMessageTypes(caf::actor_system_config& config) {
  // The names below are part of the wire protocol between processes: never rename one.
  config.add_message_type<pb::Pod>("pullfleet.pb.Pod")
      .add_message_type<pb::Workload>("pullfleet.pb.Workload")
      .add_message_type<pb::NodeInfo>("pullfleet.pb.NodeInfo")
      .add_message_type<pb::PodAssignment>("pullfleet.pb.PodAssignment")
      .add_message_type<pb::PodRemoval>("pullfleet.pb.PodRemoval")
      .add_message_type<pb::PodStatusReport>("pullfleet.pb.PodStatusReport")
      .add_message_type<pb::ApplyRequest>("pullfleet.pb.ApplyRequest")
      .add_message_type<pb::ApplyResponse>("pullfleet.pb.ApplyResponse")
      .add_message_type<pb::GetPodsRequest>("pullfleet.pb.GetPodsRequest")
      .add_message_type<pb::PodList>("pullfleet.pb.PodList")
      .add_message_type<pb::DeletePodRequest>("pullfleet.pb.DeletePodRequest")
      .add_message_type<pb::DeletePodResponse>("pullfleet.pb.DeletePodResponse")
      .add_message_type<pb::GetImagesRequest>("pullfleet.pb.GetImagesRequest")
      .add_message_type<pb::ImageList>("pullfleet.pb.ImageList")
      .add_message_type<pb::ImageRecord>("pullfleet.pb.ImageRecord")
      .add_message_type<pb::NodeList>("pullfleet.pb.NodeList")
      .add_message_type<pb::ApiError>("pullfleet.pb.ApiError")
      .add_message_type<pb::Secret>("pullfleet.pb.Secret")
      .add_message_type<pb::PullSecretsRequest>("pullfleet.pb.PullSecretsRequest")
      .add_message_type<pb::PullSecretsReply>("pullfleet.pb.PullSecretsReply")
      .add_message_type<pb::LoadImagesRequest>("pullfleet.pb.LoadImagesRequest")
      .add_message_type<pb::LoadImagesReply>("pullfleet.pb.LoadImagesReply")
      .add_message_type<pb::NodeSync>("pullfleet.pb.NodeSync")
      .add_message_type<pb::ChaosRequest>("pullfleet.pb.ChaosRequest")
      .add_message_type<pb::ChaosReply>("pullfleet.pb.ChaosReply");
}

}  // namespace pullfleet
