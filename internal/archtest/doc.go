// Package archtest checks the import graph that docs/architecture.md
// promises: pure packages stay pure and dependencies point one way. It has
// no non-test code.
package archtest
