package repl

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/streamsql/streamsql/engine"
)

// TestComplete runs testdata/complete: tab completion against a session.
func TestComplete(t *testing.T) {
	eng := engine.New(engine.Options{StateDir: t.TempDir(), Stdout: io.Discard})
	c := completer{eng: eng}
	datadriven.RunTest(t, "testdata/complete", func(t *testing.T, d *datadriven.TestData) string {
		switch d.Cmd {
		case "exec":
			var out strings.Builder
			s := &shell{eng: eng, out: &out, errw: &out}
			if err := s.runScript(context.Background(), strings.NewReader(d.Input), ""); err != nil {
				return out.String()
			}
			return ""
		case "complete":
			// The input's last line is the line being edited; "|" marks
			// the cursor (default: its end). Earlier lines are pending.
			text := d.Input
			pending, line := "", text
			if i := strings.LastIndexByte(text, '\n'); i >= 0 {
				pending, line = text[:i+1], text[i+1:]
			}
			pos := len([]rune(line))
			if i := strings.IndexByte(line, '|'); i >= 0 {
				pos = len([]rune(line[:i]))
				line = line[:i] + line[i+1:]
			}
			suffixes, n := c.do(pending, []rune(line), pos)
			if len(suffixes) == 0 {
				return "(none)\n"
			}
			prefix := string([]rune(line)[pos-n : pos])
			var b strings.Builder
			for _, s := range suffixes {
				fmt.Fprintf(&b, "%s\n", prefix+string(s))
			}
			return b.String()
		}
		d.Fatalf(t, "unknown command %q", d.Cmd)
		return ""
	})
}

// TestSplit runs testdata/split: how input lines gather into statements
// and where each statement starts.
func TestSplit(t *testing.T) {
	datadriven.RunTest(t, "testdata/split", func(t *testing.T, d *datadriven.TestData) string {
		var b strings.Builder
		switch d.Cmd {
		case "lines":
			// Feed the input a line at a time, as the shell does; print
			// each batch of complete statements as it becomes runnable.
			var buf buffer
			for n, line := range strings.Split(d.Input, "\n") {
				if buf.add(line, n+1) {
					for _, p := range splitScript(buf.take()) {
						fmt.Fprintf(&b, "%d:%d %q", p.line, p.col, p.text)
						if c, ok := clientCommand(p.text); ok {
							fmt.Fprintf(&b, " -> %s %q", c.name, c.arg)
						}
						b.WriteByte('\n')
					}
				}
			}
			if !buf.empty() {
				fmt.Fprintf(&b, "pending %q\n", buf.text())
			}
		case "command":
			for _, line := range strings.Split(d.Input, "\n") {
				if c, ok := clientCommand(line); ok {
					fmt.Fprintf(&b, "%s %q\n", c.name, c.arg)
				} else {
					b.WriteString("sql\n")
				}
			}
		case "history":
			for _, h := range historyEntry(strings.Split(d.Input, "\n")) {
				fmt.Fprintf(&b, "%q\n", h)
			}
		default:
			d.Fatalf(t, "unknown command %q", d.Cmd)
		}
		return b.String()
	})
}
