package server

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/concord-kv/concord/engine/auth"
	"github.com/concord-kv/concord/engine/errs"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
)

// Token administration: translation only (who may call what is authz.go's).

func (s *adminService) CreateToken(_ context.Context, req *adminv1.CreateTokenRequest) (*adminv1.CreateTokenResponse, error) {
	scopes, err := scopesFromProto(req.GetScopes())
	if err != nil {
		return nil, err
	}
	t, secret, err := s.node.CreateToken(req.GetNamespace(), scopes, req.GetDescription())
	if err != nil {
		return nil, err
	}
	return &adminv1.CreateTokenResponse{Token: tokenToProto(t), Secret: secret}, nil
}

func (s *adminService) ListTokens(_ context.Context, req *adminv1.ListTokensRequest) (*adminv1.ListTokensResponse, error) {
	out := &adminv1.ListTokensResponse{}
	for _, t := range s.node.Tokens(req.GetNamespace()) {
		out.Tokens = append(out.Tokens, tokenToProto(t))
	}
	return out, nil
}

func (s *adminService) RevokeToken(_ context.Context, req *adminv1.RevokeTokenRequest) (*adminv1.RevokeTokenResponse, error) {
	if err := s.node.RevokeToken(req.GetId()); err != nil {
		return nil, err
	}
	return &adminv1.RevokeTokenResponse{}, nil
}

var scopeProtos = map[adminv1.TokenScope]auth.Scope{
	adminv1.TokenScope_TOKEN_SCOPE_READ:  auth.ScopeRead,
	adminv1.TokenScope_TOKEN_SCOPE_WRITE: auth.ScopeWrite,
	adminv1.TokenScope_TOKEN_SCOPE_ADMIN: auth.ScopeAdmin,
}

func scopesFromProto(ps []adminv1.TokenScope) (auth.Scope, error) {
	var s auth.Scope
	for _, p := range ps {
		v, ok := scopeProtos[p]
		if !ok {
			return 0, errs.Invalid("scopes", "unknown scope %d: use read, write or admin", p)
		}
		s |= v
	}
	if s == 0 {
		return auth.ParseScopes(nil) // the "needs a scope" error
	}
	return s, nil
}

func tokenToProto(t auth.Token) *adminv1.Token {
	out := &adminv1.Token{Id: t.ID, Namespace: t.Namespace, CreatedAt: timestamppb.New(t.CreatedAt), Description: t.Description}
	for _, p := range []adminv1.TokenScope{adminv1.TokenScope_TOKEN_SCOPE_READ, adminv1.TokenScope_TOKEN_SCOPE_WRITE, adminv1.TokenScope_TOKEN_SCOPE_ADMIN} {
		if t.Scopes.Has(scopeProtos[p]) {
			out.Scopes = append(out.Scopes, p)
		}
	}
	return out
}

// RotateAdminCredential replaces the admin credential (authz.go: the admin
// credential only). A generated credential is returned once; one the
// caller gave is not echoed.
func (s *adminService) RotateAdminCredential(_ context.Context, req *adminv1.RotateAdminCredentialRequest) (*adminv1.RotateAdminCredentialResponse, error) {
	secret, generated := req.GetNewCredential(), false
	if secret == "" {
		secret, generated = auth.NewAdminCredential(), true
	}
	v, err := s.node.RotateAdminCredential(secret)
	if err != nil {
		return nil, err
	}
	out := &adminv1.RotateAdminCredentialResponse{Version: v}
	if generated {
		out.Credential = secret
	}
	return out, nil
}
