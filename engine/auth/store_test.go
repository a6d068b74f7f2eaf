package auth_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/concord-kv/concord/engine/auth"
	"github.com/concord-kv/concord/engine/membership"
	"github.com/concord-kv/concord/engine/storage/memory"
)

func open(t *testing.T) (*auth.Store, *memory.Engine) {
	t.Helper()
	eng := memory.New()
	s, err := auth.Open(eng, time.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return s, eng
}

// Only hashes reach storage and gossip: neither the token's secret nor the
// admin credential appears in any stored key or value, or any document.
func TestOnlyHashesAreStored(t *testing.T) {
	t.Parallel()
	s, eng := open(t)
	const adminCred = "an-admin-credential-of-some-length"
	if ok, err := s.InitAdmin(adminCred); !ok || err != nil {
		t.Fatalf("InitAdmin: %v %v", ok, err)
	}
	_, bearer, err := s.Create("a", auth.ScopeRead, "")
	if err != nil {
		t.Fatal(err)
	}
	secret := bearer[strings.LastIndex(bearer, "_")+1:]
	it, err := eng.NewIter(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
		for _, b := range [][]byte{it.Key(), it.Value()} {
			if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(adminCred)) {
				t.Errorf("stored %q holds a secret", it.Key())
			}
		}
	}
	_ = it.Close()
	if n != 2 {
		t.Errorf("%d stored records, want 2 (the admin hash and the token)", n)
	}
	for _, d := range s.Docs() {
		if bytes.Contains(d.Data, []byte(secret)) || bytes.Contains(d.Data, []byte(adminCred)) {
			t.Errorf("document %s holds a secret", d.Name)
		}
	}
	// Reopened from storage, both still authenticate.
	s2, err := auth.Open(eng, time.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s2.Authenticate(bearer); err != nil || p.Token.Namespace != "a" {
		t.Errorf("token after reopen: %+v %v", p, err)
	}
	if p, err := s2.Authenticate(adminCred); err != nil || !p.Admin {
		t.Errorf("admin after reopen: %+v %v", p, err)
	}
}

// A revocation spreads as a newer document and is never undone by the
// older live one.
func TestRevocationSpreadsAndSticks(t *testing.T) {
	t.Parallel()
	a, _ := open(t)
	b, _ := open(t)
	tok, bearer, err := a.Create("a", auth.ScopeRead|auth.ScopeWrite, "")
	if err != nil {
		t.Fatal(err)
	}
	live := a.Docs()
	for _, d := range live {
		b.OnDoc(d)
	}
	if _, err := b.Authenticate(bearer); err != nil {
		t.Fatalf("b does not accept a's token: %v", err)
	}
	if err := a.Revoke(tok.ID); err != nil {
		t.Fatal(err)
	}
	for _, d := range a.Docs() {
		b.OnDoc(d)
	}
	for _, d := range live {
		b.OnDoc(d) // the old live version arrives late
	}
	if _, err := b.Authenticate(bearer); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("revoked token on b: %v, want ErrUnauthenticated", err)
	}
}

func TestAdminCredentialIsSetOnce(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	if _, err := s.InitAdmin("short"); !errors.Is(err, auth.ErrWeakAdmin) {
		t.Errorf("short credential: %v", err)
	}
	first, second := auth.NewAdminCredential(), auth.NewAdminCredential()
	if ok, _ := s.InitAdmin(first); !ok {
		t.Fatal("first InitAdmin refused")
	}
	if ok, _ := s.InitAdmin(second); ok {
		t.Error("a second credential replaced the first")
	}
	if _, err := s.Authenticate(second); err == nil {
		t.Error("the second credential authenticates")
	}
	if p, err := s.Authenticate(first); err != nil || !p.Admin {
		t.Errorf("first: %+v %v", p, err)
	}
}

// Rotation spreads as a newer admin document: the node that hears of it
// switches, an older admin document arriving later (a late gossip message,
// a node that slept through the rotation) never brings the old hash back,
// and neither does a restart with the old credential (InitAdmin) nor a
// reopen from storage.
func TestAdminRotationSpreadsAndSticks(t *testing.T) {
	t.Parallel()
	a, _ := open(t)
	b, engB := open(t)
	oldCred, newCred := auth.NewAdminCredential(), auth.NewAdminCredential()
	if ok, err := a.InitAdmin(oldCred); !ok || err != nil {
		t.Fatalf("InitAdmin: %v %v", ok, err)
	}
	var published []membership.Doc
	a.OnChange(func(d membership.Doc) { published = append(published, d) })
	before := a.Docs()
	for _, d := range before {
		b.OnDoc(d)
	}
	if p, err := b.Authenticate(oldCred); err != nil || !p.Admin {
		t.Fatalf("b does not accept the admin credential: %+v %v", p, err)
	}

	if _, err := a.RotateAdmin("short"); err == nil {
		t.Error("rotated to a short credential")
	}
	if _, err := a.RotateAdmin(oldCred); err == nil {
		t.Error("rotated to the current credential")
	}
	v, err := a.RotateAdmin(newCred)
	if err != nil || v != 2 {
		t.Fatalf("RotateAdmin: %d %v, want version 2", v, err)
	}
	if len(published) != 1 || published[0].Name != auth.DocAdmin || published[0].Version != 2 {
		t.Fatalf("published %+v, want auth/admin version 2", published)
	}
	if bytes.Contains(published[0].Data, []byte(newCred)) {
		t.Error("the admin document holds the credential")
	}
	for _, s := range []*auth.Store{a, b} {
		if s == b {
			b.OnDoc(published[0])
			for _, d := range before {
				b.OnDoc(d) // the old version arrives late
			}
		}
		if _, err := s.Authenticate(oldCred); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("old credential after rotation: %v, want ErrUnauthenticated", err)
		}
		if p, err := s.Authenticate(newCred); err != nil || !p.Admin {
			t.Errorf("new credential after rotation: %+v %v", p, err)
		}
		if ok, _ := s.InitAdmin(oldCred); ok {
			t.Error("InitAdmin with the old credential (a restart) took it back")
		}
		if s.AdminVersion() != 2 {
			t.Errorf("admin version %d, want 2", s.AdminVersion())
		}
	}
	// b persisted the rotation.
	b2, err := auth.Open(engB, time.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b2.Authenticate(oldCred); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("old credential after reopen: %v", err)
	}
	if p, err := b2.Authenticate(newCred); err != nil || !p.Admin {
		t.Errorf("new credential after reopen: %+v %v", p, err)
	}
	// A store without an admin credential has nothing to rotate.
	empty, _ := open(t)
	if _, err := empty.RotateAdmin(newCred); err == nil {
		t.Error("rotated a store without an admin credential")
	}
}

// TestDescriptionIsBounded: a token's description is valid UTF-8 of at
// most MaxDescriptionBytes bytes; anything else is refused and nothing is
// created.
func TestDescriptionIsBounded(t *testing.T) {
	t.Parallel()
	s, _ := open(t)
	if _, _, err := s.Create("a", auth.ScopeRead, strings.Repeat("d", auth.MaxDescriptionBytes)); err != nil {
		t.Fatalf("a description of %d bytes: %v", auth.MaxDescriptionBytes, err)
	}
	for _, d := range []string{strings.Repeat("d", auth.MaxDescriptionBytes+1), "\xff\xfe"} {
		if _, _, err := s.Create("a", auth.ScopeRead, d); err == nil || !strings.Contains(err.Error(), "description") {
			t.Errorf("description of %d bytes (%q…): %v, want an error naming the description", len(d), d[:2], err)
		}
	}
	if got := len(s.List("a")); got != 1 {
		t.Errorf("%d tokens after the refused creates, want 1", got)
	}
}
