package faultlab_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/concord-kv/concord/internal/wait"
)

// labNodes are the lab's hosts: five nodes, N=3.
var labNodes = []string{"a", "b", "c", "d", "e"}

// TestFaultLab runs five processes in their own network namespaces, both
// workloads throughout, and a schedule of faults — a 2|3 partition, an
// isolated node, kill -9 and restart, SIGSTOP/SIGCONT, leave and rejoin,
// and a whole-cluster kill -9 and cold restart. Then everything is healed
// and the checker reads every key from every node.
//
// By default (CI) the schedule is every fault kind once, held 10s each.
// With FAULTLAB_CYCLES=N (make soak: 20) it is the soak: N cycles, every
// kind once in random order and then random kinds, held 15s each.
func TestFaultLab(t *testing.T) {
	requireLab(t)
	cycles, _ := strconv.Atoi(os.Getenv("FAULTLAB_CYCLES"))
	if cycles <= 0 {
		runLab(t, seed(t), faultKinds, 10*time.Second, 3*time.Second)
		return
	}
	sd := seed(t)
	rng := rand.New(rand.NewPCG(sd, 1))
	kinds := slices.Clone(faultKinds)
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	for len(kinds) < cycles {
		kinds = append(kinds, faultKinds[rng.IntN(len(faultKinds))])
	}
	runLab(t, sd, kinds, 15*time.Second, 5*time.Second)
}

// seed is $FAULTLAB_SEED or a new one; it is logged so a run can be
// repeated (the faults' targets and order; timing is the machine's).
func seed(t *testing.T) uint64 {
	s, err := strconv.ParseUint(os.Getenv("FAULTLAB_SEED"), 10, 64)
	if err != nil {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("FAULTLAB_SEED=%d", s)
	return s
}

// runLab starts the lab and the workload, injects the faults in order,
// heals, waits for the cluster to settle, and checks the history against
// final reads from every node, retrying the reads (anti-entropy and read
// repair at work) for up to a minute before it reports what is missing.
func runLab(t *testing.T, seed uint64, kinds []string, hold, rest time.Duration) {
	rng := rand.New(rand.NewPCG(seed, 2))
	l := startLab(t, labNodes)
	w := defaultWorkload()
	stop := w.run(t.Context(), l.nodes)
	defer stop() // also when the schedule fails the test
	s := &schedule{lab: l, work: w, rng: rng, hold: hold, quiet: rest}
	s.rest()
	for _, kind := range kinds {
		s.inject(kind)
	}
	stop()
	ops := w.hist.all()
	if err := w.hist.save(filepath.Join(l.logDir, "history.jsonl")); err != nil {
		t.Errorf("save the history: %v", err)
	}

	healed := time.Now()
	l.healAll()
	settle := l.waitSettled(3 * time.Minute)
	keys := keysOf(ops)
	var (
		v      verdict
		passes int
		pass   time.Time // when the last pass of final reads started
	)
	err := wait.Within(t.Context(), time.Minute, throttled(time.Second, func() bool {
		passes++
		pass = time.Now()
		v = check(ops, s.windows, l.readAll(keys))
		return v.clean()
	}))
	// Converged by the time the first clean pass started to read.
	converged := pass.Sub(healed)
	reads := fmt.Sprintf("final reads clean from pass %d (a pass takes %.1fs)", passes, time.Since(pass).Seconds())
	if err != nil {
		reads = fmt.Sprintf("final reads still wrong after %d passes (%v)", passes, time.Since(healed).Round(time.Second))
		converged = -1
	}
	t.Logf("%d operations on %d keys; settled %.1fs after heal, %s\n%s",
		len(ops), len(keys), settle.Seconds(), reads, summary(ops, s.windows, v, w.setWriters, converged))
	if err := saveReport(l.logDir, ops, v); err != nil {
		t.Errorf("save the findings: %v", err)
	}
	const show = 40
	for i, lw := range v.lost {
		if i == show {
			t.Errorf("… and %d more lost writes: see findings.txt", len(v.lost)-show)
			break
		}
		t.Error(lw.describe())
	}
	for i, u := range v.unreadable {
		if i == show {
			t.Errorf("… and %d more unreadable keys", len(v.unreadable)-show)
			break
		}
		t.Errorf("final read with r=3 failed after %v: %s", converged.Round(time.Second), u)
	}
	for _, u := range v.unexpected {
		t.Errorf("a value no client wrote: %s", u)
	}
	// A set key's siblings are its writers' latest writes, one more, and
	// writes that failed after they were sent (they may have landed where
	// the writer's next read did not look).
	if v.maxSetExcess > w.setWriters+1 {
		t.Errorf("a set key has %d siblings beyond its failed writes, more than the %d writers + 1 (most siblings: %d, key %s)",
			v.maxSetExcess, w.setWriters, v.maxSetSibs, v.maxSetKey)
	}
}
