package node

import (
	"errors"
	"fmt"

	"github.com/concord-kv/concord/engine/ctxseal"
	"github.com/concord-kv/concord/engine/dvv"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/keys"
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/storage"
)

// Contexts are sealed (package ctxseal): each node seals with its own key,
// made on first start, and learns the others' keys from cluster metadata
// documents named docSealPrefix + key ID, which it also keeps in its store
// so it can open contexts after a restart before gossip has caught up.

const (
	docSealPrefix = "seal/"
	metaSealKind  = "seal"
)

// openKeyring loads the node's sealing key (making it on first start) and
// every key learned from other nodes.
func openKeyring(eng storage.Engine) (*ctxseal.Keyring, error) {
	own, err := eng.Get(keys.Meta("identity", "seal-key"))
	if errors.Is(err, storage.ErrNotFound) {
		own = ctxseal.NewKey()
		var b storage.Batch
		b.Set(keys.Meta("identity", "seal-key"), own)
		err = eng.Apply(&b, storage.WriteOptions{Sync: true})
	}
	if err != nil {
		return nil, fmt.Errorf("node: sealing key: %w", err)
	}
	kr, err := ctxseal.New(own)
	if err != nil {
		return nil, fmt.Errorf("node: sealing key: %w", err)
	}
	lo, hi := keys.MetaRange(metaSealKind)
	it, err := eng.NewIter(lo, hi)
	if err != nil {
		return nil, fmt.Errorf("node: sealing keys: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		kr.Add(it.Value())
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("node: sealing keys: %w", err)
	}
	return kr, nil
}

// sealDocs are the sealing keys this node knows, as metadata documents.
func (n *Node) sealDocs() []membership.Doc {
	ks := n.seals.Keys()
	docs := make([]membership.Doc, 0, len(ks))
	for _, k := range ks {
		docs = append(docs, membership.Doc{Name: docSealPrefix + ctxseal.IDOf(k).String(), Version: 1, Data: k})
	}
	return docs
}

// learnSealKey takes another node's sealing key from gossip and keeps it.
func (n *Node) learnSealKey(d membership.Doc) {
	if len(d.Data) != ctxseal.KeyLen || d.Name != docSealPrefix+ctxseal.IDOf(d.Data).String() {
		n.log.Warn("bad sealing key document", "doc", d.Name)
		return
	}
	if !n.seals.Add(d.Data) {
		return
	}
	var b storage.Batch
	b.Set(keys.Meta(metaSealKind, ctxseal.IDOf(d.Data).String()), d.Data)
	if err := n.eng.Apply(&b, storage.WriteOptions{Sync: true}); err != nil {
		n.log.Error("store sealing key", "err", err)
	}
}

// seal is the context a client gets for an object of a key of namespace
// ns. It is bound to the namespace's current incarnation (its storage name,
// incarnation.go): a context read before a namespace was deleted is refused
// by the namespace created again under the name, so old clock entries never
// cover the new incarnation's writes.
func (n *Node) seal(ns string, key []byte, obj dvv.Object) []byte {
	return n.seals.Seal(n.storageName(ns), key, obj.Context())
}

// openContext verifies a client's context for a key of namespace ns (and
// its current incarnation).
func (n *Node) openContext(ns string, key, tok []byte) (dvv.Clock, error) {
	c, err := n.seals.Open(n.storageName(ns), key, tok)
	switch {
	case errors.Is(err, ctxseal.ErrUnknownKey):
		n.log.Info("context sealed by an unknown node", "namespace", ns)
		return c, fmt.Errorf("%w: the context was issued by a node this one has not heard from yet; retry shortly", errs.ErrUnavailable)
	case err != nil:
		return c, errs.Invalid("context", "the context is not one concord issued for this key; pass back the context bytes from a Get or Put of the same key unchanged")
	}
	return c, nil
}
