package window

import (
	"cmp"
	"context"
	"math"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/exec"
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
			p = next
		}
		if target < 0 {
			if hi-1 <= wm {
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
