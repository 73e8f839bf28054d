package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/chzyer/readline"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// statusLine is the live status of `streamsql run` on a terminal: one
// line on stderr, rewritten in place (\r) about once a second while an
// INSERT runs, and cleared when it ends. Log lines written through it are
// printed above the line, which is then drawn again.
type statusLine struct {
	w     io.Writer
	width func() int // the terminal's columns

	mu  sync.Mutex
	cur string // the line shown, "" for none
}

// newStatusLine returns a status line for w, or nil when w is not a
// terminal (a file, a pipe): there the line would only be noise.
func newStatusLine(w io.Writer) *statusLine {
	f, ok := w.(*os.File)
	if !ok || !readline.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &statusLine{w: w, width: func() int {
		if cols, _, err := readline.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
		return 80
	}}
}

// Write prints p (whole log lines) above the status line.
func (s *statusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != "" {
		io.WriteString(s.w, "\r\x1b[K")
	}
	n, err := s.w.Write(p)
	if s.cur != "" {
		io.WriteString(s.w, s.cur)
	}
	return n, err
}

// set shows line, cut to the terminal's width so that it never wraps
// (a wrapped line cannot be rewritten with \r).
func (s *statusLine) set(line string) {
	if w := s.width() - 1; len(line) > w && w > 0 {
		line = line[:w]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = line
	io.WriteString(s.w, "\r"+line+"\x1b[K")
}

// clear removes the line.
func (s *statusLine) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != "" {
		io.WriteString(s.w, "\r\x1b[K")
		s.cur = ""
	}
}

// follow updates the line from q's stats every interval until the
// returned function is called, which clears it.
func (s *statusLine) follow(q *engine.ContinuousQuery, interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		prevIn, prevAt := int64(0), time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				st := q.Stats()
				rate := float64(st.RecordsIn-prevIn) / now.Sub(prevAt).Seconds()
				prevIn, prevAt = st.RecordsIn, now
				s.set(formatStatus(q.Name(), st, rate, now))
			}
		}
	}()
	return func() {
		cancel()
		<-done
		s.clear()
	}
}

// formatStatus is the status line's text: rows in (and their rate) and
// out, the watermark, the source lag, the last checkpoint, and the rows
// dropped or skipped.
func formatStatus(name string, st exec.Stats, rate float64, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d rows in (%.0f/s), %d out", name, st.RecordsIn, rate, st.RecordsOut)
	switch {
	case st.Watermark == exec.MaxWatermark:
		b.WriteString(", watermark +inf")
	case st.Watermark > exec.MinWatermark:
		fmt.Fprintf(&b, ", watermark %s", types.FormatTimestamp(int64(st.Watermark)))
	default:
		b.WriteString(", no watermark yet")
	}
	if st.SourceLag != nil {
		total := int64(0)
		for _, l := range st.SourceLag {
			total += l
		}
		fmt.Fprintf(&b, ", lag %d", total)
	}
	if c := st.LastCheckpoint; c != nil {
		fmt.Fprintf(&b, ", checkpoint %d %s ago", c.ID, now.Sub(c.Time).Round(time.Second))
	} else {
		b.WriteString(", no checkpoint yet")
	}
	if st.LateRecords > 0 {
		fmt.Fprintf(&b, ", %d late dropped", st.LateRecords)
	}
	if st.Malformed > 0 {
		fmt.Fprintf(&b, ", %d malformed", st.Malformed)
	}
	return b.String()
}
