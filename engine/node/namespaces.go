package node

import (
	"slices"
	"strings"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/meta"
)

// Namespace administration. The node is the one way in: it checks what the
// metadata store cannot know by itself (a dw on a buffered namespace, which
// fields an update may touch) and then changes the store, which spreads the
// new document through gossip. A resolver is attached and removed with
// [Node.ActivateResolver] and [Node.ClearResolver], never by an update.

// CreateNamespace creates a namespace. Settings left zero take the node's
// defaults ([Config].Namespace). The cluster settings cap the namespaces
// (max_namespaces: an *errs.LimitError, exhausted) and their request rates
// (max_namespace_ops_per_second); UpdateNamespace checks a changed rate
// against the cap too.
func (n *Node) CreateNamespace(ns meta.Namespace) (meta.Namespace, error) {
	if err := meta.ValidateName(ns.Name); err != nil {
		return meta.Namespace{}, err
	}
	if err := checkBufferedDW(ns.WithDefaults(n.meta.Defaults()), ns.DW); err != nil {
		return meta.Namespace{}, err
	}
	if err := n.checkRateCaps(ns.WithDefaults(n.meta.Defaults()), meta.Namespace{}); err != nil {
		return meta.Namespace{}, err
	}
	ns.Resolver = nil // only ActivateResolver attaches one
	n.createMu.Lock()
	defer n.createMu.Unlock()
	if err := n.checkNamespaceCount(ns.Name); err != nil {
		return meta.Namespace{}, err
	}
	return n.meta.Create(ns)
}

// Namespace returns a namespace's settings (errs.ErrNamespaceNotFound if
// there is no such namespace).
func (n *Node) Namespace(name string) (meta.Namespace, error) { return n.meta.Get(name) }

// Namespaces lists the namespaces, by name.
func (n *Node) Namespaces() []meta.Namespace { return n.meta.List() }

// LargestValue returns the largest max_value_bytes of any namespace
// ([meta.Store.LargestValue]).
func (n *Node) LargestValue() uint64 { return n.meta.LargestValue() }

// DeleteNamespace deletes a namespace and, on every node, its data, and
// revokes its tokens. The default namespace is deleted only with force
// (errs.PreconditionError otherwise): clients that name no namespace use it.
func (n *Node) DeleteNamespace(name string, force bool) error {
	if name == meta.DefaultNamespace && !force {
		return errs.Precondition("namespace %q is where clients that name no namespace write; to delete it anyway, set force", name)
	}
	if err := n.meta.Delete(name); err != nil {
		return err
	}
	return n.auth.RevokeNamespace(name)
}

// NamespaceUpdate changes some settings of a namespace.
type NamespaceUpdate struct {
	// Namespace names the namespace and holds the new values.
	Namespace meta.Namespace
	// Fields lists the settings to change (at least one): r, w, dw,
	// durability, limits (every limit), or one limit as limits.<name> (n,
	// fixed when the namespace is created, and the resolver are not among
	// them). A field named here and zero in Namespace goes back to its
	// default.
	Fields []string
}

// updatableFields are the names NamespaceUpdate.Fields may hold, in the
// order error messages list them.
var updatableFields = []string{"r", "w", "dw", "durability", "limits", "limits.max_value_bytes", "limits.max_key_bytes", "limits.max_siblings",
	"limits.reads_per_second", "limits.writes_per_second", "limits.max_stored_bytes", "limits.max_keys",
	"limits.resolver_cpu_ms_per_second", "limits.resolver_concurrency", "limits.write_bytes_per_second"}

// updatable copies each of updatableFields from src to dst.
var updatable = map[string]func(dst *meta.Namespace, src meta.Namespace){
	"r":                        func(d *meta.Namespace, s meta.Namespace) { d.R = s.R },
	"w":                        func(d *meta.Namespace, s meta.Namespace) { d.W = s.W },
	"dw":                       func(d *meta.Namespace, s meta.Namespace) { d.DW = s.DW },
	"durability":               func(d *meta.Namespace, s meta.Namespace) { d.Durability = s.Durability },
	"limits":                   func(d *meta.Namespace, s meta.Namespace) { d.Limits = s.Limits },
	"limits.max_value_bytes":   func(d *meta.Namespace, s meta.Namespace) { d.Limits.MaxValueBytes = s.Limits.MaxValueBytes },
	"limits.max_key_bytes":     func(d *meta.Namespace, s meta.Namespace) { d.Limits.MaxKeyBytes = s.Limits.MaxKeyBytes },
	"limits.max_siblings":      func(d *meta.Namespace, s meta.Namespace) { d.Limits.MaxSiblings = s.Limits.MaxSiblings },
	"limits.reads_per_second":  func(d *meta.Namespace, s meta.Namespace) { d.Limits.ReadsPerSecond = s.Limits.ReadsPerSecond },
	"limits.writes_per_second": func(d *meta.Namespace, s meta.Namespace) { d.Limits.WritesPerSecond = s.Limits.WritesPerSecond },
	"limits.max_stored_bytes":  func(d *meta.Namespace, s meta.Namespace) { d.Limits.MaxStoredBytes = s.Limits.MaxStoredBytes },
	"limits.max_keys":          func(d *meta.Namespace, s meta.Namespace) { d.Limits.MaxKeys = s.Limits.MaxKeys },
	"limits.resolver_cpu_ms_per_second": func(d *meta.Namespace, s meta.Namespace) {
		d.Limits.ResolverCPUMsPerSecond = s.Limits.ResolverCPUMsPerSecond
	},
	"limits.resolver_concurrency": func(d *meta.Namespace, s meta.Namespace) { d.Limits.ResolverConcurrency = s.Limits.ResolverConcurrency },
	"limits.write_bytes_per_second": func(d *meta.Namespace, s meta.Namespace) {
		d.Limits.WriteBytesPerSecond = s.Limits.WriteBytesPerSecond
	},
}

// UpdateNamespace applies u to the namespace's current settings and
// stores the result. A setting u names and leaves zero takes the cluster's
// default again; a dw u names is checked against the namespace's
// durability.
func (n *Node) UpdateNamespace(u NamespaceUpdate) (meta.Namespace, error) {
	cur, err := n.meta.Get(u.Namespace.Name)
	if err != nil {
		return meta.Namespace{}, err
	}
	if len(u.Fields) == 0 {
		return meta.Namespace{}, errs.Invalid("update_mask", "update_mask is empty; name the settings to change, of: %s", strings.Join(updatableFields, ", "))
	}
	in := u.Namespace
	next := cur
	for _, f := range u.Fields {
		set, ok := updatable[f]
		if !ok {
			return meta.Namespace{}, errs.Invalid("update_mask", "%q cannot be updated; updatable fields: %s", f, strings.Join(updatableFields, ", "))
		}
		set(&next, in)
	}
	next = next.WithDefaults(n.meta.Defaults())
	next.Name = cur.Name
	next.Resolver = cur.Resolver // resolvers change only through ActivateResolver and ClearResolver
	if slices.Contains(u.Fields, "dw") {
		if err := checkBufferedDW(next, in.DW); err != nil {
			return meta.Namespace{}, err
		}
	}
	if err := n.checkRateCaps(next, cur); err != nil {
		return meta.Namespace{}, err
	}
	return n.meta.Update(next)
}

// checkBufferedDW refuses a dw given explicitly for a namespace that is
// buffered: its replicas acknowledge writes from the write-ahead log
// buffer, so there is no durable acknowledgement to wait for. The dw a
// buffered namespace keeps (filled from the defaults, or from when it was
// sync) has no effect until it is made sync again.
func checkBufferedDW(ns meta.Namespace, dw uint32) error {
	if dw == 0 || ns.Durability != meta.DurabilityBuffered {
		return nil
	}
	return errs.Invalid("dw", "namespace %q is buffered: its replicas acknowledge writes before they reach disk, so there is no durable acknowledgement to wait for; leave dw out, or make the namespace sync (durability sync)", ns.Name)
}
