package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/concord-kv/concord/internal/bench"
)

// etcdNodes is the size of the etcd cluster, as concord's.
const etcdNodes = 3

// etcdPeer is a 3-node etcd cluster on loopback: every write is committed
// by a Raft majority, each member fsyncing its log (etcd has no unsynced
// mode before 3.5), and every Get is linearizable (the client default: a
// ReadIndex round through the leader).
var etcdPeer = peer{
	name:     "etcd",
	about:    "3 etcd members on loopback (Debian etcd-server), fresh data dirs; etcd client v3, one client per load-generating client on member i mod 3; Put, and Get with the default linearizable reads",
	packages: []debPackage{{name: "etcd-server", binary: "etcd"}},
	start: func(ctx context.Context, e *env) (instance, error) {
		ports, err := freePorts(2 * etcdNodes)
		if err != nil {
			return nil, err
		}
		name := func(i int) string { return fmt.Sprintf("etcd%d", i+1) }
		clientURL := func(i int) string { return "http://" + loopback(ports[i]) }
		peerURL := func(i int) string { return "http://" + loopback(ports[etcdNodes+i]) }
		var members []string
		for i := range etcdNodes {
			members = append(members, name(i)+"="+peerURL(i))
		}
		inst := &etcdInstance{}
		for i := range etcdNodes {
			s, err := startServer(e.dir, name(i), nil, "etcd",
				"--name", name(i), "--data-dir", filepath.Join(e.dir, name(i)),
				"--listen-client-urls", clientURL(i), "--advertise-client-urls", clientURL(i),
				"--listen-peer-urls", peerURL(i), "--initial-advertise-peer-urls", peerURL(i),
				"--initial-cluster", strings.Join(members, ","), "--initial-cluster-state", "new",
				"--initial-cluster-token", "bench-peers", "--logger", "zap", "--log-level", "warn")
			if err != nil {
				inst.close()
				return nil, err
			}
			inst.servers = append(inst.servers, s)
			inst.endpoints = append(inst.endpoints, clientURL(i))
		}
		// /health answers 200 once the member sees a leader.
		for i, s := range inst.servers {
			if err := waitHTTP(ctx, s, inst.endpoints[i]+"/health", 60*time.Second); err != nil {
				inst.close()
				return nil, err
			}
		}
		return inst, nil
	},
}

type etcdInstance struct {
	servers   []*server
	endpoints []string
}

func (m *etcdInstance) clients(ctx context.Context, n int) ([]bench.Store, func(), error) {
	var clients []*clientv3.Client
	closeAll := func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}
	out := make([]bench.Store, n)
	for i := range out {
		c, err := clientv3.New(clientv3.Config{
			Endpoints: []string{m.endpoints[i%len(m.endpoints)]}, DialTimeout: 10 * time.Second,
			Logger: zap.NewNop(), Context: ctx,
		})
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("etcd client: %w", err)
		}
		clients = append(clients, c)
		out[i] = etcdStore{c}
	}
	return out, closeAll, nil
}

func (m *etcdInstance) pids() []int { return pidsOf(m.servers) }

func (m *etcdInstance) versions() map[string]string {
	return map[string]string{"etcd": versionOf("etcd", "--version")}
}

func (m *etcdInstance) close() error { stopAll(m.servers); return nil }

// etcdStore is one client with its own connection.
type etcdStore struct{ c *clientv3.Client }

var _ bench.Store = etcdStore{}

func (s etcdStore) Read(ctx context.Context, key []byte) error {
	_, err := s.c.Get(ctx, string(key))
	return err
}

func (s etcdStore) Update(ctx context.Context, key, value []byte) error {
	_, err := s.c.Put(ctx, string(key), string(value))
	return err
}

func (s etcdStore) Insert(ctx context.Context, key, value []byte) error {
	return s.Update(ctx, key, value)
}

func (s etcdStore) ReadModifyWrite(ctx context.Context, key, value []byte) error {
	if err := s.Read(ctx, key); err != nil {
		return err
	}
	return s.Update(ctx, key, value)
}
