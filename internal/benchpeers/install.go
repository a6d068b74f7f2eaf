package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
)

// debPackage is a Debian package a peer's server comes from.
type debPackage struct {
	name   string // e.g. redis-server
	binary string // a program it installs, e.g. redis-server
}

// ensurePackages installs with apt-get the packages whose binary is not on
// the PATH. The package lists are refreshed (apt-get update) only when an
// install from the current ones fails, as on a machine that never ran it.
func ensurePackages(ctx context.Context, log *slog.Logger, pkgs []debPackage) error {
	var missing []string
	for _, p := range pkgs {
		if _, err := exec.LookPath(p.binary); err != nil {
			missing = append(missing, p.name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	log.Info("installing Debian packages", "packages", missing)
	install := append([]string{"install", "-y", "-q", "--no-install-recommends"}, missing...)
	if err := aptGet(ctx, install...); err == nil {
		return nil
	}
	if err := aptGet(ctx, "update", "-q"); err != nil {
		return err
	}
	return aptGet(ctx, install...)
}

func aptGet(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("apt-get %s: %w (run as root?)\n%s", strings.Join(args, " "), err, lastLines(string(out), 15))
	}
	return nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// versionOf runs argv and returns the first line it prints.
func versionOf(argv ...string) string {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return "unknown"
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return first
}
