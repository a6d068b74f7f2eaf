package node

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/concord-kv/concord/engine/actor"
	"github.com/concord-kv/concord/engine/meta"
)

// Config assembles one node. Build it from [DefaultConfig] or
// [DefaultLocalConfig] and change what you need; [Open] calls Validate.
type Config struct {
	// DataDir holds the node's Pebble store. Empty means an in-memory
	// engine (tests only: nothing survives Close).
	DataDir string
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
	return nil
}
