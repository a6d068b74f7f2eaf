package node

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/concord-kv/concord/engine/actor"
	"github.com/concord-kv/concord/engine/auth"
	"github.com/concord-kv/concord/engine/meta"
)

// Config assembles one node. Build it from [DefaultConfig] or
// [DefaultLocalConfig] and change what you need; [Open] calls Validate.
type Config struct {
	// DataDir holds the node's Pebble store. Empty means an in-memory
	// engine (tests only: nothing survives Close).
	DataDir string
	// FS is the filesystem DataDir is on. Nil means the disk. Tests pass
	// one of Pebble's in-memory or fault-injecting filesystems
	// (github.com/cockroachdb/pebble/v2/vfs and vfs/errorfs); the
	// WebAssembly compilation cache, which needs the disk, is then off.
	FS vfs.FS
	// WALSyncInterval is the shortest time between two syncs of the
	// store's WAL while synced writes overlap: those within it share one
	// fsync, and a lone writer never waits (see
	// pebble.Options.WALSyncInterval). Zero means 1 ms; negative syncs
	// each group commit at once.
	WALSyncInterval time.Duration
	// ObjectCacheBytes bounds the memory that keeps recently used objects
	// so that reads of hot keys skip the storage engine (replica's
	// cache.go). Zero means DefaultObjectCacheBytes; negative keeps none.
	ObjectCacheBytes int
	// NodeID names the node as a causal actor. Empty: a random ID is made on
	// first start and kept in the store, so it survives restarts.
	NodeID string
	// Partitions is Q, the fixed number of ring partitions, a power of two.
	// Default 256. It cannot change after the store is created.
	Partitions int
	// Namespace holds the settings a namespace that names none takes,
	// including the default namespace every fresh store has.
	Namespace meta.Defaults
	// Logger receives the node's logs. Default: slog.Default().
	Logger *slog.Logger
	// Now is the wall clock used for sibling timestamps. Default time.Now.
	Now func() time.Time
	// Cluster, when set, makes the node a member of a cluster; nil runs a
	// single node that owns every partition.
	Cluster *ClusterConfig
	// AdminToken is the admin credential (at least 20 characters), taken
	// only on the node's first start, when the store has none: afterwards
	// the stored one (the cluster's) stays. Empty: the node takes the
	// cluster's from gossip. See [Node.Authenticate].
	AdminToken string
}

// DefaultConfig is the configuration of a production node: N=3, R=2, W=2,
// DW=1, synced writes. It needs a DataDir.
func DefaultConfig() Config {
	return Config{
		Partitions: 256,
		Namespace: meta.Defaults{
			N: 3, R: 2, W: 2, DW: 1,
			Durability: meta.DurabilitySync,
			Limits:     meta.DefaultLimits(),
		},
	}
}

// DefaultLocalConfig is DefaultConfig for a single node on its own: one
// replica per key (N=R=W=DW=1).
func DefaultLocalConfig() Config {
	c := DefaultConfig()
	c.Namespace.N, c.Namespace.R, c.Namespace.W, c.Namespace.DW = 1, 1, 1, 1
	return c
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	if c.Partitions < 1 || c.Partitions > 1<<16 || c.Partitions&(c.Partitions-1) != 0 {
		return fmt.Errorf("node: partitions is %d; it must be a power of two between 1 and 65536", c.Partitions)
	}
	d := c.Namespace
	probe := meta.Namespace{Name: meta.DefaultNamespace, N: d.N, R: d.R, W: d.W, DW: d.DW, Durability: d.Durability, Limits: d.Limits}
	if err := probe.Validate(); err != nil {
		return fmt.Errorf("node: namespace defaults: %w", err)
	}
	if c.NodeID != "" && !actor.ValidNodeID(c.NodeID) {
		return fmt.Errorf("node: node ID %q: use 1 to 64 letters, digits, '_' or '-'", c.NodeID)
	}
	if c.FS != nil && c.DataDir == "" {
		return fmt.Errorf("node: FS is set but DataDir is empty: an in-memory node has no files")
	}
	if c.AdminToken != "" {
		if err := auth.ValidAdmin(c.AdminToken); err != nil {
			return fmt.Errorf("node: %w", err)
		}
	}
	if c.Cluster != nil {
		if err := c.Cluster.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// withDefaults returns a copy of c with every zero field set to its
// default, the cluster configuration included (copied, so the caller's is
// never changed).
func (c Config) withDefaults() Config {
	if c.ObjectCacheBytes == 0 {
		c.ObjectCacheBytes = DefaultObjectCacheBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Cluster != nil {
		cc := c.Cluster.withDefaults()
		c.Cluster = &cc
	}
	return c
}

// DefaultObjectCacheBytes is the object cache's size when the Config names
// none (Config.ObjectCacheBytes).
const DefaultObjectCacheBytes = 64 << 20

// Defaults of the zero fields of [ClusterConfig].
const (
	DefaultTargetN                 = 3
	DefaultHintInterval            = time.Second
	DefaultHandoffInterval         = 500 * time.Millisecond
	DefaultAAEInterval             = 100 * time.Millisecond
	DefaultAAEKeysPerSecond        = meta.DefaultAAEKeysPerSecond
	DefaultHandoffObjectsPerSecond = meta.DefaultHandoffObjectsPerSecond
	DefaultHintsPerSecond          = meta.DefaultHintsPerSecond
	DefaultPurgeInterval           = 30 * time.Second
	DefaultTombstoneGrace          = time.Hour
	DefaultJoinTimeout             = 30 * time.Second
)

// withDefaults returns a copy of c with every zero field set to its default.
func (c ClusterConfig) withDefaults() ClusterConfig {
	setDefault(&c.TargetN, DefaultTargetN)
	setDefault(&c.HintInterval, DefaultHintInterval)
	setDefault(&c.HandoffInterval, DefaultHandoffInterval)
	setDefault(&c.AAEInterval, DefaultAAEInterval)
	setDefault(&c.AAEKeysPerSecond, DefaultAAEKeysPerSecond)
	setDefault(&c.HandoffObjectsPerSecond, DefaultHandoffObjectsPerSecond)
	setDefault(&c.HintsPerSecond, DefaultHintsPerSecond)
	setDefault(&c.PurgeInterval, DefaultPurgeInterval)
	setDefault(&c.TombstoneGrace, DefaultTombstoneGrace)
	setDefault(&c.JoinTimeout, DefaultJoinTimeout)
	return c
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Validate reports every problem with the cluster configuration. Zero
// fields take their defaults and are valid; negative counts and durations
// are not (a negative interval would panic in time.NewTicker). Settings
// that are valid but unsafe in production are not errors: Open logs them
// (see risks).
func (c ClusterConfig) Validate() error {
	d := c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("node: cluster: "+format, args...))
	}
	if d.TargetN < 1 {
		bad("TargetN is %d; it must be at least 1 (zero means %d)", c.TargetN, DefaultTargetN)
	}
	if d.AAEKeysPerSecond < 1 {
		bad("AAEKeysPerSecond is %d; it must be at least 1 (zero means %d)", c.AAEKeysPerSecond, DefaultAAEKeysPerSecond)
	}
	if d.HandoffObjectsPerSecond < 1 {
		bad("HandoffObjectsPerSecond is %d; it must be at least 1 (zero means %d)", c.HandoffObjectsPerSecond, DefaultHandoffObjectsPerSecond)
	}
	if d.HintsPerSecond < 1 {
		bad("HintsPerSecond is %d; it must be at least 1 (zero means %d)", c.HintsPerSecond, DefaultHintsPerSecond)
	}
	for _, p := range []struct {
		name string
		v    time.Duration
	}{
		{"HintInterval", d.HintInterval},
		{"HandoffInterval", d.HandoffInterval},
		{"AAEInterval", d.AAEInterval},
		{"PurgeInterval", d.PurgeInterval},
		{"TombstoneGrace", d.TombstoneGrace},
		{"JoinTimeout", d.JoinTimeout},
	} {
		if p.v < 0 {
			bad("%s is %v; it must be positive (zero means the default)", p.name, p.v)
		}
	}
	if _, _, err := splitHostPort(c.GossipAddr); err != nil {
		errs = append(errs, err)
	}
	for i, seed := range c.Join {
		if seed == "" {
			bad("Join[%d] is empty", i)
		}
	}
	return errors.Join(errs...)
}

// risks returns the settings of c that are valid but unsafe in production,
// for Open to log. A tombstone that does not outlast hint delivery is one:
// tests set a long HintInterval to turn hint delivery off and a short
// TombstoneGrace to see purges, but in production a hint delivered after
// its key's tombstone was purged brings the deleted value back.
func (c ClusterConfig) risks() []string {
	d := c.withDefaults()
	var out []string
	if d.TombstoneGrace <= d.HintInterval {
		out = append(out, fmt.Sprintf("TombstoneGrace (%v) is not longer than HintInterval (%v): a hint delivered after its key's tombstone was purged brings the deleted value back", d.TombstoneGrace, d.HintInterval))
	}
	return out
}
