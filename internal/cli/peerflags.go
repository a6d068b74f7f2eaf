package cli

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/concord-kv/concord/internal/embed"
)

// peerFlags secure what nodes say to each other: the peer port's mutual
// TLS and the gossip key (docs/security.md).
type peerFlags struct {
	ca, cert, key string
	insecure      bool
	gossipKeys    []string
	gossipKeyFile string
}

func (f *peerFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.ca, "peer-ca", "", "PEM certificate of the cluster CA: the peer port admits only nodes with a certificate it signed (make one with `concord cert ca`)")
	fl.StringVar(&f.cert, "peer-cert", "", "PEM certificate of this node, signed by --peer-ca and naming the node ID (`concord cert node`)")
	fl.StringVar(&f.key, "peer-key", "", "PEM private key of --peer-cert")
	fl.BoolVar(&f.insecure, "insecure-peer", false, "serve the peer port without mutual TLS on a non-loopback --peer-addr (anyone who reaches it can read and overwrite every key)")
	fl.StringSliceVar(&f.gossipKeys, "gossip-key", nil, "base64 AES key (16, 24 or 32 bytes) encrypting gossip; repeat it during a rotation: the first encrypts, all decrypt (prefer CONCORD_GOSSIP_KEY or --gossip-key-file: flags show in ps)")
	fl.StringVar(&f.gossipKeyFile, "gossip-key-file", "", "file of base64 gossip keys, one per line, the first encrypting; used instead of --gossip-key")
}

// apply puts the flags into cfg.
func (f *peerFlags) apply(cfg *embed.Config) error {
	cfg.PeerCA, cfg.PeerCert, cfg.PeerKey, cfg.InsecurePeer = f.ca, f.cert, f.key, f.insecure
	keys, err := f.keys()
	if err != nil {
		return err
	}
	if cfg.Node.Cluster != nil {
		cfg.Node.Cluster.GossipKeys = keys
	}
	return nil
}

// keys decodes the gossip keys of --gossip-key or --gossip-key-file.
func (f *peerFlags) keys() ([][]byte, error) {
	encoded, from := f.gossipKeys, "--gossip-key"
	if f.gossipKeyFile != "" {
		if len(f.gossipKeys) > 0 {
			return nil, fmt.Errorf("give --gossip-key or --gossip-key-file, not both")
		}
		raw, err := os.ReadFile(f.gossipKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--gossip-key-file: %w", err)
		}
		encoded, from = nil, "--gossip-key-file "+f.gossipKeyFile
		for _, line := range strings.Split(string(raw), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				encoded = append(encoded, line)
			}
		}
		if len(encoded) == 0 {
			return nil, fmt.Errorf("%s holds no key", from)
		}
	}
	var keys [][]byte
	for i, s := range encoded {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%s: key %d is not base64: %v", from, i+1, err)
		}
		if l := len(k); l != 16 && l != 24 && l != 32 {
			return nil, fmt.Errorf("%s: key %d is %d bytes; a gossip key is 16, 24 or 32 bytes (make one with `openssl rand -base64 32`)", from, i+1, l)
		}
		keys = append(keys, k)
	}
	return keys, nil
}
