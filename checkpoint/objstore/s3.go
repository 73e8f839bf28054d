package objstore

import "errors"

func openS3(bucket, prefix string, cfg Config) (Bucket, error) {
	return nil, errors.New("objstore: s3 is not implemented yet")
}
