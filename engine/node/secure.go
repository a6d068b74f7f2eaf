package node

import "context"

// This file holds the small helpers that wire the security settings of
// ClusterConfig into gossip and the topology.

// first is the gossip key that encrypts (nil: none); rest the further keys
// gossip decrypts with.
func first(keys [][]byte) []byte {
	if len(keys) == 0 {
		return nil
	}
	return keys[0]
}

func rest(keys [][]byte) [][]byte {
	if len(keys) < 2 {
		return nil
	}
	return keys[1:]
}

func verifyMember(cc *ClusterConfig) func(ctx context.Context, id, peerAddr string) error {
	if cc == nil {
		return nil
	}
	return cc.VerifyMember
}
