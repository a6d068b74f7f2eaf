package server_test

import (
	"errors"
	"fmt"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/concord-kv/concord/internal/server"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
	concord "github.com/concord-kv/concord/sdk/go"
)

// The authorisation contract: who may call what (internal/server/authz.go).

// as is a pair of clients sending tok as the credential ("" sends none).
type as struct {
	kv    kvv1connect.KVServiceClient
	admin adminv1connect.AdminServiceClient
}

func clientsAs(t *testing.T, url, tok string) as {
	hc := newAnonHTTPClient(t, true) // h2c: the streams too
	var opts []connect.ClientOption
	if tok != "" {
		opts = append(opts, connect.WithInterceptors(concord.Bearer(tok)))
	}
	return as{kv: kvv1connect.NewKVServiceClient(hc, url, opts...), admin: adminv1connect.NewAdminServiceClient(hc, url, opts...)}
}

func newToken(t *testing.T, admin adminv1connect.AdminServiceClient, ns string, scopes ...adminv1.TokenScope) (string, string) {
	t.Helper()
	res, err := admin.CreateToken(t.Context(), &adminv1.CreateTokenRequest{Namespace: ns, Scopes: scopes})
	if err != nil {
		t.Fatalf("CreateToken(%s): %v", ns, err)
	}
	return res.GetToken().GetId(), res.GetSecret()
}

const (
	read  = adminv1.TokenScope_TOKEN_SCOPE_READ
	write = adminv1.TokenScope_TOKEN_SCOPE_WRITE
	admin = adminv1.TokenScope_TOKEN_SCOPE_ADMIN
)

// calls are one call of each kind about namespace ns; each returns the
// call's error.
func calls(c as) map[string]func(t *testing.T, ns string) error {
	return map[string]func(t *testing.T, ns string) error{
		"Get": func(t *testing.T, ns string) error {
			_, err := c.kv.Get(t.Context(), &kvv1.GetRequest{Namespace: ns, Key: []byte("k")})
			return err
		},
		"Put": func(t *testing.T, ns string) error {
			_, err := c.kv.Put(t.Context(), &kvv1.PutRequest{Namespace: ns, Key: []byte("k"), Value: []byte("v")})
			return err
		},
		"Delete": func(t *testing.T, ns string) error {
			_, err := c.kv.Delete(t.Context(), &kvv1.DeleteRequest{Namespace: ns, Key: []byte("k"), Force: true})
			return err
		},
		"ListKeys": func(t *testing.T, ns string) error {
			s, err := c.kv.ListKeys(t.Context(), &kvv1.ListKeysRequest{Namespace: ns})
			if err != nil {
				return err
			}
			for s.Receive() {
			}
			return errors.Join(s.Err(), s.Close())
		},
		"GetNamespace": func(t *testing.T, ns string) error {
			_, err := c.admin.GetNamespace(t.Context(), &adminv1.GetNamespaceRequest{Name: ns})
			return err
		},
		"UpdateNamespace": func(t *testing.T, ns string) error {
			_, err := c.admin.UpdateNamespace(t.Context(), &adminv1.UpdateNamespaceRequest{Name: ns, Settings: &adminv1.NamespaceSettings{R: 1}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"r"}}})
			return err
		},
		"DeleteResolver": func(t *testing.T, ns string) error {
			_, err := c.admin.DeleteResolver(t.Context(), &adminv1.DeleteResolverRequest{Namespace: ns})
			return err
		},
		"CreateToken": func(t *testing.T, ns string) error {
			_, err := c.admin.CreateToken(t.Context(), &adminv1.CreateTokenRequest{Namespace: ns, Scopes: []adminv1.TokenScope{read}})
			return err
		},
		"ListTokens": func(t *testing.T, ns string) error {
			_, err := c.admin.ListTokens(t.Context(), &adminv1.ListTokensRequest{Namespace: ns})
			return err
		},
	}
}

func TestNoOrBadCredentialIsUnauthenticated(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	for name, tok := range map[string]string{
		"none": "", "wrong admin": "not-the-admin-credential-at-all", "malformed token": "cct_abc",
		"unknown token": "cct_0123456789abcdef_00",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := clientsAs(t, url, tok)
			for _, fn := range calls(c) {
				wantError(t, fn(t, ns), connect.CodeUnauthenticated)
			}
			_, err := c.admin.ClusterStatus(t.Context(), &adminv1.ClusterStatusRequest{})
			wantError(t, err, connect.CodeUnauthenticated)
			s, err := c.admin.WatchHandoff(t.Context(), &adminv1.WatchHandoffRequest{})
			if err == nil {
				for s.Receive() {
				}
				err = s.Err()
			}
			wantError(t, err, connect.CodeUnauthenticated)
		})
	}
	// Health stays open.
	res, err := http.Get(url + "/livez")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("/livez without a credential: %v %v", res, err)
	}
	res.Body.Close()
}

// A token for namespace a gets, about namespace b, exactly the answer a
// namespace that does not exist gets: it cannot read, write, list or learn
// that b exists.
func TestATokenCannotSeeAnotherNamespace(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	root := clientsAs(t, url, adminToken)
	for _, name := range []string{"a", "b"} {
		if _, err := root.admin.CreateNamespace(t.Context(), &adminv1.CreateNamespaceRequest{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	_, secret := newToken(t, root.admin, "a", read, write, admin)
	tokA := clientsAs(t, url, secret)

	// What each call answers while b exists, for the token of a.
	forbidden := map[string]error{}
	for call, fn := range calls(tokA) {
		if err := fn(t, "a"); err != nil {
			t.Errorf("%s in its own namespace: %v", call, err)
		}
		forbidden[call] = fn(t, "b")
	}
	// What the same calls answer once b does not exist, for the admin.
	if _, err := root.admin.DeleteNamespace(t.Context(), &adminv1.DeleteNamespaceRequest{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	for call, fn := range calls(root) {
		if call == "ListTokens" {
			continue // lists nothing for a namespace with no tokens, for the admin
		}
		missing := fn(t, "b")
		ce := wantError(t, forbidden[call], connect.CodeNotFound)
		var me *connect.Error
		if !errors.As(missing, &me) || me.Code() != ce.Code() || me.Message() != ce.Message() {
			t.Errorf("%s about another namespace: %v; about a missing one: %v; they must be the same", call, forbidden[call], missing)
		}
	}
	wantError(t, forbidden["ListTokens"], connect.CodeNotFound, `"b"`)

	list, err := tokA.admin.ListNamespaces(t.Context(), &adminv1.ListNamespacesRequest{})
	if err != nil || len(list.GetNamespaces()) != 1 || list.GetNamespaces()[0].GetName() != "a" {
		t.Errorf("ListNamespaces with a's token: %v %v, want only a", list, err)
	}
}

func TestScopes(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	root := clientsAs(t, url, adminToken)
	byScope := map[string]as{}
	for name, scopes := range map[string][]adminv1.TokenScope{"read": {read}, "write": {write}, "admin": {admin}} {
		_, secret := newToken(t, root.admin, ns, scopes...)
		byScope[name] = clientsAs(t, url, secret)
	}
	allowed := map[string]map[string]bool{
		"read":  {"Get": true, "ListKeys": true},
		"write": {"Put": true, "Delete": true},
		"admin": {"GetNamespace": true, "UpdateNamespace": true, "DeleteResolver": true, "CreateToken": true, "ListTokens": true},
	}
	for scope, c := range byScope {
		for call, fn := range calls(c) {
			err := fn(t, ns)
			switch {
			case allowed[scope][call] && err != nil:
				t.Errorf("%s token: %s: %v", scope, call, err)
			case !allowed[scope][call]:
				wantError(t, err, connect.CodePermissionDenied, scope)
			}
		}
		// Cluster administration needs the admin credential, whatever the
		// token's scopes.
		_, err := c.admin.CreateNamespace(t.Context(), &adminv1.CreateNamespaceRequest{Name: "x"})
		wantError(t, err, connect.CodePermissionDenied, "admin credential")
		_, err = c.admin.DeleteNamespace(t.Context(), &adminv1.DeleteNamespaceRequest{Name: ns, Force: true})
		wantError(t, err, connect.CodePermissionDenied, "admin credential")
		_, err = c.admin.ClusterStatus(t.Context(), &adminv1.ClusterStatusRequest{})
		wantError(t, err, connect.CodePermissionDenied, "admin credential")
		s, err := c.admin.WatchHandoff(t.Context(), &adminv1.WatchHandoffRequest{})
		if err == nil {
			for s.Receive() {
			}
			err = s.Err()
		}
		wantError(t, err, connect.CodePermissionDenied, "admin credential")
	}
}

func TestRevokedTokenAndTokenAdministration(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	root := clientsAs(t, url, adminToken)
	if _, err := root.admin.CreateNamespace(t.Context(), &adminv1.CreateNamespaceRequest{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	_, nsAdmin := newToken(t, root.admin, ns, admin)
	otherID, _ := newToken(t, root.admin, "b", read)
	c := clientsAs(t, url, nsAdmin)

	// A namespace admin makes, lists and revokes its namespace's tokens.
	res, err := c.admin.CreateToken(t.Context(), &adminv1.CreateTokenRequest{Namespace: ns, Scopes: []adminv1.TokenScope{read}, Description: "reader"})
	if err != nil {
		t.Fatal(err)
	}
	reader := clientsAs(t, url, res.GetSecret())
	if _, err := reader.kv.Get(t.Context(), &kvv1.GetRequest{Namespace: ns, Key: []byte("k")}); err != nil {
		t.Fatalf("new token: %v", err)
	}
	list, err := c.admin.ListTokens(t.Context(), &adminv1.ListTokensRequest{})
	if err != nil || len(list.GetTokens()) != 2 {
		t.Fatalf("ListTokens by the namespace admin: %v %v, want its 2 tokens", list, err)
	}
	for _, tok := range list.GetTokens() {
		if tok.GetNamespace() != ns {
			t.Errorf("listed a token of %s", tok.GetNamespace())
		}
	}
	// Another namespace's token is as unknown as one that does not exist.
	_, err = c.admin.RevokeToken(t.Context(), &adminv1.RevokeTokenRequest{Id: otherID})
	wantError(t, err, connect.CodeNotFound, otherID)
	if _, err := c.admin.RevokeToken(t.Context(), &adminv1.RevokeTokenRequest{Id: res.GetToken().GetId()}); err != nil {
		t.Fatal(err)
	}
	_, err = reader.kv.Get(t.Context(), &kvv1.GetRequest{Namespace: ns, Key: []byte("k")})
	wantError(t, err, connect.CodeUnauthenticated)

	// Deleting a namespace revokes its tokens: one created again under the
	// name starts without any.
	_, bReader := newToken(t, root.admin, "b", read)
	if _, err := root.admin.DeleteNamespace(t.Context(), &adminv1.DeleteNamespaceRequest{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.admin.CreateNamespace(t.Context(), &adminv1.CreateNamespaceRequest{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	_, err = clientsAs(t, url, bReader).kv.Get(t.Context(), &kvv1.GetRequest{Namespace: "b", Key: []byte("k")})
	wantError(t, err, connect.CodeUnauthenticated)
}

func TestTheDefaultNamespaceIsDeletedOnlyWithForce(t *testing.T) {
	t.Parallel()
	root := clientsAs(t, startServer(t), adminToken)
	_, err := root.admin.DeleteNamespace(t.Context(), &adminv1.DeleteNamespaceRequest{Name: ns})
	wantError(t, err, connect.CodeFailedPrecondition, "force")
	if _, err := root.admin.GetNamespace(t.Context(), &adminv1.GetNamespaceRequest{Name: ns}); err != nil {
		t.Fatalf("the refused delete deleted it: %v", err)
	}
	if _, err := root.admin.DeleteNamespace(t.Context(), &adminv1.DeleteNamespaceRequest{Name: ns, Force: true}); err != nil {
		t.Fatalf("delete with force: %v", err)
	}
	_, err = root.admin.GetNamespace(t.Context(), &adminv1.GetNamespaceRequest{Name: ns})
	wantError(t, err, connect.CodeNotFound)
}

// Every procedure of the KV and admin services has an authorisation rule
// (a missing one would need the admin credential: safe, but a new call
// should be decided, not fall through).
func TestAuthzCoversEveryProcedure(t *testing.T) {
	t.Parallel()
	for _, p := range procedures() {
		if !server.HasAuthzRule(p) {
			t.Errorf("%s has no authorisation rule in internal/server/authz.go", p)
		}
	}
}

func procedures() []string {
	var out []string
	for _, fd := range []struct {
		svc     string
		methods func() []string
	}{
		{kvv1connect.KVServiceName, func() []string {
			return methodNames(kvv1.File_concord_kv_v1_kv_proto.Services().ByName("KVService").Methods())
		}},
		{adminv1connect.AdminServiceName, func() []string {
			return methodNames(adminv1.File_concord_admin_v1_admin_proto.Services().ByName("AdminService").Methods())
		}},
	} {
		for _, m := range fd.methods() {
			out = append(out, fmt.Sprintf("/%s/%s", fd.svc, m))
		}
	}
	return out
}

func methodNames(ms protoreflect.MethodDescriptors) []string {
	out := make([]string, ms.Len())
	for i := range ms.Len() {
		out[i] = string(ms.Get(i).Name())
	}
	return out
}

// TestAWriteOnlyTokenCannotReadThroughAConflict: a failed conditional Put
// carries the key's current state (ContextConflict) to a caller that may
// read the namespace, and not to a write-only token, which could otherwise
// read any key by writing it with if_absent.
func TestAWriteOnlyTokenCannotReadThroughAConflict(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	root := clientsAs(t, url, adminToken)
	if _, err := root.kv.Put(t.Context(), &kvv1.PutRequest{Namespace: ns, Key: []byte("secret"), Value: []byte("s3cr3t")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		scopes []adminv1.TokenScope
		detail bool
	}{{[]adminv1.TokenScope{write}, false}, {[]adminv1.TokenScope{read, write}, true}} {
		_, secret := newToken(t, root.admin, ns, tc.scopes...)
		_, err := clientsAs(t, url, secret).kv.Put(t.Context(), &kvv1.PutRequest{Namespace: ns, Key: []byte("secret"), Value: []byte("x"), IfAbsent: true})
		ce := wantError(t, err, connect.CodeAlreadyExists)
		var got bool
		for _, d := range ce.Details() {
			if m, err := d.Value(); err == nil {
				if _, ok := m.(*kvv1.ContextConflict); ok {
					got = true
				}
			}
		}
		if got != tc.detail {
			t.Errorf("scopes %v: ContextConflict detail %v, want %v", tc.scopes, got, tc.detail)
		}
	}
}
