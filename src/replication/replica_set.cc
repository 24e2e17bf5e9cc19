#include "evlog/replication/replica_set.h"

namespace evlog {

// The broker's replicas: compiled once here instead of in every user.
template class ReplicaSet<Partition, Transport>;

}  // namespace evlog
