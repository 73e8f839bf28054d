package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// versionString describes the binary: the module version ("(devel)" for
// a build from a checkout), the VCS revision and time it was built from
// (with "+dirty" for uncommitted changes), and the Go version.
func versionString() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "streamsql (unknown version) " + runtime.Version()
	}
	return describeBuild(info)
}

// describeBuild is versionString for the build info of a binary. Without
// VCS settings (go build -buildvcs=false, or a directory Go does not see
// as a checkout, such as a git worktree) it says so.
func describeBuild(info *debug.BuildInfo) string {
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var rev, at, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	out := "streamsql " + version
	if rev != "" {
		out += " revision " + rev + dirty
		if at != "" {
			out += " (" + at + ")"
		}
	} else {
		out += " (no VCS revision recorded)"
	}
	return out + " " + info.GoVersion
}

// versionCmd is `streamsql version` (and --version).
func versionCmd(_ context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("takes no arguments, got %q", args[0])
	}
	fmt.Fprintln(stdout, versionString())
	return nil
}
