package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

const cpuMetric = "process_cpu_seconds_total"

// CPUSample is each node's process CPU seconds at one instant; a node
// whose /metrics could not be read is absent.
type CPUSample map[string]float64

// SampleCPU reads process_cpu_seconds_total from the /metrics of each admin
// endpoint (e.g. http://127.0.0.1:7703).
func SampleCPU(ctx context.Context, client *http.Client, admins []string) CPUSample {
	out := CPUSample{}
	for _, a := range admins {
		if v, err := readMetric(ctx, client, strings.TrimSuffix(a, "/")+"/metrics", cpuMetric); err == nil {
			out[a] = v
		}
	}
	return out
}

// CPUBetween is the CPU the nodes used between two samples, per operation.
func CPUBetween(before, after CPUSample, admins []string, ops int64) *CPU {
	c := &CPU{}
	for _, a := range admins {
		b, ok1 := before[a]
		e, ok2 := after[a]
		if !ok1 || !ok2 {
			c.UnreadableAny = true
			continue
		}
		c.Nodes++
		c.Seconds += e - b
	}
	if ops > 0 {
		c.MicrosPerOp = c.Seconds * 1e6 / float64(ops)
	}
	return c
}

// readMetric fetches a Prometheus text exposition and returns the value of
// the unlabelled sample name.
func readMetric(ctx context.Context, client *http.Client, url, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("bench: %s: %s", url, res.Status)
	}
	return parseMetric(res.Body, name)
}

func parseMetric(r io.Reader, name string) (float64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == name {
			return strconv.ParseFloat(f[1], 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("bench: no %s in the metrics", name)
}
