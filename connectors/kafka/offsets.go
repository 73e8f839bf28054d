package kafka

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/streamsql/streamsql/exec"
)

const (
	// splitOffsetVersion is the first byte of a partition's offset.
	splitOffsetVersion = 2
	// upsertOffsetVersion is the first byte of an upsert-kafka partition's
	// offset, which holds the last value per key too.
	upsertOffsetVersion = 3
	// legacyOffsetVersion is the first byte of the source's one offset in
	// checkpoints written before offsets were kept per split.
	legacyOffsetVersion = 1
)

// partitionOffset is the next offset to read from one topic partition.
type partitionOffset struct {
	topic     string
	partition int32
	offset    int64
}

// splitName names the split of a partition in checkpoints: "topic/3".
func splitName(topic string, partition int32) string {
	return topic + "/" + strconv.Itoa(int(partition))
}

// parseSplitName inverts splitName (topic names cannot hold a '/').
func parseSplitName(name string) (string, int32, error) {
	i := strings.LastIndexByte(name, '/')
	if i <= 0 {
		return "", 0, fmt.Errorf("split %q is not topic/partition", name)
	}
	p, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || p < 0 {
		return "", 0, fmt.Errorf("split %q is not topic/partition", name)
	}
	return name[:i], int32(p), nil
}

// appendSplitOffset encodes the offset of one partition, stored under its
// split name: version byte (2), uvarint split number (the order in which
// the source numbered its partitions, which a restored source keeps, so
// that the runtime finds their watermarks), varint next offset.
func appendSplitOffset(b []byte, split int, next int64) []byte {
	b = append(b, splitOffsetVersion)
	b = binary.AppendUvarint(b, uint64(split))
	return binary.AppendVarint(b, next)
}

// appendUpsertOffset encodes the offset of one upsert-kafka partition:
// version byte (3), uvarint split number, varint next offset, uvarint
// count, count × (uvarint len(key), key, uvarint len(value), value): the
// last value of every key seen up to next (unordered).
func appendUpsertOffset(b []byte, split int, next int64, state map[string][]byte) []byte {
	b = append(b, upsertOffsetVersion)
	b = binary.AppendUvarint(b, uint64(split))
	b = binary.AppendVarint(b, next)
	b = binary.AppendUvarint(b, uint64(len(state)))
	for k, v := range state {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// decodeSplitOffset decodes a partition's offset (version 2, or 3 with
// the upsert state, decoded when withState, else only counted in keys).
func decodeSplitOffset(b []byte, withState bool) (split int, next int64, state map[string][]byte, keys int, err error) {
	if len(b) == 0 || b[0] != splitOffsetVersion && b[0] != upsertOffsetVersion {
		return 0, 0, nil, 0, errors.New("unknown offset encoding version")
	}
	version := b[0]
	r := reader{b: b[1:]}
	n := r.uvarint()
	if r.err == nil && n > math.MaxInt32 {
		r.err = errors.New("truncated") // as before: no split has such a number
	}
	next = r.varint()
	if version == upsertOffsetVersion {
		count := r.uvarint()
		if r.err == nil && count > uint64(len(r.b)) {
			r.err = errors.New("truncated")
		}
		if withState && r.err == nil {
			state = make(map[string][]byte, count)
		}
		for i := uint64(0); i < count && r.err == nil; i++ {
			k := r.str()
			v := r.bytes()
			if state != nil {
				state[k] = v
			}
		}
		keys = int(count)
	}
	if r.err != nil {
		return 0, 0, nil, 0, fmt.Errorf("%v offset", r.err)
	}
	if len(r.b) != 0 {
		return 0, 0, nil, 0, fmt.Errorf("%d trailing bytes in offset", len(r.b))
	}
	return int(n), next, state, keys, nil
}

// restoredOffsets decodes the offsets a source is opened with, in split
// order: one per partition, by split name, or the one blob of a
// checkpoint from before offsets were kept per split.
func restoredOffsets(offsets map[string][]byte) ([]partitionOffset, error) {
	if b, ok := offsets[exec.LegacySplit]; ok {
		if len(offsets) > 1 {
			return nil, fmt.Errorf("split %q next to %d others", exec.LegacySplit, len(offsets)-1)
		}
		return decodeOffsets(b)
	}
	type numbered struct {
		split int
		partitionOffset
	}
	pos := make([]numbered, 0, len(offsets))
	for name, b := range offsets {
		topic, partition, err := parseSplitName(name)
		if err != nil {
			return nil, err
		}
		split, next, _, _, err := decodeSplitOffset(b, false)
		if err != nil {
			return nil, fmt.Errorf("split %q: %w", name, err)
		}
		pos = append(pos, numbered{split, partitionOffset{topic, partition, next}})
	}
	slices.SortFunc(pos, func(a, b numbered) int {
		return cmp.Or(cmp.Compare(a.split, b.split), cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	out := make([]partitionOffset, len(pos))
	for i, p := range pos {
		if p.split != i {
			return nil, fmt.Errorf("split %q has number %d, want %d (the splits of one checkpoint are numbered 0..%d)", splitName(p.topic, p.partition), p.split, i, len(pos)-1)
		}
		out[i] = p.partitionOffset
	}
	return out, nil
}

// restoredStates decodes the upsert state (last value per key) of every
// partition in offsets (see appendUpsertOffset); a partition whose offset
// holds none (a checkpoint of connector 'kafka') gets none.
func restoredStates(offsets map[string][]byte) (map[topicPartition]map[string][]byte, error) {
	out := map[topicPartition]map[string][]byte{}
	for name, b := range offsets {
		if name == exec.LegacySplit {
			continue
		}
		topic, partition, err := parseSplitName(name)
		if err != nil {
			return nil, err
		}
		_, _, state, _, err := decodeSplitOffset(b, true)
		if err != nil {
			return nil, fmt.Errorf("split %q: %w", name, err)
		}
		out[topicPartition{topic, partition}] = state
	}
	return out, nil
}

// encodeOffsets encodes the offsets of every split, in split order, as
// one blob, the encoding of checkpoints written before offsets were kept
// per split (decodeOffsets still reads them):
//
//	version byte (1)
//	uvarint count
//	count × (uvarint len(topic), topic, varint partition, varint offset)
func encodeOffsets(pos []partitionOffset) []byte {
	b := []byte{legacyOffsetVersion}
	b = binary.AppendUvarint(b, uint64(len(pos)))
	for _, p := range pos {
		b = binary.AppendUvarint(b, uint64(len(p.topic)))
		b = append(b, p.topic...)
		b = binary.AppendVarint(b, int64(p.partition))
		b = binary.AppendVarint(b, p.offset)
	}
	return b
}

func decodeOffsets(b []byte) ([]partitionOffset, error) {
	if len(b) == 0 || b[0] != legacyOffsetVersion {
		return nil, errors.New("unknown offset encoding version")
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errors.New("truncated offset")
	}
	b = b[k:]
	out := make([]partitionOffset, 0, n)
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return nil, errors.New("truncated offset")
		}
		topic := string(b[k : k+int(l)])
		b = b[k+int(l):]
		p, k1 := binary.Varint(b)
		if k1 <= 0 {
			return nil, errors.New("truncated offset")
		}
		b = b[k1:]
		off, k2 := binary.Varint(b)
		if k2 <= 0 {
			return nil, errors.New("truncated offset")
		}
		b = b[k2:]
		out = append(out, partitionOffset{topic, int32(p), off})
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes in offset", len(b))
	}
	return out, nil
}

// DescribeOffset implements connectors.StateDescriber: a partition's
// offset, or the one blob of a checkpoint from before offsets were kept
// per split.
func (factory) DescribeOffset(b []byte) (string, error) {
	if len(b) > 0 && (b[0] == splitOffsetVersion || b[0] == upsertOffsetVersion) {
		split, next, _, keys, err := decodeSplitOffset(b, false)
		if err != nil {
			return "", err
		}
		if b[0] == upsertOffsetVersion {
			return fmt.Sprintf("next offset %d (split #%d), last values of %d keys", next, split, keys), nil
		}
		return fmt.Sprintf("next offset %d (split #%d)", next, split), nil
	}
	pos, err := decodeOffsets(b)
	if err != nil {
		return "", err
	}
	parts := make([]string, len(pos))
	for i, p := range pos {
		parts[i] = fmt.Sprintf("%s/%d@%d", p.topic, p.partition, p.offset)
	}
	if len(parts) == 0 {
		return "no partitions", nil
	}
	return "next offsets (topic/partition@offset): " + strings.Join(parts, " "), nil
}

// DescribeHandle implements connectors.StateDescriber.
func (factory) DescribeHandle(b []byte) (string, error) {
	if len(b) == 0 {
		return "none (not exactly-once)", nil
	}
	h, err := decodeHandle(b)
	if err != nil {
		return "", err
	}
	parts := make([]string, len(h.partitions))
	for i, p := range h.partitions {
		parts[i] = strconv.Itoa(int(p))
	}
	return fmt.Sprintf("transaction %q producer id %d epoch %d, topic %s partitions [%s]", h.txnID, h.pid, h.epoch, h.topic, strings.Join(parts, " ")), nil
}
