package cli

import (
	"fmt"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const envPrefix = "CONCORD_"

// applyConfig layers configuration onto the command's flags: a flag the user
// did not set takes its value from CONCORD_<FLAG_NAME> if set, else from the
// config file, else keeps its default. Flag names map to env names by
// upper-casing and '-' → '_' (--data-dir ↔ CONCORD_DATA_DIR).
func applyConfig(cmd *cobra.Command, configPath string, environ func() []string) error {
	k := koanf.New(".")
	envProvider := env.Provider(".", env.Opt{
		Prefix:      envPrefix,
		EnvironFunc: environ,
		TransformFunc: func(key, v string) (string, any) {
			return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(key, envPrefix)), "_", "-"), v
		},
	})
	fromEnv := koanf.New(".")
	if err := fromEnv.Load(envProvider, nil); err != nil {
		return fmt.Errorf("read environment: %w", err)
	}
	if configPath == "" {
		configPath = fromEnv.String("config")
	}
	if configPath != "" {
		if err := k.Load(file.Provider(configPath), yaml.Parser()); err != nil {
			return fmt.Errorf("read config file %s: %w", configPath, err)
		}
	}
	if err := k.Merge(fromEnv); err != nil {
		return err
	}
	var firstErr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || !k.Exists(f.Name) || firstErr != nil {
			return
		}
		if err := cmd.Flags().Set(f.Name, k.String(f.Name)); err != nil {
			firstErr = fmt.Errorf("configuration value for %s: %w", f.Name, err)
		}
	})
	return firstErr
}
