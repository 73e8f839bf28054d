package bufpool

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

func TestRecycles(t *testing.T) {
	under := memory.NewCheckedAllocator(memory.NewGoAllocator())
	for _, zero := range []bool{false, true} {
		p := New(under, zero)
		b := p.Allocate(5000)
		if len(b) != 5000 || cap(b) != 8192 {
			t.Fatalf("zero=%v: len %d cap %d, want 5000 and 8192", zero, len(b), cap(b))
		}
		for i := range b {
			b[i] = 0xff
		}
		p.Free(b)
		c := p.Allocate(6000)
		if &c[0] != &b[0] {
			t.Fatalf("zero=%v: a freed buffer of the class is not reused", zero)
		}
		if zero {
			for i, v := range c {
				if v != 0 {
					t.Fatalf("zero=true: byte %d of a recycled buffer is %#x", i, v)
				}
			}
			// Growing within the capacity clears the new bytes too.
			c = p.Reallocate(8000, c[:100])
			for i, v := range c {
				if v != 0 {
					t.Fatalf("zero=true: byte %d of a reallocated buffer is %#x", i, v)
				}
			}
		} else if c[0] != 0xff {
			t.Fatalf("zero=false: a recycled buffer was cleared")
		}
		p.Free(c)
		big := p.Allocate(1<<maxClass + 1) // not kept
		p.Free(big)
		p.Close()
		p.Free(p.Allocate(100)) // after Close: straight back to under
	}
	under.AssertSize(t, 0)
}
