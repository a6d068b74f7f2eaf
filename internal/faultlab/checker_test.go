package faultlab_test

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	concord "github.com/concord-kv/concord/sdk/go"
)

// finalRead is what one node answered for one key with R=N.
type finalRead struct {
	siblings [][]byte
	err      error
}

// reads are every node's final reads: node name → key → answer.
type reads map[string]map[string]finalRead

// readAll reads every key from every node with r=3 (every replica),
// concurrently per node.
func (l *lab) readAll(keys []string) reads {
	out := reads{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range l.nodes {
		wg.Go(func() {
			got := make(map[string]finalRead, len(keys))
			for _, k := range keys {
				ctx, cancel := context.WithTimeout(l.t.Context(), 5*time.Second)
				obj, err := n.kv.Get(ctx, []byte(k), concord.R(3))
				cancel()
				if err != nil {
					got[k] = finalRead{err: err}
					continue
				}
				got[k] = finalRead{siblings: obj.Values()}
			}
			mu.Lock()
			out[n.name] = got
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// lostWrite is an acknowledged write missing from final reads.
type lostWrite struct {
	op     op
	nodes  []string // whose reads lack it
	window string   // the fault active when it was acknowledged
	since  []string // the faults injected after it was acknowledged
	read   finalRead
}

// verdict is the checker's result over one history.
type verdict struct {
	lost       []lostWrite
	unreadable []string // "node key: error" of final reads that failed
	unexpected []string // values no client ever wrote
	maxSetSibs int      // most siblings of a set key in any final read
	// maxSetExcess is the most siblings of a set key in any final read
	// beyond the set writes of the key that failed after being sent (or
	// were cut short): each of those may have landed unseen by its writer's
	// next read, and so stand as a sibling of its own.
	maxSetExcess int
	maxSetKey    string
	maxBlindSib  int
}

func (v verdict) clean() bool {
	return len(v.lost) == 0 && len(v.unreadable) == 0 && len(v.unexpected) == 0
}

// check holds the history against the final reads: every acknowledged
// set element must be in the union of the key's siblings, and every
// acknowledged blind value must be a sibling, in every node's read; no read
// may hold a value that no client attempted.
func check(ops []op, windows []window, final reads) verdict {
	var v verdict
	attempted := map[string]map[string]bool{} // key → values attempted
	ambiguous := map[string]int{}             // key → writes that may have landed unacknowledged
	for _, o := range ops {
		if attempted[o.Key] == nil {
			attempted[o.Key] = map[string]bool{}
		}
		attempted[o.Key][o.Value] = true
		if !o.Acked && (o.Failed == "write" || o.Cut) {
			ambiguous[o.Key]++
		}
	}
	nodes := slices.Sorted(maps.Keys(final))
	for _, node := range nodes {
		for _, key := range slices.Sorted(maps.Keys(final[node])) {
			r := final[node][key]
			if r.err != nil {
				v.unreadable = append(v.unreadable, fmt.Sprintf("%s %s: %v", node, key, r.err))
				continue
			}
			for _, val := range present(key, r.siblings) {
				if !attempted[key][val] {
					v.unexpected = append(v.unexpected, fmt.Sprintf("%s %s: %q", node, key, val))
				}
			}
			if strings.HasPrefix(key, "set-") && len(r.siblings)-ambiguous[key] > v.maxSetExcess {
				v.maxSetExcess = len(r.siblings) - ambiguous[key]
			}
			if strings.HasPrefix(key, "set-") && len(r.siblings) > v.maxSetSibs {
				v.maxSetSibs, v.maxSetKey = len(r.siblings), key
			}
			if strings.HasPrefix(key, "blind-") {
				v.maxBlindSib = max(v.maxBlindSib, len(r.siblings))
			}
		}
	}
	for _, o := range ops {
		if !o.Acked {
			continue
		}
		var lw *lostWrite
		for _, node := range nodes {
			r := final[node][o.Key]
			if r.err != nil || slices.Contains(present(o.Key, r.siblings), o.Value) {
				continue
			}
			if lw == nil {
				lw = &lostWrite{op: o, window: windowName(windowAt(windows, o.End)), read: r}
				for _, w := range windows {
					if w.End.After(o.End) {
						lw.since = append(lw.since, windowName(&w))
					}
				}
			}
			lw.nodes = append(lw.nodes, node)
		}
		if lw != nil {
			v.lost = append(v.lost, *lw)
		}
	}
	return v
}

// present lists the values a read holds: a set key's elements, a blind
// key's siblings.
func present(key string, siblings [][]byte) []string {
	if strings.HasPrefix(key, "set-") {
		return slices.Collect(maps.Keys(elements(siblings)))
	}
	out := make([]string, len(siblings))
	for i, s := range siblings {
		out[i] = string(s)
	}
	return out
}

func windowName(w *window) string {
	if w == nil {
		return quiet
	}
	return fmt.Sprintf("%s %s [%s–%s]", w.Kind, w.Detail, w.Start.Format("15:04:05.000"), w.End.Format("15:04:05.000"))
}

// keysOf lists every key the history touched.
func keysOf(ops []op) []string {
	set := map[string]bool{}
	for _, o := range ops {
		set[o.Key] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// describe is the report of a lost write: what, when, through whom, the
// faults since, and what a node read instead.
func (lw lostWrite) describe() string {
	o := lw.op
	return fmt.Sprintf("LOST %s key=%s value=%s client=%d via=%s started=%s acked=%s during %s; faults since: %s; missing on %s, whose read has %d siblings: %s",
		o.Kind, o.Key, o.Value, o.Client, o.Node, o.Start.Format("15:04:05.000"), o.End.Format("15:04:05.000"),
		lw.window, strings.Join(lw.since, ", "), strings.Join(lw.nodes, ","), len(lw.read.siblings), abbreviate(lw.read.siblings))
}

func abbreviate(siblings [][]byte) string {
	parts := make([]string, len(siblings))
	for i, s := range siblings {
		if len(s) > 60 {
			s = append(s[:60:60], "…"...)
		}
		parts[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// kindStats are the counts of one fault kind (or none).
type kindStats struct {
	ops, acked, failed, lost int
	codes                    map[string]int
}

// summary is the report table: per fault kind the operations that started
// under it, how many were acknowledged, failed (and with which codes) and
// lost (by acknowledgement time).
func summary(ops []op, windows []window, v verdict, writers int, converged time.Duration) string {
	stats := map[string]*kindStats{}
	get := func(kind string) *kindStats {
		if stats[kind] == nil {
			stats[kind] = &kindStats{codes: map[string]int{}}
		}
		return stats[kind]
	}
	kindAt := func(t time.Time) string {
		if w := windowAt(windows, t); w != nil {
			return w.Kind
		}
		return quiet
	}
	for _, o := range ops {
		if o.Cut {
			continue
		}
		s := get(kindAt(o.Start))
		s.ops++
		if o.Acked {
			s.acked++
		} else {
			s.failed++
			s.codes[o.Failed+":"+o.Code]++
		}
	}
	for _, lw := range v.lost {
		get(kindAt(lw.op.Start)).lost++
	}
	injected := map[string]int{}
	settle := map[string]time.Duration{} // the longest, per kind
	for _, w := range windows {
		injected[w.Kind]++
		settle[w.Kind] = max(settle[w.Kind], w.Settle)
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FAULT\tINJECTED\tOPS\tACKED\tFAILED\tLOST\tAVAILABILITY\tSETTLED (MAX)\tFAILURES")
	for _, kind := range append([]string{quiet}, faultKinds...) {
		s := stats[kind]
		if s == nil {
			continue
		}
		codes := slices.SortedFunc(maps.Keys(s.codes), func(a, b string) int { return cmp.Compare(s.codes[b], s.codes[a]) })
		var cs []string
		for _, c := range codes {
			cs = append(cs, fmt.Sprintf("%s %d", c, s.codes[c]))
		}
		settled := "-"
		if injected[kind] > 0 {
			settled = fmt.Sprintf("%.1fs", settle[kind].Seconds())
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.1f%%\t%s\t%s\n", kind, injected[kind], s.ops, s.acked, s.failed, s.lost,
			100*float64(s.acked)/float64(max(s.ops, 1)), settled, strings.Join(cs, ", "))
	}
	_ = tw.Flush()
	fmt.Fprintf(&b, "set keys: max siblings %d (key %s), most beyond the key's failed writes %d, writers %d, bound %d; blind keys: max siblings %d\n",
		v.maxSetSibs, v.maxSetKey, v.maxSetExcess, writers, writers+1, v.maxBlindSib)
	conv := "never (see the errors)"
	if converged >= 0 {
		conv = fmt.Sprintf("%.1fs", converged.Seconds())
	}
	fmt.Fprintf(&b, "acknowledged writes lost: %d; time to convergence after heal: %s\n", len(v.lost), conv)
	return b.String()
}

// saveReport writes the findings to the log directory: each lost write
// with the whole history of its key, the failed final reads and the
// values no client wrote.
func saveReport(dir string, ops []op, v verdict) error {
	var b strings.Builder
	byKey := map[string][]op{}
	for _, o := range ops {
		byKey[o.Key] = append(byKey[o.Key], o)
	}
	for _, lw := range v.lost {
		fmt.Fprintln(&b, lw.describe())
		fmt.Fprintf(&b, "  history of %s (start, end, via, value, outcome):\n", lw.op.Key)
		for _, o := range byKey[lw.op.Key] {
			outcome := "acked"
			if !o.Acked {
				outcome = "failed " + o.Failed + ": " + o.Code
			}
			if o.Cut {
				outcome = "cut short"
			}
			fmt.Fprintf(&b, "    %s %s %s %s %s\n", o.Start.Format("15:04:05.000"), o.End.Format("15:04:05.000"), o.Node, o.Value, outcome)
		}
	}
	for _, u := range v.unreadable {
		fmt.Fprintln(&b, "UNREADABLE", u)
	}
	for _, u := range v.unexpected {
		fmt.Fprintln(&b, "UNEXPECTED", u)
	}
	return os.WriteFile(filepath.Join(dir, "findings.txt"), []byte(b.String()), 0o644)
}
