package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-kv/concord/engine/auth"
	adminv1 "github.com/concord-kv/concord/proto/gen/concord/admin/v1"
)

func newTokenCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke namespace tokens; rotate the admin credential",
		Long: `Create, list and revoke namespace tokens. A token gives its holder the
scopes it was created with in one namespace: read (get, list keys), write
(put, delete), admin (the namespace's settings, resolvers and tokens). Its
secret is printed once, at creation; the cluster keeps only a hash.
These calls need the admin credential, or a token with the admin scope in
the namespace. rotate-admin replaces the admin credential itself.`,
	}
	cmd.AddCommand(newTokenCreateCmd(g), newTokenListCmd(g), newTokenRevokeCmd(g), newTokenRotateAdminCmd(g))
	return cmd
}

type tokenCreateFlags struct {
	scopes      []string
	description string
}

func newTokenCreateCmd(g *globalFlags) *cobra.Command {
	f := &tokenCreateFlags{}
	cmd := &cobra.Command{
		Use:   "create NAMESPACE",
		Short: "Create a token for a namespace and print its secret (shown only this once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			scopes, err := scopesToProto(f.scopes)
			if err != nil {
				return err
			}
			res, err := g.adminClient().CreateToken(cmd.Context(), &adminv1.CreateTokenRequest{
				Namespace: args[0], Scopes: scopes, Description: f.description,
			})
			if err != nil {
				return rpcError(err)
			}
			return g.printOutput(cmd.OutOrStdout(), res, func(w io.Writer) {
				t := res.GetToken()
				fmt.Fprintf(w, "token %s for namespace %s (%s)\n", t.GetId(), t.GetNamespace(), scopeList(t.GetScopes()))
				fmt.Fprintf(w, "secret (shown only now; the cluster keeps only its hash):\n%s\n", res.GetSecret())
			})
		},
	}
	cmd.Flags().StringSliceVar(&f.scopes, "scope", []string{"read"}, "scopes: read, write, admin (comma-separated or repeated)")
	cmd.Flags().StringVar(&f.description, "description", "", "what the token is for (shown by token list)")
	return cmd
}

func newTokenListCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list [NAMESPACE]",
		Short: "List tokens (never their secrets), of one namespace or all",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &adminv1.ListTokensRequest{}
			if len(args) == 1 {
				req.Namespace = args[0]
			}
			res, err := g.adminClient().ListTokens(cmd.Context(), req)
			if err != nil {
				return rpcError(err)
			}
			return g.printOutput(cmd.OutOrStdout(), res, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAMESPACE\tSCOPES\tCREATED\tDESCRIPTION")
				for _, t := range res.GetTokens() {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.GetId(), t.GetNamespace(), scopeList(t.GetScopes()),
						t.GetCreatedAt().AsTime().Format(time.RFC3339), t.GetDescription())
				}
				_ = tw.Flush()
			})
		},
	}
}

func newTokenRevokeCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token; every node refuses it within a gossip interval",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := g.adminClient().RevokeToken(cmd.Context(), &adminv1.RevokeTokenRequest{Id: args[0]})
			if err != nil {
				return rpcError(err)
			}
			return g.printOutput(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "token %s revoked\n", args[0])
			})
		},
	}
}

func newTokenRotateAdminCmd(g *globalFlags) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "rotate-admin",
		Short: "Replace the admin credential on every node; prints a generated one once",
		Long: `Replace the admin credential. Every node switches within a gossip
interval; from then on the old credential is refused everywhere, so update
every client that uses it. Without --from-file the cluster generates the new
credential and it is printed once, with the export line for the shell; keep
it in your secret store. With --from-file the credential in the file (at
least 20 characters) becomes the new one and is not printed. Needs the
admin credential.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &adminv1.RotateAdminCredentialRequest{}
			if file != "" {
				raw, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("--from-file: %w", err)
				}
				req.NewCredential = strings.TrimSpace(string(raw))
				if err := auth.ValidAdmin(req.NewCredential); err != nil {
					return fmt.Errorf("--from-file: %w", err)
				}
			}
			res, err := g.adminClient().RotateAdminCredential(cmd.Context(), req)
			if err != nil {
				return rpcError(err)
			}
			return g.printOutput(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "admin credential rotated (version %d); the old one is refused on every node within a gossip interval\n", res.GetVersion())
				if c := res.GetCredential(); c != "" {
					fmt.Fprintf(w, "new admin credential (shown only now; the cluster keeps only its hash):\n  export CONCORD_TOKEN=%s\n", c)
				}
			})
		},
	}
	cmd.Flags().StringVar(&file, "from-file", "", "file holding the new admin credential (default: the cluster generates one)")
	return cmd
}

// scopesToProto parses --scope values.
func scopesToProto(names []string) ([]adminv1.TokenScope, error) {
	s, err := auth.ParseScopes(names)
	if err != nil {
		return nil, fmt.Errorf("--scope: %w", err)
	}
	var out []adminv1.TokenScope
	for _, name := range s.Names() {
		out = append(out, adminv1.TokenScope(adminv1.TokenScope_value["TOKEN_SCOPE_"+strings.ToUpper(name)]))
	}
	return out, nil
}

func scopeList(ps []adminv1.TokenScope) string {
	names := make([]string, 0, len(ps))
	for _, p := range ps {
		names = append(names, strings.ToLower(strings.TrimPrefix(p.String(), "TOKEN_SCOPE_")))
	}
	return strings.Join(names, ",")
}

// adminTokenFile is where a node keeps the admin credential it generated
// (or where `concord dev` keeps its cluster's), readable by its owner only.
const adminTokenFile = "admin-token"

// loadOrCreateToken reads the credential in path, or makes a new one and
// writes it there (mode 0600, its directory made if missing) if the file
// does not exist.
func loadOrCreateToken(path string) (tok string, created bool, err error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(raw)), false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	tok = auth.NewAdminCredential()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, err
	}
	_, err = f.WriteString(tok + "\n")
	if err := errors.Join(err, f.Sync(), f.Close()); err != nil {
		return "", false, fmt.Errorf("write %s: %w", path, err)
	}
	return tok, true, nil
}

// readTokenFile reads a credential from a file (--admin-token-file).
func readTokenFile(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--admin-token-file: %w", err)
	}
	return strings.TrimSpace(string(raw)), nil
}
