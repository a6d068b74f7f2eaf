package dvv

import (
	"maps"
	"sync"
	"sync/atomic"
)

// Decoding interns actors. Every entry of every decoded object and
// context names its actor, and a cluster has few: a node's incarnations
// (package actor). Decoding allocated a string for each, 5% of the objects
// a node allocated under puts; it now looks each up in a table shared by
// every decoder and allocates only for an actor not in it yet.

// maxInterned bounds the table: once full, further actors are allocated
// as before, so input naming many actors cannot grow it without bound.
const maxInterned = 4096

var interned struct {
	table atomic.Pointer[map[string]string] // read without a lock, replaced whole
	mu    sync.Mutex                        // serialises replacements
}

// internActor returns b as a string, the interned one when there is one.
func internActor(b []byte) string {
	if t := interned.table.Load(); t != nil {
		if s, ok := (*t)[string(b)]; ok { // no allocation for the lookup
			return s
		}
	}
	s := string(b)
	interned.mu.Lock()
	defer interned.mu.Unlock()
	next := map[string]string{}
	if old := interned.table.Load(); old != nil {
		if len(*old) >= maxInterned {
			return s
		}
		next = maps.Clone(*old)
	}
	next[s] = s
	interned.table.Store(&next)
	return s
}
