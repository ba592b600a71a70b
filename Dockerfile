# imgsweep in a container: the CLI, run against the host's engine through its socket.
#
#   docker build -t imgsweep .
#   docker run --rm --network none \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -v /etc/imgsweep:/etc/imgsweep:ro -v imgsweep-state:/var/lib/imgsweep \
#     imgsweep plan -p /etc/imgsweep/policy.yaml
#
# The image runs as uid 1000 (not root). The Docker socket is usually root:docker, mode 660, so give the
# container the socket's group with --group-add (above), or run it with --user root. See docs/deployment.md.
#
# Build arguments:
#   BASE_IMAGE  the Node.js 20+ image both stages start from (default node:24-bookworm-slim). It needs `node`
#               on PATH; the build stage also needs /bin/sh and, unless PREBUILT=1, npm and network access.
#   PREBUILT    0 (default): the build stage runs `npm ci` and `npm run build` from the sources.
#               1: the context already holds the built package (dist/, bin/, schemas/, policies/, package.json)
#               and its production node_modules/, e.g. for an air-gapped builder; nothing is downloaded or
#               compiled, the build stage only checks the files are there. Such a context is made with
#               deploy/docker/prebuilt-context.sh (this repository's .dockerignore excludes dist/ and
#               node_modules/, so PREBUILT=1 does not work on a plain checkout).
#   VERSION, REVISION, CREATED  values for the OCI labels. VERSION defaults to the package.json version (a test
#               checks they agree); pass the others when you build a release:
#                 --build-arg REVISION="$(git rev-parse HEAD)" --build-arg CREATED="$(date -u +%FT%TZ)"

ARG BASE_IMAGE=node:24-bookworm-slim

# ---------------------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS build
ARG PREBUILT=0
WORKDIR /src

# Dependencies first, so that a source change does not download them again. --ignore-scripts: no dependency
# needs its install script here (ssh2's optional native crypto and cpu-features fall back to JavaScript, so
# no compiler is needed and node_modules/ is portable), and the package's own "prepare" (the build) needs the
# sources, copied below.
COPY package.json package-lock.json ./
RUN if [ "$PREBUILT" = "1" ]; then echo "PREBUILT=1: using the build context's node_modules/"; \
    else npm ci --ignore-scripts --no-audit --no-fund; fi

COPY . .
RUN set -e; \
    if [ "$PREBUILT" = "1" ]; then \
      for f in package.json dist/cli/main.js dist/bundle/imgsweep.cjs bin/imgsweep.js schemas/policy.schema.json policies dist/validation/compiled/policy.cjs node_modules/yaml node_modules/docker-modem; do \
        [ -e "$f" ] || { echo "PREBUILT=1 but the build context has no $f (make one with deploy/docker/prebuilt-context.sh)" >&2; exit 1; }; \
      done; \
      if [ -e node_modules/typescript ] || [ -e node_modules/vitest ]; then \
        echo "PREBUILT=1 but node_modules/ holds dev dependencies: install it with --omit=dev" >&2; exit 1; \
      fi; \
    else \
      npm run build; \
      npm prune --omit=dev --ignore-scripts --no-audit --no-fund; \
    fi; \
    mkdir -p /out/app /out/state; \
    cp -a package.json node_modules dist bin schemas policies /out/app/

# ---------------------------------------------------------------------------------------------------------
# Runtime: production dependencies, the compiled code and the data files, in one layer. No RUN here, so any
# base with a `node` binary on PATH works (no shell or package manager is needed at run time).
FROM ${BASE_IMAGE}
ARG VERSION=0.1.0 REVISION=unknown CREATED=unknown
LABEL org.opencontainers.image.title="imgsweep" \
      org.opencontainers.image.description="Declarative image-cleanup policy engine for Docker and Podman hosts" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"

# XDG_STATE_HOME=/var/lib: the state directory (usage record and lock) is /var/lib/imgsweep both for the
# default uid 1000 ($XDG_STATE_HOME/imgsweep) and for --user root (/var/lib/imgsweep). Mount a volume there
# to keep last-used data between runs; without one every run starts fresh (every image counts as first seen
# now, so unusedFor and LRU eviction see no history). There is deliberately no VOLUME instruction: it would
# leave an anonymous volume behind after every `docker run --rm`-less run.
ENV NODE_ENV=production XDG_STATE_HOME=/var/lib
COPY --from=build /out/app /app
COPY --from=build --chown=1000:1000 /out/state/ /var/lib/imgsweep/
WORKDIR /app

# Not root. Numeric, so that Kubernetes' runAsNonRoot can check it (uid 1000 is "node" in the official images).
USER 1000:1000
ENTRYPOINT ["node", "/app/bin/imgsweep.js"]
CMD ["--help"]
