package concord

import (
	"fmt"
	"math/bits"
	"time"

	"github.com/zeebo/xxh3"

	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// topology is one GetTopology answer, checked and ready to route by: where
// a namespace's keys live. It is immutable once built.
type topology struct {
	fetched time.Time
	epoch   uint64
	name    string // what keys are hashed under (placement_name)
	bits    int    // log2(partitions)
	nodes   []topologyNode
	lists   [][]int // per partition: indices into nodes, the preference list
	byID    map[string]int
}

// topologyNode is a node of a topology. url is empty when the node
// advertises no API address: it is then never routed to.
type topologyNode struct {
	id, url string
}

// newTopology checks res and turns it into a topology; scheme ("http://" or
// "https://") is put before each node's api_addr.
func newTopology(res *kvv1.GetTopologyResponse, scheme string, fetched time.Time) (*topology, error) {
	q := int(res.GetPartitions())
	if q < 1 || q&(q-1) != 0 {
		return nil, fmt.Errorf("concord: topology with %d partitions, not a power of two", q)
	}
	if len(res.GetPreferenceLists()) != q {
		return nil, fmt.Errorf("concord: topology with %d partitions but %d preference lists", q, len(res.GetPreferenceLists()))
	}
	t := &topology{fetched: fetched, epoch: res.GetRingEpoch(), name: res.GetPlacementName(),
		bits: bits.TrailingZeros(uint(q)), byID: map[string]int{}}
	for i, n := range res.GetNodes() {
		node := topologyNode{id: n.GetId()}
		if n.GetApiAddr() != "" {
			node.url = scheme + n.GetApiAddr()
		}
		t.nodes = append(t.nodes, node)
		t.byID[node.id] = i
	}
	t.lists = make([][]int, q)
	for p, pl := range res.GetPreferenceLists() {
		list := make([]int, len(pl.GetNodes()))
		for j, v := range pl.GetNodes() {
			if int(v) >= len(t.nodes) {
				return nil, fmt.Errorf("concord: topology's partition %d names node %d of %d", p, v, len(t.nodes))
			}
			list[j] = int(v)
		}
		t.lists[p] = list
	}
	return t, nil
}

// partitionOf is the partition of key under placement name out of 2^bits
// partitions: the top bits of xxh3-64 (seed 0) of name‖0x00‖key, as the
// server computes it (engine/keys; vectors in
// engine/keys/testdata/placement.json).
func partitionOf(name string, key []byte, bits int) int {
	if bits == 0 {
		return 0
	}
	buf := make([]byte, 0, len(name)+1+len(key))
	buf = append(append(append(buf, name...), 0), key...)
	return int(xxh3.Hash(buf) >> (64 - bits))
}

// replicas is the preference list of key's partition, as node indices.
func (t *topology) replicas(key []byte) []int {
	return t.lists[partitionOf(t.name, key, t.bits)]
}

// first is the node a request for key goes to when every node answers: the
// head of its preference list ("" when the list is empty or the node has
// no address).
func (t *topology) first(key []byte) topologyNode {
	for _, i := range t.replicas(key) {
		if t.nodes[i].url != "" {
			return t.nodes[i]
		}
	}
	return topologyNode{}
}
