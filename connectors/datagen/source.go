package datagen

import (
	"context"
	"fmt"
	"io"
	"math/bits"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors/internal/pace"
	"github.com/streamsql/streamsql/exec"
)

const gamma = 0x9e3779b97f4a7c15

// mix is the splitmix64 finalizer: a bijective hash of 64 bits.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// hash is the random value of row n for a stream seeded with seed: element
// n+1 of the splitmix64 sequence starting at seed.
func hash(seed uint64, n int64) uint64 { return mix(seed + uint64(n+1)*gamma) }

// source generates rows. Read is called from one goroutine.
type source struct {
	cfg    exec.SourceConfig
	gen    *config
	schema *arrow.Schema
	alloc  memory.Allocator
	clock  exec.Clock
	batch  int64

	next int64 // the row number of the next row to generate

	off  pace.Offset
	pace *pace.Pacer // nil when the rate is unlimited
}

var _ exec.Source = (*source)(nil)

func newSource(cfg exec.SourceConfig) (*source, error) {
	gen, err := parseConfig(cfg.Options, cfg.Schema)
	if err != nil {
		return nil, fmt.Errorf("datagen: table %q: %w", cfg.Table, err)
	}
	cfg = cfg.WithDefaults()
	s := &source{cfg: cfg, gen: gen, schema: cfg.Schema.Arrow(), alloc: cfg.Alloc, clock: cfg.Clock,
		batch: int64(cfg.BatchSize)}
	if gen.rate > 0 {
		s.pace = pace.New(gen.rate, s.clock)
	}
	return s, nil
}

// Open implements exec.Source.
func (s *source) Open(ctx context.Context, offsets map[string][]byte) error {
	next, err := pace.Restored(offsets)
	if err != nil {
		return fmt.Errorf("datagen: table %q: %w", s.cfg.Table, err)
	}
	s.next = next
	if s.pace != nil {
		s.pace.Reset()
	}
	return nil
}

// Offsets implements exec.Source: the next row number, as split pace.Split.
func (s *source) Offsets(fn func(split string, offset []byte) error) error {
	return s.off.Report(s.next, fn)
}

// Close implements exec.Source.
func (s *source) Close() error { return nil }

// Read implements exec.Source.
func (s *source) Read(ctx context.Context) (arrow.Record, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	n := s.batch
	if s.gen.total >= 0 {
		if s.next >= s.gen.total {
			return nil, 0, io.EOF
		}
		n = min(n, s.gen.total-s.next)
	}
	if s.pace != nil {
		var err error
		if n, err = s.pace.Admit(ctx, n); n == 0 || err != nil {
			return nil, 0, err
		}
		s.pace.Add(n)
	}
	rec := s.generate(s.next, n)
	s.next += n
	s.cfg.Metrics.Records.Add(n)
	return rec, 0, nil
}

// generate builds the record of rows [first, first+n).
func (s *source) generate(first, n int64) arrow.Record {
	cols := make([]arrow.Array, len(s.gen.cols))
	var now int64
	for i := range s.gen.cols {
		c := &s.gen.cols[i]
		if c.kind == kindNow && now == 0 {
			now = s.clock.Now().UnixMilli()
		}
		cols[i] = s.column(c, first, n, now)
	}
	rec := array.NewRecord(s.schema, cols, n)
	for _, a := range cols {
		a.Release()
	}
	return rec
}

// validity returns the validity bitmap of rows [first, first+n) of c and
// the number of NULLs, or (nil, 0) when c has no NULLs.
func (s *source) validity(c *column, first, n int64) (*memory.Buffer, int) {
	if c.nullBelow == 0 {
		return nil, 0
	}
	buf := memory.NewResizableBuffer(s.alloc)
	buf.Resize(int(bitutil.BytesForBits(n)))
	bm := buf.Bytes()
	clear(bm)
	nulls := 0
	for i := int64(0); i < n; i++ {
		if hash(c.nseed, first+i) < c.nullBelow {
			nulls++
		} else {
			bitutil.SetBit(bm, int(i))
		}
	}
	return buf, nulls
}

func (s *source) column(c *column, first, n int64, now int64) arrow.Array {
	valid, nulls := s.validity(c, first, n)
	dt := c.typ.Arrow()
	fixed := func(width int) (*memory.Buffer, []byte) {
		buf := memory.NewResizableBuffer(s.alloc)
		buf.Resize(int(n) * width)
		return buf, buf.Bytes()
	}
	makeArray := func(buf *memory.Buffer) arrow.Array {
		data := array.NewData(dt, int(n), []*memory.Buffer{valid, buf}, nil, nulls, 0)
		a := array.MakeFromData(data)
		data.Release()
		buf.Release()
		if valid != nil {
			valid.Release()
		}
		return a
	}
	switch dt.ID() {
	case arrow.INT64, arrow.TIMESTAMP, arrow.DURATION:
		buf, b := fixed(8)
		vals := arrow.Int64Traits.CastFromBytes(b)
		switch c.kind {
		case kindRandom:
			randInt64(vals, c.vseed, first, c.min, c.max)
		case kindSequence:
			for i := range vals {
				vals[i] = c.start + first + int64(i)
			}
		case kindEventTime:
			eventTime(vals, c, first)
		case kindNow:
			for i := range vals {
				vals[i] = now
			}
		}
		return makeArray(buf)
	case arrow.INT32:
		buf, b := fixed(4)
		vals := arrow.Int32Traits.CastFromBytes(b)
		for i := range vals {
			if c.kind == kindSequence {
				vals[i] = int32(c.start + first + int64(i))
			} else {
				vals[i] = int32(randRange(hash(c.vseed, first+int64(i)), c.min, c.max))
			}
		}
		return makeArray(buf)
	case arrow.FLOAT64, arrow.FLOAT32:
		var buf *memory.Buffer
		var f64 []float64
		var f32 []float32
		if dt.ID() == arrow.FLOAT64 {
			var b []byte
			buf, b = fixed(8)
			f64 = arrow.Float64Traits.CastFromBytes(b)
		} else {
			var b []byte
			buf, b = fixed(4)
			f32 = arrow.Float32Traits.CastFromBytes(b)
		}
		for i := int64(0); i < n; i++ {
			var v float64
			if c.kind == kindSequence {
				v = float64(c.start + first + i)
			} else {
				u := float64(hash(c.vseed, first+i)>>11) / (1 << 53)
				v = c.fmin + u*(c.fmax-c.fmin)
			}
			if f64 != nil {
				f64[i] = v
			} else {
				f32[i] = float32(v)
			}
		}
		return makeArray(buf)
	case arrow.DECIMAL128:
		buf, b := fixed(16)
		vals := arrow.Decimal128Traits.CastFromBytes(b)
		for i := int64(0); i < n; i++ {
			if c.kind == kindSequence {
				vals[i] = decimal128.FromI64(c.start + first + i).IncreaseScaleBy(int32(c.typ.Scale))
			} else {
				vals[i] = decimal128.FromI64(randRange(hash(c.vseed, first+i), c.min, c.max))
			}
		}
		return makeArray(buf)
	case arrow.BOOL:
		buf, _ := fixed(0)
		buf.Resize(int(bitutil.BytesForBits(n)))
		b := buf.Bytes()
		clear(b)
		for i := int64(0); i < n; i++ {
			if hash(c.vseed, first+i)&1 == 1 {
				bitutil.SetBit(b, int(i))
			}
		}
		return makeArray(buf)
	case arrow.STRING:
		if valid != nil {
			valid.Release()
		}
		bld := array.NewStringBuilder(s.alloc)
		defer bld.Release()
		bld.Reserve(int(n))
		var scratch []byte
		if c.kind == kindRandom {
			bld.ReserveData(int(n) * c.length)
			scratch = make([]byte, c.length)
		}
		for i := int64(0); i < n; i++ {
			row := first + i
			if c.nullBelow != 0 && hash(c.nseed, row) < c.nullBelow {
				bld.AppendNull()
				continue
			}
			if c.kind == kindSequence {
				scratch = strconv.AppendInt(scratch[:0], c.start+row, 10)
			} else {
				randString(scratch, c.vseed, row)
			}
			bld.BinaryBuilder.Append(scratch)
		}
		return bld.NewArray()
	}
	panic(fmt.Sprintf("datagen: no generator for %s", dt))
}

// randRange maps h uniformly (up to a negligible bias) onto [lo, hi].
func randRange(h uint64, lo, hi int64) int64 {
	span := uint64(hi-lo) + 1
	if span == 0 {
		return int64(h)
	}
	r, _ := bits.Mul64(h, span)
	return lo + int64(r)
}

func randInt64(vals []int64, seed uint64, first, lo, hi int64) {
	span := uint64(hi-lo) + 1
	if span == 0 {
		for i := range vals {
			vals[i] = int64(hash(seed, first+int64(i)))
		}
		return
	}
	for i := range vals {
		r, _ := bits.Mul64(hash(seed, first+int64(i)), span)
		vals[i] = lo + int64(r)
	}
}

func eventTime(vals []int64, c *column, first int64) {
	for i := range vals {
		row := first + int64(i)
		var off int64
		if c.stepDen == 1 {
			off = row * c.stepNum
		} else {
			hi, lo := bits.Mul64(uint64(row), uint64(c.stepNum))
			q, _ := bits.Div64(hi, lo, uint64(c.stepDen))
			off = int64(q)
		}
		v := c.start + off
		if c.ooo > 0 {
			v -= int64(hash(c.vseed, row) % uint64(c.ooo+1))
		}
		vals[i] = v
	}
}

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// randString fills b with random characters of row.
func randString(b []byte, seed uint64, row int64) {
	h := hash(seed, row)
	k := 0
	for i := range b {
		if k == 12 { // 36^12 < 2^64: 12 characters per hash
			h = mix(h + gamma)
			k = 0
		}
		b[i] = alphabet[h%36]
		h /= 36
		k++
	}
}
