package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// offsetVersion is the first byte of an encoded source offset.
const offsetVersion = 1

// partitionOffset is the next offset to read from one topic partition.
type partitionOffset struct {
	topic     string
	partition int32
	offset    int64
}

// encodeOffsets encodes the offsets of every split, in split order:
//
//	version byte (1)
//	uvarint count
//	count × (uvarint len(topic), topic, varint partition, varint offset)
//
// The order is the split order, so a restored source numbers its splits
// (and the runtime finds their watermarks) as before.
func encodeOffsets(pos []partitionOffset) []byte {
	b := []byte{offsetVersion}
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
	if len(b) == 0 || b[0] != offsetVersion {
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

// DescribeOffset implements connectors.StateDescriber.
func (factory) DescribeOffset(b []byte) (string, error) {
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
