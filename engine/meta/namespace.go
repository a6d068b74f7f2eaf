// Package meta holds cluster metadata: for now the namespaces and their
// settings. [Store] persists them in the node's storage engine under the
// metadata prefix and keeps a cached copy for the request path.
package meta

import (
	"fmt"
	"regexp"
	"time"

	"github.com/concord-kv/concord/engine/errs"
)

// Durability says when a replica acknowledges a write.
type Durability int

const (
	// DurabilitySync acknowledges a write once it is synced to disk.
	DurabilitySync Durability = iota + 1
	// DurabilityBuffered acknowledges a write once it is in the write-ahead
	// log's buffer.
	DurabilityBuffered
)

func (d Durability) String() string {
	switch d {
	case DurabilitySync:
		return "sync"
	case DurabilityBuffered:
		return "buffered"
	}
	return fmt.Sprintf("Durability(%d)", int(d))
}

// Hard ceilings no namespace setting may pass.
const (
	MaxReplicas      = 16
	CeilingValueSize = 16 << 20
	CeilingKeySize   = 64 << 10
	CeilingSiblings  = 10_000
)

// Limits bound what a namespace stores.
type Limits struct {
	MaxValueBytes uint64 `json:"max_value_bytes"`
	MaxKeyBytes   uint32 `json:"max_key_bytes"`
	MaxSiblings   uint32 `json:"max_siblings"`
}

// DefaultLimits are the limits of a namespace that names none.
func DefaultLimits() Limits {
	return Limits{MaxValueBytes: 1 << 20, MaxKeyBytes: 1024, MaxSiblings: 100}
}

// Namespace is a tenant's table and its settings.
type Namespace struct {
	Name       string     `json:"name"`
	N          uint32     `json:"n"`
	R          uint32     `json:"r"`
	W          uint32     `json:"w"`
	DW         uint32     `json:"dw"`
	Durability Durability `json:"durability"`
	Limits     Limits     `json:"limits"`
	CreatedAt  time.Time  `json:"created_at"`
	// Version counts the changes of this namespace's settings across the
	// cluster; the highest version wins when nodes disagree.
	Version uint64 `json:"version"`
	// Deleted marks a deleted namespace (kept so the delete spreads).
	Deleted bool `json:"deleted,omitempty"`
}

// Defaults fill the settings a new namespace leaves zero.
type Defaults struct {
	N, R, W, DW uint32
	Durability  Durability
	Limits      Limits
}

// WithDefaults returns ns with every zero setting taken from d.
func (ns Namespace) WithDefaults(d Defaults) Namespace {
	fill := func(v *uint32, def uint32) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&ns.N, d.N)
	fill(&ns.R, min(d.R, ns.N))
	fill(&ns.W, min(d.W, ns.N))
	fill(&ns.DW, min(d.DW, ns.W))
	if ns.Durability == 0 {
		ns.Durability = d.Durability
	}
	if ns.Limits.MaxValueBytes == 0 {
		ns.Limits.MaxValueBytes = d.Limits.MaxValueBytes
	}
	fill(&ns.Limits.MaxKeyBytes, d.Limits.MaxKeyBytes)
	fill(&ns.Limits.MaxSiblings, d.Limits.MaxSiblings)
	return ns
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidateName checks a namespace name: 1 to 63 characters of a-z, 0-9, '_'
// and '-', starting with a letter or digit.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return errs.Invalid("namespace", "%q is not a valid namespace name: use 1 to 63 characters of a-z, 0-9, '_' and '-', starting with a letter or digit", name)
	}
	return nil
}

// Validate checks that the settings are complete and consistent.
func (ns Namespace) Validate() error {
	if err := ValidateName(ns.Name); err != nil {
		return err
	}
	switch {
	case ns.N < 1 || ns.N > MaxReplicas:
		return errs.Invalid("n", "n is %d; it must be between 1 and %d", ns.N, MaxReplicas)
	case ns.R < 1 || ns.R > ns.N:
		return errs.Invalid("r", "r is %d; it must be between 1 and n (%d)", ns.R, ns.N)
	case ns.W < 1 || ns.W > ns.N:
		return errs.Invalid("w", "w is %d; it must be between 1 and n (%d)", ns.W, ns.N)
	case ns.DW > ns.W:
		return errs.Invalid("dw", "dw is %d; it must be at most w (%d)", ns.DW, ns.W)
	case ns.Durability != DurabilitySync && ns.Durability != DurabilityBuffered:
		return errs.Invalid("durability", "durability must be sync or buffered")
	case ns.Limits.MaxValueBytes < 1 || ns.Limits.MaxValueBytes > CeilingValueSize:
		return errs.Invalid("limits.max_value_bytes", "max_value_bytes is %d; it must be between 1 and %d", ns.Limits.MaxValueBytes, CeilingValueSize)
	case ns.Limits.MaxKeyBytes < 1 || ns.Limits.MaxKeyBytes > CeilingKeySize:
		return errs.Invalid("limits.max_key_bytes", "max_key_bytes is %d; it must be between 1 and %d", ns.Limits.MaxKeyBytes, CeilingKeySize)
	case ns.Limits.MaxSiblings < 1 || ns.Limits.MaxSiblings > CeilingSiblings:
		return errs.Invalid("limits.max_siblings", "max_siblings is %d; it must be between 1 and %d", ns.Limits.MaxSiblings, CeilingSiblings)
	}
	return nil
}
