package handoff_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/concord-kv/concord/engine/handoff"
	"github.com/concord-kv/concord/engine/ring"
)

// TestScenarios runs the files in testdata/:
//
// fetch drives one [handoff.Fetch] on its receiver:
//
//	resume partition= from= to= old=(…) [keys= bytes= cursor= saved-from= done]
//	                 a fetch from saved progress (none when no keys=, cursor=, done)
//	restart          the receiver restarts: resume from the progress saved so far
//	down <ids…> / up <ids…>
//	start at=<ms>    open a pull from the next live source
//	batch at=<ms> keys= bytes= remaining= cursor=
//	fail             the pull broke
//	finished         the source sent its last batch
//
// collect matches a plan with the receivers' reports; summarize adds up
// progress; moving lists the nodes of each partition in transfer; each from
// input lines:
//
//	plan p= from= to=
//	progress p= from= to= [keys=] [bytes=] [remaining=] [rate=] [cursor=] [done]
//	report to=<receiver>   (the progress lines that follow are its report)
//	measured to=<receiver|total> rate=
//	observe at=<ms>        (rate meter: the progress lines so far, seen at ms)
func TestScenarios(t *testing.T) {
	t.Parallel()
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		s := &scenario{down: map[string]bool{}}
		datadriven.RunTest(t, path, s.run)
	})
}

type scenario struct {
	tr    handoff.Transfer
	old   []ring.NodeID
	fetch *handoff.Fetch
	down  map[string]bool
	meter handoff.RateMeter
}

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func at(t *testing.T, d *datadriven.TestData) time.Time {
	var ms int
	d.ScanArgs(t, "at", &ms)
	return epoch.Add(time.Duration(ms) * time.Millisecond)
}

func (s *scenario) alive(id string) bool { return !s.down[id] }

func (s *scenario) run(t *testing.T, d *datadriven.TestData) string {
	switch d.Cmd {
	case "resume":
		d.ScanArgs(t, "partition", &s.tr.Partition)
		d.ScanArgs(t, "from", &s.tr.From)
		d.ScanArgs(t, "to", &s.tr.To)
		var old []string
		d.ScanArgs(t, "old", &old)
		s.old = nil
		for _, id := range old {
			s.old = append(s.old, ring.NodeID(id))
		}
		saved := progress(t, d)
		saved.From = ""
		d.MaybeScanArgs(t, "saved-from", &saved.From)
		s.down = map[string]bool{}
		s.fetch = handoff.Resume(s.tr, saved, s.old)
	case "restart":
		saved := s.fetch.Progress()
		s.fetch = handoff.Resume(s.tr, saved, s.old)
	case "down", "up":
		for _, a := range d.CmdArgs {
			s.down[a.Key] = d.Cmd == "down"
		}
	case "start":
		src, ok := s.fetch.Start(s.alive, at(t, d))
		if !ok {
			return "no source to start from\n" + printFetch(s.fetch)
		}
		return "pulling from " + src + "\n" + printFetch(s.fetch)
	case "batch":
		b := handoff.Batch{}
		var cursor string
		d.ScanArgs(t, "keys", &b.Keys)
		d.ScanArgs(t, "bytes", &b.Bytes)
		d.ScanArgs(t, "remaining", &b.Remaining)
		d.ScanArgs(t, "cursor", &cursor)
		b.Cursor = []byte(cursor)
		if s.fetch.Batch(b, at(t, d)) {
			return "report\n" + printFetch(s.fetch)
		}
	case "fail":
		s.fetch.SourceFailed()
	case "finished":
		s.fetch.Finished()
	case "collect":
		plan, reports := s.parse(t, d)
		var out strings.Builder
		ps, complete := handoff.Collect(plan.transfers, reports)
		for _, p := range ps {
			fmt.Fprintln(&out, printProgress(p))
		}
		fmt.Fprintf(&out, "complete: %v\n", complete)
		return out.String()
	case "moving":
		plan, _ := s.parse(t, d)
		moving := handoff.Moving(plan.progress)
		var out strings.Builder
		for _, p := range slices.Sorted(maps.Keys(moving)) {
			fmt.Fprintf(&out, "p%d: %s\n", p, strings.Join(moving[p], " "))
		}
		if len(moving) == 0 {
			out.WriteString("nothing moves\n")
		}
		return out.String()
	case "summarize", "observe":
		plan, _ := s.parse(t, d)
		rates := plan.rates
		if d.Cmd == "observe" {
			rates = s.meter.Observe(plan.progress, at(t, d))
		}
		per, total := handoff.Summarize(plan.progress, rates)
		var out strings.Builder
		if d.Cmd == "observe" {
			fmt.Fprintf(&out, "measured %v; elapsed %v\n", printRates(rates), s.meter.Elapsed())
		}
		for _, sm := range append(per, total) {
			fmt.Fprintln(&out, printSummary(sm))
		}
		return out.String()
	default:
		d.Fatalf(t, "unknown command %q", d.Cmd)
	}
	return printFetch(s.fetch)
}

// parsed is the input of collect, summarize and observe.
type parsed struct {
	transfers []handoff.Transfer
	progress  []handoff.Progress
	rates     map[string]float64
}

func (s *scenario) parse(t *testing.T, d *datadriven.TestData) (parsed, map[string]handoff.Report) {
	out := parsed{rates: map[string]float64{}}
	reports := map[string]handoff.Report{}
	var to string
	for line := range strings.Lines(d.Input) {
		cmd, args, err := datadriven.ParseLine(line)
		if err != nil {
			d.Fatalf(t, "%v", err)
		}
		ld := &datadriven.TestData{Pos: d.Pos, Cmd: cmd, CmdArgs: args}
		switch cmd {
		case "plan":
			var tr handoff.Transfer
			ld.ScanArgs(t, "p", &tr.Partition)
			ld.ScanArgs(t, "from", &tr.From)
			ld.ScanArgs(t, "to", &tr.To)
			out.transfers = append(out.transfers, tr)
		case "report":
			ld.ScanArgs(t, "to", &to)
			reports[to] = handoff.Report{}
		case "progress":
			p := progress(t, ld)
			ld.ScanArgs(t, "p", &p.Partition)
			ld.ScanArgs(t, "from", &p.From)
			ld.ScanArgs(t, "to", &p.To)
			if to != "" {
				r := reports[to]
				r.Transfers = append(r.Transfers, p)
				reports[to] = r
			}
			out.progress = append(out.progress, p)
		case "measured":
			var rate float64
			ld.ScanArgs(t, "to", &to)
			ld.ScanArgs(t, "rate", &rate)
			if to == "total" {
				to = ""
			}
			out.rates[to] = rate
		case "":
		default:
			d.Fatalf(t, "unknown input line %q", line)
		}
	}
	return out, reports
}

// progress reads the optional progress fields of a command.
func progress(t *testing.T, d *datadriven.TestData) handoff.Progress {
	var p handoff.Progress
	var cursor string
	d.MaybeScanArgs(t, "keys", &p.Keys)
	d.MaybeScanArgs(t, "bytes", &p.Bytes)
	d.MaybeScanArgs(t, "remaining", &p.RemainingBytes)
	d.MaybeScanArgs(t, "rate", &p.Rate)
	if d.MaybeScanArgs(t, "cursor", &cursor) {
		p.Cursor = []byte(cursor)
	}
	p.Done = d.HasArg("done")
	return p
}

func printFetch(f *handoff.Fetch) string {
	return fmt.Sprintf("%s: %s\n", f.State(), printProgress(f.Progress()))
}

func printProgress(p handoff.Progress) string {
	s := fmt.Sprintf("p%d %s→%s: %d keys, %d bytes, %d left, %.0f B/s", p.Partition, p.From, p.To, p.Keys, p.Bytes, p.RemainingBytes, p.Rate)
	if p.Cursor != nil {
		s += ", after " + string(p.Cursor)
	}
	if p.Done {
		s += ", done"
	}
	return s
}

func printSummary(s handoff.Summary) string {
	name := s.Receiver
	if name == "" {
		name = "total"
	}
	eta := "?"
	if s.ETA >= 0 {
		eta = s.ETA.String()
	}
	return fmt.Sprintf("%s: %d/%d done, %d keys, %d bytes, %.0f B/s, ETA %s", name, s.Done, s.Total, s.Keys, s.Bytes, s.Rate, eta)
}

func printRates(rates map[string]float64) string {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(rates)) {
		name := id
		if name == "" {
			name = "total"
		}
		parts = append(parts, fmt.Sprintf("%s=%.0f", name, rates[id]))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, " ")
}
