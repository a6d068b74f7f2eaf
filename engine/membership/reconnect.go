package membership

import (
	"math/rand/v2"
	"time"
)

// reconnectLoop periodically tries to join one random dead member, as serf
// does. memberlist gossips to dead members only for GossipToTheDeadTime and
// push/pulls only with alive ones, so without this two sides of a healed
// partition that both declared the other dead would never merge again.
// Members that left are not retried.
func (m *Membership) reconnectLoop() {
	defer m.wg.Done()
	ticker := time.NewTicker(m.cfg.ReconnectInterval)
	defer ticker.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-ticker.C:
		}
		target, ok := m.pickDead()
		if !ok {
			continue
		}
		if _, err := m.ml.Join([]string{target}); err != nil {
			m.log.Debug("membership: reconnect failed", "target", target, "err", err)
		} else {
			m.log.Info("membership: reconnected", "target", target)
		}
	}
}

// pickDead returns "id/addr" of a random dead member.
func (m *Membership) pickDead() (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.left {
		return "", false
	}
	var dead []string
	for _, mem := range m.members {
		if mem.State == Dead && mem.ID != m.cfg.NodeID {
			dead = append(dead, mem.ID+"/"+mem.Addr)
		}
	}
	if len(dead) == 0 {
		return "", false
	}
	return dead[rand.IntN(len(dead))], true
}
