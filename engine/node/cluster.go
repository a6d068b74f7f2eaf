package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/meta"
	"github.com/concord-kv/concord/engine/node/antientropy"
	"github.com/concord-kv/concord/engine/node/hints"
	"github.com/concord-kv/concord/engine/node/loop"
	"github.com/concord-kv/concord/engine/node/purger"
	"github.com/concord-kv/concord/engine/node/transfer"
	"github.com/concord-kv/concord/engine/pace"
)

const docNSPrefix = "ns/"

// service is a background part of the node.
type service interface {
	Start(ctx context.Context)
	Close() error
}

// services run in order and stop in the reverse order.
type services []service

func (s services) Start(ctx context.Context) {
	for _, svc := range s {
		svc.Start(ctx)
	}
}

func (s services) Close() error {
	var errs []error
	for i := len(s) - 1; i >= 0; i-- {
		errs = append(errs, s[i].Close())
	}
	return errors.Join(errs...)
}

// startCluster starts gossip, joins the seeds and starts the background
// services: hint delivery, handoff, anti-entropy and purge.
func (n *Node) startCluster(cc *ClusterConfig) error {
	n.startRates()
	docs, err := n.localDocs()
	if err != nil {
		return err
	}
	host, port, err := splitHostPort(cc.GossipAddr)
	if err != nil {
		return err
	}
	ml, err := membership.New(membership.Config{
		NodeID:        n.id,
		BindAddr:      host,
		AdvertiseAddr: cc.AdvertiseHost,
		BindPort:      port,
		Meta:          membership.Meta{PeerAddr: cc.PeerAddr, APIAddr: cc.APIAddr, Zone: cc.Zone},
		Transport:     cc.GossipTransport,
		Docs:          docs,
		OnDoc:         n.onDoc,
		Logger:        n.log.With("component", "gossip"),
		Local:         cc.FastGossip,
		SecretKey:     first(cc.GossipKeys), SecondaryKeys: rest(cc.GossipKeys),
	})
	if err != nil {
		return fmt.Errorf("node: start gossip: %w", err)
	}
	n.members = ml
	go abandonDown(ml.Events(), n.id, n.peers.Abandon, n.log)
	n.top.Attach(ml)
	_, hasRing := n.top.Ring()
	joinCtx, cancel := context.WithTimeout(n.bgCtx, cc.JoinTimeout)
	defer cancel()
	if err := n.join(joinCtx, cc.Join, hasRing); err != nil {
		return err
	}
	aae, err := antientropy.New(antientropy.Config{
		Trees: n.trees, Topology: n.top, Peers: n.peers, Local: aaeLocal{n},
		Limiter:  n.rates.aae,
		Interval: cc.AAEInterval,
		// Exchanges wait while foreground requests are much slower than
		// usual (repairs are paced by the limiter meanwhile too).
		Pressure: func() bool { return n.pace.Share() < 0.5 },
		Repaired: n.keysRepaired,
		Logger:   n.log.With("component", "aae"),
	})
	if err != nil {
		return err
	}
	n.hints = hints.New(n.replica, n.top, n.peers, cc.HintInterval, n.rates.hints, n.log)
	n.aae = aae
	n.services = services{
		loop.New(pace.TickInterval, func(context.Context) { n.pace.Tick() }),
		n.hints,
		transfer.New(transfer.Config{
			Store: n.eng, Local: handoffLocal{n}, Topology: n.top, Peers: streamPeers{n.peers},
			Interval: cc.HandoffInterval, Limiter: n.rates.handoff, Logger: n.log,
		}),
		n.aae,
		n.purger,
	}
	n.services.Start(n.bgCtx)
	return nil
}

// abandonDown abandons the peer calls to every member gossip declares
// dead or gone (abandon is [peer.Client.Abandon], by peer address): their
// writes become hints, and the member does not serve them when it comes
// back. self is never abandoned. It returns when events closes (gossip
// stops).
func abandonDown(events <-chan membership.Event, self string, abandon func(addr string), log *slog.Logger) {
	for ev := range events {
		if ev.Kind == membership.EventLeft && ev.Member.ID != self && ev.Member.Meta.PeerAddr != "" {
			log.Info("member down: its peer calls abandoned", "member", ev.Member.ID, "state", ev.Member.State)
			abandon(ev.Member.Meta.PeerAddr)
		}
	}
}

// leave leaves the cluster and stops gossip.
func (n *Node) leave() {
	if n.members == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = n.members.Leave(ctx)
	cancel()
	_ = n.members.Close()
}

// newPurger builds the purger: in a cluster it runs rounds (once
// started); on its own it only serves purges, of which there are none.
func (n *Node) newPurger() *purger.Purger {
	pc := purger.Config{
		Data: n.eng, Store: n.replica, Topology: n.top, Now: n.cfg.Now,
		BeforeRound: n.incs.DropDeadData, Logger: n.log,
	}
	if cc := n.cfg.Cluster; cc != nil {
		pc.Peers, pc.Interval, pc.Grace = n.peers, cc.PurgeInterval, cc.TombstoneGrace
	}
	return purger.New(pc)
}

func targetN(cc *ClusterConfig) int {
	if cc == nil || cc.TargetN == 0 {
		return DefaultTargetN
	}
	return cc.TargetN
}

func zoneOf(cc *ClusterConfig) string {
	if cc == nil {
		return ""
	}
	return cc.Zone
}

// localDocs are the cluster-metadata documents this node holds.
func (n *Node) localDocs() ([]membership.Doc, error) {
	docs, err := n.top.Docs()
	if err != nil {
		return nil, err
	}
	for _, ns := range n.meta.All() {
		raw, err := meta.Encode(ns)
		if err != nil {
			return nil, err
		}
		docs = append(docs, membership.Doc{Name: docNSPrefix + ns.Name, Version: ns.Version, Data: raw})
	}
	return append(append(append(docs, n.seals.Docs()...), n.auth.Docs()...), n.settingsDocs()...), nil
}

func (n *Node) publishNamespace(ns meta.Namespace) {
	n.incs.DropDead() // a delete, or a create over data of a deleted incarnation
	n.namespaceChanged(ns)
	raw, err := meta.Encode(ns)
	if err == nil && n.members != nil {
		err = n.members.Publish(membership.Doc{Name: docNSPrefix + ns.Name, Version: ns.Version, Data: raw})
	}
	if err != nil {
		n.log.Error("publish namespace", "namespace", ns.Name, "err", err)
	}
}

// onDoc takes a newer cluster-metadata document from gossip: the
// topology's, a sealing key, a credential, the cluster settings, a node's
// usage figures or resolver breakers, or a namespace. Calls are
// serialised.
func (n *Node) onDoc(d membership.Doc) {
	n.docMu.Lock()
	defer n.docMu.Unlock()
	if n.top.OnDoc(d) || n.seals.OnDoc(d) || n.auth.OnDoc(d) || n.onSettingsDoc(d) || n.usage.OnDoc(d) || n.onBreakersDoc(d) || !strings.HasPrefix(d.Name, docNSPrefix) {
		return
	}
	ns, err := meta.Decode(d.Data)
	if err != nil {
		n.log.Error("bad namespace document", "doc", d.Name, "err", err)
		return
	}
	changed, err := n.meta.Apply(ns)
	if err != nil {
		n.log.Error("store namespace", "namespace", ns.Name, "err", err)
	}
	if changed {
		// Whatever came before this version (a delete, or nothing this
		// node saw), incarnations other than this one are dead.
		n.incs.DropDead()
		n.namespaceChanged(ns)
	}
}

// namespaceChanged tells the request path of a namespace's new settings
// (its rate limits follow them).
func (n *Node) namespaceChanged(ns meta.Namespace) {
	if n.front != nil { // nil while the node opens
		n.front.NamespaceChanged(ns)
	}
}

// peerAddr resolves a node ID to its peer address through gossip.
func (n *Node) peerAddr(id string) (string, bool) {
	if n.members == nil {
		return "", false
	}
	m, ok := n.members.Member(id)
	if !ok || m.Meta.PeerAddr == "" {
		return "", false
	}
	return m.Meta.PeerAddr, true
}
