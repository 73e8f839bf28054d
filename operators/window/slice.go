package window

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// HOP windows by slices. A HOP window whose size is a multiple of its
// slide is the union of size/slide consecutive slices of one slide each,
// and every slice is in size/slide windows. Rather than fold each row into
// each of its windows, the operator folds it into the one accumulator of
// its (slice, key) and, when a window fires, merges the accumulators of
// its slices key by key (Flink's SliceAssigners.hopping and
// SliceSharedWindowAggProcessor do the same): one update per row instead
// of size/slide, and size/slide times fewer open accumulators.
//
//   - A slice is a slot like a window's, bounds [start, start+slide), found
//     in the slot table under its end. It is freed when the last window
//     holding it (the one starting at the slice's start) fires.
//   - A row is late when that last window has fired, exactly as without
//     slices (the row's phase-0 window); a row whose earlier windows fired
//     counts in the later ones only, since the fired ones were emitted.
//   - Firing window [end-size, end) merges, in order of key, the sorted key
//     lists of its slices (each sorted once, when a window first needs it)
//     and of its base, if it has one: a key held by one slice only is
//     emitted from that slice's accumulator; others are merged into a
//     scratch slot first.
//   - State: a slice is one entry of the windows table, keyed by its bounds
//     as a window is (state.go). An entry spanning the whole window (size
//     ms), written by the operator of an earlier version that kept one
//     accumulator per window, is restored as the window's base: an
//     accumulator the window merges with its slices when it fires and
//     frees then, so a checkpoint of that version restores unchanged.
//
// Windows with an emit strategy (allowed lateness, early firing), over
// processing time or in a session time zone keep one accumulator per
// window (the phases of assignWindows); so does a HOP whose size is not a
// multiple of its slide. Such an operator refuses state holding slices.

// slicePart is the slots of one slice, or of one window's base.
type slicePart struct {
	slots []int32
	// pairs is slots as keySlot pairs sorted by key, valid for the first
	// sorted slots.
	pairs  []keySlot
	sorted int
}

// sliceCursor walks the sorted pairs of one part while a window fires.
type sliceCursor struct {
	ps []keySlot
	i  int
}

// slicedWindow reports whether the operator aggregates w by slices.
func slicedWindow(w plan.Window, updating bool) bool {
	return w.Kind == plan.Hop && w.Size > w.Slide && w.Size%w.Slide == 0 &&
		!updating && !w.ProcTime && w.Zone.IsUTC()
}

// assignSlices computes, for every row, the slot of its (slice, key), or
// -1 for a late row.
func (o *windowAggOp) assignSlices(times []int64, timeNulls arrow.Array, keys []int64, keyNulls arrow.Array, slots []int32) {
	wm := int64(o.wm)
	slide, size, offset := o.w.Slide, o.w.Size, o.w.Offset
	var lo, hi int64 = 1, 0 // the current row's slice; empty forces the first computation
	open := false
	late := int64(0)
	table := o.table
	for i, ts := range times {
		if timeNulls != nil && timeNulls.IsNull(i) {
			slots[i] = -1
			late++
			continue
		}
		if ts < lo || ts >= hi {
			lo = ts - windowFloorMod(ts-offset, slide)
			hi = lo + slide
			open = lo+size-1 > wm // the slice's last window has not fired
		}
		if !open {
			slots[i] = -1
			late++
			continue
		}
		var k int64
		null := false
		if keys != nil {
			k = keys[i]
			null = keyNulls != nil && keyNulls.IsNull(i)
		}
		s := table.get(hi, k, null)
		if s < 0 {
			s = o.newSliceSlot(lo, k, null, true)
		}
		slots[i] = s
		if !o.dirty[s] {
			o.dirty[s] = true
			o.dirtyList = append(o.dirtyList, s)
		}
	}
	if late > 0 {
		o.late += late
		o.m.LateRecords.Add(late)
	}
}

// newSliceSlot allocates the slot of a (slice, key) group; register
// registers the windows of a slice new to the operator (a restore does it
// once the watermark is known).
func (o *windowAggOp) newSliceSlot(start, k int64, null, register bool) int32 {
	end := start + o.w.Slide
	s := o.allocSlot(start, end, k, null)
	o.table.put(end, k, null, s)
	p := o.sliceParts[start]
	if p == nil {
		p = o.newPart()
		o.sliceParts[start] = p
		if register {
			o.registerSlice(start)
		}
	}
	p.slots = append(p.slots, s)
	return s
}

func (o *windowAggOp) newPart() *slicePart {
	if n := len(o.freeParts); n > 0 {
		p := o.freeParts[n-1]
		o.freeParts = o.freeParts[:n-1]
		return p
	}
	return &slicePart{}
}

func (o *windowAggOp) releasePart(p *slicePart) {
	p.slots, p.pairs, p.sorted = p.slots[:0], p.pairs[:0], 0
	o.freeParts = append(o.freeParts, p)
}

// registerSlice registers the windows holding the slice at start that
// have not fired.
func (o *windowAggOp) registerSlice(start int64) {
	for end := start + o.w.Slide; end <= start+o.w.Size; end += o.w.Slide {
		o.registerEnd(end)
	}
}

// registerEnd adds the window ending at end to those to fire, unless it
// fired or is there.
func (o *windowAggOp) registerEnd(end int64) {
	if end-1 <= int64(o.wm) {
		return
	}
	if _, ok := o.pendingEnds[end]; ok {
		return
	}
	o.pendingEnds[end] = struct{}{}
	o.winEnds.push(end)
}

// restoreSliced rebuilds the slot of a restored windows-table entry
// [start, end) of key k: a slice, or a window's base (see above).
func (o *windowAggOp) restoreSliced(start, end, k int64, null bool) (int32, error) {
	switch end - start {
	case o.w.Slide:
		if windowFloorMod(start-o.w.Offset, o.w.Slide) != 0 {
			return -1, fmt.Errorf("slice [%d, %d) is not aligned to the slide: %w", start, end, errWindowState)
		}
		if o.table.get(end, k, null) >= 0 {
			return -1, fmt.Errorf("duplicate window state: %w", errWindowState)
		}
		return o.newSliceSlot(start, k, null, false), nil
	case o.w.Size:
		s := o.allocSlot(start, end, k, null)
		p := o.bases[end]
		if p == nil {
			p = o.newPart()
			o.bases[end] = p
		}
		p.slots = append(p.slots, s)
		return s, nil
	}
	return -1, fmt.Errorf("window state entry [%d, %d) is neither a slice (%d ms) nor a window (%d ms) of the HOP window: %w",
		start, end, o.w.Slide, o.w.Size, errWindowState)
}

// registerRestored registers the windows of the restored slices and bases
// once the watermark is restored, and frees those none of whose windows
// is left to fire (written with an allowed lateness that the plan no
// longer has).
func (o *windowAggOp) registerRestored() {
	wm := int64(o.wm)
	for start, p := range o.sliceParts {
		if start+o.w.Size-1 <= wm {
			o.freePart(p, true)
			delete(o.sliceParts, start)
			continue
		}
		o.registerSlice(start)
	}
	for end, p := range o.bases {
		if end-1 <= wm {
			o.freePart(p, false)
			delete(o.bases, end)
			continue
		}
		o.registerEnd(end)
	}
}

// freePart frees the slots of p (removing them from the slot table when
// they are slices) and recycles p.
func (o *windowAggOp) freePart(p *slicePart, inTable bool) {
	for _, s := range p.slots {
		if inTable {
			o.table.del(o.slotEnd[s], o.slotKey[s], o.slotNull[s])
		}
		o.freeSlot(s)
	}
	o.releasePart(p)
}

// fireSlices emits and frees, in order of end, every window with
// end - 1 <= wm, and frees the slices whose last window that was.
func (o *windowAggOp) fireSlices(ctx context.Context, out exec.Emitter) error {
	wm := int64(o.wm)
	for len(o.winEnds) > 0 && o.winEnds[0]-1 <= wm {
		end := o.winEnds.pop()
		delete(o.pendingEnds, end)
		if err := o.emitSliced(ctx, out, end); err != nil {
			return err
		}
		if p := o.bases[end]; p != nil {
			delete(o.bases, end)
			o.freePart(p, false)
		}
		first := end - o.w.Size
		if p := o.sliceParts[first]; p != nil {
			delete(o.sliceParts, first)
			o.freePart(p, true)
		}
	}
	return nil
}

// sortedPairs returns p's slots as keySlot pairs sorted by key.
func (o *windowAggOp) sortedPairs(p *slicePart) []keySlot {
	if p.sorted == len(p.slots) {
		return p.pairs
	}
	for _, s := range p.slots[p.sorted:] {
		k, rank := o.slotKey[s], uint8(1)
		if o.fast && o.slotNull[s] {
			k, rank = 0, 0
		}
		p.pairs = append(p.pairs, keySlot{key: k, slot: s, rank: rank})
	}
	if o.fast {
		slices.SortFunc(p.pairs, func(a, b keySlot) int {
			if a.rank != b.rank {
				return int(a.rank) - int(b.rank)
			}
			return cmp.Compare(a.key, b.key)
		})
	} else {
		slices.SortFunc(p.pairs, func(a, b keySlot) int {
			return strings.Compare(o.keyBytes[a.key], o.keyBytes[b.key])
		})
	}
	p.sorted = len(p.slots)
	return p.pairs
}

// comparePairs orders two pairs by group key.
func (o *windowAggOp) comparePairs(a, b keySlot) int {
	if !o.fast {
		return strings.Compare(o.keyBytes[a.key], o.keyBytes[b.key])
	}
	if a.rank != b.rank {
		return int(a.rank) - int(b.rank)
	}
	return cmp.Compare(a.key, b.key)
}

// emitSliced emits the rows of the window ending at end, in order of
// key, merging its slices' (and base's) accumulators of each key.
func (o *windowAggOp) emitSliced(ctx context.Context, out exec.Emitter, end int64) error {
	start := end - o.w.Size
	cur := o.cursors[:0]
	most := 0 // the window has at least as many rows as its largest part
	if p := o.bases[end]; p != nil && len(p.slots) > 0 {
		cur = append(cur, sliceCursor{ps: o.sortedPairs(p)})
		most = max(most, len(p.slots))
	}
	for st := start; st < end; st += o.w.Slide {
		if p := o.sliceParts[st]; p != nil && len(p.slots) > 0 {
			cur = append(cur, sliceCursor{ps: o.sortedPairs(p)})
			most = max(most, len(p.slots))
		}
	}
	o.cursors = cur
	if len(cur) == 0 {
		return nil
	}
	e := &sliceEmitter{o: o, ctx: ctx, out: out, start: start, end: end, left: most}
	if len(cur) == 1 {
		for _, p := range cur[0].ps {
			if err := e.row(p.slot, p.slot); err != nil {
				return err
			}
		}
		return e.flush()
	}
	// A min-heap of the cursors by their next key.
	h := o.heap[:0]
	less := func(i, j int32) bool {
		return o.comparePairs(cur[i].ps[cur[i].i], cur[j].ps[cur[j].i]) < 0
	}
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			c := l
			if r := l + 1; r < len(h) && less(h[r], h[l]) {
				c = r
			}
			if !less(h[c], h[i]) {
				return
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	for i := range cur {
		h = append(h, int32(i))
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(i)
	}
	group := o.group[:0]
	for len(h) > 0 {
		head := cur[h[0]].ps[cur[h[0]].i]
		group = group[:0]
		for len(h) > 0 {
			c := &cur[h[0]]
			if p := c.ps[c.i]; len(group) > 0 && o.comparePairs(p, head) != 0 {
				break
			}
			group = append(group, c.ps[c.i].slot)
			c.i++
			if c.i == len(c.ps) {
				h[0] = h[len(h)-1]
				h = h[:len(h)-1]
			}
			down(0)
		}
		if len(group) == 1 {
			if err := e.row(group[0], group[0]); err != nil {
				return err
			}
			continue
		}
		m := o.mergeScratch()
		o.slotStart[m], o.slotEnd[m] = start, end
		o.slotKey[m], o.slotNull[m] = o.slotKey[group[0]], o.slotNull[group[0]]
		for _, a := range o.aggs {
			for _, s := range group {
				mergeKeep(a, m, s)
			}
		}
		if err := o.checkOverflow(); err != nil {
			return err
		}
		if err := e.row(group[0], m); err != nil {
			return err
		}
		for _, a := range o.aggs {
			a.reset(m)
		}
	}
	o.heap, o.group = h, group
	return e.flush()
}

// mergeScratch returns a slot that is never live, to merge slices into.
func (o *windowAggOp) mergeScratch() int32 {
	if o.mergeSlot < 0 {
		o.mergeSlot = o.growSlot()
		for _, a := range o.aggs {
			a.reset(o.mergeSlot)
		}
	}
	return o.mergeSlot
}

// keepingMerger is implemented by the accumulators whose merge takes
// from its source (the distinct sets, which swap in the larger one);
// mergeKeep leaves the source as it was.
type keepingMerger interface {
	mergeKeep(dst, src int32)
}

// mergeKeep folds slot src of a into slot dst, leaving src unchanged.
func mergeKeep(a accumulator, dst, src int32) {
	if k, ok := a.(keepingMerger); ok {
		k.mergeKeep(dst, src)
		return
	}
	a.merge(dst, src)
}

// sliceEmitter appends the rows of one firing window to the operator's
// record builder and emits them in batches of windowOutputRows.
type sliceEmitter struct {
	o          *windowAggOp
	ctx        context.Context
	out        exec.Emitter
	start, end int64
	rows, left int // rows in the builder; an estimate of the rows to come, reserved
}

// row appends the row of slot s's key with the aggregates of slot acc.
func (e *sliceEmitter) row(s, acc int32) error {
	o := e.o
	if e.rows == 0 {
		n := min(max(e.left, 1), windowOutputRows)
		for i := range o.outSchema.NumFields() {
			o.rb.Field(i).Reserve(n)
		}
	}
	if err := o.appendRowAt(s, acc, e.start, e.end); err != nil {
		return err
	}
	e.rows++
	e.left--
	if e.rows == windowOutputRows {
		return e.flush()
	}
	return nil
}

func (e *sliceEmitter) flush() error {
	if e.rows == 0 {
		return nil
	}
	e.rows = 0
	rec := e.o.rb.NewRecord()
	e.o.m.RecordsOut.Add(rec.NumRows())
	err := e.out.Emit(e.ctx, rec)
	rec.Release()
	return err
}

// overflowBounds returns the window an overflow in slot s is reported
// in: a slice's last window (the first one to have folded its rows when
// windows kept one accumulator each), or the slot's own bounds.
func (o *windowAggOp) overflowBounds(s int32) (start, end int64) {
	start, end = o.slotStart[s], o.slotEnd[s]
	if o.sliced && end-start == o.w.Slide {
		end = start + o.w.Size
	}
	return start, end
}

// errSlicedState is the error of a restore into an operator that keeps
// one accumulator per window of state holding HOP slices.
func (o *windowAggOp) errSlicedState(start, end int64) error {
	return fmt.Errorf("%w: window state entry [%s, %s) is a slice of %s, written by an aggregation without allowed lateness or early firing (event time, UTC), which keeps one accumulator per slice; this one keeps one per window and cannot restore it: restore with the settings the checkpoint was taken with",
		ErrStateLayout, types.FormatTimestamp(start), types.FormatTimestamp(end), o.layout.window)
}
