#!/bin/sh
# Makes a build context for `docker build --build-arg PREBUILT=1`: the package exactly as `npm pack` ships it
# (bin/, dist/, schemas/, policies/, examples/, README.md, LICENSE, package.json) plus its production
# node_modules/, installed here on this machine. The image build then downloads and compiles nothing, so it
# works with a builder that has no network (an air-gapped host, a daemon started with --bridge=none).
#
#   npm ci && npm run build                         # on a machine with the npm registry
#   deploy/docker/prebuilt-context.sh /tmp/imgsweep-context
#   docker build --build-arg PREBUILT=1 -t imgsweep /tmp/imgsweep-context
#
# Dependencies are installed with --ignore-scripts, as in the normal build: all of them are pure JavaScript
# then (ssh2's optional native crypto is skipped), so node_modules/ works on any libc and CPU that runs Node.
set -eu

if [ $# -ne 1 ]; then
  echo "usage: $0 OUTDIR   (OUTDIR must not exist, or be empty)" >&2
  exit 2
fi
out=$1
repo=$(cd "$(dirname "$0")/../.." && pwd)

if [ ! -f "$repo/dist/cli/main.js" ] || [ ! -f "$repo/dist/bundle/imgsweep.cjs" ]; then
  echo "$0: $repo/dist is missing: run \`npm ci && npm run build\` first" >&2
  exit 1
fi
mkdir -p "$out"
if [ -n "$(ls -A "$out")" ]; then
  echo "$0: $out is not empty" >&2
  exit 2
fi
out=$(cd "$out" && pwd)

# npm pack decides what is shipped (package.json "files"); --ignore-scripts: dist/ is already built.
tgz=$(cd "$repo" && npm pack --ignore-scripts --silent --pack-destination "$out" | tail -n 1)
tar -xzf "$out/$tgz" -C "$out" --strip-components=1
rm -f "$out/$tgz"
cp "$repo/package-lock.json" "$repo/Dockerfile" "$out/"
# No .dockerignore here: the context is exactly what the image needs.
(cd "$out" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
echo "$out"
