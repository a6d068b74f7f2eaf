// Command setunion is an example resolver: values are sets of lines, and the
// merge is their union, sorted, without duplicates or empty lines. A key
// whose siblings are all tombstones stays deleted.
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o setunion.wasm .
package main

import (
	"bytes"
	"slices"

	guest "github.com/concord-kv/concord/resolvers/guest/go"
)

func init() { guest.Register(setUnion) }

func setUnion(in guest.Input) guest.Result {
	var lines [][]byte
	deleted := true
	for _, s := range in.Siblings {
		if !s.Tombstone {
			deleted = false
			lines = append(lines, bytes.Split(s.Value, []byte("\n"))...)
		}
	}
	if deleted {
		return guest.Delete()
	}
	slices.SortFunc(lines, bytes.Compare)
	lines = slices.CompactFunc(lines, bytes.Equal)
	lines = slices.DeleteFunc(lines, func(l []byte) bool { return len(l) == 0 })
	return guest.OK(bytes.Join(lines, []byte("\n")))
}

func main() {}
