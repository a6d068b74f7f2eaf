package dvv_test

import (
	"slices"
	"testing"

	"github.com/concord-kv/concord/engine/dvv"
)

func put(v string) dvv.Sibling { return dvv.Sibling{Value: []byte(v)} }

var tomb = dvv.Sibling{Tombstone: true}

// show renders the siblings of o as their values, "†" for a tombstone, each
// followed by its dot: the order is Object.Siblings'.
func show(o dvv.Object) []string {
	var out []string
	dots := o.Dots()
	for i, s := range o.Siblings() {
		v := string(s.Value)
		if s.Tombstone {
			v = "†" + v
		}
		out = append(out, v+"@"+dots[i].String())
	}
	return out
}

func TestStories(t *testing.T) {
	t.Parallel()
	var zero dvv.Clock
	tests := []struct {
		name     string
		run      func() dvv.Object
		want     []string
		wantCtx  string
		wantLive bool
	}{
		{
			name:    "never written",
			run:     func() dvv.Object { return dvv.Object{} },
			wantCtx: "{}",
		},
		{
			name: "blind write twice gives two siblings",
			run: func() dvv.Object {
				return dvv.Object{}.Update("a", zero, put("v1")).Update("a", zero, put("v2"))
			},
			want: []string{"v1@a:1", "v2@a:2"}, wantCtx: "{a:2}", wantLive: true,
		},
		{
			name: "blind writes through two nodes meet as siblings",
			run: func() dvv.Object {
				return dvv.Sync(dvv.Object{}.Update("b", zero, put("vb")), dvv.Object{}.Update("a", zero, put("va")))
			},
			want: []string{"va@a:1", "vb@b:1"}, wantCtx: "{a:1, b:1}", wantLive: true,
		},
		{
			name: "read then write replaces exactly what was read",
			run: func() dvv.Object {
				o := dvv.Object{}.Update("a", zero, put("v1")).Update("a", zero, put("v2"))
				ctx := o.Context() // the client reads v1 and v2
				o = o.Update("a", zero, put("v3"))
				return o.Update("a", ctx, put("v4"))
			},
			want: []string{"v3@a:3", "v4@a:4"}, wantCtx: "{a:4}", wantLive: true,
		},
		{
			name: "stale context adds a sibling",
			run: func() dvv.Object {
				o := dvv.Object{}.Update("a", zero, put("v1"))
				stale := o.Context()
				o = o.Update("a", stale, put("v2"))
				return o.Update("a", stale, put("v3"))
			},
			want: []string{"v2@a:2", "v3@a:3"}, wantCtx: "{a:3}", wantLive: true,
		},
		{
			name: "delete leaves a tombstone sibling",
			run: func() dvv.Object {
				o := dvv.Object{}.Update("a", zero, put("v1"))
				return o.Update("a", o.Context(), tomb)
			},
			want: []string{"†@a:2"}, wantCtx: "{a:2}",
		},
		{
			name: "a concurrent write survives a delete",
			run: func() dvv.Object {
				o := dvv.Object{}.Update("a", zero, put("v1"))
				deleted := o.Update("a", o.Context(), tomb)
				return dvv.Sync(deleted, o.Update("b", zero, put("v2")))
			},
			want: []string{"†@a:2", "v2@b:1"}, wantCtx: "{a:2, b:1}", wantLive: true,
		},
		{
			name: "write through another node with the context read from the first",
			run: func() dvv.Object {
				a := dvv.Object{}.Update("a", zero, put("v1"))
				b := dvv.Sync(dvv.Object{}, a)
				b = b.Update("b", b.Context(), put("v2"))
				return dvv.Sync(a, b)
			},
			want: []string{"v2@b:1"}, wantCtx: "{a:1, b:1}", wantLive: true,
		},
		{
			name: "context names a write the coordinator has not received yet",
			run: func() dvv.Object {
				a := dvv.Object{}.Update("a", zero, put("v1"))
				b := dvv.Object{}.Update("b", a.Context(), put("v2"))
				return dvv.Sync(a, b) // v1 arrives at b after it was superseded
			},
			want: []string{"v2@b:1"}, wantCtx: "{a:1, b:1}", wantLive: true,
		},
		{
			name: "context from another node does not touch the coordinator's own concurrent values",
			run: func() dvv.Object {
				a := dvv.Object{}.Update("a", zero, put("v1"))
				b := dvv.Object{}.Update("b", zero, put("w1"))
				ctx := dvv.Sync(dvv.Object{}, a).Context() // read v1 only
				b = b.Update("b", ctx, put("w2"))
				return dvv.Sync(b, a)
			},
			want: []string{"w1@b:1", "w2@b:2"}, wantCtx: "{a:1, b:2}", wantLive: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := tt.run()
			if got := show(o); !slices.Equal(got, tt.want) {
				t.Errorf("siblings = %q, want %q", got, tt.want)
			}
			if got := o.Context().String(); got != tt.wantCtx {
				t.Errorf("context = %s, want %s", got, tt.wantCtx)
			}
			if o.HasLive() != tt.wantLive {
				t.Errorf("HasLive = %v, want %v", o.HasLive(), tt.wantLive)
			}
			if o.Len() != len(tt.want) || o.IsZero() != (tt.wantCtx == "{}") {
				t.Errorf("Len = %d, IsZero = %v", o.Len(), o.IsZero())
			}
		})
	}
}

func TestUpdateDoesNotAliasItsInputs(t *testing.T) {
	t.Parallel()
	val := []byte("v1")
	o := dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Value: val})
	val[0] = 'X'
	if got := string(o.Siblings()[0].Value); got != "v1" {
		t.Fatalf("mutating the written bytes changed the object: %q", got)
	}

	// Two writes on one base must not share storage: a write into the spare
	// capacity of a shared slice would leak one into the other.
	base := dvv.Object{}.Update("a", dvv.Clock{}, put("v1")).Update("a", dvv.Clock{}, put("v2"))
	x := base.Update("a", dvv.NewClock(map[string]uint64{"a": 1}), put("x"))
	y := base.Update("a", dvv.NewClock(map[string]uint64{"a": 1}), put("y"))
	if got, want := show(x), []string{"v2@a:2", "x@a:3"}; !slices.Equal(got, want) {
		t.Errorf("x = %q, want %q", got, want)
	}
	if got, want := show(y), []string{"v2@a:2", "y@a:3"}; !slices.Equal(got, want) {
		t.Errorf("y = %q, want %q", got, want)
	}
	if got, want := show(base), []string{"v1@a:1", "v2@a:2"}; !slices.Equal(got, want) {
		t.Errorf("base = %q, want %q", got, want)
	}
}

func TestUpdatePanicsOnEmptyActor(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatal("Update with an empty actor did not panic")
		}
	}()
	dvv.Object{}.Update("", dvv.Clock{}, put("v"))
}

func TestEqual(t *testing.T) {
	t.Parallel()
	base := dvv.Object{}.Update("a", dvv.Clock{}, put("v1"))
	tests := []struct {
		name string
		a, b dvv.Object
		want bool
	}{
		{"zero", dvv.Object{}, dvv.Object{}, true},
		{"same", base, dvv.Sync(dvv.Object{}, base), true},
		{"zero and written", dvv.Object{}, base, false},
		{"other value", base, dvv.Object{}.Update("a", dvv.Clock{}, put("v2")), false},
		{"other flag", base, dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Value: []byte("v1"), Tombstone: true}), false},
		{"other timestamp", base, dvv.Object{}.Update("a", dvv.Clock{}, dvv.Sibling{Value: []byte("v1"), Timestamp: 1}), false},
		{"other actor", base, dvv.Object{}.Update("b", dvv.Clock{}, put("v1")), false},
		{"other clock", base, dvv.Object{}.Update("a", dvv.NewClock(map[string]uint64{"c": 1}), put("v1")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.a.Equal(tt.b); got != tt.want {
				t.Errorf("Equal = %v, want %v", got, tt.want)
			}
			if got := tt.b.Equal(tt.a); got != tt.want {
				t.Errorf("Equal reversed = %v, want %v", got, tt.want)
			}
		})
	}
}
