package membership

import (
	"github.com/hashicorp/memberlist"
)

// delegate is memberlist's view of a Membership: node meta, user messages
// (document broadcasts, announcements, leave notices) and push/pull state
// (the whole document set). memberlist calls it from its own goroutines,
// sometimes with its node lock held, so no method blocks or calls back into
// memberlist.
type delegate struct{ m *Membership }

// eventDelegate receives memberlist's join, leave and update notifications.
type eventDelegate delegate

var (
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.EventDelegate = (*eventDelegate)(nil)
)

func (d *delegate) NodeMeta(limit int) []byte {
	m := d.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.meta) > limit { // cannot happen: validated against MaxMetaSize
		return nil
	}
	return append([]byte(nil), m.meta...)
}

func (d *delegate) NotifyMsg(b []byte) {
	if len(b) == 0 {
		return
	}
	m := d.m
	r := reader{buf: b[1:]}
	switch b[0] {
	case msgDoc:
		doc := r.doc()
		if r.err != nil {
			m.log.Warn("membership: bad document message", "err", r.err)
			return
		}
		m.merge(doc)
	case msgAnnounce:
		a := r.announce()
		if r.err != nil {
			m.log.Warn("membership: bad announcement", "err", r.err)
			return
		}
		m.handleAnnounce(a)
	case msgWant:
		name, from := r.string(), r.string()
		if r.err != nil {
			m.log.Warn("membership: bad document request", "err", r.err)
			return
		}
		m.handleWant(name, from)
	case msgLeave:
		id := r.string()
		if r.err != nil {
			m.log.Warn("membership: bad leave notice", "err", r.err)
			return
		}
		m.handleLeave(id, true)
	default:
		m.log.Debug("membership: ignoring unknown message type", "type", b[0])
	}
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.m.queue.GetBroadcasts(overhead, limit)
}

func (d *delegate) LocalState(bool) []byte {
	d.m.pushPulls.Add(1)
	return encodeState(d.m.localState())
}

func (d *delegate) MergeRemoteState(buf []byte, _ bool) {
	st, err := decodeState(buf)
	if err != nil {
		d.m.log.Warn("membership: bad remote state", "err", err)
		return
	}
	for _, doc := range st.docs {
		d.m.merge(doc)
	}
	for _, id := range st.left {
		d.m.handleLeave(id, false)
	}
}

func (e *eventDelegate) NotifyJoin(n *memberlist.Node) {
	e.m.memberChanged(n, EventJoined)
}

func (e *eventDelegate) NotifyUpdate(n *memberlist.Node) {
	e.m.memberChanged(n, EventUpdated)
}

func (e *eventDelegate) NotifyLeave(n *memberlist.Node) {
	e.m.memberChanged(n, EventLeft)
}
