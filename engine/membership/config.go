package membership

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
)

// Defaults used when the corresponding [Config] field is zero.
const (
	DefaultReconnectInterval = 10 * time.Second
	DefaultBroadcastTimeout  = 5 * time.Second
	DefaultEventBuffer       = 1024
)

// Config configures a [Membership]. Only NodeID is required.
type Config struct {
	// NodeID names this node in the cluster; it must be unique, non-empty
	// and must not contain '/' (memberlist's "name/addr" join syntax).
	NodeID string

	// BindAddr and BindPort are where the gossip listener (TCP and UDP)
	// binds when Transport is nil. BindAddr defaults to "0.0.0.0";
	// BindPort 0 picks a free port ([Membership.Addr] reports it).
	BindAddr string
	BindPort int

	// AdvertiseAddr and AdvertisePort are what other nodes are told to
	// dial, if not the bound address (NAT, containers). AdvertisePort
	// defaults to the bound port.
	AdvertiseAddr string
	AdvertisePort int

	// SecretKey, if set, encrypts gossip (AES-GCM, 16, 24 or 32 bytes),
	// and messages that are not encrypted with a key of this node's
	// keyring are dropped. Every node must hold the key others encrypt
	// with.
	SecretKey []byte
	// SecondaryKeys are further keys this node decrypts with but does not
	// encrypt with (memberlist's keyring): for rotating SecretKey without
	// a split cluster. Each is 16, 24 or 32 bytes; they need a SecretKey.
	SecondaryKeys [][]byte

	// Meta is this node's gossiped metadata; it must encode to at most
	// [MaxMetaSize] bytes. Change it later with [Membership.UpdateMeta].
	Meta Meta

	// Transport replaces memberlist's network transport (tests pass an
	// in-memory one, see package memnet). Nil: real TCP+UDP sockets.
	Transport memberlist.Transport

	// Docs are the documents this node starts with (loaded by the node from
	// its store). OnDoc is not called for them.
	Docs []Doc

	// OnDoc is called when a document newer than the local copy is
	// accepted, whether from gossip or from Publish: from one goroutine,
	// in acceptance order, with versions of a name only growing (a version
	// superseded before OnDoc saw it is skipped). The node persists the
	// document there. OnDoc must not call Close. Nil: no callback.
	OnDoc func(Doc)

	// Logger receives this package's and memberlist's logs. Nil: discard.
	Logger *slog.Logger

	// Local selects memberlist.DefaultLocalConfig timings (for a loopback
	// or in-memory cluster) instead of memberlist.DefaultLANConfig.
	Local bool

	// ReconnectInterval is how often this node tries to join one random
	// dead member again, so that a healed partition merges even after
	// memberlist stopped gossiping to the dead. Default
	// [DefaultReconnectInterval]; negative disables.
	ReconnectInterval time.Duration

	// BroadcastTimeout bounds how long UpdateMeta and Leave wait for their
	// broadcast to go out. Default [DefaultBroadcastTimeout].
	BroadcastTimeout time.Duration

	// EventBuffer is the capacity of the Events channel. When it is full
	// the oldest event is dropped. Default [DefaultEventBuffer].
	EventBuffer int

	// Tune, if set, is applied last to the memberlist configuration, for
	// timings this Config does not expose. Do not replace the delegates,
	// Name, Transport or Logger.
	Tune func(*memberlist.Config)
}

// Validate reports the first problem with c, wrapping [ErrInvalidConfig]
// (or [ErrMetaTooLarge], [ErrInvalidDoc]).
func (c *Config) Validate() error {
	if c.NodeID == "" {
		return fmt.Errorf("%w: NodeID is required", ErrInvalidConfig)
	}
	if strings.Contains(c.NodeID, "/") {
		return fmt.Errorf("%w: NodeID %q contains '/'", ErrInvalidConfig, c.NodeID)
	}
	if c.BindPort < 0 || c.BindPort > 65535 || c.AdvertisePort < 0 || c.AdvertisePort > 65535 {
		return fmt.Errorf("%w: port out of range", ErrInvalidConfig)
	}
	if c.BindAddr != "" && net.ParseIP(c.BindAddr) == nil {
		return fmt.Errorf("%w: BindAddr %q is not an IP address", ErrInvalidConfig, c.BindAddr)
	}
	if c.AdvertiseAddr != "" && net.ParseIP(c.AdvertiseAddr) == nil {
		return fmt.Errorf("%w: AdvertiseAddr %q is not an IP address", ErrInvalidConfig, c.AdvertiseAddr)
	}
	switch len(c.SecretKey) {
	case 0, 16, 24, 32:
	default:
		return fmt.Errorf("%w: SecretKey must be 16, 24 or 32 bytes", ErrInvalidConfig)
	}
	if len(c.SecondaryKeys) > 0 && len(c.SecretKey) == 0 {
		return fmt.Errorf("%w: SecondaryKeys without a SecretKey", ErrInvalidConfig)
	}
	for i, k := range c.SecondaryKeys {
		if l := len(k); l != 16 && l != 24 && l != 32 {
			return fmt.Errorf("%w: SecondaryKeys[%d] must be 16, 24 or 32 bytes", ErrInvalidConfig, i)
		}
	}
	if c.BroadcastTimeout < 0 || c.EventBuffer < 0 {
		return fmt.Errorf("%w: negative BroadcastTimeout or EventBuffer", ErrInvalidConfig)
	}
	if _, err := c.Meta.MarshalBinary(); err != nil {
		return err
	}
	for _, d := range c.Docs {
		if err := d.validate(); err != nil {
			return err
		}
	}
	return nil
}

// withDefaults returns a copy of c with zero fields defaulted.
func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ReconnectInterval == 0 {
		c.ReconnectInterval = DefaultReconnectInterval
	}
	if c.BroadcastTimeout == 0 {
		c.BroadcastTimeout = DefaultBroadcastTimeout
	}
	if c.EventBuffer == 0 {
		c.EventBuffer = DefaultEventBuffer
	}
	if c.BindAddr == "" {
		c.BindAddr = "0.0.0.0"
	}
	return c
}

// memberlistConfig builds memberlist's configuration around the delegates.
func (c *Config) memberlistConfig(d *delegate) *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	if c.Local {
		mc = memberlist.DefaultLocalConfig()
	}
	mc.Name = c.NodeID
	mc.BindAddr = c.BindAddr
	mc.BindPort = c.BindPort
	mc.AdvertiseAddr = c.AdvertiseAddr
	mc.AdvertisePort = c.AdvertisePort
	if mc.AdvertisePort == 0 {
		mc.AdvertisePort = c.BindPort // memberlist replaces it when BindPort is 0
	}
	mc.SecretKey = c.SecretKey
	if len(c.SecondaryKeys) > 0 {
		// Validate checked the keys, the only error NewKeyring has.
		mc.Keyring, _ = memberlist.NewKeyring(c.SecondaryKeys, c.SecretKey)
	}
	mc.Transport = c.Transport
	mc.Delegate = d
	mc.Events = (*eventDelegate)(d)
	mc.Logger = newMemberlistLogger(c.Logger)
	if c.Tune != nil {
		c.Tune(mc)
	}
	return mc
}
