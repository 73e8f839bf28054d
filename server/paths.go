package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// PathPolicy returns a policy for engine.Options.PathPolicy that accepts
// only paths inside one of dirs (the server's data directory and any
// --allow-path), so that SQL sent to the server cannot read or write
// files elsewhere (/etc/passwd as a filesystem source). Each dir must
// exist; relative paths are taken from the working directory.
//
// A path is judged by where it really leads: symbolic links in the part
// of it that exists are resolved and ".." is applied after them, as the
// operating system does; the part that does not exist yet (a sink's new
// directory) is cleaned lexically. When the path is an existing
// directory, the symbolic links among its entries (which a source reads)
// must lead inside too.
func PathPolicy(dirs ...string) (func(path string) error, error) {
	if len(dirs) == 0 {
		return nil, errors.New("server: a path policy needs at least one directory")
	}
	roots := make([]string, 0, len(dirs))
	for _, d := range dirs {
		r, err := resolve(d)
		if err != nil {
			return nil, fmt.Errorf("server: data directory %q: %w", d, err)
		}
		if st, err := os.Stat(r); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("server: data directory %q is not an existing directory", d)
		}
		roots = append(roots, r)
	}
	inside := func(p string) bool {
		for _, r := range roots {
			if p == r || strings.HasPrefix(p, r+string(filepath.Separator)) || r == string(filepath.Separator) {
				return true
			}
		}
		return false
	}
	allowed := strings.Join(dirs, ", ")
	return func(path string) error {
		if strings.TrimSpace(path) == "" {
			return nil // the connector refuses it
		}
		real, err := resolve(path)
		if err != nil {
			return fmt.Errorf("cannot resolve %q: %v", path, err)
		}
		if !inside(real) {
			return fmt.Errorf("%q is outside the server's data directories (%s); allow it with --allow-path", path, allowed)
		}
		ents, err := os.ReadDir(real)
		if err != nil {
			return nil // not a directory (or unreadable: the connector says so)
		}
		for _, e := range ents {
			if e.Type()&fs.ModeSymlink == 0 {
				continue
			}
			t, err := filepath.EvalSymlinks(filepath.Join(real, e.Name()))
			if err != nil {
				continue // dangling: nothing to read
			}
			if !inside(t) {
				return fmt.Errorf("%q holds %q, a link to %q outside the server's data directories (%s)", path, e.Name(), t, allowed)
			}
		}
		return nil
	}, nil
}

// resolve returns the absolute path that p leads to: symbolic links of
// its longest existing prefix resolved (with ".." applied after them, as
// the kernel does), the rest appended and cleaned.
func resolve(p string) (string, error) {
	if !filepath.IsAbs(p) {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		p = wd + string(filepath.Separator) + p // not Join: it would apply ".." before links
	}
	// Find the longest prefix, component by component, that exists.
	parts := strings.Split(p, string(filepath.Separator))
	existing := string(filepath.Separator)
	i := 0
	for ; i < len(parts); i++ {
		if parts[i] == "" || parts[i] == "." {
			continue
		}
		next := existing + string(filepath.Separator) + parts[i]
		if existing == string(filepath.Separator) {
			next = existing + parts[i]
		}
		if _, err := os.Lstat(next); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				break
			}
			return "", err
		}
		existing = next
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return "", err
	}
	rest := filepath.Join(parts[i:]...)
	if rest == "" {
		return real, nil
	}
	return filepath.Join(real, rest), nil
}
