// Package bufpool is a memory.Allocator that recycles the buffers of the
// batches an operator or a source builds, once their readers release them,
// instead of handing them to the garbage collector. It owns no batches and
// knows nothing of their columns: it only keeps freed buffers for the next
// Allocate.
package bufpool

import (
	"math/bits"
	"sync"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Buffer sizes the pool keeps: powers of two from 4 KiB to 16 MiB.
const (
	minClass     = 12
	maxClass     = 24
	keepPerClass = 8
	minKeep      = 1 << minClass
)

// Pool is an allocator that keeps a few buffers of each power-of-two size,
// allocated from an underlying allocator, and hands them out again: fresh
// memory costs more than filling it (page faults, zeroing, and the garbage
// collector's work for every batch). Buffers are released from any
// goroutine, so it locks. Close gives what it keeps back to the underlying
// allocator; buffers released after Close go straight back.
type Pool struct {
	under  memory.Allocator
	zero   bool
	mu     sync.Mutex
	free   [maxClass + 1][][]byte
	closed bool
}

var _ memory.Allocator = (*Pool)(nil)

// New returns a pool over under. With zero, a recycled buffer is cleared
// before Allocate returns it, as memory.GoAllocator's fresh ones are: for
// builders that write only some bytes (validity bitmaps, boolean values).
// Without it, recycled memory holds old values: for a writer of every
// byte it uses.
func New(under memory.Allocator, zero bool) *Pool {
	return &Pool{under: under, zero: zero}
}

func class(size int) int {
	return max(bits.Len(uint(size-1)), minClass)
}

// Allocate implements memory.Allocator.
func (p *Pool) Allocate(size int) []byte {
	c := class(size)
	if c > maxClass {
		return p.under.Allocate(size)
	}
	p.mu.Lock()
	if n := len(p.free[c]); n > 0 {
		b := p.free[c][n-1]
		p.free[c] = p.free[c][:n-1]
		p.mu.Unlock()
		b = b[:size]
		if p.zero {
			clear(b)
		}
		return b
	}
	p.mu.Unlock()
	return p.under.Allocate(1 << c)[:size]
}

// Reallocate implements memory.Allocator.
func (p *Pool) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		if p.zero && size > len(b) {
			clear(b[len(b):size])
		}
		return b[:size]
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free implements memory.Allocator.
func (p *Pool) Free(b []byte) {
	c := cap(b)
	if c < minKeep || c&(c-1) != 0 || c > 1<<maxClass {
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
func (p *Pool) Close() {
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
