package node

import "slices"

// Placement is where a namespace's keys live, for clients that send each
// request to a node of the key's preference list (the Dynamo paper's
// client-driven coordination) instead of through any node.
type Placement struct {
	Epoch uint64 // the ring's epoch (0 before the node has a ring)
	// Name is what a key is hashed under (the namespace's storage name):
	// partition = top log2(Partitions) bits of keys.Hash(Name, key).
	Name       string
	Partitions int
	N          int
	Nodes      []PlacementNode
	// Lists holds, per partition, the preference list as indices into
	// Nodes.
	Lists [][]int
}

// PlacementNode is a node of a Placement.
type PlacementNode struct {
	ID, APIAddr, Zone string
}

// Placement returns the placement of a namespace's keys as this node sees
// it now. A partition still moving lists its old replicas after its new
// ones.
func (n *Node) Placement(namespace string) (Placement, error) {
	ns, err := n.meta.Get(namespace)
	if err != nil {
		return Placement{}, err
	}
	p := Placement{Name: ns.StorageName(), Partitions: n.replica.Partitions(), N: int(ns.N)}
	if r, ok := n.top.Ring(); ok {
		p.Epoch = r.Epoch()
	}
	addrs := map[string]PlacementNode{}
	for _, m := range n.top.Members() {
		addrs[m.ID] = PlacementNode{ID: m.ID, APIAddr: m.Meta.APIAddr, Zone: m.Meta.Zone}
	}
	index := map[string]int{}
	p.Lists = make([][]int, p.Partitions)
	for part := range p.Partitions {
		pref, _ := n.top.Replicas(uint16(part), p.N)
		list := make([]int, 0, len(pref))
		for _, id := range pref {
			i, ok := index[id]
			if !ok {
				i = len(p.Nodes)
				index[id] = i
				node, known := addrs[id]
				if !known {
					node = PlacementNode{ID: id}
				}
				p.Nodes = append(p.Nodes, node)
			}
			if !slices.Contains(list, i) {
				list = append(list, i)
			}
		}
		p.Lists[part] = list
	}
	return p, nil
}
