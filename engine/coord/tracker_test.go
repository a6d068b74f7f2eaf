package coord

import (
	"fmt"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/concord-kv/concord/engine/dvv"
)

// The scenario files in testdata/ drive the trackers with one event per
// command and print the state after each. The cluster is the nodes a, b, c,
// … in ring order: the preference list is the first n of them, the
// fallbacks the rest up to nodes (default 5), and the coordinator is a
// unless self= says otherwise.
//
// Commands shared by both files:
//
//	objects            define named objects, one per input line:
//	                   "name: actor value [after n1 n2…]"; the value ~
//	                   is a tombstone. The object is the merge of the ones
//	                   after it, updated by actor with the value.
//	down <ids…>        nodes gossip says are down (from now on)
//	up <ids…>          nodes gossip says are alive again
//	fail from=<id> [for=<place>]
//	                   the call in flight to id failed (for= picks the place
//	                   when id is the coordinator keeping several hints)
//	timeout            the request's deadline passed
//
// testdata/write:
//
//	write n= w= dw= [sync] [nodes=] [self=] [down=(…)]
//	                   sync: the coordinator's own copy is syncing
//	ack from=<id> [durable]
//	synced [failed]    the coordinator's own sync returned
//	upgraded place=<id> [failed]
//	                   the request to sync the place's copy returned
//
// A synced attempt prints "(synced)"; after each event the write tracker's
// upgrades are asked for and printed, as Coordinator.Write does.
//
// testdata/read:
//
//	read n= r= [all] [nodes=] [self=] [down=(…)]
//	                   all asks every place at start, else R of them
//	reply from=<id> obj=<name>
//	widen              the hedge timer fired: ask the places held back
func TestTrackerScenarios(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"testdata/write", "testdata/read"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			s := &scenario{objects: map[string]dvv.Object{}, down: map[string]bool{}}
			datadriven.RunTest(t, file, s.run)
		})
	}
}

type scenario struct {
	objects map[string]dvv.Object
	names   []string // in definition order, to print objects by name
	down    map[string]bool
	self    string
	w       *writeTracker
	r       *readTracker
}

func (s *scenario) alive(id string) bool { return !s.down[id] }

func (s *scenario) run(t *testing.T, d *datadriven.TestData) string {
	var out strings.Builder
	switch d.Cmd {
	case "objects":
		for line := range strings.Lines(d.Input) {
			if err := s.define(strings.TrimSpace(line)); err != nil {
				d.Fatalf(t, "%v", err)
			}
		}
		return "ok"
	case "down", "up":
		for _, a := range d.CmdArgs {
			s.down[a.Key] = d.Cmd == "down"
		}
		return "ok"
	case "write", "read":
		n, nodes := 0, 5
		d.ScanArgs(t, "n", &n)
		d.MaybeScanArgs(t, "nodes", &nodes)
		ids := make([]string, nodes)
		for i := range ids {
			ids[i] = string(rune('a' + i))
		}
		s.self = "a"
		d.MaybeScanArgs(t, "self", &s.self)
		s.down = map[string]bool{}
		if arg, ok := d.Arg("down"); ok {
			for _, id := range arg.Vals {
				s.down[id] = true
			}
		}
		s.w, s.r = nil, nil
		var as []attempt
		if d.Cmd == "write" {
			var w, dw int
			d.ScanArgs(t, "w", &w)
			d.MaybeScanArgs(t, "dw", &dw)
			s.w = newWriteTracker(ids[:n], s.self, ids[n:], w, dw, d.HasArg("sync"))
			as = append(s.w.start(s.alive), s.w.upgrades()...)
		} else {
			var r int
			d.ScanArgs(t, "r", &r)
			s.r = newReadTracker(ids[:n], s.self, ids[n:], r, d.HasArg("all"))
			as = s.r.start(s.alive)
		}
		printAttempts(&out, as...)
	case "ack", "reply", "fail":
		var from string
		d.ScanArgs(t, "from", &from)
		place, ok := s.placeOf(t, d, from)
		if !ok {
			return "ignored: no call in flight to " + from
		}
		switch {
		case d.Cmd == "ack":
			if !s.w.ack(place, d.HasArg("durable")) {
				return "ignored: a hint kept here does not acknowledge"
			}
			printAttempts(&out, s.w.upgrades()...)
		case d.Cmd == "reply":
			var name string
			d.ScanArgs(t, "obj", &name)
			obj, ok := s.objects[name]
			if !ok {
				d.Fatalf(t, "unknown object %q", name)
			}
			s.r.reply(place, obj)
		case s.w != nil:
			a, ok := s.w.fail(place, s.alive)
			if ok {
				printAttempts(&out, a)
			}
			printAttempts(&out, s.w.upgrades()...)
		default:
			printAttempts(&out, s.r.fail(place, s.alive)...)
		}
	case "synced":
		if !s.w.synced(!d.HasArg("failed")) {
			return "ignored: no sync in flight"
		}
		printAttempts(&out, s.w.upgrades()...)
	case "upgraded":
		var place string
		d.ScanArgs(t, "place", &place)
		if !s.w.upgraded(place, !d.HasArg("failed")) {
			return "ignored: no upgrade of " + place + " in flight"
		}
		printAttempts(&out, s.w.upgrades()...)
	case "widen":
		printAttempts(&out, s.r.widen(s.alive)...)
	case "timeout":
		if s.w != nil {
			s.w.timeout()
			printAttempts(&out, s.w.upgrades()...)
		} else {
			s.r.timeout()
		}
	default:
		d.Fatalf(t, "unknown command %q", d.Cmd)
	}
	if s.w != nil {
		s.printWrite(&out)
	} else {
		s.printRead(&out)
	}
	return out.String()
}

// placeOf finds the place whose call in flight goes to node id.
func (s *scenario) placeOf(t *testing.T, d *datadriven.TestData, id string) (string, bool) {
	var found []string
	for _, p := range s.places().list {
		if p.state == waiting && p.try.node == id {
			found = append(found, p.id)
		}
	}
	if d.HasArg("for") {
		var p string
		d.ScanArgs(t, "for", &p)
		return p, slices.Contains(found, p)
	}
	if len(found) > 1 {
		d.Fatalf(t, "calls to %s are in flight for %v: say for= which", id, found)
	}
	if len(found) == 0 {
		return "", false
	}
	return found[0], true
}

func (s *scenario) places() places {
	if s.w != nil {
		return s.w.places
	}
	return s.r.places
}

func printAttempts(out *strings.Builder, as ...attempt) {
	for _, a := range as {
		synced := ""
		if a.sync {
			synced = " (synced)"
		}
		switch {
		case a.upgrade:
			fmt.Fprintf(out, "→ %s: ask %s to sync\n", a.place, a.node)
		case a.local:
			fmt.Fprintf(out, "→ %s: keep a hint here\n", a.place)
		case a.fallback:
			fmt.Fprintf(out, "→ %s: try %s (fallback)%s\n", a.place, a.node, synced)
		default:
			fmt.Fprintf(out, "→ %s: try %s%s\n", a.place, a.node, synced)
		}
	}
}

// printPlace writes one place's line; what is the answer it gave, if any.
func printPlace(out *strings.Builder, p *place, what string) {
	by := p.try.node
	if p.try.fallback {
		by += " (fallback)"
	}
	switch {
	case p.state == unanswered:
		fmt.Fprintf(out, "%s: no answer\n", p.id)
	case p.state == held:
		fmt.Fprintf(out, "%s: held back\n", p.id)
	case p.state == waiting && p.try.local:
		fmt.Fprintf(out, "%s: keeping a hint here\n", p.id)
	case p.state == waiting:
		fmt.Fprintf(out, "%s: waiting for %s\n", p.id, by)
	default:
		fmt.Fprintf(out, "%s: %s from %s\n", p.id, what, by)
	}
}

func (s *scenario) printWrite(out *strings.Builder) {
	t := s.w
	if t.local != localApplied {
		state := [...]string{localSyncing: "syncing", localSynced: "synced", localFailed: "sync failed"}[t.local]
		fmt.Fprintf(out, "%s (here): %s\n", s.self, state)
	}
	for _, p := range t.list {
		what := "ack"
		switch t.copies[p.id] {
		case durableAck:
			what = "durable ack"
		case upgrading:
			what = "ack, asked to sync,"
		case upgradeFailed:
			what = "ack, its sync failed,"
		}
		printPlace(out, p, what)
	}
	fmt.Fprintf(out, "acks %d/%d, durable %d/%d, %d waiting: %s", t.acks, t.w, t.durable, t.dw, t.count(waiting), t.outcome)
	if t.decided() {
		acks, err := t.result()
		if err != nil {
			fmt.Fprintf(out, " (%v)", err)
		} else {
			fmt.Fprintf(out, " (answer: %d acks)", acks)
		}
	}
	out.WriteString("\n")
}

func (s *scenario) printRead(out *strings.Builder) {
	t := s.r
	for _, p := range t.list {
		printPlace(out, p, s.name(t.replies[p.id]))
	}
	fmt.Fprintf(out, "replies %d/%d, %d waiting: %s", len(t.replies), t.r, t.count(waiting), t.outcome)
	if t.decided() {
		obj, n, err := t.result()
		if err != nil {
			fmt.Fprintf(out, " (%v)", err)
		} else {
			fmt.Fprintf(out, " (answer: %s from %d replies)", s.name(obj), n)
		}
	}
	out.WriteString("\n")
	if t.finished() {
		merged, stale := t.repairs()
		fmt.Fprintf(out, "merge of all %s; repair %s\n", s.name(merged), cmpOrNone(strings.Join(stale, " ")))
	}
}

func cmpOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// name prints an object by the name it was defined under, or by its
// sibling values.
func (s *scenario) name(o dvv.Object) string {
	if o.IsZero() {
		return "{}"
	}
	for _, n := range s.names {
		if s.objects[n].Equal(o) {
			return n
		}
	}
	var vals []string
	for _, sb := range o.Siblings() {
		v := string(sb.Value)
		if sb.Tombstone {
			v = "~"
		}
		vals = append(vals, v)
	}
	slices.Sort(vals)
	return "{" + strings.Join(vals, " ") + "}"
}

// define parses "name: actor value [after n1 n2…]".
func (s *scenario) define(line string) error {
	name, rest, ok := strings.Cut(line, ":")
	f := strings.Fields(rest)
	if !ok || len(f) < 2 {
		return fmt.Errorf("bad object line %q", line)
	}
	var base dvv.Object
	if len(f) > 2 {
		if f[2] != "after" {
			return fmt.Errorf("bad object line %q", line)
		}
		for _, n := range f[3:] {
			o, ok := s.objects[n]
			if !ok {
				return fmt.Errorf("unknown object %q", n)
			}
			base = dvv.Sync(base, o)
		}
	}
	sib := dvv.Sibling{Value: []byte(f[1])}
	if f[1] == "~" {
		sib = dvv.Sibling{Tombstone: true}
	}
	s.objects[name] = base.Update(f[0], base.Context(), sib)
	s.names = append(s.names, name)
	return nil
}

// TestTrackersArePure: the tracker files import nothing that could do IO,
// read the clock or start work (they may not use the context, time or sync
// the rest of the package needs).
func TestTrackersArePure(t *testing.T) {
	t.Parallel()
	allowed := []string{"slices", "github.com/concord-kv/concord/engine/dvv", "github.com/concord-kv/concord/engine/errs"}
	for _, file := range []string{"tracker.go", "tracker_write.go", "tracker_read.go"} {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if path, _ := strconv.Unquote(imp.Path.Value); !slices.Contains(allowed, path) {
				t.Errorf("%s imports %s: the trackers are pure", file, path)
			}
		}
	}
}
