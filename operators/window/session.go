package window

import (
	"cmp"
	"context"
	"math"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// Session windows. The open sessions of a key form a list threaded
// through slotNext, whose first slot the table holds under (windowSessionHead,
// key). Sessions of one key never intersect (bounds included), since any
// two that did would have been merged.

// assignSessions computes every row's session slot, opening, extending and
// merging sessions row by row. Merging happens before the batch's values
// are folded in, so a merged-away slot that rows of this batch were
// already assigned to is forwarded to the slot it merged into; the slot is
// freed by releaseMerged after the batch is folded in.
func (o *windowAggOp) assignSessions(times []int64, timeNulls arrow.Array, keys []int64, keyNulls arrow.Array, slots []int32) {
	wm := int64(o.wm)
	gap := o.w.Gap
	late := int64(0)
	lateness := o.lateness
	for i, ts := range times {
		if timeNulls != nil && timeNulls.IsNull(i) {
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
		lo, hi := ts, ts+gap
		head := o.table.get(windowSessionHead, k, null)
		target, prev := int32(-1), int32(-1)
		for p := head; p >= 0; {
			next := o.slotNext[p]
			if o.slotStart[p] > hi || o.slotEnd[p] < lo {
				prev, p = p, next
				continue
			}
			if target < 0 {
				target, prev, p = p, p, next
				continue
			}
			// p intersects the row too: fold it into target and unlink it.
			for _, a := range o.aggs {
				a.merge(target, p)
			}
			o.slotStart[target] = min(o.slotStart[target], o.slotStart[p])
			o.slotEnd[target] = max(o.slotEnd[target], o.slotEnd[p])
			if prev < 0 {
				head = next
				o.table.put(windowSessionHead, k, null, head)
			} else {
				o.slotNext[prev] = next
			}
			if o.forward == nil {
				o.forward = make(map[int32]int32)
			}
			o.forward[p] = target
			o.merged = append(o.merged, p)
			if o.updating && o.prev[p] != nil {
				o.retract = append(o.retract, p) // its row is gone
			}
			p = next
		}
		if target < 0 {
			if hi-1+lateness <= wm {
				slots[i] = -1
				late++
				continue
			}
			target = o.allocSlot(lo, hi, k, null)
			o.slotNext[target] = head
			o.table.put(windowSessionHead, k, null, target)
			o.minEnd = min(o.minEnd, hi)
		} else {
			o.slotStart[target] = min(o.slotStart[target], lo)
			o.slotEnd[target] = max(o.slotEnd[target], hi)
		}
		if o.updating {
			o.sessionChanged(target)
		}
		slots[i] = target
		if !o.dirty[target] {
			o.dirty[target] = true
			o.dirtyList = append(o.dirtyList, target)
		}
	}
	if len(o.merged) > 0 {
		for i, s := range slots {
			for s >= 0 {
				f, ok := o.forward[s]
				if !ok {
					break
				}
				s = f
			}
			slots[i] = s
		}
	}
	if late > 0 {
		o.late += late
		o.m.LateRecords.Add(late)
	}
}

// sessionChanged records, with an emit strategy, that a row went into
// session s (whose bounds it may have changed): a session whose end the
// watermark has passed fired (at once, if the row opened it within the
// allowed lateness) and its change is a late one; a fired session that the
// row extended past the watermark is open again, and without early firing
// its emitted row is retracted at once (it fires again later).
func (o *windowAggOp) sessionChanged(s int32) {
	wm := int64(o.wm)
	end := o.slotEnd[s]
	o.minEnd = min(o.minEnd, end)
	switch {
	case end-1 <= wm:
		o.fired[s] = true
		o.minExpire = min(o.minExpire, end-1+o.lateness)
		if !o.changed[s] {
			o.markChanged(s, true)
		}
		return
	case o.fired[s]:
		o.fired[s] = false
		o.changed[s] = false // listed as a late change: dropped from the list
		if o.earlyFire == 0 && o.prev[s] != nil {
			o.retract = append(o.retract, s)
		}
	}
	if o.earlyFire > 0 && !o.changed[s] {
		o.markChanged(s, false)
	}
}

// emitRetractions emits a -D row for each session of o.retract, with the
// bounds and values it was emitted with, and forgets that it was.
func (o *windowAggOp) emitRetractions(ctx context.Context, out exec.Emitter) error {
	kinds := o.kindBuf[:0]
	for _, s := range o.retract {
		if o.prev[s] == nil {
			continue // listed twice
		}
		if err := o.decodePrev(s); err != nil {
			return err
		}
		if err := o.appendRowAt(s, o.scratch, o.prevStart[s], o.prevEnd[s]); err != nil {
			return err
		}
		o.prev[s] = nil
		kinds = append(kinds, types.Delete)
		if len(kinds) == windowOutputRows {
			if err := o.flushKinds(ctx, out, kinds); err != nil {
				return err
			}
			kinds = kinds[:0]
		}
	}
	o.retract = o.retract[:0]
	err := o.flushKinds(ctx, out, kinds)
	o.kindBuf = kinds[:0]
	return err
}

// fireSessionsUpdating fires the sessions the watermark has passed with an
// emit strategy: it emits those not emitted yet (+I) or changed since
// (-U/+U, or -D/+I when their bounds changed), keeps fired sessions for
// the allowed lateness (late rows merge into them), and frees those the
// watermark has passed by it, first emitting pending late updates.
func (o *windowAggOp) fireSessionsUpdating(ctx context.Context, out exec.Emitter) error {
	wm := int64(o.wm)
	end := o.wm == exec.MaxWatermark
	if !end && o.minEnd-1 > wm && o.minExpire > wm {
		return nil
	}
	firing, expiring := o.firing[:0], o.merged[:0]
	newMin, newExp := int64(math.MaxInt64), int64(math.MaxInt64)
	for i, live := range o.live {
		s := int32(i)
		if !live {
			continue
		}
		e := o.slotEnd[s]
		if !o.fired[s] {
			if e-1 > wm {
				newMin = min(newMin, e)
				continue
			}
			firing = append(firing, s)
		}
		if end || e-1+o.lateness <= wm {
			expiring = append(expiring, s)
		} else {
			newExp = min(newExp, e-1+o.lateness)
		}
	}
	o.minEnd, o.minExpire = newMin, newExp
	if len(o.lateChanges) > 0 && len(expiring) > 0 {
		if err := o.emitLateChanges(ctx, out); err != nil {
			return err
		}
	}
	o.sortByWindow(firing)
	emit := o.sortBuf2[:0]
	for _, s := range firing {
		o.fired[s] = true
		if o.prev[s] == nil || o.changed[s] || o.prevStart[s] != o.slotStart[s] || o.prevEnd[s] != o.slotEnd[s] {
			emit = append(emit, s)
		}
	}
	o.firing, o.sortBuf2 = firing, emit
	if err := o.emitUpdates(ctx, out, emit); err != nil {
		return err
	}
	for _, s := range expiring {
		o.unlinkSession(s)
		o.freeSlot(s)
	}
	o.merged = expiring[:0]
	return nil
}

// releaseMerged frees the slots merged away during the last batch.
func (o *windowAggOp) releaseMerged() {
	for _, s := range o.merged {
		o.freeSlot(s)
	}
	o.merged = o.merged[:0]
	clear(o.forward)
}

// linkSession makes s the first session of its key.
func (o *windowAggOp) linkSession(s int32) {
	k, null := o.slotKey[s], o.slotNull[s]
	o.slotNext[s] = o.table.get(windowSessionHead, k, null)
	o.table.put(windowSessionHead, k, null, s)
	o.minEnd = min(o.minEnd, o.slotEnd[s])
}

// unlinkSession removes s from its key's list.
func (o *windowAggOp) unlinkSession(s int32) {
	k, null := o.slotKey[s], o.slotNull[s]
	head := o.table.get(windowSessionHead, k, null)
	if head == s {
		if next := o.slotNext[s]; next >= 0 {
			o.table.put(windowSessionHead, k, null, next)
		} else {
			o.table.del(windowSessionHead, k, null)
		}
		return
	}
	for p := head; p >= 0; p = o.slotNext[p] {
		if o.slotNext[p] == s {
			o.slotNext[p] = o.slotNext[s]
			return
		}
	}
}

// fireSessions emits and frees every session with end - 1 <= wm. It scans
// the open sessions only when minEnd, a lower bound of their ends, says
// that one may fire.
func (o *windowAggOp) fireSessions(ctx context.Context, out exec.Emitter) error {
	if o.updating {
		return o.fireSessionsUpdating(ctx, out)
	}
	wm := int64(o.wm)
	if o.minEnd-1 > wm {
		return nil
	}
	firing := o.firing[:0]
	newMin := int64(math.MaxInt64)
	for s, live := range o.live {
		if !live {
			continue
		}
		if end := o.slotEnd[s]; end-1 <= wm {
			firing = append(firing, int32(s))
		} else {
			newMin = min(newMin, end)
		}
	}
	o.minEnd = newMin
	slices.SortFunc(firing, func(a, b int32) int {
		if c := cmp.Compare(o.slotEnd[a], o.slotEnd[b]); c != 0 {
			return c
		}
		if c := cmp.Compare(o.slotStart[a], o.slotStart[b]); c != 0 {
			return c
		}
		return o.compareSlotKeys(a, b)
	})
	o.firing = firing
	if err := o.emit(ctx, out, firing); err != nil {
		return err
	}
	for _, s := range firing {
		o.unlinkSession(s)
		o.freeSlot(s)
	}
	return nil
}
