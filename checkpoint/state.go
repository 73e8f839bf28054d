package checkpoint

import "bytes"

// StateWriter receives one operator's state changes for one checkpoint.
// Keys are opaque bytes in the operator's own namespace; the store prefixes
// them with the operator id. Writes are buffered until the whole checkpoint
// commits: nothing is visible, or durable, before that. The writer is used
// from one goroutine and only during the OnBarrier call it was passed to.
// Set and Delete copy their arguments.
type StateWriter interface {
	// Set records key's new value.
	Set(key, value []byte) error
	// Delete records that key no longer exists (a fired window, say).
	Delete(key []byte) error
}

// StateReader reads one operator's state as of the restored checkpoint.
// It is valid only during the Open call it was passed to.
type StateReader interface {
	// Scan calls fn for every key of the operator's state in key order. The
	// slices are valid only during the call.
	Scan(fn func(key, value []byte) error) error
}

// RangeScanner is implemented by StateReaders that can read part of an
// operator's key space without reading the rest (the store's readers do,
// with one bounded iterator): a subtask restores the key groups it owns
// by scanning their range.
type RangeScanner interface {
	// ScanRange calls fn for every key k of the operator's state with
	// lo <= k < hi, in key order; a nil hi means no upper bound. The
	// slices are valid only during the call.
	ScanRange(lo, hi []byte, fn func(key, value []byte) error) error
}

// ScanRange calls fn for every key k of r with lo <= k < hi (nil hi: no
// upper bound) in key order: with r's own range scan if it is a
// RangeScanner, else by filtering its Scan.
func ScanRange(r StateReader, lo, hi []byte, fn func(key, value []byte) error) error {
	if rs, ok := r.(RangeScanner); ok {
		return rs.ScanRange(lo, hi, fn)
	}
	return r.Scan(func(k, v []byte) error {
		if bytes.Compare(k, lo) < 0 || (hi != nil && bytes.Compare(k, hi) >= 0) {
			return nil
		}
		return fn(k, v)
	})
}
