// Package abi is the wire format of concord's WebAssembly resolver ABI v1,
// shared by the host runtime (package [github.com/concord-kv/concord/resolvers])
// and by guest libraries.
//
// It holds the input frame codec ([EncodeInput], [AppendInput],
// [DecodeInput]) and the status codes a guest's resolve function returns
// ([Status]). The normative description of the ABI, including the host
// functions, is resolvers/ABI.md; this package is its executable form.
//
// The package is pure: no IO, no goroutines, no clock, no dependencies beyond
// the standard library, so it also compiles for GOOS=wasip1 guests.
// [DecodeInput] never panics on malformed input and checks every length and
// count against the bytes that remain before allocating.
package abi
