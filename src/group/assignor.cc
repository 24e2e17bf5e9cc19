#include "evlog/group/assignor.h"

#include "evlog/group/cooperative_sticky_assignor.h"

namespace evlog {

std::string_view RebalanceProtocolName(RebalanceProtocol protocol) {
  switch (protocol) {
    case RebalanceProtocol::kEager:
      return "EAGER";
    case RebalanceProtocol::kCooperative:
      return "COOPERATIVE";
  }
  return "UNKNOWN";
}

AnyAssignor::AnyAssignor() : AnyAssignor(CooperativeStickyAssignor()) {}

}  // namespace evlog
