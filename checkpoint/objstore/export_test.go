package objstore

// RunBucketContract runs the Bucket contract tests against an empty bucket,
// for the external tests (which may import internal/s3test).
var RunBucketContract = testBucket
