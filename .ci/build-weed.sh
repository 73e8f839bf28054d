#!/usr/bin/env bash
# Builds SeaweedFS's `weed`, the real S3 server the object-store tests start
# (internal/s3test), into $HOME/.cache/streamsql/weed/<version>/weed, unless
# it is already there. Prints the binary's path on the last line.
# `go install` cannot build it (its go.mod has a replace directive), so this
# downloads the module, copies it, and builds inside the copy. Cold: ~6-15
# min on 2 cores, a ~230 MB binary; warm: nothing to do.
set -euo pipefail

module=github.com/seaweedfs/seaweedfs
# Keep in step with internal/s3test.WeedVersion.
version=v0.0.0-20261109003541-7506e5f91cd6
cache="${HOME}/.cache/streamsql/weed/${version}"
bin="${cache}/weed"

if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi

echo "building weed ${version} into ${cache} (takes several minutes)..." >&2
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
# Outside any module, so this repository's go.mod is not touched.
dir="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "${module}@${version}" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
  echo "build-weed: go mod download of ${module}@${version} gave no directory" >&2
  exit 1
fi
cp -R "$dir" "$work/src"
chmod -R u+w "$work/src"
mkdir -p "$cache"
(cd "$work/src" && go build -o "$bin.tmp" ./weed)
mv "$bin.tmp" "$bin"
"$bin" version >&2
echo "$bin"
