package nexmark

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors/internal/pace"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/bufpool"
)

// source generates the rows of one stream. Read is called from one
// goroutine.
type source struct {
	cfg    exec.SourceConfig
	c      *config
	m      *model
	schema *arrow.Schema
	alloc  memory.Allocator // pool
	pool   *bufpool.Pool
	clock  exec.Clock
	batch  int

	next int64 // the position of the next event to generate

	off  pace.Offset
	pace *pace.Pacer // paces events by event time when rate-limited

	// Scratch, reused across batches.
	ids      []int64 // event ids of the batch's rows
	chans    []int32 // the channels of the batch's bids, when chansOK
	chansOK  bool
	parts    [][]byte // the values of a STRING column
	buf      []byte
	persons  []personRow
	auctions []auctionRow

	// skip marks the columns the job does not read (cfg.Columns), nil
	// when it reads all: they are NULL, from nulls.
	skip  []bool
	nulls []arrow.Array
}

var _ exec.Source = (*source)(nil)

func newSource(cfg exec.SourceConfig) (*source, error) {
	c, err := parseConfig(cfg.Options, cfg.Schema)
	if err != nil {
		return nil, fmt.Errorf("nexmark: table %q: %w", cfg.Table, err)
	}
	cfg = cfg.WithDefaults()
	s := &source{cfg: cfg, c: c, m: c.m, schema: cfg.Schema.Arrow(), clock: cfg.Clock, batch: cfg.BatchSize}
	// Recycled memory is not zeroed: the source writes every byte it uses.
	s.pool = bufpool.New(cfg.Alloc, false)
	s.alloc = s.pool
	if cfg.Columns != nil {
		s.skip = make([]bool, len(c.fields))
		for i := range s.skip {
			s.skip[i] = true
		}
		for _, i := range cfg.Columns {
			if i < 0 || i >= len(s.skip) {
				return nil, fmt.Errorf("nexmark: table %q: no column %d to read", cfg.Table, i)
			}
			s.skip[i] = false
		}
		s.nulls = make([]arrow.Array, len(c.fields))
	}
	if c.rateLimited {
		s.pace = pace.New(c.m.rate, s.clock)
	}
	return s, nil
}

// Open implements exec.Source.
func (s *source) Open(ctx context.Context, offsets map[string][]byte) error {
	next, err := pace.Restored(offsets)
	if err != nil {
		return fmt.Errorf("nexmark: table %q: %w", s.cfg.Table, err)
	}
	s.next = next
	if s.pace != nil {
		s.pace.Reset()
	}
	return nil
}

// Offsets implements exec.Source: the position of the next event, of any
// type, as split pace.Split.
func (s *source) Offsets(fn func(split string, offset []byte) error) error {
	return s.off.Report(s.next, fn)
}

// Close implements exec.Source.
func (s *source) Close() error {
	for i, a := range s.nulls {
		if a != nil {
			a.Release()
			s.nulls[i] = nil
		}
	}
	s.pool.Close()
	return nil
}

// Read implements exec.Source.
func (s *source) Read(ctx context.Context) (arrow.Record, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	end := int64(1<<63 - 1)
	if s.c.total >= 0 {
		if s.next >= s.c.total {
			return nil, 0, io.EOF
		}
		end = s.c.total
	}
	if s.pace != nil {
		// Events of the other streams count too: the wall clock follows
		// event time.
		want := int64(s.batch) * s.m.total / s.streamShare()
		n, err := s.pace.Admit(ctx, min(want, end-s.next))
		if err != nil || n == 0 {
			return nil, 0, err
		}
		end = s.next + n
	}
	first := s.next
	s.collect(end)
	if s.pace != nil {
		s.pace.Add(s.next - first)
	}
	if len(s.ids) == 0 {
		if s.next >= s.c.total && s.c.total >= 0 {
			return nil, 0, io.EOF
		}
		return nil, 0, nil
	}
	rec := s.generate()
	s.cfg.Metrics.Records.Add(int64(len(s.ids)))
	return rec, 0, nil
}

// streamShare is the proportion of the source's stream.
func (s *source) streamShare() int64 {
	switch s.c.stream {
	case person:
		return s.m.pp
	case auction:
		return s.m.ap
	}
	return s.m.bp
}

// collect gathers into s.ids the ids of the next events of the stream, up
// to a batch, among the positions [s.next, end), and advances s.next past
// the last one (or to end).
func (s *source) collect(end int64) {
	m := s.m
	ids := s.ids[:0]
	n := s.next
	var lo, hi int64 // the stream's range of event id mod total
	switch s.c.stream {
	case person:
		lo, hi = 0, m.pp
	case auction:
		lo, hi = m.pp, m.pp+m.ap
	default:
		lo, hi = m.pp+m.ap, m.total
	}
	if m.groupSize == 1 {
		// Positions are ids: jump straight to the stream's next run.
		rem := n % m.total
		for len(ids) < s.batch && n < end {
			switch {
			case rem < lo:
				n += lo - rem
				rem = lo
			case rem >= hi:
				n += m.total - rem + lo
				rem = lo
			default:
				ids = append(ids, n)
				n++
				rem++
			}
		}
		n = min(n, end)
	} else {
		for ; len(ids) < s.batch && n < end; n++ {
			e := m.adjust(n)
			if r := e % m.total; r >= lo && r < hi {
				ids = append(ids, e)
			}
		}
	}
	s.ids, s.next = ids, n
}

// generate builds the record of the events in s.ids.
func (s *source) generate() arrow.Record {
	n := len(s.ids)
	cols := make([]arrow.Array, len(s.c.fields))
	switch s.c.stream {
	case person:
		s.buf = s.buf[:0]
		s.persons = s.persons[:0]
		for _, e := range s.ids {
			var p personRow
			s.buf, p = s.m.person(e, s.buf)
			s.persons = append(s.persons, p)
		}
	case auction:
		s.buf = s.buf[:0]
		s.auctions = s.auctions[:0]
		for _, e := range s.ids {
			var a auctionRow
			s.buf, a = s.m.auction(e, s.buf)
			s.auctions = append(s.auctions, a)
		}
	}
	s.chansOK = false
	for i, f := range s.c.fields {
		if s.skip != nil && s.skip[i] {
			cols[i] = s.null(i, n)
			continue
		}
		cols[i] = s.column(f, i)
	}
	rec := array.NewRecord(s.schema, cols, int64(n))
	for _, a := range cols {
		a.Release()
	}
	return rec
}

// null returns an all-NULL column i of n rows, for a column the job does
// not read: one array, kept across batches, or a slice of it.
func (s *source) null(i, n int) arrow.Array {
	a := s.nulls[i]
	if a == nil || a.Len() < n {
		if a != nil {
			a.Release()
		}
		a = array.MakeArrayOfNull(memory.DefaultAllocator, s.schema.Field(i).Type, max(n, s.batch))
		s.nulls[i] = a
	}
	if a.Len() == n {
		a.Retain()
		return a
	}
	return array.NewSlice(a, 0, int64(n))
}

// column builds the values of field f, column i of the schema.
func (s *source) column(f field, i int) arrow.Array {
	m, ids := s.m, s.ids
	switch f {
	case fBidAuction:
		return s.ints(i, func(v []int64) {
			for j, e := range ids {
				v[j] = m.bidAuction(e)
			}
		})
	case fBidBidder:
		return s.ints(i, func(v []int64) {
			for j, e := range ids {
				v[j] = m.bidBidder(e)
			}
		})
	case fBidPrice:
		return s.ints(i, func(v []int64) {
			for j, e := range ids {
				v[j] = m.bidPrice(e)
			}
		})
	case fBidDateTime:
		return s.ints(i, func(v []int64) {
			for j, e := range ids {
				v[j] = m.eventTime(e)
			}
		})
	case fBidChannel, fBidURL:
		table := m.chanB
		if f == fBidURL {
			table = m.urlB
		}
		parts := s.parts[:0]
		for _, c := range s.channels() {
			parts = append(parts, table[c])
		}
		s.parts = parts
		return s.strings(i)
	case fBidExtra:
		parts := s.parts[:0]
		for _, e := range ids {
			parts = append(parts, m.bidExtra(e))
		}
		s.parts = parts
		return s.strings(i)

	case fPersonID, fPersonDateTime:
		return s.ints(i, func(v []int64) {
			for j := range v {
				if f == fPersonID {
					v[j] = s.persons[j].id
				} else {
					v[j] = s.persons[j].dateTime
				}
			}
		})
	case fPersonName, fPersonEmail, fPersonCreditCard, fPersonCity, fPersonState, fPersonExtra:
		parts := s.parts[:0]
		for j := range s.persons {
			p := &s.persons[j]
			sp := p.extra
			switch f {
			case fPersonName:
				sp = p.name
			case fPersonEmail:
				sp = p.email
			case fPersonCreditCard:
				sp = p.creditCard
			case fPersonCity:
				sp = p.city
			case fPersonState:
				sp = p.state
			}
			parts = append(parts, s.buf[sp.off:sp.end])
		}
		s.parts = parts
		return s.strings(i)

	case fAuctionItemName, fAuctionDescription, fAuctionExtra:
		parts := s.parts[:0]
		for j := range s.auctions {
			a := &s.auctions[j]
			sp := a.extra
			switch f {
			case fAuctionItemName:
				sp = a.itemName
			case fAuctionDescription:
				sp = a.description
			}
			parts = append(parts, s.buf[sp.off:sp.end])
		}
		s.parts = parts
		return s.strings(i)
	default: // the BIGINT and TIMESTAMP columns of auctions
		return s.ints(i, func(v []int64) {
			for j := range v {
				a := &s.auctions[j]
				switch f {
				case fAuctionID:
					v[j] = a.id
				case fAuctionInitialBid:
					v[j] = a.initialBid
				case fAuctionReserve:
					v[j] = a.reserve
				case fAuctionDateTime:
					v[j] = a.dateTime
				case fAuctionExpires:
					v[j] = a.expires
				case fAuctionSeller:
					v[j] = a.seller
				case fAuctionCategory:
					v[j] = a.category
				}
			}
		})
	}
}

// channels returns the channel of every bid of the batch, drawn once for
// the channel and the url columns.
func (s *source) channels() []int32 {
	if !s.chansOK {
		cs := s.chans[:0]
		for _, e := range s.ids {
			cs = append(cs, int32(s.m.bidChannel(e)))
		}
		s.chans, s.chansOK = cs, true
	}
	return s.chans
}

// ints builds a 64-bit column (BIGINT or TIMESTAMP) of the batch, filled
// by fill.
func (s *source) ints(i int, fill func(v []int64)) arrow.Array {
	n := len(s.ids)
	buf := memory.NewResizableBuffer(s.alloc)
	buf.Resize(n * 8)
	fill(arrow.Int64Traits.CastFromBytes(buf.Bytes()))
	data := array.NewData(s.schema.Field(i).Type, n, []*memory.Buffer{nil, buf}, nil, 0, 0)
	a := array.MakeFromData(data)
	data.Release()
	buf.Release()
	return a
}

// strings builds STRING column i of the batch from s.parts, the values of
// its rows.
func (s *source) strings(i int) arrow.Array {
	n := len(s.parts)
	size := 0
	for _, p := range s.parts {
		size += len(p)
	}
	offBuf := memory.NewResizableBuffer(s.alloc)
	offBuf.Resize((n + 1) * 4)
	offs := arrow.Int32Traits.CastFromBytes(offBuf.Bytes())
	dataBuf := memory.NewResizableBuffer(s.alloc)
	dataBuf.Resize(size)
	data := dataBuf.Bytes()
	pos := 0
	offs[0] = 0
	for j, p := range s.parts {
		pos += copy(data[pos:], p)
		offs[j+1] = int32(pos)
	}
	d := array.NewData(s.schema.Field(i).Type, n, []*memory.Buffer{nil, offBuf, dataBuf}, nil, 0, 0)
	a := array.MakeFromData(d)
	d.Release()
	offBuf.Release()
	dataBuf.Release()
	return a
}
