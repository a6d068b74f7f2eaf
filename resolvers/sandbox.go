package resolvers

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"
)

// FixedWalltime is what a guest's wall clock (WASI clock_time_get realtime)
// always reads: 2020-01-01T00:00:00Z. The monotonic clock always reads
// [FixedNanotime]. Resolution must not depend on time; the sibling
// timestamps are in the input.
const FixedWalltime = 1577836800

// FixedNanotime is what a guest's monotonic clock always reads, in
// nanoseconds. Not 0: the Go runtime (GOOS=wasip1) aborts at start-up with
// "nanotime returning zero" when it reads 0. A constant (rather than a clock
// that advances per read) keeps every elapsed time at zero, the same on a
// fresh and on a reused instance.
const FixedNanotime = 1

// randSeed seeds the guest's WASI random_get. The stream restarts from this
// seed at every init and every resolve call, so a fresh instance and a pooled
// one see the same bytes.
var randSeed = sha256.Sum256([]byte("concord resolver random v1"))

// maxStderr is how much of the guest's stderr a call keeps (the tail).
const maxStderr = 4096

// moduleConfig returns the WASI setup of one instance: no args, no env, no
// files (no FS and no preopens), no sockets, empty stdin, stdout discarded,
// stderr kept for diagnostics, fixed clocks, a deterministic random source,
// sleeps that return at once, and no start function (the pool runs
// _initialize and init itself, under a deadline).
func moduleConfig(random io.Reader, stderr io.Writer) wazero.ModuleConfig {
	return wazero.NewModuleConfig().
		WithName(""). // anonymous: many instances per runtime
		WithStartFunctions().
		WithStdout(io.Discard).
		WithStderr(stderr).
		WithRandSource(random).
		WithWalltime(func() (int64, int32) { return FixedWalltime, 0 }, sys.ClockResolution(1)).
		WithNanotime(func() int64 { return FixedNanotime }, sys.ClockResolution(1))
}

func newRand() *rand.ChaCha8 { return rand.NewChaCha8(randSeed) }

// tailBuffer keeps the last maxStderr bytes written to it.
type tailBuffer struct{ buf bytes.Buffer }

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= maxStderr {
		t.buf.Reset()
		p = p[len(p)-maxStderr:]
	} else if over := t.buf.Len() + len(p) - maxStderr; over > 0 {
		t.buf.Next(over)
	}
	t.buf.Write(p)
	return n, nil
}

func (t *tailBuffer) String() string { return t.buf.String() }
func (t *tailBuffer) Reset()         { t.buf.Reset() }
