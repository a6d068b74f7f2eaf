package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"

	concord "github.com/concord-kv/concord/sdk/go"
)

// kv is what the runner calls; *concord.Client has it. Tests give a fake.
type kv interface {
	Get(ctx context.Context, key []byte, opts ...concord.CallOption) (*concord.Object, error)
	Put(ctx context.Context, key, value []byte, opts ...concord.CallOption) (concord.Context, error)
	Delete(ctx context.Context, key []byte, opts ...concord.CallOption) (concord.Context, error)
	Keys(ctx context.Context, prefix []byte, opts ...concord.CallOption) iter.Seq2[[]byte, error]
}

var _ kv = (*concord.Client)(nil)

// badToken is well formed but unknown to every cluster.
var badToken = "cct_0000000000000000_" + strings.Repeat("0", 64)

// maxListed bounds a listing: no case lists more keys than this.
const maxListed = 100_000

// runner runs cases through clients of the cluster's endpoints. Step j of
// case i goes to endpoint (i+j) mod len(endpoints), so that consecutive
// steps of a case reach different nodes (any node gives the same answer).
type runner struct {
	endpoints []string
	runID     string
	token     string                          // CONCORD_TOKEN
	client    func(endpoint, token string) kv // token "" sends none
	timeout   time.Duration                   // per step
}

// saved is what a step kept under its save name.
type saved struct {
	obj *concord.Object // a get's object, or the current object of a conflict
	ctx concord.Context // a put's or delete's context
}

func (s saved) context() concord.Context {
	if s.obj != nil {
		return s.obj.Context
	}
	return s.ctx
}

// runAll runs the cases whose name contains only, printing a line per case,
// and returns the counts.
func (r *runner) runAll(ctx context.Context, s *suite, only string, w io.Writer) (passed, failed int) {
	for i := range s.Cases {
		c := &s.Cases[i]
		if !strings.Contains(c.Name, only) {
			continue
		}
		start := time.Now()
		if err := r.runCase(ctx, i, c); err != nil {
			failed++
			fmt.Fprintf(w, "FAIL  %2d %s: %v\n", i, c.Name, err)
			continue
		}
		passed++
		fmt.Fprintf(w, "ok    %2d %s (%.2fs)\n", i, c.Name, time.Since(start).Seconds())
	}
	return passed, failed
}

// runCase runs the steps of case index in order; the first step that does
// not return what it expects fails the case.
func (r *runner) runCase(ctx context.Context, index int, c *testCase) error {
	prefix := fmt.Appendf(nil, "%s/%d/", r.runID, index)
	vars := map[string]saved{}
	for j := range c.Steps {
		st := &c.Steps[j]
		out := r.do(ctx, r.endpoints[(index+j)%len(r.endpoints)], prefix, cmp.Or(st.Namespace, c.Namespace), st, vars)
		if err := check(st, out); err != nil {
			return fmt.Errorf("step %d (%s): %w", j+1, st.Op, err)
		}
		if st.Save != "" {
			vars[st.Save] = saved{obj: cmp.Or(out.obj, current(out.err)), ctx: out.ctx}
		}
	}
	return nil
}

// do makes a step's call through the SDK.
func (r *runner) do(ctx context.Context, endpoint string, prefix []byte, ns string, st *step, vars map[string]saved) outcome {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	token := r.token
	switch st.Token {
	case "none":
		token = ""
	case "bad":
		token = badToken
	}
	c := r.client(endpoint, token)
	opts := []concord.CallOption{concord.InNamespace(ns)}
	if st.Context != "" {
		opts = append(opts, concord.After(vars[st.Context].context()))
	}
	if st.R != 0 {
		opts = append(opts, concord.R(st.R))
	}
	if st.W != 0 {
		opts = append(opts, concord.W(st.W))
	}
	if st.IfAbsent {
		opts = append(opts, concord.IfAbsent())
	}
	if st.Overwrite {
		opts = append(opts, concord.Overwrite())
	}
	if st.IfContextCurrent {
		opts = append(opts, concord.IfContextCurrent())
	}
	if st.Force {
		opts = append(opts, concord.Force())
	}
	if st.DW != 0 {
		opts = append(opts, concord.DW(st.DW))
	}
	var key []byte
	if st.Key != nil {
		key = mustBytes([]byteSpec{*st.Key})[0]
		if !st.RawKey {
			key = append(bytes.Clone(prefix), key...)
		}
	}
	switch st.Op {
	case "get":
		obj, err := c.Get(ctx, key, opts...)
		return outcome{obj: obj, err: err}
	case "put":
		pctx, err := c.Put(ctx, key, mustBytes([]byteSpec{*st.Value})[0], opts...)
		return outcome{ctx: pctx, err: err}
	case "delete":
		dctx, err := c.Delete(ctx, key, opts...)
		return outcome{ctx: dctx, err: err}
	}
	return list(ctx, c, prefix, st, opts)
}

// list reads a listing to its end, with the step's page size and limit.
func list(ctx context.Context, c kv, prefix []byte, st *step, opts []concord.CallOption) outcome {
	opts = append(opts, concord.PageSize(st.PageSize), concord.Limit(st.Limit))
	full := bytes.Clone(prefix)
	if st.Prefix != nil {
		full = append(full, mustBytes([]byteSpec{*st.Prefix})[0]...)
	}
	var keys [][]byte
	for k, err := range c.Keys(ctx, full, opts...) {
		if err != nil {
			return outcome{keys: keys, err: err}
		}
		if !bytes.HasPrefix(k, full) {
			return outcome{err: fmt.Errorf("listed key %s is outside the prefix %s", show(k), show(full))}
		}
		keys = append(keys, k[len(prefix):])
		if st.Limit != 0 && len(keys) == int(st.Limit) {
			break
		}
		if len(keys) > maxListed {
			return outcome{err: fmt.Errorf("the listing went on past %d keys", maxListed)}
		}
	}
	return outcome{keys: keys}
}
