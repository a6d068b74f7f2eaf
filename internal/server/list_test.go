package server_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
)

// listPages calls ListKeys and returns every page it streams.
func listPages(ctx context.Context, c *client, req *kvv1.ListKeysRequest) ([]*kvv1.ListKeysResponse, error) {
	stream, err := c.kv.ListKeys(ctx, req)
	if err != nil {
		return nil, err
	}
	defer stream.Close()
	var pages []*kvv1.ListKeysResponse
	for stream.Receive() {
		pages = append(pages, stream.Msg())
	}
	return pages, stream.Err()
}

// listAll lists with req, resuming from each call's last token until a call
// ends without one, and returns every key in the order received and the
// number of calls.
func listAll(t *testing.T, c *client, req *kvv1.ListKeysRequest) (keys []string, calls int) {
	t.Helper()
	for {
		pages, err := listPages(t.Context(), c, req)
		if err != nil {
			t.Fatalf("ListKeys(%v): %v", req, err)
		}
		calls++
		n := 0
		for _, p := range pages {
			for _, k := range p.GetKeys() {
				keys = append(keys, string(k))
			}
			n += len(p.GetKeys())
		}
		if req.GetLimit() > 0 && n > int(req.GetLimit()) {
			t.Fatalf("ListKeys with limit %d returned %d keys", req.GetLimit(), n)
		}
		last := pages[len(pages)-1].GetNextPageToken()
		if len(last) == 0 {
			return keys, calls
		}
		if calls > 100 {
			t.Fatal("ListKeys does not end")
		}
		req.PageToken = last
	}
}

// wantKeySet checks that got holds every key of want exactly once and
// nothing else.
func wantKeySet(t *testing.T, what string, got []string, want map[string]bool) {
	t.Helper()
	seen := make(map[string]int, len(got))
	for _, k := range got {
		seen[k]++
	}
	for k, n := range seen {
		switch {
		case !want[k]:
			t.Errorf("%s: listed %q, which is not a live key", what, k)
		case n > 1:
			t.Errorf("%s: listed %q %d times", what, k, n)
		}
	}
	for k := range want {
		if seen[k] == 0 {
			t.Errorf("%s: live key %q missing", what, k)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

func withPrefix(set map[string]bool, prefix string) map[string]bool {
	out := map[string]bool{}
	for k := range set {
		if strings.HasPrefix(k, prefix) {
			out[k] = true
		}
	}
	return out
}

func TestListKeys(t *testing.T) {
	t.Parallel()
	const (
		total    = 2500
		pageSize = 1000
	)
	prefixes := []string{"apple/", "b/", "banana/", "c"}
	// 2500 writes per protocol: binary Connect and gRPC here; the other
	// tests cover the JSON codec.
	binary := slices.DeleteFunc(slices.Clone(protocols), func(p protocol) bool { return p.name == "connect_json" })
	forProtocols(t, binary, func(t *testing.T, c *client) {
		// Buffered durability: this test is about listing, and 2500 synced
		// writes would dominate its runtime.
		const listNS = "listing"
		c.createNamespace(t, &adminv1.Namespace{Name: listNS, Durability: adminv1.Durability_DURABILITY_BUFFERED})

		live := map[string]bool{}
		var deleted []string
		for i := range total {
			k := fmt.Sprintf("%s%05d", prefixes[i%len(prefixes)], i)
			if i%10 == 3 {
				deleted = append(deleted, k)
			} else {
				live[k] = true
			}
		}
		all := append(slices.Collect(maps.Keys(live)), deleted...)
		parallel(t, all, func(ctx context.Context, k []byte) error {
			_, err := c.kv.Put(ctx, &kvv1.PutRequest{Namespace: listNS, Key: k, Value: k})
			return err
		})
		parallel(t, deleted, func(ctx context.Context, k []byte) error {
			read, err := c.kv.Get(ctx, &kvv1.GetRequest{Namespace: listNS, Key: k})
			if err == nil {
				_, err = c.kv.Delete(ctx, &kvv1.DeleteRequest{Namespace: listNS, Key: k, Context: read.GetContext()})
			}
			return err
		})

		t.Run("EveryLiveKeyOnceInPagesOfPageSize", func(t *testing.T) {
			pages, err := listPages(t.Context(), c, &kvv1.ListKeysRequest{Namespace: listNS, PageSize: pageSize})
			if err != nil {
				t.Fatalf("ListKeys: %v", err)
			}
			var keys []string
			for i, p := range pages {
				if len(p.GetKeys()) > pageSize {
					t.Errorf("page %d has %d keys, more than page_size %d", i, len(p.GetKeys()), pageSize)
				}
				if last := i == len(pages)-1; last != (len(p.GetNextPageToken()) == 0) {
					t.Errorf("page %d of %d: next_page_token %x; want one on every page but the last", i, len(pages), p.GetNextPageToken())
				}
				for _, k := range p.GetKeys() {
					keys = append(keys, string(k))
				}
			}
			wantKeySet(t, "full listing", keys, live)
		})

		t.Run("DefaultPageSizeIs1000", func(t *testing.T) {
			pages, err := listPages(t.Context(), c, &kvv1.ListKeysRequest{Namespace: listNS})
			if err != nil {
				t.Fatalf("ListKeys: %v", err)
			}
			if n := len(pages[0].GetKeys()); n != 1000 {
				t.Errorf("first page without page_size has %d keys, want 1000", n)
			}
		})

		t.Run("PrefixFilters", func(t *testing.T) {
			for _, prefix := range []string{"b/", "banana/", "b", "c", "zzz"} {
				keys, _ := listAll(t, c, &kvv1.ListKeysRequest{Namespace: listNS, Prefix: []byte(prefix), PageSize: 100})
				wantKeySet(t, "prefix "+prefix, keys, withPrefix(live, prefix))
			}
		})

		t.Run("PageTokenResumesWithoutDuplicatesOrGaps", func(t *testing.T) {
			full, err := listPages(t.Context(), c, &kvv1.ListKeysRequest{Namespace: listNS, PageSize: 300})
			if err != nil {
				t.Fatalf("ListKeys: %v", err)
			}
			var want []string
			for _, p := range full[1:] {
				for _, k := range p.GetKeys() {
					want = append(want, string(k))
				}
			}
			// A client whose stream broke after the first page resumes from
			// that page's token.
			got, _ := listAll(t, c, &kvv1.ListKeysRequest{Namespace: listNS, PageSize: 300, PageToken: full[0].GetNextPageToken()})
			if !slices.Equal(got, want) {
				t.Errorf("resumed listing has %d keys, want the %d after the first page in the same order", len(got), len(want))
			}
		})

		t.Run("LimitThenResume", func(t *testing.T) {
			const limit = 700
			keys, calls := listAll(t, c, &kvv1.ListKeysRequest{Namespace: listNS, PageSize: 300, Limit: limit})
			wantKeySet(t, "limited listing", keys, live)
			// len(live) is not a multiple of limit, so no call ends empty.
			if want := (len(live) + limit - 1) / limit; calls != want {
				t.Errorf("listing %d keys with limit %d took %d calls, want %d", len(live), limit, calls, want)
			}
		})

		t.Run("LimitThenResumeWithAPrefix", func(t *testing.T) {
			keys, _ := listAll(t, c, &kvv1.ListKeysRequest{Namespace: listNS, Prefix: []byte("apple/"), Limit: 101})
			wantKeySet(t, "limited listing of apple/", keys, withPrefix(live, "apple/"))
		})

		t.Run("OtherNamespacesAreNotListed", func(t *testing.T) {
			c.blindPut(t, "apple/in-default", "v")
			keys, _ := listAll(t, c, &kvv1.ListKeysRequest{Namespace: ns})
			if !slices.Equal(keys, []string{"apple/in-default"}) {
				t.Errorf("default namespace lists %d keys, want only its own one", len(keys))
			}
		})
	})
}

// parallel calls op for every key with a few concurrent workers.
func parallel(t *testing.T, keys []string, op func(ctx context.Context, key []byte) error) {
	t.Helper()
	const workers = 8
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(keys); i += workers {
				if err := op(t.Context(), []byte(keys[i])); err != nil {
					errc <- fmt.Errorf("%s: %w", keys[i], err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}
