// Package pace holds what the generating sources (datagen, nexmark) share:
// pacing rows to a rate on the injected clock, and offsets that are a
// sequence number.
package pace

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/streamsql/streamsql/exec"
)

// Pacer admits rows at a rate per second of its clock. It is used from one
// goroutine.
type Pacer struct {
	rate    int64
	clock   exec.Clock
	start   time.Time
	emitted int64
	// Sleep waits for d or until ctx ends; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// New returns a pacer of rate rows a second on clock, started now.
func New(rate int64, clock exec.Clock) *Pacer {
	p := &Pacer{rate: rate, clock: clock, Sleep: Sleep}
	p.Reset()
	return p
}

// Reset restarts the pacer's count at the clock's now (after a restore).
func (p *Pacer) Reset() { p.start, p.emitted = p.clock.Now(), 0 }

// Admit waits until the rate allows emitting want rows, or up to about
// 100 ms, and returns how many rows may be emitted now (possibly 0); the
// caller reports what it emitted with Add. A batch holds at most a tenth of a second's rows,
// so that a slow rate still flows steadily; a consumer that stalled gets
// no burst of more than a second's rows.
func (p *Pacer) Admit(ctx context.Context, want int64) (int64, error) {
	want = min(want, max(1, p.rate/10))
	for step := 0; ; step++ {
		elapsed := p.clock.Now().Sub(p.start)
		allowed := int64(elapsed.Seconds()*float64(p.rate)) - p.emitted
		if allowed > p.rate {
			p.emitted += allowed - p.rate
			allowed = p.rate
		}
		if allowed >= want || step >= 10 {
			return min(want, max(allowed, 0)), nil
		}
		missing := want - max(allowed, 0)
		d := time.Duration(float64(missing) / float64(p.rate) * float64(time.Second))
		d = min(max(d, time.Millisecond), 10*time.Millisecond)
		if err := p.Sleep(ctx, d); err != nil {
			return 0, err
		}
	}
}

// Add counts n rows as emitted.
func (p *Pacer) Add(n int64) { p.emitted += n }

// Sleep waits for d, or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// offsetVersion tags the encoding of sequence offsets.
const offsetVersion = 1

// Split is the name of a generator's one split: its offset is checkpointed
// under it.
const Split = "0"

// EncodeOffset encodes the sequence number of the next row: a version
// byte and 8 bytes big-endian.
func EncodeOffset(next int64) []byte { return AppendOffset(nil, next) }

// AppendOffset appends EncodeOffset(next) to b.
func AppendOffset(b []byte, next int64) []byte {
	b = append(b, offsetVersion)
	return binary.BigEndian.AppendUint64(b, uint64(next))
}

// DecodeOffset decodes what EncodeOffset wrote.
func DecodeOffset(b []byte) (int64, error) {
	if len(b) != 9 || b[0] != offsetVersion {
		return 0, fmt.Errorf("invalid offset %x", b)
	}
	next := int64(binary.BigEndian.Uint64(b[1:]))
	if next < 0 {
		return 0, fmt.Errorf("invalid offset %x", b)
	}
	return next, nil
}

// Restored returns the sequence number of the next row from the offsets a
// generator is opened with (exec.Source.Open): the one under Split, or,
// from a checkpoint written before offsets were kept per split, the one
// under exec.LegacySplit (the same encoding); 0 on a fresh start.
func Restored(offsets map[string][]byte) (int64, error) {
	if len(offsets) == 0 {
		return 0, nil
	}
	b, ok := offsets[Split]
	if !ok {
		b, ok = offsets[exec.LegacySplit]
	}
	if !ok || len(offsets) > 1 {
		names := slices.Sorted(maps.Keys(offsets))
		return 0, fmt.Errorf("checkpointed offsets of splits %q: a generator has one split, %q", names, Split)
	}
	return DecodeOffset(b)
}

// Offset keeps the buffer a generator reports its offset in, so that
// reporting it (exec.Source.Offsets) does not allocate.
type Offset struct{ buf [9]byte }

// Report calls fn with next encoded as the offset of Split.
func (o *Offset) Report(next int64, fn func(split string, offset []byte) error) error {
	return fn(Split, AppendOffset(o.buf[:0], next))
}

// Describer implements connectors.StateDescriber for a generator source
// whose offset is EncodeOffset's and which has no sink: embed it in the
// connector's factory.
type Describer struct{}

// DescribeOffset says how many rows the generator had produced.
func (Describer) DescribeOffset(b []byte) (string, error) {
	next, err := DecodeOffset(b)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d rows generated", next), nil
}

// DescribeHandle fails: the connector has no sink.
func (Describer) DescribeHandle([]byte) (string, error) {
	return "", errors.New("no sink")
}
