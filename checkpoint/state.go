package checkpoint

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
