package exec

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// prefetcher reads a source in its own goroutine, a batch ahead of the
// operators, so that on a machine with more than one core the source (and
// its decoding) and the operators run in parallel (the source as its own
// task, in Flink's terms). It keeps the exactly-once contract: with each
// batch it takes the source's offset (and split count) after that batch,
// and the job checkpoints the offset of the last batch it consumed, not of
// the last one read. Every call into the source — Read, Offsets, Splits and
// CheckpointComplete — is made from the reading goroutine, so sources need
// not be safe for concurrent use.
type prefetcher struct {
	src    Source
	ch     chan fetched
	notify chan completed     // checkpoints to report to a CheckpointListener
	free   chan *splitOffsets // consumed offsets, for the reader to reuse
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	offset *splitOffsets // after the last batch consumed
	splits int           // the source's splits after the last batch consumed
}

type fetched struct {
	rec    arrow.Record
	split  int
	offset *splitOffsets
	splits int
	err    error
}

type completed struct {
	id      int64
	offsets map[string][]byte
}

// startPrefetch starts reading an opened source.
func startPrefetch(ctx context.Context, src Source, depth int, log *slog.Logger) (*prefetcher, error) {
	off := newSplitOffsets()
	if err := off.capture(src); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &prefetcher{src: src, ch: make(chan fetched, depth), notify: make(chan completed, 16),
		free: make(chan *splitOffsets, depth+2), log: log,
		cancel: cancel, done: make(chan struct{}), offset: off, splits: splitsOf(src)}
	go p.run(ctx)
	return p, nil
}

func splitsOf(src Source) int {
	if sr, ok := src.(SplitReporter); ok {
		return sr.Splits()
	}
	return 0
}

func (p *prefetcher) run(ctx context.Context) {
	defer close(p.done)
	defer close(p.ch)
	for {
		p.reportCompleted(ctx)
		rec, split, err := p.src.Read(ctx)
		f := fetched{rec: rec, split: split, err: err}
		if err == nil && rec != nil {
			select {
			case f.offset = <-p.free:
			default:
				f.offset = newSplitOffsets()
			}
			f.err = f.offset.capture(p.src)
			f.splits = splitsOf(p.src)
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

// checkpointComplete has the reading goroutine tell the source that
// checkpoint id, whose offsets were offsets, is durable.
func (p *prefetcher) checkpointComplete(id int64, offsets map[string][]byte) {
	select {
	case p.notify <- completed{id: id, offsets: offsets}:
	default:
		// The reader is far behind; a later checkpoint's report covers
		// this one (offsets only move forward).
	}
}

func (p *prefetcher) reportCompleted(ctx context.Context) {
	l, ok := p.src.(CheckpointListener)
	for {
		select {
		case c := <-p.notify:
			if ok {
				if err := l.CheckpointComplete(ctx, c.id, c.offsets); err != nil {
					p.log.Warn("source checkpoint callback failed", "checkpoint", c.id, "err", err)
				}
			}
		default:
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
			if f.rec != nil {
				f.rec.Release()
			}
			return nil, 0, f.err
		}
		select {
		case p.free <- p.offset: // the job is done with the previous offsets
		default:
		}
		p.offset, p.splits = f.offset, f.splits
		return f.rec, f.split, nil
	case <-t.C:
		return nil, 0, nil
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
}

// stop ends the reading goroutine and releases what it read ahead; the
// checkpoints completed meanwhile are still reported to the source.
func (p *prefetcher) stop() {
	p.cancel()
	for f := range p.ch {
		if f.rec != nil {
			f.rec.Release()
		}
	}
	<-p.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p.reportCompleted(ctx)
}
