package node

import "github.com/concord-kv/concord/engine/pace"

// Background reports how the node paces its background work (handoff,
// hint delivery, anti-entropy repair): the share of their maximum rates
// they run at, which falls while foreground requests are slow, and the
// rate each kind is allowed now. A node without a cluster has no
// background work: its share is 1 and it has no rates.
func (n *Node) Background() pace.Stats { return n.pace.Stats() }
