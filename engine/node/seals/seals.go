// Package seals keeps a node's context-sealing keys (package ctxseal):
// each node seals with its own key, made on first start, and learns the
// others' keys from cluster metadata documents named "seal/" + key ID,
// which it also keeps in its store so it can open contexts after a
// restart before gossip has caught up.
//
// A context is bound to a storage namespace (one incarnation of a
// namespace) and a key: one read before a namespace was deleted is refused
// by the namespace created again under the name.
package seals

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/concord-kv/concord/engine/ctxseal"
	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/storage"
)

const (
	docPrefix = "seal/"
	metaKind  = "seal"
)

// Keys seals and opens client contexts. It is safe for concurrent use.
type Keys struct {
	ring  *ctxseal.Keyring
	store storage.Engine
	log   *slog.Logger
}

// Open loads the node's sealing key (making it on first start) and every
// key learned from other nodes.
func Open(store storage.Engine, log *slog.Logger) (*Keys, error) {
	own, err := store.Get(keys.Meta("identity", "seal-key"))
	if errors.Is(err, storage.ErrNotFound) {
		own = ctxseal.NewKey()
		var b storage.Batch
		b.Set(keys.Meta("identity", "seal-key"), own)
		err = store.Apply(&b, storage.WriteOptions{Sync: true})
	}
	if err != nil {
		return nil, fmt.Errorf("seals: sealing key: %w", err)
	}
	kr, err := ctxseal.New(own)
	if err != nil {
		return nil, fmt.Errorf("seals: sealing key: %w", err)
	}
	lo, hi := keys.MetaRange(metaKind)
	it, err := store.NewIter(lo, hi)
	if err != nil {
		return nil, fmt.Errorf("seals: sealing keys: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		kr.Add(it.Value())
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("seals: sealing keys: %w", err)
	}
	return &Keys{ring: kr, store: store, log: log}, nil
}

// Docs are the sealing keys this node knows, as metadata documents.
func (k *Keys) Docs() []membership.Doc {
	ks := k.ring.Keys()
	docs := make([]membership.Doc, 0, len(ks))
	for _, key := range ks {
		docs = append(docs, membership.Doc{Name: docPrefix + ctxseal.IDOf(key).String(), Version: 1, Data: key})
	}
	return docs
}

// OnDoc takes another node's sealing key from gossip and keeps it, and
// reports whether d was a sealing-key document.
func (k *Keys) OnDoc(d membership.Doc) bool {
	if !strings.HasPrefix(d.Name, docPrefix) {
		return false
	}
	if len(d.Data) != ctxseal.KeyLen || d.Name != docPrefix+ctxseal.IDOf(d.Data).String() {
		k.log.Warn("bad sealing key document", "doc", d.Name)
		return true
	}
	if !k.ring.Add(d.Data) {
		return true
	}
	var b storage.Batch
	b.Set(keys.Meta(metaKind, ctxseal.IDOf(d.Data).String()), d.Data)
	if err := k.store.Apply(&b, storage.WriteOptions{Sync: true}); err != nil {
		k.log.Error("store sealing key", "err", err)
	}
	return true
}

// Seal is the context a client gets for an object of a key of a storage
// namespace.
func (k *Keys) Seal(storageNS string, key []byte, obj dvv.Object) []byte {
	return k.ring.Seal(storageNS, key, obj.Context())
}

// Open verifies a client's context for a key of a storage namespace: a
// context sealed by a node not heard from yet is errs.ErrUnavailable
// (retry), any other that does not verify an errs.InvalidError.
func (k *Keys) Open(storageNS string, key, tok []byte) (dvv.Clock, error) {
	c, err := k.ring.Open(storageNS, key, tok)
	switch {
	case errors.Is(err, ctxseal.ErrUnknownKey):
		k.log.Info("context sealed by an unknown node", "namespace", storageNS)
		return c, fmt.Errorf("%w: the context was issued by a node this one has not heard from yet; retry shortly", errs.ErrUnavailable)
	case err != nil:
		return c, errs.Invalid("context", "the context is not one concord issued for this key; pass back the context bytes from a Get or Put of the same key unchanged")
	}
	return c, nil
}
