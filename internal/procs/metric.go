package procs

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
)

// Metric reads one unlabelled metric from /metrics on a node's admin
// listener (admin is its http://host:port), or -1 if it is absent or the
// node does not answer.
func Metric(ctx context.Context, client *http.Client, admin, name string) float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, admin+"/metrics", nil)
	if err != nil {
		return -1
	}
	res, err := client.Do(req)
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == name {
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	return -1
}
