package checkpoint

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

// Key layout. Each job has its own Pebble database, so keys carry no job
// name. esc(x) is x with every 0x00 written as 0x00 0xFF and a 0x00 0x01
// terminator: it preserves byte order and makes the encoding prefix-free,
// so every version of one user key is contiguous and user keys sort as
// bytes.Compare sorts them.
//
//	'm' | id               metadata record of checkpoint id
//	'd' | id               final duration of checkpoint id (written after the sync; advisory)
//	'o' | id | esc(op) | esc(split)  source offset
//	'h' | id | esc(op)     sink pending-commit handle
//	's' | esc(op) | esc(userKey) | ^id   state version written by checkpoint id
//	'f'                    failure statistics
//
// id is a big-endian uint64; ^id is its complement, so the newest version
// of a user key sorts first.
//
// Values: a state version is kind (1 set, 0 tombstone) | value | crc; an
// offset or handle is payload | crc; metadata is JSON | crc. crc is the
// big-endian CRC-32C of the record's key followed by the rest of its value.
const (
	prefixMeta     = 'm'
	prefixDuration = 'd'
	prefixOffset   = 'o'
	prefixHandle   = 'h'
	prefixState    = 's'
	keyFailures    = 'f'

	kindTombstone = 0
	kindSet       = 1

	crcLen     = 4
	versionLen = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendEsc appends the order-preserving, prefix-free encoding of s.
func appendEsc(dst, s []byte) []byte {
	for {
		i := bytes.IndexByte(s, 0)
		if i < 0 {
			dst = append(dst, s...)
			return append(dst, 0, 1)
		}
		dst = append(dst, s[:i+1]...)
		dst = append(dst, 0xff)
		s = s[i+1:]
	}
}

// decodeEsc decodes one appendEsc encoding at the start of src, appending
// the decoded bytes to dst. It returns the rest of src after the terminator.
func decodeEsc(dst, src []byte) (out, rest []byte, ok bool) {
	for {
		i := bytes.IndexByte(src, 0)
		if i < 0 || i+1 >= len(src) {
			return dst, nil, false
		}
		dst = append(dst, src[:i]...)
		switch src[i+1] {
		case 1:
			return dst, src[i+2:], true
		case 0xff:
			dst = append(dst, 0)
			src = src[i+2:]
		default:
			return dst, nil, false
		}
	}
}

func appendID(dst []byte, id uint64) []byte {
	return binary.BigEndian.AppendUint64(dst, id)
}

func idKey(prefix byte, id uint64) []byte {
	return appendID([]byte{prefix}, id)
}

// stateGroup returns 's' | esc(op) | esc(userKey): the key of every
// version of userKey, less the version suffix.
func stateGroup(dst []byte, op string, userKey []byte) []byte {
	dst = append(dst, prefixState)
	dst = appendEsc(dst, []byte(op))
	return appendEsc(dst, userKey)
}

// stateOpPrefix returns 's' | esc(op).
func stateOpPrefix(op string) []byte {
	return appendEsc([]byte{prefixState}, []byte(op))
}

func appendVersion(dst []byte, id uint64) []byte {
	return binary.BigEndian.AppendUint64(dst, ^id)
}

// splitState splits a state key into its group and version.
func splitState(k []byte) (group []byte, id uint64, ok bool) {
	if len(k) < 1+versionLen+4 || k[0] != prefixState {
		return nil, 0, false
	}
	n := len(k) - versionLen
	return k[:n], ^binary.BigEndian.Uint64(k[n:]), true
}

// recordCRC is the checksum stored at the end of every record's value.
func recordCRC(key, payload []byte) uint32 {
	c := crc32.Update(0, castagnoli, key)
	return crc32.Update(c, castagnoli, payload)
}

func appendCRC(dst []byte, crc uint32) []byte {
	return binary.BigEndian.AppendUint32(dst, crc)
}

// checkRecord verifies the trailing CRC of a record and returns its payload.
func checkRecord(key, value []byte) (payload []byte, crc uint32, ok bool) {
	if len(value) < crcLen {
		return nil, 0, false
	}
	payload = value[:len(value)-crcLen]
	crc = recordCRC(key, payload)
	return payload, crc, crc == binary.BigEndian.Uint32(value[len(value)-crcLen:])
}

// digest is an order-independent checksum over a set of records: the
// records of one checkpoint are folded in as they are written and again as
// they are read back, in whatever order each side sees them.
type digest struct {
	Sum   uint64 `json:"sum"`
	Count int64  `json:"count"`
}

func (d *digest) add(crc uint32, klen, vlen int) {
	d.Sum += mix64(uint64(crc) | uint64(uint32(klen+vlen))<<32)
	d.Count++
}

// mix64 is the splitmix64 finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
