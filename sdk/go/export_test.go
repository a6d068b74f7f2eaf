package concord

import kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"

// PartitionOf is partitionOf, for the placement vectors.
var PartitionOf = partitionOf

// SetTopology installs res as a routing client's topology of namespace ns,
// as if GetTopology had answered it just now: for tests that give a client
// a stale one.
func (c *Client) SetTopology(ns string, res *kvv1.GetTopologyResponse) error {
	t, err := newTopology(res, c.router.scheme, c.router.now())
	if err != nil {
		return err
	}
	e := c.router.entry(ns)
	e.cur.Store(t)
	e.stale.Store(false)
	return nil
}

// Retryable is retryable, for a write or a read.
func Retryable(err error, write bool) bool {
	if write {
		return retryable(err, opWrite)
	}
	return retryable(err, opRead)
}
