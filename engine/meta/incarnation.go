package meta

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// A namespace's data belongs to one incarnation of it. Every create of a
// namespace starts a new incarnation with its own [Namespace.Incarnation];
// updates and the delete keep it. The data of an incarnation is stored under
// its storage namespace ([Namespace.StorageName]): the name, '#' and the
// incarnation in hex. Namespace names cannot contain '#', so a storage
// namespace names exactly one incarnation, and the data of an earlier
// incarnation is invisible to a later one whatever order the metadata
// reaches a node in. Incarnation 0 is the plain name: namespaces created
// before incarnations existed, and every store's initial "default" (which
// all fresh nodes create alike and must agree on).
//
// An incarnation is ordered: its top 32 bits are the namespace version at
// which it was created, its bottom 32 bits random and never zero (two nodes
// creating the same name at the same version get different incarnations).
// A random ID alone could not tell a node whether an incarnation it has
// never seen is older than the metadata it holds (dead: its data can be
// dropped) or newer (gossip has not brought it yet: keep the data for
// later); the creation version can ([Namespace.Fate]).

// incarnationSep separates a namespace name from its incarnation in a
// storage namespace.
const incarnationSep = '#'

// NewIncarnation returns a fresh incarnation for a namespace created at
// version (which must fit in 32 bits).
func NewIncarnation(version uint64) uint64 {
	return incarnation(version, rand.Uint32N(math.MaxUint32)+1)
}

func incarnation(version uint64, random uint32) uint64 {
	return version<<32 | uint64(random)
}

// CreatedAtVersion returns the namespace version an incarnation was created
// at (0 for incarnation 0).
func CreatedAtVersion(inc uint64) uint64 { return inc >> 32 }

// StorageName is the namespace the data of incarnation inc of name is
// stored under: the name itself for incarnation 0, else name#<16 hex digits>.
func StorageName(name string, inc uint64) string {
	if inc == 0 {
		return name
	}
	// By hand rather than with fmt: every request names its namespace's
	// storage name a few times.
	const digits = "0123456789abcdef"
	b := make([]byte, 0, len(name)+1+16)
	b = append(b, name...)
	b = append(b, incarnationSep)
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[inc>>shift&0xf])
	}
	return string(b)
}

// StorageName is the namespace this incarnation's data is stored under.
func (ns Namespace) StorageName() string { return StorageName(ns.Name, ns.Incarnation) }

// ParseStorageName splits a storage namespace into the namespace name and
// the incarnation. It fails on anything StorageName does not produce.
func ParseStorageName(s string) (name string, inc uint64, err error) {
	name, hex, found := strings.Cut(s, string(incarnationSep))
	ok := validName(name)
	if found {
		inc, err = strconv.ParseUint(hex, 16, 64)
		ok = ok && err == nil && len(hex) == 16 && inc != 0 && strings.ToLower(hex) == hex
	}
	if !ok {
		return "", 0, fmt.Errorf("meta: %q is not a storage namespace", s)
	}
	return name, inc, nil
}

// Fate is what a node does with data of one incarnation of a namespace.
type Fate int

const (
	// Live: the current incarnation of a namespace that exists. Keep it.
	Live Fate = iota + 1
	// Dead: a deleted incarnation, or one superseded by a later create.
	// Nothing can make it current again: drop its data, and discard
	// (acknowledge) objects of it sent by other nodes.
	Dead
	// Unknown: an incarnation this node has no metadata for yet (created
	// after the version it holds), or a namespace it has never heard of.
	// Refuse its objects with a retryable error; the sender keeps them.
	Unknown
)

func (f Fate) String() string {
	switch f {
	case Live:
		return "live"
	case Dead:
		return "dead"
	case Unknown:
		return "unknown"
	}
	return fmt.Sprintf("Fate(%d)", int(f))
}

// Fate says what becomes of data of incarnation inc of this namespace, for
// a node whose current metadata of the name is ns (deleted or not).
//
// An incarnation other than the current one that was created at or before
// the version ns is at is dead: the metadata at that version names another
// incarnation (or this one deleted), and versions only grow. One created at
// a later version is unknown. Metadata is last-writer-wins by version (see
// engine/membership): if two nodes change the same namespace at once and one
// change is a create, the incarnation that loses is dead, and the writes it
// took in that window with it.
func (ns Namespace) Fate(inc uint64) Fate {
	switch {
	case inc == ns.Incarnation && !ns.Deleted:
		return Live
	case inc == ns.Incarnation || CreatedAtVersion(inc) <= ns.Version:
		return Dead
	}
	return Unknown
}
