package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"connectrpc.com/connect"

	"github.com/concord-kv/concord/engine/auth"
	"github.com/concord-kv/concord/engine/errs"
	"github.com/concord-kv/concord/engine/node"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
	"github.com/concord-kv/concord/proto/gen/concord/admin/v1/adminv1connect"
	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

// authorize is the interceptor that checks every call of the KV and admin
// services, unary and streaming: the credential comes from the
// Authorization header ("Bearer <credential>"). No credential, or one the
// cluster does not know, is Unauthenticated. The admin credential may do
// everything. A namespace token may do what its scopes allow in its
// namespace (rules); about another namespace it gets exactly the NotFound
// a missing namespace gets, so it cannot learn which exist. List calls
// answer only what the token may see. A procedure without a rule needs the
// admin credential.
type authorize struct {
	node *node.Node
	log  *slog.Logger
}

// access is how a rule decides.
type access int

const (
	// cluster: the admin credential only.
	cluster access = iota
	// inNamespace: scope in the namespace the request names.
	inNamespace
	// ownNamespace: scope in the token's own namespace; the answer is
	// filtered to it (list calls, and TestResolver, which changes nothing).
	ownNamespace
)

// rule is what a procedure needs.
type rule struct {
	access access
	scope  auth.Scope
	// namespace is the namespace a request names (inNamespace).
	namespace func(a authorize, p auth.Principal, req any) (string, error)
	// filter keeps what p may see of a response (ownNamespace).
	filter func(p auth.Principal, res any)
}

func named[T interface{ GetNamespace() string }](_ authorize, _ auth.Principal, req any) (string, error) {
	return req.(T).GetNamespace(), nil
}

// rules are the procedures of the KV and admin services and what each
// needs. TestAuthzCoversEveryProcedure checks none is missing.
var rules = map[string]rule{
	kvv1connect.KVServiceGetProcedure:         {access: inNamespace, scope: auth.ScopeRead, namespace: named[*kvv1.GetRequest]},
	kvv1connect.KVServiceListKeysProcedure:    {access: inNamespace, scope: auth.ScopeRead, namespace: named[*kvv1.ListKeysRequest]},
	kvv1connect.KVServicePutProcedure:         {access: inNamespace, scope: auth.ScopeWrite, namespace: named[*kvv1.PutRequest]},
	kvv1connect.KVServiceDeleteProcedure:      {access: inNamespace, scope: auth.ScopeWrite, namespace: named[*kvv1.DeleteRequest]},
	kvv1connect.KVServiceGetTopologyProcedure: {access: inNamespace, scope: auth.ScopeRead, namespace: named[*kvv1.GetTopologyRequest]},

	adminv1connect.AdminServiceGetNamespaceProcedure: {access: inNamespace, scope: auth.ScopeAdmin,
		namespace: func(_ authorize, _ auth.Principal, req any) (string, error) {
			return req.(*adminv1.GetNamespaceRequest).GetName(), nil
		}},
	adminv1connect.AdminServiceUpdateNamespaceProcedure: {access: inNamespace, scope: auth.ScopeAdmin,
		namespace: func(_ authorize, _ auth.Principal, req any) (string, error) {
			return req.(*adminv1.UpdateNamespaceRequest).GetName(), nil
		}},
	adminv1connect.AdminServiceListNamespacesProcedure: {access: ownNamespace, filter: func(p auth.Principal, res any) {
		r := res.(*adminv1.ListNamespacesResponse)
		r.Namespaces = slices.DeleteFunc(r.Namespaces, func(ns *adminv1.Namespace) bool { return !p.Sees(ns.GetName()) })
	}},
	adminv1connect.AdminServiceGetNamespaceStatsProcedure: {access: inNamespace, scope: auth.ScopeAdmin, namespace: named[*adminv1.GetNamespaceStatsRequest]},
	adminv1connect.AdminServiceUploadResolverProcedure:    {access: inNamespace, scope: auth.ScopeAdmin, namespace: named[*adminv1.UploadResolverRequest]},
	adminv1connect.AdminServiceDeleteResolverProcedure:    {access: inNamespace, scope: auth.ScopeAdmin, namespace: named[*adminv1.DeleteResolverRequest]},
	adminv1connect.AdminServiceTestResolverProcedure:      {access: ownNamespace, scope: auth.ScopeAdmin, filter: func(auth.Principal, any) {}},
	adminv1connect.AdminServiceListResolversProcedure: {access: ownNamespace, scope: auth.ScopeAdmin, filter: func(p auth.Principal, res any) {
		r := res.(*adminv1.ListResolversResponse)
		r.Resolvers = slices.DeleteFunc(r.Resolvers, func(nr *adminv1.NamespaceResolver) bool { return !p.Sees(nr.GetNamespace()) })
	}},

	adminv1connect.AdminServiceCreateTokenProcedure: {access: inNamespace, scope: auth.ScopeAdmin, namespace: named[*adminv1.CreateTokenRequest]},
	adminv1connect.AdminServiceListTokensProcedure: {access: inNamespace, scope: auth.ScopeAdmin,
		namespace: func(_ authorize, p auth.Principal, req any) (string, error) {
			r := req.(*adminv1.ListTokensRequest)
			if r.GetNamespace() == "" && !p.Admin {
				r.Namespace = p.Token.Namespace // all the token may see
			}
			return r.GetNamespace(), nil
		}},
	adminv1connect.AdminServiceRevokeTokenProcedure: {access: inNamespace, scope: auth.ScopeAdmin,
		namespace: func(a authorize, p auth.Principal, req any) (string, error) {
			id := req.(*adminv1.RevokeTokenRequest).GetId()
			t, err := a.node.Token(id)
			if err != nil {
				return "", err
			}
			if !p.Can(t.Namespace, auth.ScopeAdmin) {
				// The same answer as for a token that does not exist.
				return "", fmt.Errorf("%w: %q", auth.ErrTokenNotFound, id)
			}
			return t.Namespace, nil
		}},

	// Cluster administration: the admin credential only (also what a
	// procedure missing from this table needs).
	adminv1connect.AdminServiceCreateNamespaceProcedure:       {access: cluster},
	adminv1connect.AdminServiceDeleteNamespaceProcedure:       {access: cluster},
	adminv1connect.AdminServiceClusterStatusProcedure:         {access: cluster},
	adminv1connect.AdminServiceStageJoinProcedure:             {access: cluster},
	adminv1connect.AdminServiceStageLeaveProcedure:            {access: cluster},
	adminv1connect.AdminServicePlanChangesProcedure:           {access: cluster},
	adminv1connect.AdminServiceCommitChangesProcedure:         {access: cluster},
	adminv1connect.AdminServiceClearChangesProcedure:          {access: cluster},
	adminv1connect.AdminServiceWatchHandoffProcedure:          {access: cluster},
	adminv1connect.AdminServiceGetClusterSettingsProcedure:    {access: cluster},
	adminv1connect.AdminServiceUpdateClusterSettingsProcedure: {access: cluster},
	// A namespace token never rotates the admin credential, whatever its
	// scopes.
	adminv1connect.AdminServiceRotateAdminCredentialProcedure: {access: cluster},
}

// errNeedsAdmin answers a namespace token on a cluster-level call.
var errNeedsAdmin = connect.NewError(connect.CodePermissionDenied, errors.New("this call needs the admin credential"))

// authenticate returns who sent header.
func (a authorize) authenticate(header http.Header) (auth.Principal, error) {
	scheme, cred, _ := strings.Cut(header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(cred) == "" {
		return auth.Principal{}, connect.NewError(connect.CodeUnauthenticated,
			errors.New("no credential: send the header 'Authorization: Bearer <token>' (the CLI and SDK take it from CONCORD_TOKEN)"))
	}
	p, err := a.node.Authenticate(strings.TrimSpace(cred))
	if err != nil {
		return auth.Principal{}, connect.NewError(connect.CodeUnauthenticated, errors.New("the credential is not valid: unknown, revoked or malformed"))
	}
	return p, nil
}

// check decides whether p may make the call procedure with req (nil: the
// request is not read yet, only the credential and the procedure are
// checked).
func (a authorize) check(p auth.Principal, procedure string, req any) error {
	if p.Admin {
		return nil
	}
	r, ok := rules[procedure]
	switch {
	case !ok || r.access == cluster:
		return errNeedsAdmin
	case r.access == ownNamespace:
		if r.scope != 0 && !p.Token.Scopes.Has(r.scope) {
			return a.denied(p, r.scope, p.Token.Namespace)
		}
		return nil
	case req == nil:
		return nil
	}
	ns, err := r.namespace(a, p, req)
	switch {
	case err != nil:
		return toConnect(a.log, err)
	case ns == "":
		return nil // the handler refuses a request that names no namespace
	case !p.Sees(ns):
		// Exactly what a namespace that does not exist gets.
		return toConnect(a.log, fmt.Errorf("%w: %q", errs.ErrNamespaceNotFound, ns))
	case !p.Can(ns, r.scope):
		return a.denied(p, r.scope, ns)
	}
	return nil
}

func (a authorize) denied(p auth.Principal, want auth.Scope, ns string) error {
	return connect.NewError(connect.CodePermissionDenied,
		fmt.Errorf("this token's scopes (%s) do not include %s in namespace %q", p.Token.Scopes, want, ns))
}

func (a authorize) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		p, err := a.authenticate(req.Header())
		if err != nil {
			return nil, err
		}
		procedure := req.Spec().Procedure
		if err := a.check(p, procedure, req.Any()); err != nil {
			return nil, err
		}
		res, err := next(ctx, req)
		if err == nil && !p.Admin {
			if f := rules[procedure].filter; f != nil {
				f(p, res.Any())
			}
		}
		if err != nil && !p.Admin {
			err = withoutUnreadable(p, req.Any(), err)
		}
		return res, err
	}
}

// withoutUnreadable takes the key's current state (a ContextConflict
// detail, which a failed conditional Put carries) out of an error answered
// to a caller that may not read the namespace: a write-only token must not
// read keys by writing them with if_absent.
func withoutUnreadable(p auth.Principal, req any, err error) error {
	named, ok := req.(interface{ GetNamespace() string })
	var ce *connect.Error
	if !ok || p.Can(named.GetNamespace(), auth.ScopeRead) || !errors.As(err, &ce) {
		return err
	}
	conflict := string((&kvv1.ContextConflict{}).ProtoReflect().Descriptor().FullName())
	out := connect.NewError(ce.Code(), errors.New(ce.Message()))
	for _, d := range ce.Details() {
		if d.Type() != conflict {
			out.AddDetail(d)
		}
	}
	return out
}

func (authorize) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler checks the credential before the handler runs and
// each request message as the handler receives it.
func (a authorize) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		p, err := a.authenticate(conn.RequestHeader())
		if err != nil {
			return err
		}
		procedure := conn.Spec().Procedure
		if err := a.check(p, procedure, nil); err != nil {
			return err
		}
		return next(ctx, &checkedConn{StreamingHandlerConn: conn, a: a, p: p, procedure: procedure})
	}
}

// checkedConn checks each request message of a stream.
type checkedConn struct {
	connect.StreamingHandlerConn
	a         authorize
	p         auth.Principal
	procedure string
}

func (c *checkedConn) Receive(msg any) error {
	if err := c.StreamingHandlerConn.Receive(msg); err != nil {
		return err
	}
	return c.a.check(c.p, c.procedure, msg)
}
