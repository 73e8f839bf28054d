package exec

import (
	"context"
	"io"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// prefetcher reads a source in its own goroutine, a batch ahead of the
// operators, so that on a machine with more than one core the source and
// the operators run in parallel (the source as its own task, in Flink's
// terms). It keeps the exactly-once contract: with each batch it takes the
// source's offset after that batch, and the job checkpoints the offset of
// the last batch it consumed, not of the last one read.
//
// Only sources without SplitReporter or CheckpointListener are prefetched:
// those are called from the job's goroutine while Read runs, and the
// sources that have them (Kafka) fetch in the background already.
type prefetcher struct {
	src    Source
	ch     chan fetched
	cancel context.CancelFunc
	done   chan struct{}
	offset []byte // after the last batch consumed
}

type fetched struct {
	rec    arrow.Record
	split  int
	offset []byte
	err    error
}

// prefetchable reports whether src may be read ahead in another goroutine.
func prefetchable(src Source) bool {
	_, splits := src.(SplitReporter)
	_, listens := src.(CheckpointListener)
	return !splits && !listens
}

// startPrefetch starts reading an opened source.
func startPrefetch(ctx context.Context, src Source, depth int) (*prefetcher, error) {
	off, err := src.Offset()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &prefetcher{src: src, ch: make(chan fetched, depth), cancel: cancel, done: make(chan struct{}), offset: off}
	go p.run(ctx)
	return p, nil
}

func (p *prefetcher) run(ctx context.Context) {
	defer close(p.done)
	defer close(p.ch)
	for {
		rec, split, err := p.src.Read(ctx)
		f := fetched{rec: rec, split: split, err: err}
		if err == nil && rec != nil {
			f.offset, f.err = p.src.Offset()
		}
		if rec == nil && err == nil {
			continue // nothing now: Read already waited
		}
		select {
		case p.ch <- f:
		case <-ctx.Done():
			if rec != nil {
				rec.Release()
			}
			return
		}
		if f.err != nil {
			return
		}
	}
}

// read returns the next batch like Source.Read: (nil, 0, nil) when none
// came within about 100 ms, io.EOF at the end.
func (p *prefetcher) read(ctx context.Context) (arrow.Record, int, error) {
	t := time.NewTimer(100 * time.Millisecond)
	defer t.Stop()
	select {
	case f, ok := <-p.ch:
		if !ok {
			return nil, 0, io.EOF
		}
		if f.err != nil {
			return nil, 0, f.err
		}
		p.offset = f.offset
		return f.rec, f.split, nil
	case <-t.C:
		return nil, 0, nil
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
}

// stop ends the reading goroutine and releases what it read ahead.
func (p *prefetcher) stop() {
	p.cancel()
	for f := range p.ch {
		if f.rec != nil {
			f.rec.Release()
		}
	}
	<-p.done
}
