package topology

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync"

	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/handoff"
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/ring"
)

// transition is the ring change in progress: the ring before the current
// one and the replica count transfers are planned for. Every node derives
// the same plan from it.
type transition struct {
	Epoch uint64 `json:"epoch"` // the current ring's epoch
	Prev  []byte `json:"prev"`  // the previous ring, encoded
	N     int    `json:"n"`     // the largest replica count: what a node must hold
	Ns    []int  `json:"ns"`    // every replica count in use: what transfers cover
}

// Transition returns the ring change in progress and its plan, if the node
// knows the ring it leads to: the previous and current rings, the
// transfers, and the replica count a node must hold (nrep).
func (t *Topology) Transition() (prev, cur ring.Ring, plan []handoff.Transfer, nrep int, ok bool) {
	cur, ok = t.Ring()
	if !ok {
		return
	}
	d, found := t.doc(docTransition)
	if !found {
		return prev, cur, nil, 0, false
	}
	c := t.transitionOf(d, cur)
	return c.prev, cur, slices.Clone(c.plan), c.nrep, c.ok
}

// planned is a transition document decoded and planned, for one version of
// the document and one ring epoch: decoding it and planning every
// partition's transfers is too costly to repeat on every read and every
// anti-entropy round (Handoffs, Receiving).
type planned struct {
	version, epoch uint64
	prev           ring.Ring
	plan           []handoff.Transfer
	nrep           int
	ok             bool
	// done is the progress of every transfer once all of them are done: a
	// transfer done stays done for the epoch.
	done []handoff.Progress
}

// transitionOf returns transition document d decoded and planned against
// ring cur, from the cache when it holds this version and epoch.
func (t *Topology) transitionOf(d membership.Doc, cur ring.Ring) *planned {
	if c := t.planned.Load(); c != nil && c.version == d.Version && c.epoch == cur.Epoch() {
		return c
	}
	c := &planned{version: d.Version, epoch: cur.Epoch()}
	var tr transition
	if json.Unmarshal(d.Data, &tr) == nil && tr.Epoch == cur.Epoch() && c.prev.UnmarshalBinary(tr.Prev) == nil {
		if len(tr.Ns) == 0 {
			tr.Ns = []int{tr.N}
		}
		c.plan, c.nrep, c.ok = handoff.PlanAll(c.prev, cur, tr.Ns), tr.N, true
	} else {
		c.prev = ring.Ring{}
	}
	t.planned.Store(c)
	return c
}

// ringBehind reports whether this node knows of a ring change it has not
// received the ring of yet.
func (t *Topology) ringBehind() bool {
	cur, _ := t.Ring()
	d, ok := t.doc(docTransition)
	return ok && d.Version > cur.Epoch()
}

// Handoffs reports the transfers of the current ring change with the
// progress their receivers published, and whether all are done.
func (t *Topology) Handoffs() (epoch uint64, progress []handoff.Progress, complete bool) {
	cur, hasRing := t.Ring()
	if t.ringBehind() {
		return cur.Epoch(), nil, false // a newer ring is on its way: not done
	}
	if !hasRing {
		return cur.Epoch(), nil, true
	}
	d, found := t.doc(docTransition)
	if !found {
		return cur.Epoch(), nil, true
	}
	c := t.transitionOf(d, cur)
	if !c.ok {
		return cur.Epoch(), nil, true
	}
	plan := c.plan // read only
	if c.done != nil {
		return cur.Epoch(), slices.Clone(c.done), true
	}
	reports := map[string]handoff.Report{}
	for _, d := range t.docsWithPrefix(docHandoff) {
		if r, ok := t.reports.decode(d); ok && r.Epoch == cur.Epoch() {
			reports[d.Name[len(docHandoff):]] = r
		}
	}
	complete = true
	for _, tr := range plan {
		p := handoff.Progress{Partition: tr.Partition, From: tr.From, To: tr.To}
		for _, got := range reports[tr.To].Transfers {
			if got.Partition == tr.Partition {
				p = got
				p.Cursor = nil
			}
		}
		complete = complete && p.Done
		progress = append(progress, p)
	}
	if complete && len(progress) > 0 {
		done := *c
		done.done = slices.Clone(progress)
		t.planned.CompareAndSwap(c, &done)
	}
	return cur.Epoch(), progress, complete
}

// Receiving reports whether this node is still fetching a partition in a
// ring change (its copy may be incomplete).
func (t *Topology) Receiving(p uint16) bool {
	_, progress, complete := t.Handoffs()
	if complete {
		return false
	}
	for _, pr := range progress {
		if pr.Partition == int(p) && pr.To == t.cfg.Self && !pr.Done {
			return true
		}
	}
	return false
}

// PublishReport spreads this node's handoff progress.
func (t *Topology) PublishReport(rep handoff.Report) error {
	return t.publishNext(docHandoff+t.cfg.Self, rep)
}

func (t *Topology) doc(name string) (membership.Doc, bool) {
	if g := t.members(); g != nil {
		return g.Doc(name)
	}
	return membership.Doc{}, false
}

func (t *Topology) docsWithPrefix(prefix string) []membership.Doc {
	g := t.members()
	if g == nil {
		return nil
	}
	var out []membership.Doc
	for _, d := range g.Docs() {
		if hasPrefix(d.Name, prefix) {
			out = append(out, d)
		}
	}
	return out
}

// publishNext publishes v as the next version of a document.
func (t *Topology) publishNext(name string, v any) error {
	if t.members() == nil {
		return errs.Precondition("this node runs without a cluster")
	}
	cur, _ := t.doc(name)
	return t.publish(name, cur.Version+1, v)
}

func (t *Topology) publish(name string, version uint64, v any) error {
	g := t.members()
	if g == nil {
		return errs.Precondition("this node runs without a cluster")
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return g.Publish(membership.Doc{Name: name, Version: version, Data: raw})
}

// reportCache keeps each receiver's handoff report decoded, by document
// name. Handoffs runs on every anti-entropy round, purge check and
// listing, and during a ring change decoding every receiver's report
// (JSON, a line per partition) each time was about a tenth of a node's
// CPU, beside its clients' requests.
type reportCache struct {
	mu     sync.Mutex
	byName map[string]cachedReport
}

type cachedReport struct {
	data   []byte // the document's data the report was decoded from
	report handoff.Report
	ok     bool // the data decoded
}

// decode returns the report a handoff document holds. The report is
// shared: its callers only read it.
func (c *reportCache) decode(d membership.Doc) (handoff.Report, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, hit := c.byName[d.Name]; hit && bytes.Equal(e.data, d.Data) {
		return e.report, e.ok
	}
	var r handoff.Report
	ok := json.Unmarshal(d.Data, &r) == nil
	if c.byName == nil {
		c.byName = map[string]cachedReport{}
	}
	c.byName[d.Name] = cachedReport{data: bytes.Clone(d.Data), report: r, ok: ok}
	return r, ok
}
