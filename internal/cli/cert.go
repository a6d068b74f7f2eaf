package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-kv/concord/engine/actor"
	"github.com/concord-kv/concord/internal/pki"
)

type certFlags struct {
	out      string
	ca       string
	hosts    []string
	validity time.Duration
}

func newCertCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Make the certificates of the peer port's mutual TLS",
		Long: `Make a cluster CA and node certificates it signs (ECDSA P-256), for
concord serve --peer-ca, --peer-cert and --peer-key. Keep the CA's key
(ca.key) off the nodes: it is needed only to make node certificates.

  concord cert ca --out certs
  concord cert node node1 --ca certs --out certs --host 10.0.0.5 --host node1.example

See docs/security.md.`,
	}
	cmd.AddCommand(newCertCACmd(), newCertNodeCmd())
	return cmd
}

func newCertCACmd() *cobra.Command {
	f := &certFlags{}
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Make a cluster CA: ca.crt (for every node's --peer-ca) and ca.key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, pair, err := pki.NewCA("concord cluster CA", time.Now(), f.validity)
			if err != nil {
				return err
			}
			certPath, keyPath, err := pair.Write(f.out, "ca")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cluster CA: %s (give it to every node as --peer-ca)\nCA key:     %s (keep it secret and off the nodes)\nvalid until %s\n",
				certPath, keyPath, time.Now().Add(f.validity).UTC().Format(time.DateOnly))
			return nil
		},
	}
	cmd.Flags().StringVar(&f.out, "out", ".", "directory to write ca.crt and ca.key into")
	cmd.Flags().DurationVar(&f.validity, "validity", pki.DefaultCAValidity, "how long the CA is valid")
	return cmd
}

func newCertNodeCmd() *cobra.Command {
	f := &certFlags{}
	cmd := &cobra.Command{
		Use:   "node NAME",
		Short: "Make the certificate of node NAME (its node ID), signed by the cluster CA",
		Long: `Make NAME.crt and NAME.key, a certificate for the node whose ID is NAME,
signed by the CA in --ca, valid for server and client authentication. Give
every host or IP other nodes dial its peer port at with --host. The node runs
with --peer-cert NAME.crt --peer-key NAME.key and, unless --node-id says
otherwise, takes NAME as its ID.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !actor.ValidNodeID(args[0]) {
				return fmt.Errorf("node name %q: a node ID is 1 to 64 letters, digits, '_' or '-'", args[0])
			}
			if f.ca == "" {
				return errors.New("--ca is required: the directory of the cluster CA (concord cert ca)")
			}
			ca, err := pki.LoadCA(f.ca)
			if err != nil {
				return err
			}
			pair, err := ca.Issue(args[0], f.hosts, time.Now(), f.validity)
			if err != nil {
				return err
			}
			certPath, keyPath, err := pair.Write(f.out, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "node %s: --peer-cert %s --peer-key %s\n", args[0], certPath, keyPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&f.ca, "ca", "", "directory holding ca.crt and ca.key")
	cmd.Flags().StringVar(&f.out, "out", ".", "directory to write NAME.crt and NAME.key into")
	cmd.Flags().StringSliceVar(&f.hosts, "host", nil, "DNS name or IP other nodes reach the node's peer port at (repeatable)")
	cmd.Flags().DurationVar(&f.validity, "validity", pki.DefaultNodeValidity, "how long the certificate is valid (at most the CA's remaining validity)")
	return cmd
}
