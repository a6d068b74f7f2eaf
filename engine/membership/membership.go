package membership

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Membership is this node's membership in a gossip cluster and its replica
// of the cluster-metadata documents. Create it with [New]; it is safe for
// concurrent use by multiple goroutines.
type Membership struct {
	cfg    Config
	log    *slog.Logger
	ml     *memberlist.Memberlist // set once New has created it
	queue  *memberlist.TransmitLimitedQueue
	inline int // the largest document message broadcast whole

	events   *eventQueue
	notifier *docNotifier
	stop     chan struct{} // closed by Close
	wg       sync.WaitGroup
	alive    atomic.Int64 // alive members including this node

	pushPulls atomic.Int64 // push/pull states this node sent (tests)

	mu      sync.Mutex // guards what follows; never held while calling memberlist
	meta    []byte
	members map[string]*Member
	leaving map[string]bool // members that announced they are leaving
	docs    map[string]docEntry
	pulls   map[string]pullKey // documents being pulled, by name
	started bool               // ml is set
	left    bool
	closed  bool
}

// docRetransmitFactor multiplies memberlist's RetransmitMult for this
// package's broadcasts. memberlist counts one transmit per packet, so with
// DefaultLocalConfig a message goes out only twice per node; documents and
// leave notices are rare and worth a few more packets to reach everyone
// before the next push/pull.
const docRetransmitFactor = 2

// pullKey is the version of a document a pull was started for.
type pullKey struct {
	version uint64
	sum     [32]byte
	at      time.Time // when it was asked for
}

// pullRetry is how long an announcement of a version already asked for
// is ignored: after it, the request or its answer is taken as lost and the
// next announcement asks again.
const pullRetry = 5 * time.Second

// New validates cfg, starts memberlist's listeners and gossip loops, and
// returns the running node. It does not contact any other node: call
// [Membership.Join] for that. Close releases everything New started.
func New(cfg Config) (*Membership, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	meta, err := cfg.Meta.MarshalBinary()
	if err != nil {
		return nil, err
	}
	m := &Membership{
		cfg:     cfg,
		log:     cfg.Logger,
		events:  newEventQueue(cfg.EventBuffer),
		stop:    make(chan struct{}),
		meta:    meta,
		members: make(map[string]*Member),
		leaving: make(map[string]bool),
		docs:    make(map[string]docEntry),
		pulls:   make(map[string]pullKey),
	}
	for _, d := range cfg.Docs {
		e := docEntry{doc: d.clone(), sum: d.Sum()}
		if cur, ok := m.docs[d.Name]; !ok || supersedes(e.doc.Version, e.sum, cur.doc.Version, cur.sum) {
			m.docs[d.Name] = e
		}
	}
	mc := cfg.memberlistConfig(&delegate{m: m})
	m.queue = &memberlist.TransmitLimitedQueue{
		NumNodes:       func() int { return int(m.alive.Load()) },
		RetransmitMult: docRetransmitFactor * mc.RetransmitMult,
	}
	m.inline = mc.UDPBufferSize - inlineMargin
	m.notifier = newDocNotifier(cfg.OnDoc)

	ml, err := memberlist.Create(mc)
	if err != nil {
		m.notifier.close()
		m.events.close()
		return nil, fmt.Errorf("membership: start memberlist: %w", err)
	}
	m.mu.Lock()
	m.ml = ml
	m.started = true
	m.mu.Unlock()
	if cfg.ReconnectInterval > 0 {
		m.wg.Add(1)
		go m.reconnectLoop()
	}
	return m, nil
}

// LocalID returns this node's ID.
func (m *Membership) LocalID() string { return m.cfg.NodeID }

// Addr returns the gossip address ("host:port") other nodes use to reach
// this node: the advertised address, which is the bound one unless
// Config.AdvertiseAddr says otherwise. With BindPort 0 it carries the port
// the kernel picked.
func (m *Membership) Addr() string { return m.ml.LocalNode().Address() }

// Join contacts the given seeds ("host:port") and exchanges full state
// (members and documents) with each. It returns how many seeds answered;
// the error is nil if at least one did. If ctx ends first, Join returns
// ctx.Err() while the attempt finishes in the background (bounded by
// memberlist's TCP timeout).
func (m *Membership) Join(ctx context.Context, seeds []string) (int, error) {
	if err := m.track(); err != nil {
		return 0, err
	}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer m.wg.Done()
		n, err := m.ml.Join(seeds)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return r.n, fmt.Errorf("membership: join: %w", r.err)
		}
		return r.n, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// track registers a background goroutine, unless the node is closed.
func (m *Membership) track() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.wg.Add(1)
	return nil
}

// Members returns every member this node has heard of, dead and left ones
// included, sorted by ID.
func (m *Membership) Members() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Member, 0, len(m.members))
	for _, mem := range m.members {
		out = append(out, *mem)
	}
	slices.SortFunc(out, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Member returns the member with the given ID.
func (m *Membership) Member(id string) (Member, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mem, ok := m.members[id]
	if !ok {
		return Member{}, false
	}
	return *mem, true
}

// Alive reports whether the member with the given ID is known and alive.
func (m *Membership) Alive(id string) bool {
	mem, ok := m.Member(id)
	return ok && mem.State == Alive
}

// Events returns the channel of membership changes, this node's own join
// included. The channel is buffered (Config.EventBuffer) and never blocks
// memberlist: when it is full the oldest event is dropped, so a slow reader
// should treat [Membership.Members] as the truth. It is closed by Close.
func (m *Membership) Events() <-chan Event { return m.events.ch }

// UpdateMeta replaces this node's metadata and gossips it. It waits up to
// Config.BroadcastTimeout for the update to be broadcast; if that runs out
// the update still spreads (by push/pull), so it is not an error.
func (m *Membership) UpdateMeta(meta Meta) error {
	b, err := meta.MarshalBinary()
	if err != nil {
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	m.meta = b
	m.mu.Unlock()
	if err := m.ml.UpdateNode(m.cfg.BroadcastTimeout); err != nil {
		m.log.Debug("membership: meta update not yet fully broadcast", "err", err)
	}
	return nil
}

// Leave tells the cluster this node is leaving for good, so that the others
// record it as [Left] rather than [Dead] and stop trying to reconnect. It
// waits for the notice to be broadcast, until ctx's deadline or
// Config.BroadcastTimeout. The node keeps answering gossip until Close.
func (m *Membership) Leave(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	if m.left {
		m.mu.Unlock()
		return nil
	}
	m.left = true
	m.mu.Unlock()

	deadline := time.Now().Add(m.cfg.BroadcastTimeout)
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	if m.alive.Load() > 1 {
		notify := make(chan struct{}, 1)
		id := m.cfg.NodeID
		m.queue.QueueBroadcast(&broadcast{name: "leave/" + id, msg: encodeLeave(id), notify: notify})
		timer := time.NewTimer(time.Until(deadline))
		select {
		case <-notify:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
		timer.Stop()
	}
	timeout := time.Until(deadline)
	if timeout <= 0 {
		timeout = time.Millisecond // memberlist reads 0 as "wait forever"
	}
	if err := m.ml.Leave(timeout); err != nil {
		return fmt.Errorf("membership: leave: %w", err)
	}
	return nil
}

// Close stops gossiping without a leave notice (the others will see this
// node fail), waits for this package's goroutines, delivers pending OnDoc
// calls and closes the Events channel. It is idempotent.
func (m *Membership) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.stop)
	m.mu.Unlock()

	err := m.ml.Shutdown()
	m.wg.Wait()
	m.notifier.close()
	m.events.close()
	if err != nil {
		return fmt.Errorf("membership: shutdown: %w", err)
	}
	return nil
}

// Publish offers a document. If it supersedes the local copy it is stored,
// handed to OnDoc and broadcast to the cluster; publishing the document
// already held is a no-op. If the local copy wins, Publish returns an error
// wrapping [ErrStaleDoc] (with equal versions, the digest decides: see
// [Doc]). d.Data is copied.
func (m *Membership) Publish(d Doc) error {
	if err := d.validate(); err != nil {
		return err
	}
	sum := d.Sum()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if cur, ok := m.docs[d.Name]; ok {
		if cur.doc.Version == d.Version && cur.sum == sum {
			return nil
		}
		if !supersedes(d.Version, sum, cur.doc.Version, cur.sum) {
			return fmt.Errorf("%w: %q is at version %d", ErrStaleDoc, d.Name, cur.doc.Version)
		}
	}
	m.acceptLocked(docEntry{doc: d.clone(), sum: sum})
	return nil
}

// Doc returns this node's copy of the named document.
func (m *Membership) Doc(name string) (Doc, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.docs[name]
	if !ok {
		return Doc{}, false
	}
	return e.doc.clone(), true
}

// Docs returns this node's copy of every document, sorted by name.
func (m *Membership) Docs() []Doc {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Doc, 0, len(m.docs))
	for _, e := range m.docs {
		out = append(out, e.doc.clone())
	}
	slices.SortFunc(out, func(a, b Doc) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// merge accepts a document received from another node if it supersedes the
// local copy. d must not be shared with the caller.
func (m *Membership) merge(d Doc) {
	if err := d.validate(); err != nil {
		m.log.Warn("membership: dropping invalid document", "err", err)
		return
	}
	sum := d.Sum()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	if p, ok := m.pulls[d.Name]; ok && !supersedes(p.version, p.sum, d.Version, sum) {
		delete(m.pulls, d.Name) // what was pulled, or newer, has come
	}
	if cur, ok := m.docs[d.Name]; ok && !supersedes(d.Version, sum, cur.doc.Version, cur.sum) {
		return
	}
	m.acceptLocked(docEntry{doc: d, sum: sum})
}

// acceptLocked stores a winning document, queues it for OnDoc and
// broadcasts it: whole if it fits in a gossip packet, otherwise as an
// announcement that makes the others pull it over TCP.
func (m *Membership) acceptLocked(e docEntry) {
	m.docs[e.doc.Name] = e
	m.notifier.push(e.doc)
	m.log.Debug("membership: accepted document", "name", e.doc.Name, "version", e.doc.Version)
	msg := encodeDocMsg(e.doc)
	if len(msg) > m.inline {
		msg = encodeAnnounce(announce{name: e.doc.Name, version: e.doc.Version, sum: e.sum, holder: m.cfg.NodeID})
	}
	m.queue.QueueBroadcast(&broadcast{name: "doc/" + e.doc.Name, msg: msg})
}

// handleAnnounce starts pulling a document too large to broadcast from the
// node that announced it, unless it is not newer or already being pulled.
// The pull asks that node for the one document over TCP (msgWant), and it
// answers with the document as a TCP user message (handleWant): not a
// memberlist push/pull, which would carry the whole document set both
// ways for each announcement (a handoff's progress reports make one every
// half second). A request lost, or one the holder does not answer (a node
// from before msgWant), is asked again at an announcement after pullRetry,
// and made up for by the periodic push/pull.
func (m *Membership) handleAnnounce(a announce) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || !m.started || a.holder == m.cfg.NodeID {
		return
	}
	if cur, ok := m.docs[a.name]; ok && !supersedes(a.version, a.sum, cur.doc.Version, cur.sum) {
		return
	}
	if p, ok := m.pulls[a.name]; ok && !supersedes(a.version, a.sum, p.version, p.sum) && time.Since(p.at) < pullRetry {
		return
	}
	holder, ok := m.members[a.holder]
	if !ok || holder.State != Alive {
		return // a later announcement or push/pull will bring it
	}
	key := pullKey{version: a.version, sum: a.sum, at: time.Now()}
	m.pulls[a.name] = key
	m.wg.Add(1)
	go func() { // NotifyMsg's goroutine must not call back into memberlist
		defer m.wg.Done()
		if err := m.sendTo(holder.ID, encodeWant(a.name, m.cfg.NodeID)); err != nil {
			m.log.Debug("membership: pulling document failed", "name", a.name, "from", a.holder, "err", err)
			m.mu.Lock()
			if m.pulls[a.name] == key {
				delete(m.pulls, a.name)
			}
			m.mu.Unlock()
		}
	}()
}

// handleWant answers a node's request for a document with the version
// this node holds, over TCP.
func (m *Membership) handleWant(name, from string) {
	m.mu.Lock()
	e, ok := m.docs[name]
	if m.closed || !m.started || !ok || from == m.cfg.NodeID {
		m.mu.Unlock()
		return
	}
	m.wg.Add(1)
	m.mu.Unlock()
	go func() { // NotifyMsg's goroutine must not call back into memberlist
		defer m.wg.Done()
		if err := m.sendTo(from, encodeDocMsg(e.doc)); err != nil {
			m.log.Debug("membership: sending a requested document failed", "name", name, "to", from, "err", err)
		}
	}()
}

// sendTo sends msg to member id as a memberlist user message over TCP.
func (m *Membership) sendTo(id string, msg []byte) error {
	for _, n := range m.ml.Members() {
		if n.Name == id {
			return m.ml.SendReliable(n, msg)
		}
	}
	return fmt.Errorf("membership: %s is not a member", id)
}

// handleLeave records that a member left or is leaving: from its leave
// notice (which is relayed once, like serf's intents, because memberlist
// retransmits a broadcast only a few times) or from a push/pull state that
// lists it as left (which only turns Dead into Left, so a stale list
// cannot mark a member that came back).
func (m *Membership) handleLeave(id string, notice bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || id == m.cfg.NodeID {
		return
	}
	mem, known := m.members[id]
	switch {
	case known && mem.State == Dead:
		mem.State = Left
		m.events.push(Event{Kind: EventLeft, Member: *mem})
	case !notice || m.leaving[id] || (known && mem.State == Left):
		return
	default:
		m.leaving[id] = true
	}
	if notice {
		m.queue.QueueBroadcast(&broadcast{name: "leave/" + id, msg: encodeLeave(id)})
	}
}

// localState is the push/pull state: every document and every left member.
func (m *Membership) localState() pushState {
	st := pushState{docs: m.Docs()}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, mem := range m.members {
		if mem.State == Left && mem.ID != m.cfg.NodeID {
			st.left = append(st.left, mem.ID)
		}
	}
	slices.Sort(st.left)
	return st
}

// memberChanged applies a memberlist notification to the member table.
func (m *Membership) memberChanged(n *memberlist.Node, kind EventKind) {
	var meta Meta
	if err := meta.UnmarshalBinary(n.Meta); err != nil {
		m.log.Warn("membership: bad node meta", "node", n.Name, "err", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	mem, ok := m.members[n.Name]
	if !ok {
		mem = &Member{ID: n.Name}
		m.members[n.Name] = mem
	}
	mem.Addr = n.Address()
	mem.Meta = meta
	switch kind {
	case EventJoined:
		mem.State = Alive
		delete(m.leaving, n.Name)
	case EventLeft:
		mem.State = Dead
		if m.leaving[n.Name] || (n.Name == m.cfg.NodeID && m.left) {
			mem.State = Left
			delete(m.leaving, n.Name)
		}
	}
	var alive int64
	for _, x := range m.members {
		if x.State == Alive {
			alive++
		}
	}
	m.alive.Store(alive)
	m.log.Debug("membership: member "+kind.String(), "node", n.Name, "state", mem.State)
	m.events.push(Event{Kind: kind, Member: *mem})
}
