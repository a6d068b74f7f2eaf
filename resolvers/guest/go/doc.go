// Package guest is the Go guest library of concord's resolver ABI v1: with
// it, a resolver is a dozen lines of Go built for GOOS=wasip1.
//
// A resolver is a main package that registers one function in an init
// function and has an empty main:
//
//	package main
//
//	import guest "github.com/concord-kv/concord/resolvers/guest/go"
//
//	func init() {
//		guest.Register(func(in guest.Input) guest.Result {
//			for _, s := range in.Siblings {
//				if !s.Tombstone {
//					return guest.OK(s.Value) // not a real merge: see example/setunion
//				}
//			}
//			return guest.Delete()
//		})
//	}
//
//	func main() {}
//
// It is built as a WASI reactor (the host runs _initialize, which runs the
// package init functions; main is never called):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o resolver.wasm .
//
// The package exports the module's ABI marker (concord_abi_v1) and its
// resolve function, imports the host functions of module concord, and
// decodes the input frame with [github.com/concord-kv/concord/resolvers/abi].
// The ABI itself is described in resolvers/ABI.md.
//
// # Rules for the resolver function
//
// The siblings come in any order and the result must not depend on it
// (sort, don't pick the first). The result must not depend on earlier
// calls, the clock or randomness either: instances are reused, and replicas
// must converge. The Key, the sibling Values and anything sliced from them
// alias a buffer that the next call overwrites: return them (the library
// copies the result out before the call returns), but do not keep them.
//
// A panic in the resolver is recovered: it is logged (message and stack, on
// stderr and through the host log) and the call returns ERROR, so the host
// keeps the siblings.
//
// # Other platforms
//
// On platforms other than wasip1 the package compiles (so that go vet, gopls
// and unit tests of a resolver's merge logic work) but nothing calls the
// registered function, [Config] returns nil and [Log] discards.
//
// # Concurrency
//
// A WebAssembly instance is single-threaded and the host calls it one call
// at a time; nothing here is meant for concurrent use.
package guest
