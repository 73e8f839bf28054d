package repl

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/chzyer/readline"
	"github.com/streamsql/streamsql/internal/render"
	"github.com/streamsql/streamsql/types"
)

// liveTable shows a result in 'table' result mode: the materialised
// current table (render.View), not its changes. On a terminal it redraws
// the table in place (the cursor moves up over the previous frame, which
// is cleared) at most once per interval, showing as many rows as the
// terminal has lines for and a "… N more rows" line for the rest; End
// draws the final table, which stays on the screen (after Ctrl-C too).
// Elsewhere it prints the final table, all of it, at End.
//
// Record is called by the query's goroutine, the redraws by liveTable's
// own; mu orders them.
type liveTable struct {
	w    io.Writer
	opts render.TableOptions
	// size returns the terminal's columns and lines; ok is false when w is
	// not a terminal.
	size     func() (cols, lines int, ok bool)
	interval time.Duration

	mu      sync.Mutex
	view    *render.View
	dirty   bool
	onTerm  bool
	drawn   int // screen lines of the frame on the screen
	redraws int
	err     error // of a redraw, returned by the next Record or End
	stop    chan struct{}
	stopped chan struct{}
}

// redrawInterval bounds the redraws of a live table to 10 a second.
const redrawInterval = 100 * time.Millisecond

// frameReserve is the terminal lines a frame leaves free: the header's
// four, the closing line, the "more rows" line, the query's summary and
// the prompt.
const frameReserve = 8

func newLiveTable(w io.Writer, schema types.Schema, opts render.TableOptions) *liveTable {
	return &liveTable{w: w, opts: opts, size: terminalSize(w), interval: redrawInterval, view: render.NewView(schema)}
}

// terminalSize returns the size function of w: a terminal's size, or
// not ok.
func terminalSize(w io.Writer) func() (int, int, bool) {
	f, isFile := w.(interface{ Fd() uintptr })
	return func() (int, int, bool) {
		if !isFile || !readline.IsTerminal(int(f.Fd())) {
			return 0, 0, false
		}
		cols, lines, err := readline.GetSize(int(f.Fd()))
		if err != nil || cols <= 0 || lines <= 0 {
			return 80, 24, true
		}
		return cols, lines, true
	}
}

// Terminal reports whether the table is drawn in place.
func (t *liveTable) Terminal() bool {
	_, _, ok := t.size()
	return ok
}

// Begin implements render.Writer: on a terminal it starts the redraws.
func (t *liveTable) Begin() error {
	_, _, t.onTerm = t.size()
	if !t.onTerm {
		return nil
	}
	t.stop, t.stopped = make(chan struct{}), make(chan struct{})
	go t.redrawLoop()
	return nil
}

func (t *liveTable) redrawLoop() {
	defer close(t.stopped)
	tick := time.NewTicker(t.interval)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			t.mu.Lock()
			if t.dirty && t.err == nil {
				t.err = t.draw()
			}
			t.mu.Unlock()
		}
	}
}

// Record implements render.Writer: it applies rec's changes to the table.
func (t *liveTable) Record(rec arrow.Record) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return t.err
	}
	if err := t.view.Apply(rec); err != nil {
		return fmt.Errorf("result mode 'table': %w", err)
	}
	t.dirty = true
	return nil
}

// End implements render.Writer: it draws the final table.
func (t *liveTable) End() error {
	if t.stop != nil {
		close(t.stop)
		<-t.stopped
		t.stop = nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return t.err
	}
	if !t.onTerm {
		_, err := t.view.WriteFrame(t.w, -1, t.opts)
		return err
	}
	return t.draw()
}

// Rows implements render.Writer: the rows of the table.
func (t *liveTable) Rows() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int64(t.view.Len())
}

// draw replaces the frame on the screen with the current table. t.mu is
// held.
func (t *liveTable) draw() error {
	cols, lines, ok := t.size()
	if !ok { // no longer a terminal (cannot happen on a real one)
		cols, lines = 80, 24
	}
	var b bytes.Buffer
	if t.drawn > 0 {
		fmt.Fprintf(&b, "\r\x1b[%dA\x1b[J", t.drawn)
	}
	start := b.Len()
	if _, err := t.view.WriteFrame(&b, max(lines-frameReserve, 1), t.opts); err != nil {
		return err
	}
	t.drawn = screenLines(b.Bytes()[start:], cols)
	t.dirty = false
	t.redraws++
	_, err := t.w.Write(b.Bytes())
	return err
}

// screenLines is the number of terminal lines text (ending in a newline)
// takes on a terminal cols wide, counting the lines that wrap.
func screenLines(text []byte, cols int) int {
	n := 0
	for len(text) > 0 {
		i := bytes.IndexByte(text, '\n')
		if i < 0 {
			i = len(text)
		}
		w := utf8.RuneCount(text[:i])
		n += max(1, (w+cols-1)/cols)
		text = text[min(i+1, len(text)):]
	}
	return n
}
