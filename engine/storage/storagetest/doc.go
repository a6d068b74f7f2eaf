// Package storagetest holds the conformance suite and the benchmarks that
// every [storage.Engine] implementation runs, so that the engines agree on
// one contract and are measured the same way.
//
// An engine's test file calls [RunConformance] with a function that opens a
// fresh, empty engine, and its benchmark calls [RunBenchmarks]:
//
//	func TestConformance(t *testing.T) {
//		storagetest.RunConformance(t, func(t *testing.T) storage.Engine { return memory.New() })
//	}
//
// An engine that writes a log to a filesystem also runs [RunDiskFaults] on
// a [Disk] that can fail its log writes and fsyncs and simulate a machine
// crash: a write the disk failed is never acknowledged, and every write
// that was acknowledged survives the crash.
package storagetest
