package expr

import (
	"math/bits"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// This file holds the low-level helpers that every kernel uses: typed views
// of Arrow buffers, output buffers, and validity bitmaps.

// fixedValues returns the values of a fixed-width array as a []T of
// a.Len() elements, starting at the array's offset. T must have the width
// of the array's elements.
func fixedValues[T any](a arrow.Array) []T {
	d := a.Data()
	bufs := d.Buffers()
	if len(bufs) < 2 || bufs[1] == nil || d.Len() == 0 {
		return nil
	}
	b := bufs[1].Bytes()
	var zero T
	all := unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/int(unsafe.Sizeof(zero)))
	return all[d.Offset() : d.Offset()+d.Len()]
}

// newFixed allocates a buffer for n values of T; the values are not
// zeroed (see newFixedZero).
func newFixed[T any](alloc memory.Allocator, n int) (*memory.Buffer, []T) {
	var zero T
	buf := memory.NewResizableBuffer(alloc)
	buf.Resize(n * int(unsafe.Sizeof(zero)))
	if n == 0 {
		return buf, nil
	}
	return buf, unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(buf.Bytes()))), n)
}

// newFixedZero allocates a buffer of n zero values of T, for kernels that
// skip NULL rows: values under NULLs are then deterministic.
func newFixedZero[T any](alloc memory.Allocator, n int) (*memory.Buffer, []T) {
	buf, v := newFixed[T](alloc, n)
	clear(v)
	return buf, v
}

// newBitmap allocates a zeroed bitmap of n bits.
func newBitmap(alloc memory.Allocator, n int) (*memory.Buffer, []byte) {
	buf := memory.NewResizableBuffer(alloc)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	b := buf.Bytes()
	clear(b)
	return buf, b
}

// validity returns a's validity bitmap and the bit offset of its first
// element, or nil when a has no nulls.
func validity(a arrow.Array) ([]byte, int) {
	if a.NullN() == 0 {
		return nil, 0
	}
	return a.NullBitmapBytes(), a.Data().Offset()
}

// bitmapAt0 returns the n bits of bm starting at bit off as a bitmap that
// starts at bit 0: a subslice when off is byte-aligned, else a copy.
func bitmapAt0(alloc memory.Allocator, bm []byte, off, n int) ([]byte, *memory.Buffer) {
	if off%8 == 0 {
		return bm[off/8 : off/8+int(bitutil.BytesForBits(int64(n)))], nil
	}
	buf, b := newBitmap(alloc, n)
	bitutil.CopyBitmap(bm, off, n, b, 0)
	return b, buf
}

// copyValidity returns a copy of a's validity bitmap at offset 0 and its
// null count, or nil, 0 when a has no nulls.
func copyValidity(alloc memory.Allocator, a arrow.Array) (*memory.Buffer, int) {
	bm, off := validity(a)
	if bm == nil {
		return nil, 0
	}
	buf, b := newBitmap(alloc, a.Len())
	bitutil.CopyBitmap(bm, off, a.Len(), b, 0)
	return buf, a.NullN()
}

// andValidity returns the intersection of the validity of a and b (rows
// where both are non-NULL) and its null count, or nil, 0 when neither has
// nulls.
func andValidity(alloc memory.Allocator, a, b arrow.Array) (*memory.Buffer, int) {
	am, ao := validity(a)
	bm, bo := validity(b)
	switch {
	case am == nil && bm == nil:
		return nil, 0
	case am == nil:
		return copyValidity(alloc, b)
	case bm == nil:
		return copyValidity(alloc, a)
	}
	n := a.Len()
	buf, out := newBitmap(alloc, n)
	bitutil.BitmapAnd(am, bm, int64(ao), int64(bo), out, 0, int64(n))
	return buf, n - bitutil.CountSetBits(out, 0, n)
}

// makeArray wraps buffers into an array of type dt and n elements and
// releases the caller's references to the buffers.
func makeArray(dt arrow.DataType, n int, nulls int, bufs ...*memory.Buffer) arrow.Array {
	d := array.NewData(dt, n, bufs, nil, nulls, 0)
	a := array.MakeFromData(d)
	d.Release()
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	return a
}

// allNull returns an array of n NULLs of type dt.
func allNull(alloc memory.Allocator, dt arrow.DataType, n int) arrow.Array {
	b := array.NewBuilder(alloc, dt)
	defer b.Release()
	b.AppendNulls(n)
	return b.NewArray()
}

// b2u converts a bool to 0 or 1 without a branch.
func b2u(b bool) byte { return *(*byte)(unsafe.Pointer(&b)) }

// setBits packs bools into a bitmap; used for the tails of kernels.
func setBitTo(bm []byte, i int, v bool) {
	bm[i>>3] = bm[i>>3]&^(1<<(i&7)) | b2u(v)<<(i&7)
}

func bitIsSet(bm []byte, i int) bool { return bm[i>>3]>>(i&7)&1 != 0 }

// popcount counts the set bits of the first n bits of a bitmap at offset 0.
func popcount(bm []byte, n int) int {
	c := 0
	full := n / 8
	for _, b := range bm[:full] {
		c += bits.OnesCount8(b)
	}
	if r := n % 8; r != 0 {
		c += bits.OnesCount8(bm[full] & (1<<r - 1))
	}
	return c
}

// isValid reports whether row i of a validity bitmap (nil: all valid) at
// bit offset off is set.
func isValid(bm []byte, off, i int) bool {
	return bm == nil || bitIsSet(bm, off+i)
}

// valueBits returns the value bitmap of a boolean array (not offset).
func valueBits(a arrow.Array) []byte {
	bufs := a.Data().Buffers()
	if len(bufs) < 2 || bufs[1] == nil {
		return nil
	}
	return bufs[1].Bytes()
}

// boolBits returns the values and validity of a boolean array as bitmaps
// starting at bit 0 (validity nil when there are no nulls), and the
// scratch buffers to release when done.
func boolBits(alloc memory.Allocator, a arrow.Array) (vals, valid []byte, scratch []*memory.Buffer) {
	n := a.Len()
	off := a.Data().Offset()
	vals, vb := bitmapAt0(alloc, valueBits(a), off, n)
	if vb != nil {
		scratch = append(scratch, vb)
	}
	if bm, boff := validity(a); bm != nil {
		var nb *memory.Buffer
		valid, nb = bitmapAt0(alloc, bm, boff, n)
		if nb != nil {
			scratch = append(scratch, nb)
		}
	}
	return vals, valid, scratch
}

// int32s views a byte buffer as int32s.
func int32s(b []byte) []int32 {
	if len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4)
}

// copyShort is copy(dst, src), a byte at a time when src is short (a
// CASE's constant arm, a url's directory): calling memmove for each of a
// batch's few-byte values costs more than moving their bytes.
func copyShort[S ~string | ~[]byte](dst []byte, src S) int {
	if len(src) > 16 {
		return copy(dst, src)
	}
	dst = dst[:len(src)]
	for i := range dst {
		dst[i] = src[i]
	}
	return len(src)
}
