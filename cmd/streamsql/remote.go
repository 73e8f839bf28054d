package main

import (
	"flag"
	"fmt"

	"github.com/streamsql/streamsql/checkpoint/objstore"
	"github.com/streamsql/streamsql/engine"
)

// remoteFlags are the flags that say where checkpoints and savepoints go
// besides the state directory, and how to reach S3. Credentials are never
// flags (a command line is visible to every user of the machine): they
// come from SET 's3.access-key' / 's3.secret-key' or the AWS environment.
type remoteFlags struct {
	checkpointDir, savepointDir *string
	endpoint, region            *string
	pathStyle                   *bool
}

// addRemoteFlags adds --s3-endpoint, --s3-region and --s3-path-style to
// fs, and with dirs also --checkpoint-dir and --savepoint-dir.
func addRemoteFlags(fs *flag.FlagSet, dirs bool) *remoteFlags {
	f := &remoteFlags{}
	empty := ""
	f.checkpointDir, f.savepointDir = &empty, &empty
	if dirs {
		f.checkpointDir = fs.String("checkpoint-dir", "", "also make every checkpoint durable here: s3://bucket/prefix or a directory (SET 'execution.checkpointing.dir' overrides)")
		f.savepointDir = fs.String("savepoint-dir", "", "where savepoints taken without a target go: s3://bucket/prefix or a directory (default STATE-DIR/savepoints; SET 'execution.checkpointing.savepoint-dir' overrides)")
	}
	f.endpoint = fs.String("s3-endpoint", "", "S3 endpoint, e.g. http://127.0.0.1:8333 (default $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS); credentials come from $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY")
	f.region = fs.String("s3-region", "", "S3 region (default $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1)")
	f.pathStyle = fs.Bool("s3-path-style", false, "address buckets in the path (http://host/bucket/key), as most S3-compatible servers need")
	return f
}

// config returns the flags' S3 settings; the engine (or FromEnv) adds the
// environment's.
func (f *remoteFlags) config() objstore.Config {
	return objstore.Config{Endpoint: *f.endpoint, Region: *f.region, PathStyle: *f.pathStyle}
}

// checkRemoteFlags refuses a --checkpoint-dir, --savepoint-dir, an
// s3:// --from-savepoint or an --s3-endpoint that SET would refuse.
func checkRemoteFlags(f *remoteFlags, fromSavepoint string) error {
	for _, c := range []struct{ flag, v string }{{"checkpoint-dir", *f.checkpointDir}, {"savepoint-dir", *f.savepointDir}} {
		if err := engine.CheckLocation(c.v); err != nil {
			return fmt.Errorf("--%s: %v", c.flag, err)
		}
	}
	if objstore.IsRemote(fromSavepoint) {
		if err := engine.CheckLocation(fromSavepoint); err != nil {
			return fmt.Errorf("--from-savepoint: %v", err)
		}
	}
	if err := engine.CheckEndpoint(*f.endpoint); err != nil {
		return fmt.Errorf("--s3-endpoint: %v", err)
	}
	return nil
}
