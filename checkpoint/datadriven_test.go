package checkpoint

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/pebble/v2"
)

// TestDataDriven runs the scripts in testdata/; each file documents the
// command language at its top.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := &ddHarness{dir: t.TempDir()}
		defer h.close()
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			return strings.ReplaceAll(h.run(t, td), h.dir, "DIR")
		})
	})
}

type ddHarness struct {
	dir     string
	s       *Store
	logs    *logBuffer
	clock   *fakeClock
	retain  int
	pending *Pending
}

func (h *ddHarness) close() {
	if h.s != nil {
		h.s.Close()
		h.s = nil
	}
}

func (h *ddHarness) open(t *testing.T, o Options) {
	h.close()
	if h.clock == nil {
		h.clock = newFakeClock()
	}
	h.logs = &logBuffer{}
	o.JobName = "job"
	o.Clock = h.clock
	o.NumRetained = h.retain
	o.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	s, err := Open(h.dir, o)
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
}

// takeLogs returns the log lines written since the last call.
func (h *ddHarness) takeLogs() string {
	s := h.logs.String()
	h.logs.mu.Lock()
	h.logs.b.Reset()
	h.logs.mu.Unlock()
	return s
}

func (h *ddHarness) run(t *testing.T, td *datadriven.TestData) string {
	var out strings.Builder
	switch td.Cmd {
	case "open":
		h.retain = 3
		td.MaybeScanArgs(t, "retain", &h.retain)
		var o Options
		o.Fresh = td.HasArg("fresh")
		if td.HasArg("savepoint") {
			var name string
			td.ScanArgs(t, "savepoint", &name)
			o.FromSavepoint = filepath.Join(h.dir, "savepoints", name)
		}
		h.open(t, o)
		return "ok"

	case "checkpoint", "begin":
		var id uint64
		td.ScanArgs(t, "id", &id)
		cp := h.s.Begin(id)
		for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			switch f[0] {
			case "offset":
				cp.SetSourceOffset(f[1], f[2], []byte(f[3]))
			case "handle":
				cp.SetSinkHandle(f[1], []byte(f[2]))
			case "align":
				d, err := time.ParseDuration(f[1])
				if err != nil {
					t.Fatal(err)
				}
				cp.SetAlignment(d)
			default: // op key=value | op -key | op (no writes)
				w := cp.Operator(f[0])
				for _, kv := range f[1:] {
					if k, ok := strings.CutPrefix(kv, "-"); ok {
						w.Delete([]byte(k))
					} else {
						k, v, _ := strings.Cut(kv, "=")
						w.Set([]byte(k), []byte(v))
					}
				}
			}
		}
		if td.Cmd == "begin" {
			h.pending = cp // never committed
			return fmt.Sprintf("pending %d", id)
		}
		info, err := cp.Commit(context.Background())
		if err != nil {
			return "error: " + err.Error()
		}
		fmt.Fprintf(&out, "committed %d: %d records", info.ID, info.Records)
		return out.String() + "\n" + h.takeLogs()

	case "restore":
		r, err := h.s.Restore()
		if err != nil {
			return "error: " + err.Error() + "\n" + h.takeLogs()
		}
		if r == nil {
			return "no checkpoint\n" + h.takeLogs()
		}
		fmt.Fprintf(&out, "checkpoint %d\n", r.ID())
		fmt.Fprintf(&out, "plan %s\n", strings.Join(r.Plan(), " "))
		for _, op := range r.Operators() {
			fmt.Fprintf(&out, "state %s:", op)
			r.Operator(op).Scan(func(k, v []byte) error {
				fmt.Fprintf(&out, " %s=%s", k, v)
				return nil
			})
			out.WriteString("\n")
		}
		info := r.Info()
		for _, op := range slices.Sorted(mapsKeys(info.SourceOffsets)) {
			offs := r.SourceOffsets(op)
			for _, split := range slices.Sorted(mapsKeys(offs)) {
				fmt.Fprintf(&out, "offset %s %s %s\n", op, split, offs[split])
			}
		}
		for _, op := range slices.Sorted(mapsKeys(info.SinkHandles)) {
			fmt.Fprintf(&out, "handle %s %s\n", op, r.SinkHandle(op))
		}
		out.WriteString(h.takeLogs())
		return out.String()

	case "list":
		infos, err := h.s.List()
		if err != nil {
			return "error: " + err.Error()
		}
		for _, i := range infos {
			fmt.Fprintf(&out, "%d %s dur=%s align=%s records=%d bytes=%d\n", i.ID, i.Time.Format(time.TimeOnly), i.Duration, i.Alignment, i.Records, i.Bytes)
			for _, o := range i.Operators {
				fmt.Fprintf(&out, "  op %s sets=%d deletes=%d bytes=%d\n", o.ID, o.Sets, o.Deletes, o.Bytes)
			}
			for _, op := range slices.Sorted(mapsKeys(i.SourceOffsets)) {
				for _, split := range slices.Sorted(mapsKeys(i.SourceOffsets[op])) {
					fmt.Fprintf(&out, "  offset %s %s %s\n", op, split, i.SourceOffsets[op][split])
				}
			}
			for _, op := range slices.Sorted(mapsKeys(i.SinkHandles)) {
				fmt.Fprintf(&out, "  handle %s %s\n", op, i.SinkHandles[op])
			}
		}
		f, err := h.s.Failures()
		if err != nil {
			return "error: " + err.Error()
		}
		if f.Count > 0 {
			fmt.Fprintf(&out, "failures %d, last %d: %s\n", f.Count, f.LastID, f.LastError)
		}
		return out.String()

	case "fail":
		var id uint64
		var msg string
		td.ScanArgs(t, "id", &id)
		td.ScanArgs(t, "err", &msg)
		if err := h.s.RecordFailure(id, fmt.Errorf("%s", msg)); err != nil {
			return "error: " + err.Error()
		}
		return "ok"

	case "keys":
		// Every state version on disk, in key order.
		func(db *pebble.DB) {
			it, _ := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixState}, UpperBound: []byte{prefixState + 1}})
			for it.First(); it.Valid(); it.Next() {
				g, id, _ := splitState(it.Key())
				op, rest, _ := decodeEsc(nil, g[1:])
				uk, _, _ := decodeEsc(nil, rest)
				kind := "set"
				if it.Value()[0] == kindTombstone {
					kind = "del"
				}
				fmt.Fprintf(&out, "%s/%s@%d %s\n", op, uk, id, kind)
			}
			it.Close()
		}(h.s.db)
		if out.Len() == 0 {
			return "(none)"
		}
		return out.String()

	case "corrupt":
		// corrupt meta id=N | state id=N op=X key=K | offset id=N | drop-state id=N op=X key=K
		var id uint64
		td.ScanArgs(t, "id", &id)
		var key []byte
		switch what := td.CmdArgs[0].Key; what {
		case "meta":
			key = idKey(prefixMeta, id)
		case "offset":
			key = offsetKey(id, "src", "0")
		case "state", "drop-state":
			var op, k string
			td.ScanArgs(t, "op", &op)
			td.ScanArgs(t, "key", &k)
			key = appendVersion(stateGroup(nil, op, []byte(k)), id)
		default:
			t.Fatalf("unknown corruption %q", what)
		}
		h.close()
		h.rawDB(t, func(db *pebble.DB) {
			v, closer, err := db.Get(key)
			if err != nil {
				t.Fatalf("corrupt %q: %v", key, err)
			}
			v = bytes.Clone(v)
			closer.Close()
			if td.CmdArgs[0].Key == "drop-state" {
				err = db.Delete(key, pebble.Sync)
			} else {
				v[len(v)/2] ^= 0x20
				err = db.Set(key, v, pebble.Sync)
			}
			if err != nil {
				t.Fatal(err)
			}
		})
		h.open(t, Options{})
		return "ok"

	case "savepoint":
		var name string
		td.ScanArgs(t, "name", &name)
		info, err := h.s.Savepoint(context.Background(), filepath.Join(h.dir, "savepoints", name))
		if err != nil {
			return "error: " + err.Error()
		}
		return fmt.Sprintf("savepoint of %s at checkpoint %d", info.Job, info.CheckpointID)

	default:
		t.Fatalf("unknown command %q", td.Cmd)
	}
	return ""
}

// rawDB opens the job's Pebble database directly (the store is closed).
func (h *ddHarness) rawDB(t *testing.T, fn func(*pebble.DB)) {
	dir, _ := JobDir(h.dir, "job")
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{slog.New(slog.DiscardHandler)}, FormatMajorVersion: pebble.FormatNewest})
	if err != nil {
		t.Fatal(err)
	}
	fn(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
