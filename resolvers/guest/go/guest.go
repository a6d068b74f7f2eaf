package guest

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"unsafe"

	"github.com/concord-kv/concord/resolvers/abi"
)

// Input is what one resolve call receives: the namespace, the key and the
// siblings to merge.
type Input = abi.Input

// Sibling is one concurrent version of the key: a value or a tombstone.
type Sibling = abi.Sibling

// Status is the outcome of a resolve call (see [Result]).
type Status = abi.Status

// Result is what a [Resolver] returns. Build it with [OK], [Delete],
// [Defer] or [Fail].
type Result struct {
	Status Status
	// Value is the merged value when Status is abi.StatusOK; it is ignored
	// otherwise. It may alias the input.
	Value []byte
}

// OK returns the result "value is the merge of the siblings". An empty value
// is a value, not a delete.
func OK(value []byte) Result { return Result{Status: abi.StatusOK, Value: value} }

// Delete returns the result "the merge is a tombstone".
func Delete() Result { return Result{Status: abi.StatusDelete} }

// Defer returns the result "keep the siblings as they are": the resolver
// declines to merge these.
func Defer() Result { return Result{Status: abi.StatusDefer} }

// Fail logs err at [LevelError] and returns the ERROR result: the siblings
// are kept and the host counts the failure.
func Fail(err error) Result {
	Log(LevelError, err.Error())
	return Result{Status: abi.StatusError}
}

// Resolver merges the siblings of one key.
type Resolver func(Input) Result

var resolver Resolver

// Register makes r the module's resolver. Call it once, from an init
// function of the main package; it panics if r is nil or if a resolver is
// already registered.
func Register(r Resolver) {
	switch {
	case r == nil:
		panic("guest: Register(nil)")
	case resolver != nil:
		panic("guest: Register called twice")
	}
	resolver = r
}

// Level is the severity of a [Log] line.
type Level int32

// Log levels of the ABI's log host function.
const (
	LevelDebug Level = 0
	LevelInfo  Level = 1
	LevelWarn  Level = 2
	LevelError Level = 3
)

// Log sends one line to the host's log, tagged with the namespace and the
// module. The host keeps at most 32 lines of 1 KiB per call.
func Log(level Level, msg string) {
	hostLog(int32(level), unsafe.StringData(msg), uint32(len(msg)))
}

// Logf formats like fmt.Sprintf and calls [Log].
func Logf(level Level, format string, args ...any) { Log(level, fmt.Sprintf(format, args...)) }

var (
	config       []byte
	configLoaded bool
)

// Config returns the namespace's resolver config, as uploaded with the
// module (nil if there is none). It can be called from init functions (the
// host runs them in _initialize) and from the resolver; the bytes are read
// once and must not be modified.
func Config() []byte {
	if configLoaded {
		return config
	}
	n := hostConfigRead(nil, 0)
	if n <= 0 {
		configLoaded = n == 0
		return nil
	}
	buf := make([]byte, n)
	if got := hostConfigRead(unsafe.SliceData(buf), uint32(n)); got != n {
		return nil
	}
	config, configLoaded = buf, true
	return config
}

// frame is the input buffer, reused from call to call.
var frame []byte

var errNoResolver = errors.New("guest: no resolver registered: call guest.Register from an init function")

// handle runs one resolve call: it reads and decodes the frame, calls the
// resolver and writes its output. It is what the resolve export does.
func handle(inputLen uint32) (status Status) {
	if resolver == nil {
		return Fail(errNoResolver).Status
	}
	if uint32(cap(frame)) < inputLen {
		frame = make([]byte, inputLen)
	}
	frame = frame[:inputLen]
	if got := hostInputRead(unsafe.SliceData(frame), inputLen); got != int32(inputLen) {
		return Fail(fmt.Errorf("guest: input_read returned %d, want %d", got, inputLen)).Status
	}
	in, err := abi.DecodeInput(frame)
	if err != nil {
		return Fail(err).Status
	}
	defer func() {
		if r := recover(); r != nil {
			stack := debug.Stack()
			_, _ = fmt.Fprintf(os.Stderr, "panic: %v\n\n%s", r, stack)
			status = Fail(fmt.Errorf("resolver panicked: %v\n%s", r, stack)).Status
		}
	}()
	res := resolver(in)
	if res.Status == abi.StatusOK && len(res.Value) > 0 {
		if n := hostOutputWrite(unsafe.SliceData(res.Value), uint32(len(res.Value))); n < 0 {
			return Fail(fmt.Errorf("guest: output_write of %d bytes returned %d", len(res.Value), n)).Status
		}
	}
	return res.Status
}
