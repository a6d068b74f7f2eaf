package embed

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/concord-kv/concord/engine/peer"
	"github.com/concord-kv/concord/internal/pki"
)

// securePeer sets up the peer port's mutual TLS from cfg's PeerCA,
// PeerCert and PeerKey: it checks the files, makes the node ID the one the
// certificate names, gives the node a TLS peer client and the check of
// staged joins (unless the caller set its own), and returns the peer
// listener's TLS configuration. Without them it returns nil, and an error
// if the peer listener is not on loopback and InsecurePeer is not set. A
// node without a cluster needs neither.
func securePeer(cfg *Config, peerLis net.Listener) (*tls.Config, error) {
	cc := cfg.Node.Cluster
	files := pki.PeerFiles{CA: cfg.PeerCA, Cert: cfg.PeerCert, Key: cfg.PeerKey}
	if cc == nil {
		if files.Set() {
			return nil, errors.New("embed: peer mTLS files for a node without a cluster")
		}
		return nil, nil
	}
	if !files.Set() {
		if !cfg.InsecurePeer && !loopback(peerLis.Addr()) {
			return nil, fmt.Errorf("embed: the peer port listens on %s without mutual TLS: anyone who reaches it could read and overwrite every key. Give --peer-ca, --peer-cert and --peer-key (make them with `concord cert`), listen on loopback, or accept the risk with --insecure-peer", peerLis.Addr())
		}
		return nil, nil
	}
	p, err := pki.LoadPeer(files, time.Now())
	if err != nil {
		return nil, fmt.Errorf("embed: peer mTLS: %w", err)
	}
	switch cfg.Node.NodeID {
	case "":
		cfg.Node.NodeID = p.Name
	case p.Name:
	default:
		return nil, fmt.Errorf("embed: peer mTLS: the node ID is %q but the certificate %s names %q: a node runs as the node its certificate names", cfg.Node.NodeID, files.Cert, p.Name)
	}
	if len(cc.GossipKeys) == 0 {
		// Gossip (memberlist) cannot check certificates: without a key, a
		// process with no certificate could still gossip with the cluster.
		return nil, errors.New("embed: peer mTLS without a gossip key: give --gossip-key too, so that only cluster members can gossip (memberlist cannot check certificates)")
	}
	if cc.PeerHTTP == nil {
		cc.PeerHTTP = peer.NewTLSClient(p.ClientConfig(), nil)
	}
	if cc.VerifyMember == nil {
		cc.VerifyMember = verifyMember(p)
	}
	return p.ServerConfig(), nil
}

// verifyMember is the check of a staged join under peer mTLS: the node's
// advertised peer port must complete a TLS handshake with a certificate
// of the cluster CA, valid for the address dialled, that names the node.
func verifyMember(p *pki.Peer) func(ctx context.Context, id, peerAddr string) error {
	return func(ctx context.Context, id, peerAddr string) error {
		if peerAddr == "" {
			return errors.New("it advertises no peer address")
		}
		d := tls.Dialer{Config: p.ClientConfig()}
		conn, err := d.DialContext(ctx, "tcp", peerAddr)
		if err != nil {
			return fmt.Errorf("its peer port %s did not prove a certificate of the cluster CA: %w", peerAddr, err)
		}
		defer conn.Close()
		cert := conn.(*tls.Conn).ConnectionState().PeerCertificates[0]
		if !pki.Names(cert, id) {
			return fmt.Errorf("its peer port %s holds the certificate of %q, not of %s", peerAddr, cert.Subject.CommonName, id)
		}
		return nil
	}
}

// loopback reports whether a listener's address is a loopback one.
func loopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
