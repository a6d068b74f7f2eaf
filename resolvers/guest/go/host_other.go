//go:build !wasip1

package guest

// Outside WebAssembly there is no host: these stubs let the package compile
// (for go vet and unit tests of merge logic) and behave like a host that is
// unavailable.

const errUnavailable = -3

func hostInputRead(*byte, uint32) int32   { return errUnavailable }
func hostOutputWrite(*byte, uint32) int32 { return errUnavailable }
func hostConfigRead(*byte, uint32) int32  { return errUnavailable }
func hostLog(int32, *byte, uint32)        {}

var _ = handle // called by the resolve export on wasip1 only
