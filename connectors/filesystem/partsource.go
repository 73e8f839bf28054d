package filesystem

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// partReader reads a PARTITIONED BY table as Flink's filesystem source
// does: the part files under path/k1=v1/k2=v2/… (the partitioned sink's
// layout), each row's partition columns filled from its file's directory
// names (unescaped; the default partition name is NULL). The part files
// hold the other columns; the decoder's schema is those columns followed
// by the partition columns, whose values are appended to each line as
// fields of its format (a JSON member, a CSV field), so they are parsed
// as the column's type exactly as a value in the file would be. A batch
// never spans two files, and its columns are put back in the table's
// order.
type partReader struct {
	keys        []string // the partition columns (PARTITIONED BY) that the source produces
	perm        []int    // column i of the table is column perm[i] of the decoder
	schema      *arrow.Schema
	json        bool
	delim       byte
	null        string // the CSV text of NULL
	defaultName string

	suffix []byte // the current file's partition fields, for its format
	line   []byte // scratch: a line with suffix added
}

// newPartReader returns the reader of a partitioned table and the schema
// its decoder reads, or nil when the table is not partitioned.
func newPartReader(cfg exec.SourceConfig) (*partReader, types.Schema, error) {
	keys := cfg.Options[plan.PartitionKeysOption]
	if keys == "" {
		return nil, cfg.Schema, nil
	}
	p := &partReader{schema: cfg.Schema.Arrow(), defaultName: "__DEFAULT_PARTITION__", delim: ','}
	if v, ok := cfg.Options[optDefaultPartition]; ok {
		p.defaultName = v
	}
	switch f := strings.ToLower(cfg.Options[format.KeyFormat]); f {
	case "json":
		p.json = true
	case "csv":
		if v, ok := cfg.Options[format.KeyCSVFieldDelimiter]; ok && len(v) > 0 {
			p.delim = v[0]
			if v == `\t` {
				p.delim = '\t'
			}
		}
		p.null = cfg.Options[format.KeyCSVNullLiteral]
	default:
		return nil, types.Schema{}, fmt.Errorf("reading a PARTITIONED BY table supports the 'json' and 'csv' formats, not %q", f)
	}
	isKey := make([]bool, cfg.Schema.Len())
	for _, k := range strings.Split(keys, ",") {
		if i := cfg.Schema.Index(k); i >= 0 {
			isKey[i] = true
		}
	}
	var dec types.Schema
	p.perm = make([]int, cfg.Schema.Len())
	for pass := range 2 {
		for i, f := range cfg.Schema.Fields {
			if isKey[i] == (pass == 1) {
				p.perm[i] = dec.Len()
				dec.Fields = append(dec.Fields, f)
				if pass == 1 {
					p.keys = append(p.keys, f.Name)
				}
			}
		}
	}
	return p, dec, nil
}

// decoderColumn returns the decoder's index of table column i.
func (p *partReader) decoderColumn(i int) int {
	if p == nil {
		return i
	}
	return p.perm[i]
}

// listPartFiles returns the part files under root in partition
// directories (every directory between root and the file named
// key=value), in path order, skipping hidden files and those starting
// with "_" (success files, in-progress files) as listFiles does.
func listPartFiles(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n := d.Name()
		if path == root {
			return nil
		}
		if strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if !strings.Contains(n, "=") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
				return nil
			}
		}
		if filepath.Dir(path) != root { // a file directly in root belongs to no partition
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

// startFile sets the partition values of the file at path (under root).
func (p *partReader) startFile(root, path string) error {
	rel, err := filepath.Rel(root, filepath.Dir(path))
	if err != nil {
		return err
	}
	vals := map[string]*string{}
	for _, seg := range strings.Split(filepath.ToSlash(rel), "/") {
		k, v, ok := strings.Cut(seg, "=")
		if !ok {
			continue
		}
		if v == p.defaultName {
			vals[strings.ToLower(unescapePartitionValue(k))] = nil
			continue
		}
		v = unescapePartitionValue(v)
		vals[strings.ToLower(unescapePartitionValue(k))] = &v
	}
	p.suffix = p.suffix[:0]
	for _, k := range p.keys {
		v, ok := vals[strings.ToLower(k)]
		if !ok {
			return fmt.Errorf("file %s is in no partition directory %s=… (PARTITIONED BY (%s))", path, k, strings.Join(p.keys, ", "))
		}
		if p.json {
			b, _ := json.Marshal(k)
			p.suffix = append(p.suffix, b...)
			p.suffix = append(p.suffix, ':')
			if v == nil {
				p.suffix = append(p.suffix, "null"...)
			} else {
				b, _ := json.Marshal(*v)
				p.suffix = append(p.suffix, b...)
			}
			p.suffix = append(p.suffix, ',')
			continue
		}
		p.suffix = append(p.suffix, p.delim)
		if v == nil {
			p.suffix = append(p.suffix, p.null...)
		} else {
			p.suffix = append(p.suffix, '"')
			p.suffix = append(p.suffix, strings.ReplaceAll(*v, `"`, `""`)...)
			p.suffix = append(p.suffix, '"')
		}
	}
	return nil
}

// withPartition returns line with the current file's partition fields.
// A JSON line that is not an object is returned as it is, for the decoder
// to refuse.
func (p *partReader) withPartition(line []byte) []byte {
	if !p.json {
		p.line = append(append(p.line[:0], line...), p.suffix...)
		return p.line
	}
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if i == len(line) || line[i] != '{' {
		return line
	}
	rest := line[i+1:]
	j := 0
	for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t') {
		j++
	}
	p.line = append(append(p.line[:0], '{'), p.suffix...)
	if j < len(rest) && rest[j] == '}' {
		p.line = p.line[:len(p.line)-1] // no member follows: drop the comma
	}
	p.line = append(p.line, rest...)
	return p.line
}

// record returns rec (the decoder's) with its columns in the table's
// order, releasing rec.
func (p *partReader) record(rec arrow.Record) arrow.Record {
	defer rec.Release()
	cols := make([]arrow.Array, len(p.perm))
	for i, j := range p.perm {
		cols[i] = rec.Column(j)
	}
	return array.NewRecord(p.schema, cols, rec.NumRows())
}
