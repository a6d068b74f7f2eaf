package actor

import (
	"strconv"
	"strings"

	"github.com/concord-kv/concord/engine/dvv"
)

// sep separates a node ID from the sequence number of one of its
// incarnations. Node IDs cannot contain it (see [ValidNodeID]).
const sep = '.'

// Name is the actor of incarnation seq of node id: "id.seq" (seq in base
// 36).
func Name(id string, seq uint64) string {
	return id + string(sep) + strconv.FormatUint(seq, 36)
}

// Parse returns the incarnation of actor if it is one of node id's. A bare
// id (an actor written before incarnations existed) is incarnation 0.
func Parse(id, actor string) (seq uint64, mine bool) {
	if actor == id {
		return 0, true
	}
	rest, ok := strings.CutPrefix(actor, id)
	if !ok || len(rest) < 2 || rest[0] != sep {
		return 0, false
	}
	seq, err := strconv.ParseUint(rest[1:], 36, 64)
	if err != nil || Name(id, seq) != actor { // canonical form only
		return 0, false
	}
	return seq, true
}

// NodeOf returns the node ID of an actor.
func NodeOf(actor string) string {
	if i := strings.LastIndexByte(actor, sep); i >= 0 {
		return actor[:i]
	}
	return actor
}

// ValidNodeID reports whether id can name a node: 1 to 64 bytes of
// [A-Za-z0-9_-].
func ValidNodeID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Choose returns the incarnation of node id that may issue the next dot of
// a key, given the key's local copy and seen, the join of every clock
// known to cover it (other replicas' copies, a client's context; it may be
// the zero Clock). It is the newest incarnation of id in local that was
// minted at or after floor and that seen does not know to be ahead of
// local. ok is false when there is none: the caller must mint a new one.
func Choose(id string, floor uint64, local dvv.Object, seen dvv.Clock) (actor string, ok bool) {
	ctx := local.Context()
	best := uint64(0)
	for _, a := range ctx.Actors() {
		seq, mine := Parse(id, a)
		if !mine || seq < floor || seen.Get(a) > ctx.Get(a) {
			continue
		}
		if !ok || seq > best {
			actor, best, ok = a, seq, true
		}
	}
	return actor, ok
}
