package nexmark

import (
	"math/bits"
	"sync"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Buffer sizes the pool keeps: powers of two from 4 KiB to 16 MiB.
const (
	minClass      = 12
	maxClass      = 24
	keepPerClass  = 8
	poolClassSize = 1 << minClass
)

// pool is an allocator that recycles the buffers of the batches a source
// built once their readers release them, instead of handing them to the
// garbage collector: fresh memory costs more than generating the values
// (page faults and zeroing of ~0.6 MB a batch of bids). It keeps a few
// buffers of each power-of-two size, allocated from under. Buffers are
// released from any goroutine, so it locks. Close gives what it keeps back
// to under; buffers released after Close go straight back.
//
// Recycled memory is not zeroed: the source writes every byte it uses.
type pool struct {
	under  memory.Allocator
	mu     sync.Mutex
	free   [maxClass + 1][][]byte
	closed bool
}

var _ memory.Allocator = (*pool)(nil)

func class(size int) int {
	return max(bits.Len(uint(size-1)), minClass)
}

// Allocate implements memory.Allocator.
func (p *pool) Allocate(size int) []byte {
	c := class(size)
	if c > maxClass {
		return p.under.Allocate(size)
	}
	p.mu.Lock()
	if n := len(p.free[c]); n > 0 {
		b := p.free[c][n-1]
		p.free[c] = p.free[c][:n-1]
		p.mu.Unlock()
		return b[:size]
	}
	p.mu.Unlock()
	return p.under.Allocate(1 << c)[:size]
}

// Reallocate implements memory.Allocator.
func (p *pool) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		return b[:size]
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free implements memory.Allocator.
func (p *pool) Free(b []byte) {
	c := cap(b)
	if c < poolClassSize || c&(c-1) != 0 || c > 1<<maxClass {
		p.under.Free(b)
		return
	}
	b = b[:c]
	k := bits.Len(uint(c)) - 1
	p.mu.Lock()
	if p.closed || len(p.free[k]) >= keepPerClass {
		p.mu.Unlock()
		p.under.Free(b)
		return
	}
	p.free[k] = append(p.free[k], b)
	p.mu.Unlock()
}

// Close frees the kept buffers.
func (p *pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for k, bs := range p.free {
		for _, b := range bs {
			p.under.Free(b)
		}
		p.free[k] = nil
	}
}
