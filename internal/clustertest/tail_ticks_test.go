package clustertest_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/node"
	"github.com/concord-kv/concord/engine/pace"
	"github.com/concord-kv/concord/internal/clustertest"
)

// tickLog samples, every pacer tick of a tail scenario's window, each
// node's pacer share and background counters, and logs them (-v) next to
// the foreground latency of the operations due in that tick: where in
// the window the tail comes from, and how the pacers answered.
type tickLog struct {
	nodes []*clustertest.Node
	start time.Time
	done  chan struct{}
	wg    sync.WaitGroup
	rows  []tickRow
}

type tickRow struct {
	at     time.Duration
	shares []float64
	stats  []node.Stats
}

func startTickLog(nodes []*clustertest.Node, start time.Time) *tickLog {
	t := &tickLog{nodes: nodes, start: start, done: make(chan struct{})}
	t.wg.Go(func() {
		tk := time.NewTicker(pace.TickInterval)
		defer tk.Stop()
		for {
			t.sample()
			select {
			case <-t.done:
				t.sample()
				return
			case <-tk.C:
			}
		}
	})
	return t
}

func (t *tickLog) sample() {
	row := tickRow{at: time.Since(t.start), stats: nodeStats(t.nodes)}
	for _, n := range t.nodes {
		share := 0.0
		if nn := n.Node(); nn != nil {
			share = nn.Background().Share
		}
		row.shares = append(row.shares, share)
	}
	t.rows = append(t.rows, row)
}

func (t *tickLog) stop() {
	close(t.done)
	t.wg.Wait()
}

// log writes one line per tick: the ops due in it, their p50, p99 and
// max in ms, each node's share, and each node's work done in the tick
// (hints delivered, keys repaired).
func (t *tickLog) log(b *testing.B, samples []tailSample) {
	for i := 1; i < len(t.rows); i++ {
		lo, hi := t.rows[i-1].at, t.rows[i].at
		var lat []time.Duration
		for _, s := range samples {
			if s.due >= lo && s.due < hi && !s.err {
				lat = append(lat, s.latency)
			}
		}
		slices.Sort(lat)
		q := func(f float64) float64 {
			if len(lat) == 0 {
				return 0
			}
			return float64(lat[min(len(lat)-1, int(f*float64(len(lat))))].Microseconds()) / 1000
		}
		var sh, work []string
		for j := range t.nodes {
			sh = append(sh, fmt.Sprintf("%.2f", t.rows[i].shares[j]))
			a, z := t.rows[i-1].stats[j], t.rows[i].stats[j]
			work = append(work, fmt.Sprintf("%d/%d", z.HintsDelivered-a.HintsDelivered, z.AAEKeysRepaired-a.AAEKeysRepaired))
		}
		b.Logf("tick %5.2fs ops %3d p50 %5.2f p99 %6.2f max %6.2f share %s hints/aae %s",
			hi.Seconds(), len(lat), q(0.5), q(0.99), q(1), strings.Join(sh, " "), strings.Join(work, " "))
	}
}
