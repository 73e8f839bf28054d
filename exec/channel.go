package exec

import (
	"context"

	"github.com/apache/arrow/go/v17/arrow"
)

// msgKind is the kind of a message between tasks.
type msgKind uint8

// The messages a channel carries, in order (RisingWave's Chunk |
// Watermark | Barrier, with Flink's idle/active status).
const (
	msgBatch     msgKind = iota // rec: rows
	msgWatermark                // wm: event time of the sending subtask
	msgIdle                     // the sending subtask is idle: it stops holding event time back
	msgActive                   // the sending subtask is active again
	msgBarrier                  // cp: a checkpoint barrier
)

// message is one element of a channel. A batch's record is retained for
// the receiver, who releases it.
type message struct {
	kind msgKind
	rec  arrow.Record
	wm   Watermark
	cp   *inflight
}

// channelCapacity is the number of messages a channel buffers: a sending
// task blocks when its consumer is that far behind (backpressure), so the
// memory between two tasks is bounded by a few batches.
const channelCapacity = 4

// channel connects one subtask to one subtask of a consuming task. It has
// exactly one sender and one receiver. A receiver with several inputs
// shares one notify channel among them: a sender pokes it after each send,
// so the receiver can wait for whichever input has something.
type channel struct {
	ch     chan message
	notify chan struct{} // nil when the receiver has one input
}

func newChannel() *channel { return &channel{ch: make(chan message, channelCapacity)} }

// send delivers m, blocking while the channel is full.
func (c *channel) send(ctx context.Context, m message) error {
	select {
	case c.ch <- m:
	case <-ctx.Done():
		if m.rec != nil {
			m.rec.Release()
		}
		return ctx.Err()
	}
	if c.notify != nil {
		select {
		case c.notify <- struct{}{}:
		default:
		}
	}
	return nil
}

// drain releases what is left in the channel after its tasks stopped.
func (c *channel) drain() {
	for {
		select {
		case m := <-c.ch:
			if m.rec != nil {
				m.rec.Release()
			}
		default:
			return
		}
	}
}
