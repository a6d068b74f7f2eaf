package clustertest_test

import (
	"os"
	"strings"
	"testing"
)

// TestMain runs the package's tests, or, with noisyFloodEnv set, makes the
// test binary the noisy tenant's client of BenchmarkNoisyNeighbour
// (floodProcess): a tenant's client runs on its own machine, not in the
// nodes' process.
func TestMain(m *testing.M) {
	if endpoints := os.Getenv(noisyFloodEnv); endpoints != "" {
		os.Exit(floodProcess(strings.Split(endpoints, ","), os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}
