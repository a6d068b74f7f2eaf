package handoff

import (
	"slices"
	"time"

	"github.com/concord-kv/concord/engine/ring"
)

// State is where a [Fetch] stands.
type State int

const (
	// Pending: not started in this run, or its last source failed. It
	// resumes from its cursor.
	Pending State = iota
	// Fetching: pulling batches from a source, after the cursor.
	Fetching
	// Done: the whole partition is here.
	Done
)

func (s State) String() string {
	return [...]string{"pending", "fetching", "done"}[s]
}

const (
	// RateWindow is how long a [Fetch] counts bytes before it updates the
	// rate.
	RateWindow = 500 * time.Millisecond
	// ReportEvery is the least time between two progress reports of one
	// pull (the first batch of a pull is always reported), and between
	// two reports of one receiving node (engine/node/transfer holds back
	// the rest until its round ends).
	ReportEvery = 500 * time.Millisecond
)

// Fetch is one transfer as its receiver runs it: pending, then fetching
// from one old replica after another until one sends the partition to its
// end, then done. Its [Progress] is what the receiver saves after every
// batch and publishes, and what it resumes from after a restart: the
// cursor is the storage key of the last object received.
//
// The receiver drives it with events: [Fetch.Start] when it opens a pull,
// [Fetch.Batch] for each batch, [Fetch.SourceFailed] when the pull breaks,
// [Fetch.Finished] when the source reached the end. The caller passes the
// time in; a Fetch never reads the clock. It is not safe for concurrent
// use.
type Fetch struct {
	p       Progress
	sources []string // old replicas not tried yet in this run, in order
	state   State

	window      time.Time // when the current rate window began
	windowBytes uint64    // bytes received in it
	lastReport  time.Time // zero before the first report of a pull
}

// Resume returns the fetch of tr from the progress its receiver saved (the
// zero Progress if none). old is the partition's preference list before
// the ring change: the planned source is tried first, then the other old
// replicas in order.
func Resume(tr Transfer, saved Progress, old []ring.NodeID) *Fetch {
	p := saved
	p.Partition, p.To = tr.Partition, tr.To
	if p.From == "" {
		p.From = tr.From
	}
	f := &Fetch{p: p, sources: []string{tr.From}}
	for _, id := range ids(old) {
		if id != tr.From && id != tr.To && !slices.Contains(f.sources, id) {
			f.sources = append(f.sources, id)
		}
	}
	if p.Done {
		f.state, f.sources = Done, nil
	}
	return f
}

// State returns where the fetch stands.
func (f *Fetch) State() State { return f.state }

// Progress returns the fetch's progress, cursor included (not to be
// modified).
func (f *Fetch) Progress() Progress { return f.p }

// Start picks the next source to pull from, passing over the ones alive
// says are down, and starts fetching from it at time now. It returns false
// when the fetch is done or no source is left in this run (each source is
// tried once per run).
func (f *Fetch) Start(alive func(string) bool, now time.Time) (string, bool) {
	if f.state != Pending {
		return "", false
	}
	for len(f.sources) > 0 {
		src := f.sources[0]
		f.sources = f.sources[1:]
		if alive(src) {
			f.state, f.p.From = Fetching, src
			f.window, f.windowBytes, f.lastReport = now, 0, time.Time{}
			return src, true
		}
	}
	return "", false
}

// Batch is one batch of a pull.
type Batch struct {
	Cursor    []byte // the storage key of its last object
	Keys      int    // objects in the batch
	Bytes     uint64 // their keys and encoded objects
	Remaining uint64 // bytes the source has left after it
}

// Batch records a batch received at time now, after its objects were
// stored. It reports whether to publish the progress now.
func (f *Fetch) Batch(b Batch, now time.Time) (report bool) {
	if f.state != Fetching {
		return false
	}
	f.p.Keys += uint64(b.Keys)
	f.p.Bytes += b.Bytes
	f.p.Cursor = slices.Clone(b.Cursor)
	f.p.RemainingBytes = b.Remaining
	f.windowBytes += b.Bytes
	if el := now.Sub(f.window); el >= RateWindow {
		f.p.Rate = float64(f.windowBytes) / el.Seconds()
		f.window, f.windowBytes = now, 0
	}
	if f.lastReport.IsZero() || now.Sub(f.lastReport) > ReportEvery {
		f.lastReport = now
		return true
	}
	return false
}

// SourceFailed records that the pull from the current source broke. The
// fetch is pending again, at its cursor, for the next source.
func (f *Fetch) SourceFailed() {
	if f.state == Fetching {
		f.state = Pending
	}
}

// Finished records that the source sent the last batch: the partition is
// here.
func (f *Fetch) Finished() {
	if f.state == Fetching {
		f.state = Done
		f.p.Done, f.p.RemainingBytes, f.p.Rate = true, 0, 0
	}
}

// Collect matches a ring change's plan with the reports its receivers
// published for it (by receiver, all of the change's epoch): the progress
// of every planned transfer, without cursors (not started when its
// receiver reported nothing of it), and whether every transfer is done.
// The old replicas drop what they gave up ([Drops]) only once complete.
func Collect(plan []Transfer, reports map[string]Report) (progress []Progress, complete bool) {
	complete = true
	for _, t := range plan {
		p := Progress{Partition: t.Partition, From: t.From, To: t.To}
		for _, got := range reports[t.To].Transfers {
			if got.Partition == t.Partition {
				p = got
				p.Cursor = nil
			}
		}
		complete = complete && p.Done
		progress = append(progress, p)
	}
	return progress, complete
}

// Drops lists, ascending, the partitions self replicated on prev and no
// longer does on cur ([Leaving]): it drops their data once every transfer
// of the change is done.
func Drops(prev, cur ring.Ring, n int, self string) []int {
	var out []int
	for p, leaving := range Leaving(prev, cur, n) {
		if slices.Contains(leaving, self) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
