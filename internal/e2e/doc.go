// Package e2e holds tests that run real concord processes on loopback ports
// (see package procs). It has no non-test code.
package e2e
