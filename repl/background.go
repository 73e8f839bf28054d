package repl

import (
	"bytes"
	"io"
	"sync"
)

// Output is a writer for what background jobs write while the shell runs:
// the print connector's rows (engine.Options.Stdout) and log lines (the
// engine's logger). Give the same Outputs to Config.Background. While an
// interactive shell is open, whole lines written to an Output are printed
// above the prompt, which readline then redraws with the line being typed,
// so that job output never lands in the middle of the input; a partial
// line waits for its newline. Otherwise, and after the shell has closed,
// writes go straight to the underlying writer.
//
// An Output is safe for concurrent use.
type Output struct {
	w io.Writer

	mu      sync.Mutex
	via     io.Writer // readline's writer while the prompt is up, else nil
	partial []byte    // an unfinished line, held while via is set
}

// NewOutput returns an Output writing to w.
func NewOutput(w io.Writer) *Output { return &Output{w: w} }

// Write implements io.Writer.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.via == nil {
		return o.w.Write(p)
	}
	i := bytes.LastIndexByte(p, '\n')
	if i < 0 {
		o.partial = append(o.partial, p...)
		return len(p), nil
	}
	lines := p[:i+1]
	if len(o.partial) > 0 {
		lines = append(o.partial, lines...)
		o.partial = o.partial[:0]
	}
	if _, err := o.via.Write(lines); err != nil {
		return 0, err
	}
	o.partial = append(o.partial, p[i+1:]...)
	return len(p), nil
}

// route sends whole lines through via (readline's writer, which prints
// above the prompt) until the returned function is called.
func (o *Output) route(via io.Writer) (restore func()) {
	o.mu.Lock()
	o.via = via
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.via = nil
		if len(o.partial) > 0 {
			_, _ = o.w.Write(o.partial)
			o.partial = nil
		}
	}
}
