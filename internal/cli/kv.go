package cli

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	kvv1 "github.com/concord-kv/concord/proto/gen/concord/kv/v1"
	"github.com/concord-kv/concord/proto/gen/concord/kv/v1/kvv1connect"
)

type kvFlags struct {
	*globalFlags
	namespace string
}

func (f *kvFlags) client() kvv1connect.KVServiceClient {
	return kvv1connect.NewKVServiceClient(f.http, f.endpoint)
}

func newKVCmd(g *globalFlags) *cobra.Command {
	f := &kvFlags{globalFlags: g}
	cmd := &cobra.Command{
		Use:   "kv",
		Short: "Read and write keys",
		Long: `Read and write keys. Keys are given as text; values are text or files.

A read prints the key's siblings and its context. Pass the context back with
--context on the next put or delete so it replaces what you read; without it,
a put adds a sibling.`,
	}
	cmd.PersistentFlags().StringVarP(&f.namespace, "namespace", "n", "default", "namespace")
	cmd.AddCommand(newKVGetCmd(f), newKVPutCmd(f), newKVDeleteCmd(f), newKVListCmd(f))
	return cmd
}

func newKVGetCmd(f *kvFlags) *cobra.Command {
	var r uint32
	cmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Read a key: its siblings and context",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &kvv1.GetRequest{Namespace: f.namespace, Key: []byte(args[0])}
			req.R = r
			res, err := f.client().Get(cmd.Context(), req)
			if err != nil {
				return rpcError(err)
			}
			return f.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				if !res.GetFound() {
					fmt.Fprintln(w, "(not found)")
				}
				printSiblings(w, res.GetSiblings())
				fmt.Fprintf(w, "context: %s\n", encodeContext(res.GetContext()))
			})
		},
	}
	cmd.Flags().Uint32Var(&r, "r", 0, "replies to wait for (default: the namespace's r)")
	return cmd
}

func newKVPutCmd(f *kvFlags) *cobra.Command {
	var (
		file, context             string
		w                         uint32
		ifAbsent, show, overwrite bool
	)
	cmd := &cobra.Command{
		Use:   "put KEY [VALUE]",
		Short: "Write a value (from the argument, --file, or standard input)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			value, err := readValue(cmd, args[1:], file)
			if err != nil {
				return err
			}
			ctx, err := decodeContext(context)
			if err != nil {
				return err
			}
			req := &kvv1.PutRequest{Namespace: f.namespace, Key: []byte(args[0]), Value: value, Context: ctx,
				IfAbsent: ifAbsent, ReturnSiblings: show, Overwrite: overwrite}
			req.W = w
			res, err := f.client().Put(cmd.Context(), req)
			if err != nil {
				return rpcError(err)
			}
			return f.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				printSiblings(w, res.GetSiblings())
				fmt.Fprintf(w, "context: %s\n", encodeContext(res.GetContext()))
			})
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "read the value from this file ('-' for standard input)")
	cmd.Flags().StringVar(&context, "context", "", "context from a previous get or put")
	cmd.Flags().Uint32Var(&w, "w", 0, "acknowledgements to wait for (default: the namespace's w)")
	cmd.Flags().BoolVar(&ifAbsent, "if-absent", false, "fail if the key has a live value")
	cmd.Flags().BoolVar(&show, "show-siblings", false, "print the siblings after the write")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "without --context: replace every version the coordinating node holds instead of adding a sibling")
	return cmd
}

func newKVDeleteCmd(f *kvFlags) *cobra.Command {
	var (
		context string
		force   bool
	)
	cmd := &cobra.Command{
		Use:   "delete KEY",
		Short: "Delete a key (with the context of a read, or --force)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, err := decodeContext(context)
			if err != nil {
				return err
			}
			res, err := f.client().Delete(cmd.Context(), &kvv1.DeleteRequest{Namespace: f.namespace, Key: []byte(args[0]), Context: ctx, Force: force})
			if err != nil {
				return rpcError(err)
			}
			return f.print(cmd.OutOrStdout(), res, func(w io.Writer) {
				fmt.Fprintf(w, "deleted\ncontext: %s\n", encodeContext(res.GetContext()))
			})
		},
	}
	cmd.Flags().StringVar(&context, "context", "", "context from a previous get")
	cmd.Flags().BoolVar(&force, "force", false, "delete without a context")
	return cmd
}

func newKVListCmd(f *kvFlags) *cobra.Command {
	var (
		prefix string
		limit  uint32
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the live keys of a namespace (reads every key: costly)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stream, err := f.client().ListKeys(cmd.Context(), &kvv1.ListKeysRequest{Namespace: f.namespace, Prefix: []byte(prefix), Limit: limit})
			if err != nil {
				return rpcError(err)
			}
			defer stream.Close()
			out := cmd.OutOrStdout()
			for stream.Receive() {
				for _, k := range stream.Msg().GetKeys() {
					if f.output == "json" {
						fmt.Fprintf(out, "{\"key\":%q}\n", printable(k))
					} else {
						fmt.Fprintln(out, printable(k))
					}
				}
			}
			return rpcError(stream.Err())
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", "", "only keys with this prefix")
	cmd.Flags().Uint32Var(&limit, "limit", 0, "stop after this many keys (0: all)")
	return cmd
}

// readValue takes the value from the argument, the file, or stdin, in that order.
func readValue(cmd *cobra.Command, args []string, file string) ([]byte, error) {
	switch {
	case len(args) == 1 && file != "":
		return nil, errors.New("give the value as an argument or with --file, not both")
	case len(args) == 1:
		return []byte(args[0]), nil
	case file != "" && file != "-":
		return os.ReadFile(file)
	}
	return io.ReadAll(cmd.InOrStdin())
}

func printSiblings(w io.Writer, sibs []*kvv1.Sibling) {
	if len(sibs) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SIBLING\tWRITTEN AT\tVALUE")
	for i, s := range sibs {
		fmt.Fprintf(tw, "%d\t%s\t%s\n", i+1, s.GetWrittenAt().AsTime().Format(time.RFC3339Nano), printable(s.GetValue()))
	}
	_ = tw.Flush()
}

// printable shows text as is and binary as base64: with a prefix.
func printable(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return "base64:" + base64.StdEncoding.EncodeToString(b)
}

func encodeContext(c []byte) string { return base64.RawURLEncoding.EncodeToString(c) }

func decodeContext(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("--context: not a context printed by concord (%v)", err)
	}
	return b, nil
}

// rpcError turns a Connect error into a message for the terminal.
func rpcError(err error) error {
	if err == nil {
		return nil
	}
	if hint := tlsHint(err); hint != nil {
		return hint
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return fmt.Errorf("%s: %s", ce.Code(), ce.Message())
	}
	return err
}

// print writes msg as JSON with -o json, else calls table.
func (f *kvFlags) print(w io.Writer, msg proto.Message, table func(io.Writer)) error {
	if f.output == "json" {
		return printJSON(w, msg)
	}
	table(w)
	return nil
}
