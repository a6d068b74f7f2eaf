// Package guesttest is the test harness shared by the guest libraries'
// tests (Go, Rust, AssemblyScript): it builds an example resolver from
// source with the language's toolchain ([Module], [Tool], [Run]), then
// checks it through the real runtime (package
// [github.com/concord-kv/concord/resolvers]) against one table of set-union
// merges ([CheckSetUnion], [BenchSetUnion]), so that every language's
// example is held to the same results.
//
// A missing toolchain fails the test with the command that installs it; it
// never skips: CI must build every guest library.
package guesttest
