package ring

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

const (
	// DefaultQ is the number of partitions [New] uses when given q = 0.
	DefaultQ = 256
	// MaxQ is the largest number of partitions: partition numbers fit in
	// 16 bits, as in the storage key layout.
	MaxQ = 1 << 16
	// MaxNameLen bounds the length in bytes of a [NodeID] and of a zone.
	MaxNameLen = 255
)

var (
	// ErrInvalidRing is wrapped by every error of [Ring.Validate].
	ErrInvalidRing = errors.New("ring: invalid ring")
	// ErrInvalidArgument is wrapped by the errors of [New] and [Rebalance]
	// for arguments they cannot work with (q, n, the member list).
	ErrInvalidArgument = errors.New("ring: invalid argument")
	// ErrMalformed is wrapped by every error of [Ring.UnmarshalBinary].
	ErrMalformed = errors.New("ring: malformed encoding")
)

// NodeID names a node. It is non-empty and at most [MaxNameLen] bytes.
type NodeID string

// Member is a node that owns partitions, and its failure zone (rack,
// availability zone). The zone may be empty; see the package doc for when
// zones are taken into account.
type Member struct {
	ID   NodeID
	Zone string
}

// Ring is one version of the assignment of Q partitions to owners.
//
// A Ring is an immutable value: no method modifies it and the slices it
// returns are copies, so a Ring is safe for concurrent use and cheap to copy.
// The zero Ring has no partitions and is not valid; rings come from [New],
// [Rebalance] and [Ring.UnmarshalBinary].
type Ring struct {
	epoch   uint64
	members []Member // sorted by ID, IDs unique
	owners  []int32  // len Q, indices into members
}

// Epoch is the version of the ring: [New] makes epoch 1 and every
// [Rebalance] adds one.
func (r Ring) Epoch() uint64 { return r.epoch }

// Q is the number of partitions, a power of two.
func (r Ring) Q() int { return len(r.owners) }

// Owner is the owner of partition p, 0 <= p < Q.
func (r Ring) Owner(p int) NodeID { return r.members[r.owners[p]].ID }

// PreferenceList is the first n distinct nodes found walking the partitions
// p, p+1, … (wrapping), starting with the owner of p: the nodes that hold the
// replicas of p. It has fewer than n nodes only when the ring has fewer than
// n members.
func (r Ring) PreferenceList(p int, n int) []NodeID {
	n = min(n, len(r.members))
	if n <= 0 {
		return nil
	}
	out := make([]NodeID, 0, n)
	q := len(r.owners)
	for i := 0; i < q && len(out) < n; i++ {
		id := r.members[r.owners[(p+i)&(q-1)]].ID
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// Partitions are the partitions id owns, ascending (none for a non-member).
func (r Ring) Partitions(id NodeID) []int {
	i, ok := r.index(id)
	if !ok {
		return nil
	}
	var out []int
	for p, o := range r.owners {
		if int(o) == i {
			out = append(out, p)
		}
	}
	return out
}

// Members are the ring's members sorted by ID.
func (r Ring) Members() []Member { return slices.Clone(r.members) }

// Zone is the zone of member id, and whether id is a member.
func (r Ring) Zone(id NodeID) (string, bool) {
	i, ok := r.index(id)
	if !ok {
		return "", false
	}
	return r.members[i].Zone, true
}

// Counts is the number of partitions each member owns.
func (r Ring) Counts() map[NodeID]int {
	out := make(map[NodeID]int, len(r.members))
	for _, m := range r.members {
		out[m.ID] = 0
	}
	for _, o := range r.owners {
		out[r.members[o].ID]++
	}
	return out
}

// Equal reports whether r and o are the same version with the same
// assignment and members.
func (r Ring) Equal(o Ring) bool {
	return r.epoch == o.epoch && slices.Equal(r.members, o.members) && slices.Equal(r.owners, o.owners)
}

// Validate checks that r is well formed: Q a power of two in [1, MaxQ],
// members with valid, unique IDs sorted by ID, zones of at most
// [MaxNameLen] bytes, and every partition owned by a member. It does not
// check the claim properties (balance, distinct neighbours), which depend on
// the replication factor. The error wraps [ErrInvalidRing].
func (r Ring) Validate() error {
	q := len(r.owners)
	if q == 0 || q > MaxQ || q&(q-1) != 0 {
		return fmt.Errorf("%w: Q = %d is not a power of two in [1, %d]", ErrInvalidRing, q, MaxQ)
	}
	if err := validateMembers(r.members, true); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRing, err)
	}
	for p, o := range r.owners {
		if o < 0 || int(o) >= len(r.members) {
			return fmt.Errorf("%w: partition %d has no owner", ErrInvalidRing, p)
		}
	}
	return nil
}

func (r Ring) index(id NodeID) (int, bool) {
	return slices.BinarySearchFunc(r.members, id, func(m Member, id NodeID) int {
		return strings.Compare(string(m.ID), string(id))
	})
}

// validateMembers checks IDs and zones, and uniqueness; sorted says the list
// must already be sorted by ID.
func validateMembers(ms []Member, sorted bool) error {
	if len(ms) == 0 {
		return errors.New("no members")
	}
	for _, m := range ms {
		if m.ID == "" || len(m.ID) > MaxNameLen {
			return fmt.Errorf("member ID %q is empty or longer than %d bytes", m.ID, MaxNameLen)
		}
		if len(m.Zone) > MaxNameLen {
			return fmt.Errorf("zone of %q is longer than %d bytes", m.ID, MaxNameLen)
		}
	}
	if !sorted {
		ms = sortMembers(ms)
	}
	for i := 1; i < len(ms); i++ {
		switch c := strings.Compare(string(ms[i-1].ID), string(ms[i].ID)); {
		case c == 0:
			return fmt.Errorf("member %q appears twice", ms[i].ID)
		case c > 0:
			return fmt.Errorf("members are not sorted by ID at %q", ms[i].ID)
		}
	}
	return nil
}

// sortMembers returns a copy of ms sorted by ID.
func sortMembers(ms []Member) []Member {
	out := slices.Clone(ms)
	slices.SortStableFunc(out, func(a, b Member) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return out
}
