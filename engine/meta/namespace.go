// Package meta holds cluster metadata: the namespaces and their settings,
// and the cluster settings ([ClusterSettings], kept by [SettingsStore]).
// [Store] persists the namespaces in the node's storage engine under the
// metadata prefix and keeps a cached copy for the request path. Each create
// of a namespace starts an incarnation whose data lives under its own
// storage namespace ([Namespace.StorageName], [Namespace.Fate]).
package meta

import (
	"fmt"
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
	// CeilingRate bounds a namespace's reads and writes per second.
	CeilingRate = 1_000_000
	// CeilingWriteBytesRate bounds write_bytes_per_second: 64 GiB/s.
	CeilingWriteBytesRate = 64 << 30
)

// Limits bound what a namespace stores and how fast its clients may call.
type Limits struct {
	MaxValueBytes uint64 `json:"max_value_bytes"`
	MaxKeyBytes   uint32 `json:"max_key_bytes"`
	MaxSiblings   uint32 `json:"max_siblings"`
	// ReadsPerSecond and WritesPerSecond bound the client Gets, and the
	// client Puts and Deletes, across the cluster; 0 means unlimited (the
	// default). Each node enforces its share (engine/node/front).
	ReadsPerSecond  uint32 `json:"reads_per_second,omitempty"`
	WritesPerSecond uint32 `json:"writes_per_second,omitempty"`
	// MaxStoredBytes and MaxKeys are quotas on what the namespace stores
	// (live keys, and their keys' and live values' bytes, one replica
	// counted); 0 means unlimited (the default). A client write that adds
	// bytes, or a new key, while the namespace is at or over its quota is
	// refused (engine/node/front). See docs/namespaces.md.
	MaxStoredBytes uint64 `json:"max_stored_bytes,omitempty"`
	MaxKeys        uint64 `json:"max_keys,omitempty"`
	// ResolverCPUMsPerSecond is the resolver time the namespace may use per
	// second on each node, in milliseconds; 0 means the cluster's default.
	// ResolverConcurrency is how many of its resolver calls may run at
	// once on each node; 0 means DefaultResolverConcurrency. Over either,
	// resolutions are skipped and the siblings kept (engine/node/registry).
	ResolverCPUMsPerSecond uint32 `json:"resolver_cpu_ms_per_second,omitempty"`
	ResolverConcurrency    uint32 `json:"resolver_concurrency,omitempty"`
	// WriteBytesPerSecond bounds the bytes client writes store per second
	// across the cluster (the size of the key's object after each write);
	// 0 means unlimited. Each node enforces its share (engine/node/front).
	WriteBytesPerSecond uint64 `json:"write_bytes_per_second,omitempty"`
}

// Bounds of the quota and resolver limits.
const (
	// CeilingQuota bounds max_stored_bytes and max_keys: 2^53, the largest
	// integer a JavaScript client reads exactly.
	CeilingQuota = 1 << 53
	// DefaultResolverConcurrency is the resolver calls of a namespace that
	// may run at once on a node when it sets none.
	DefaultResolverConcurrency = 2
	// CeilingResolverConcurrency bounds resolver_concurrency.
	CeilingResolverConcurrency = 1024
)

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
	// Incarnation identifies this life of the namespace: set by the create,
	// kept by updates and the delete, new on a create after a delete. Its
	// data is stored under StorageName(). 0 for namespaces created before
	// incarnations existed. See [Namespace.Fate].
	Incarnation uint64 `json:"incarnation,omitempty"`
	// Resolver is the namespace's WebAssembly resolver; nil: siblings go to
	// the client.
	Resolver *Resolver `json:"resolver,omitempty"`
}

// ResolverMode says where a namespace's resolver runs.
type ResolverMode int

const (
	// ModeClient returns siblings to the client.
	ModeClient ResolverMode = iota + 1
	// ModeOnRead resolves at read time and writes the result back.
	ModeOnRead
	// ModeOnWrite resolves wherever divergent versions meet on a server.
	ModeOnWrite
)

func (m ResolverMode) String() string {
	switch m {
	case ModeClient:
		return "client"
	case ModeOnRead:
		return "on_read"
	case ModeOnWrite:
		return "on_write"
	}
	return fmt.Sprintf("ResolverMode(%d)", int(m))
}

// Resolver is a namespace's resolver settings. The module itself is stored
// by hash, apart from the settings.
type Resolver struct {
	Name          string        `json:"name"`
	Hash          string        `json:"sha256"`
	Mode          ResolverMode  `json:"mode"`
	Config        []byte        `json:"config,omitempty"`
	WriteDeadline time.Duration `json:"write_deadline"`
	ReadDeadline  time.Duration `json:"read_deadline"`
	MemoryPages   uint32        `json:"memory_pages"`
	ModuleBytes   uint64        `json:"module_bytes"`
}

// Defaults of a resolver's limits.
const (
	DefaultWriteDeadline = 20 * time.Millisecond
	DefaultReadDeadline  = 50 * time.Millisecond
	DefaultMemoryPages   = 256
	// MaxResolverDeadline bounds max_resolver_deadline_ms, the cluster's
	// cap on the deadlines (ClusterSettings; the memory cap's bound is
	// CeilingMemoryPages).
	MaxResolverDeadline = 10 * time.Second
)

// WithDefaults fills a resolver's unset limits.
func (r Resolver) WithDefaults() Resolver {
	if r.Mode == 0 {
		r.Mode = ModeOnWrite
	}
	if r.WriteDeadline == 0 {
		r.WriteDeadline = DefaultWriteDeadline
	}
	if r.ReadDeadline == 0 {
		r.ReadDeadline = DefaultReadDeadline
	}
	if r.MemoryPages == 0 {
		r.MemoryPages = DefaultMemoryPages
	}
	return r
}

// Validate checks a resolver's settings, its deadlines and memory against
// the cluster's caps (caps with defaults filled in): over a cap is an
// *errs.LimitError that names it.
func (r Resolver) Validate(caps ClusterSettings) error {
	maxDeadline := time.Duration(caps.MaxResolverDeadlineMs) * time.Millisecond
	switch {
	case r.Mode < ModeClient || r.Mode > ModeOnWrite:
		return errs.Invalid("mode", "mode must be client, on_read or on_write")
	case r.WriteDeadline < time.Millisecond:
		return errs.Invalid("write_deadline_ms", "the write deadline is %v; it must be at least 1ms", r.WriteDeadline)
	case r.ReadDeadline < time.Millisecond:
		return errs.Invalid("read_deadline_ms", "the read deadline is %v; it must be at least 1ms", r.ReadDeadline)
	case r.MemoryPages < 1:
		return errs.Invalid("memory_pages", "memory_pages must be at least 1")
	case len(r.Config) > 64<<10:
		return errs.Invalid("config", "the resolver config is %d bytes; at most 65536", len(r.Config))
	case max(r.WriteDeadline, r.ReadDeadline) > maxDeadline:
		return &errs.LimitError{Limit: "max_resolver_deadline_ms", Max: uint64(caps.MaxResolverDeadlineMs), Actual: uint64(max(r.WriteDeadline, r.ReadDeadline).Milliseconds()),
			Hint: "the cluster's cap on write_deadline_ms and read_deadline_ms; ask the cluster's admin to raise it"}
	case r.MemoryPages > caps.MaxResolverMemoryPages:
		return &errs.LimitError{Limit: "max_resolver_memory_pages", Max: uint64(caps.MaxResolverMemoryPages), Actual: uint64(r.MemoryPages),
			Hint: "the cluster's cap on memory_pages; ask the cluster's admin to raise it"}
	}
	return nil
}

// WithCappedDefaults fills a resolver's unset limits like WithDefaults, but
// never above the cluster's caps (caps with defaults filled in): a cap
// lowered below a default lowers the default.
func (r Resolver) WithCappedDefaults(caps ClusterSettings) Resolver {
	maxDeadline := time.Duration(caps.MaxResolverDeadlineMs) * time.Millisecond
	if r.WriteDeadline == 0 {
		r.WriteDeadline = min(DefaultWriteDeadline, maxDeadline)
	}
	if r.ReadDeadline == 0 {
		r.ReadDeadline = min(DefaultReadDeadline, maxDeadline)
	}
	if r.MemoryPages == 0 {
		r.MemoryPages = min(DefaultMemoryPages, caps.MaxResolverMemoryPages)
	}
	return r.WithDefaults()
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
	fill(&ns.Limits.ReadsPerSecond, d.Limits.ReadsPerSecond)
	fill(&ns.Limits.WritesPerSecond, d.Limits.WritesPerSecond)
	fill(&ns.Limits.ResolverCPUMsPerSecond, d.Limits.ResolverCPUMsPerSecond)
	fill(&ns.Limits.ResolverConcurrency, d.Limits.ResolverConcurrency)
	if ns.Limits.MaxStoredBytes == 0 {
		ns.Limits.MaxStoredBytes = d.Limits.MaxStoredBytes
	}
	if ns.Limits.MaxKeys == 0 {
		ns.Limits.MaxKeys = d.Limits.MaxKeys
	}
	return ns
}

// ValidateName checks a namespace name: 1 to 63 characters of a-z, 0-9, '_'
// and '-', starting with a letter or digit.
func ValidateName(name string) error {
	if !validName(name) {
		return errs.Invalid("namespace", "%q is not a valid namespace name: use 1 to 63 characters of a-z, 0-9, '_' and '-', starting with a letter or digit", name)
	}
	return nil
}

// validName is ^[a-z0-9][a-z0-9_-]{0,62}$ without a regular expression: it
// runs for every object a node receives (Store.Fate).
func validName(name string) bool {
	if len(name) < 1 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
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
	case ns.Limits.ReadsPerSecond > CeilingRate:
		return errs.Invalid("limits.reads_per_second", "reads_per_second is %d; it must be at most %d (0 = unlimited)", ns.Limits.ReadsPerSecond, CeilingRate)
	case ns.Limits.WritesPerSecond > CeilingRate:
		return errs.Invalid("limits.writes_per_second", "writes_per_second is %d; it must be at most %d (0 = unlimited)", ns.Limits.WritesPerSecond, CeilingRate)
	case ns.Limits.MaxStoredBytes > CeilingQuota:
		return errs.Invalid("limits.max_stored_bytes", "max_stored_bytes is %d; it must be at most %d (0 = unlimited)", ns.Limits.MaxStoredBytes, uint64(CeilingQuota))
	case ns.Limits.MaxKeys > CeilingQuota:
		return errs.Invalid("limits.max_keys", "max_keys is %d; it must be at most %d (0 = unlimited)", ns.Limits.MaxKeys, uint64(CeilingQuota))
	case ns.Limits.ResolverCPUMsPerSecond > CeilingResolverCPUMsPerSecond:
		return errs.Invalid("limits.resolver_cpu_ms_per_second", "resolver_cpu_ms_per_second is %d; it must be at most %d (0 = the cluster's default)", ns.Limits.ResolverCPUMsPerSecond, CeilingResolverCPUMsPerSecond)
	case ns.Limits.WriteBytesPerSecond > CeilingWriteBytesRate:
		return errs.Invalid("limits.write_bytes_per_second", "write_bytes_per_second is %d; it must be at most %d (0 = unlimited)", ns.Limits.WriteBytesPerSecond, uint64(CeilingWriteBytesRate))
	case ns.Limits.ResolverConcurrency > CeilingResolverConcurrency:
		return errs.Invalid("limits.resolver_concurrency", "resolver_concurrency is %d; it must be at most %d (0 = %d)", ns.Limits.ResolverConcurrency, CeilingResolverConcurrency, DefaultResolverConcurrency)
	}
	return nil
}
