package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/checkpoint/objstore"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/builtin"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

func savepointCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("savepoint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := fs.String("state-dir", ".streamsql", "the state directory the job runs with")
	name := fs.String("name", "", "name of the savepoint (default: the current UTC time)")
	path := fs.String("path", "", "where to write the savepoint, as TARGET (default SAVEPOINT-DIR/JOB-NAME)")
	timeout := fs.Duration("timeout", time.Minute, "how long to wait for a running job")
	remote := addRemoteFlags(fs, false)
	savepointDir := fs.String("savepoint-dir", "", "where savepoints without a TARGET go: s3://bucket/prefix or a directory (default STATE-DIR/savepoints)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: streamsql savepoint [flags] JOB [TARGET]

Takes a savepoint of JOB: a self-contained copy of its state that outlives
its checkpoints, in TARGET (a directory or s3://bucket/prefix; default a new
JOB-NAME inside --savepoint-dir). A running job takes a fresh checkpoint for
it (and reaches S3 with its own settings); a stopped job's last completed
checkpoint is copied (S3 reached with the --s3-* flags and the AWS
environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
AWS_ENDPOINT_URL_S3). Restore it with
'streamsql run --from-savepoint TARGET FILE.sql'.

Flags:
`)
		fs.PrintDefaults()
	}
	if done, err := parseFlags(fs, args); done {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 || (fs.NArg() == 2 && *path != "") {
		fs.Usage()
		return errUsage
	}
	if err := checkRemoteFlags(remote, ""); err != nil {
		return err
	}
	if err := engine.CheckLocation(*savepointDir); err != nil {
		return fmt.Errorf("--savepoint-dir: %v", err)
	}
	job := fs.Arg(0)
	target := *path
	if fs.NArg() == 2 {
		target = fs.Arg(1)
	}
	if target == "" {
		target = engine.SavepointIn(*savepointDir, *stateDir, job, *name)
	}
	ans, err := engine.TakeSavepoint(ctx, *stateDir, job, target, remote.config().FromEnv(nil), *timeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "savepoint of job %s at checkpoint %d: %s\n", job, ans.CheckpointID, ans.Path)
	return nil
}

func checkpointsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("checkpoints", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := fs.String("state-dir", ".streamsql", "the state directory")
	remote := addRemoteFlags(fs, false)
	checkpointDir := fs.String("checkpoint-dir", "", "read the checkpoints of JOB in this checkpoint dir (s3://bucket/prefix or a directory) instead of the state directory")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: streamsql checkpoints [flags] list [JOB]
       streamsql checkpoints [flags] inspect JOB [ID]
       streamsql checkpoints --checkpoint-dir LOCATION [--s3-endpoint URL] [--s3-path-style] [--s3-region R] list|inspect JOB [ID]

list shows the retained checkpoints of every job (or of JOB): id, time,
duration, size, alignment time; and each job's checkpoint failures.
inspect shows one checkpoint (default: the newest) in detail: what each
operator wrote, the source offsets per split and the sink handles.
With --checkpoint-dir they read JOB's checkpoints in that location (what
SET 'execution.checkpointing.dir' named) from their manifests: list shows
each one's files and total size, and the manifests that are not valid
(skipped by restore) with the reason. S3 credentials come from the
environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN),
AWS_REGION, AWS_ENDPOINT_URL_S3.

Flags:
`)
		fs.PrintDefaults()
	}
	if done, err := parseFlags(fs, args); done {
		return err
	}
	if *checkpointDir != "" {
		if err := engine.CheckLocation(*checkpointDir); err != nil {
			return fmt.Errorf("--checkpoint-dir: %v", err)
		}
		if err := checkRemoteFlags(remote, ""); err != nil {
			return err
		}
		return remoteCheckpoints(ctx, fs, *checkpointDir, remote.config().FromEnv(nil), stdout)
	}
	switch fs.Arg(0) {
	case "list":
		jobs := fs.Args()[1:]
		if len(jobs) == 0 {
			jobs = engine.Jobs(*stateDir)
			if len(jobs) == 0 {
				fmt.Fprintf(stdout, "no jobs in %s\n", *stateDir)
				return nil
			}
		}
		for _, job := range jobs {
			st, err := engine.ReadStatus(*stateDir, job)
			if err != nil {
				return err
			}
			state := "stopped"
			if st.Running {
				state = "running"
			}
			fmt.Fprintf(stdout, "job %s (%s): %d checkpoint failures", job, state, st.Failures.Count)
			if st.Failures.Count > 0 {
				fmt.Fprintf(stdout, ", last: %s", st.Failures.LastError)
			}
			fmt.Fprintln(stdout)
			if n := len(st.Checkpoints); st.Completed > 0 && (n == 0 || st.Checkpoints[n-1].ID < st.Completed) {
				fmt.Fprintf(stdout, "WARNING: the job completed checkpoint %d, but its store's newest is %s: the store lost checkpoints (a damaged log); the job refuses to restore unless run with --allow-rollback\n",
					st.Completed, newestText(st.Checkpoints))
			}
			rows := [][]string{}
			for _, c := range st.Checkpoints {
				rows = append(rows, []string{
					strconv.FormatUint(c.ID, 10), c.Time.UTC().Format("2006-01-02 15:04:05.000"),
					c.Duration.Round(time.Microsecond).String(), strconv.FormatInt(c.Bytes, 10),
					c.Alignment.String(), offsetsText(c),
				})
			}
			printTable(stdout, []string{"id", "time (UTC)", "duration", "bytes", "alignment", "source offsets"}, rows)
		}
		return nil
	case "inspect":
		if fs.NArg() < 2 {
			fs.Usage()
			return errUsage
		}
		job := fs.Arg(1)
		st, err := engine.ReadStatus(*stateDir, job)
		if err != nil {
			return err
		}
		if len(st.Checkpoints) == 0 {
			return fmt.Errorf("job %q has no retained checkpoint", job)
		}
		c := st.Checkpoints[len(st.Checkpoints)-1]
		if fs.NArg() > 3 {
			fs.Usage()
			return errUsage
		}
		if fs.NArg() > 2 {
			id, err := strconv.ParseUint(fs.Arg(2), 10, 64)
			if err != nil {
				return fmt.Errorf("invalid checkpoint id %q", fs.Arg(2))
			}
			found := false
			for _, x := range st.Checkpoints {
				if x.ID == id {
					c, found = x, true
				}
			}
			if !found {
				return fmt.Errorf("job %q has no retained checkpoint %d", job, id)
			}
		}
		printCheckpoint(stdout, job, c)
		if st.Stats.StateEntries > 0 || st.Stats.RecordsIn > 0 {
			fmt.Fprintf(stdout, "  job state: %d live state entries, %d bytes of state, %d rows read, watermark %s (at the job's last status)\n",
				st.Stats.StateEntries, st.Stats.StateBytes, st.Stats.RecordsIn, watermarkText(st.Stats.Watermark))
		}
		printCheckpointDetail(stdout, c)
		return nil
	}
	fs.Usage()
	return errUsage
}

// printCheckpoint prints the head of `checkpoints inspect`.
func printCheckpoint(stdout io.Writer, job string, c checkpoint.CheckpointInfo) {
	fmt.Fprintf(stdout, "job %s checkpoint %d\n  time:      %s\n  duration:  %v\n  alignment: %v\n  bytes:     %d in %d records\n",
		job, c.ID, c.Time.UTC().Format(time.RFC3339Nano), c.Duration, c.Alignment, c.Bytes, c.Records)
	if c.UploadDuration > 0 {
		fmt.Fprintf(stdout, "  uploaded:  %d bytes in %v\n", c.Uploaded, c.UploadDuration)
	}
}

// printCheckpointDetail prints what each operator wrote, the source offsets
// and the sink handles of c.
func printCheckpointDetail(stdout io.Writer, c checkpoint.CheckpointInfo) {
	rows := [][]string{}
	for _, o := range c.Operators {
		rows = append(rows, []string{o.ID, strconv.FormatInt(o.Sets, 10), strconv.FormatInt(o.Deletes, 10), strconv.FormatInt(o.Bytes, 10)})
	}
	fmt.Fprintln(stdout, "operators (what this checkpoint wrote):")
	printTable(stdout, []string{"operator", "sets", "deletes", "bytes"}, rows)
	fmt.Fprintln(stdout, "source offsets:")
	rows = nil
	for op, splits := range c.SourceOffsets {
		for split, off := range splits {
			rows = append(rows, []string{op, split, describeOffset(c, op, off)})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i][0]+rows[i][1] < rows[j][0]+rows[j][1] })
	printTable(stdout, []string{"source", "split", "offset"}, rows)
	fmt.Fprintln(stdout, "sink handles:")
	rows = nil
	for op, h := range c.SinkHandles {
		rows = append(rows, []string{op, describeHandle(c, op, h)})
	}
	printTable(stdout, []string{"sink", "handle"}, rows)
}

// remoteCheckpoints is `checkpoints --checkpoint-dir LOCATION list|inspect
// JOB [ID]`: the job's checkpoints in a checkpoint dir, from their
// manifests.
func remoteCheckpoints(ctx context.Context, fs *flag.FlagSet, location string, cfg objstore.Config, stdout io.Writer) error {
	if fs.NArg() < 2 || (fs.Arg(0) == "list" && fs.NArg() != 2) || fs.NArg() > 3 {
		fs.Usage()
		return errUsage
	}
	job := fs.Arg(1)
	switch fs.Arg(0) {
	case "list":
		list, err := checkpoint.ListRemote(ctx, location, job, cfg)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			fmt.Fprintf(stdout, "no checkpoints of job %s in %s\n", job, location)
			return nil
		}
		fmt.Fprintf(stdout, "job %s in %s:\n", job, location)
		rows := [][]string{}
		for _, c := range list {
			if c.Problem != "" {
				rows = append(rows, []string{strconv.FormatUint(c.ID, 10), "-", "-", "-", "-", "INVALID: " + c.Problem})
				continue
			}
			rows = append(rows, []string{
				strconv.FormatUint(c.ID, 10), c.Time.UTC().Format("2006-01-02 15:04:05.000"),
				strconv.Itoa(c.Files), strconv.FormatInt(c.Size, 10), strconv.FormatInt(c.Uploaded, 10), offsetsText(c.CheckpointInfo),
			})
		}
		printTable(stdout, []string{"id", "time (UTC)", "files", "size", "uploaded", "source offsets"}, rows)
		return nil
	case "inspect":
		var id uint64
		if fs.NArg() > 2 {
			n, err := strconv.ParseUint(fs.Arg(2), 10, 64)
			if err != nil || n == 0 {
				return fmt.Errorf("invalid checkpoint id %q", fs.Arg(2))
			}
			id = n
		}
		c, err := checkpoint.InspectRemote(ctx, location, job, id, cfg)
		if err != nil {
			return err
		}
		if c.Problem != "" {
			return fmt.Errorf("checkpoint %d of job %q in %s is not valid: %s", c.ID, job, location, c.Problem)
		}
		printCheckpoint(stdout, job, c.CheckpointInfo)
		fmt.Fprintf(stdout, "  files:     %d, %d bytes\n  manifest:  %s\n", c.Files, c.Size, c.Manifest)
		printCheckpointDetail(stdout, c.CheckpointInfo)
		return nil
	}
	fs.Usage()
	return errUsage
}

func newestText(cs []checkpoint.CheckpointInfo) string {
	if len(cs) == 0 {
		return "none"
	}
	return strconv.FormatUint(cs[len(cs)-1].ID, 10)
}

func offsetsText(c checkpoint.CheckpointInfo) string {
	var parts []string
	for op, splits := range c.SourceOffsets {
		for split, off := range splits {
			parts = append(parts, fmt.Sprintf("%s/%s: %s", op, split, describeOffset(c, op, off)))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// describers returns the registry whose connectors decode the offsets
// and handles of the built-in connectors, each its own.
func describers() *connectors.Registry { return builtin.Registry(io.Discard) }

// describeOffset decodes source op's offset by the connector that wrote
// it, falling back to showBytes (a checkpoint from before connectors were
// recorded, a custom connector).
func describeOffset(c checkpoint.CheckpointInfo, op string, b []byte) string {
	if s, ok := describers().DescribeOffset(c.Connectors[op], b); ok {
		return s
	}
	return showBytes(b)
}

// describeHandle decodes sink op's handle as describeOffset does.
func describeHandle(c checkpoint.CheckpointInfo, op string, b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	if s, ok := describers().DescribeHandle(c.Connectors[op], b); ok {
		return s
	}
	return showBytes(b)
}

// showBytes prints an opaque offset or handle: as text when it is
// printable, else as hex.
func showBytes(b []byte) string {
	printable := len(b) > 0
	for _, r := range string(b) {
		if !unicode.IsPrint(r) {
			printable = false
		}
	}
	if printable {
		return string(b)
	}
	return "0x" + hex.EncodeToString(b)
}

func watermarkText(wm exec.Watermark) string {
	switch wm {
	case exec.MinWatermark:
		return "-"
	case exec.MaxWatermark:
		return "+inf"
	}
	return types.FormatTimestamp(int64(wm))
}
