# Container images for the chat node and the operator, from one shared build stage.
# Build context: the repository root.
#
#   docker build --target node     -t chatcluster/chat-node:0.1.0 .
#   docker build --target operator -t chatcluster/chatcluster-operator:0.1.0 .
#
# BuildKit builds it (the default since Docker 23; DOCKER_BUILDKIT=1 on 20.10), with the
# engine's own Dockerfile frontend: no `# syntax=` line, which would fetch one from a registry.
#
# Behind a TLS-inspecting proxy, hand the builder your CA bundle as a BuildKit secret;
# it is mounted for `npm ci` only and nothing of it stays in an image:
#
#   docker build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt --target node ...
#
# NODE_IMAGE replaces the Node.js base (both stages), e.g. with a locally made image of
# the same Node.js release where no registry is reachable; the default is the official one.
#
# One file with two targets rather than two Dockerfiles: both images come from the same
# `npm ci` + `tsc` + prune, so the build steps and the Node.js pin live in one place, and
# BuildKit builds the shared stage once when both targets are built.
#
# Runtime base: node:<version>-bookworm-slim, not gcr.io/distroless/nodejs20-debian12.
# Distroless publishes no version tags for Node (only :latest, :nonroot, :debug), so it
# can be pinned only by digest; the slim image is pinned by an exact Node.js release, is
# the very image the build stage compiles with, and ships the unprivileged `node` user
# (UID/GID 1000). Pinning by digest as well (node:<tag>@sha256:...) is a further step
# for a release pipeline that can resolve one.
#
# No init process: both entry points handle SIGTERM and SIGINT themselves (the node
# drains, the operator releases its Lease) and start no child processes.
# No HEALTHCHECK: Kubernetes ignores it; the probes are in the Deployments.

ARG VERSION=0.1.0
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first, so a source change reuses the installed node_modules layer.
COPY package.json package-lock.json ./
# The CA secret is optional: without it the mount is absent and Node.js warns once that it
# ignores the missing file, then trusts its own CA list as usual. `npm ls` fails the step
# when the install is incomplete: npm can exit 0 after failing to fetch ("Exit handler
# never called!"), and the builder would cache that empty layer for every later build.
RUN --mount=type=secret,id=ca NODE_EXTRA_CA_CERTS=/run/secrets/ca npm ci --no-audit --no-fund && npm ls --silent
COPY tsconfig.json tsconfig.build.json ./
COPY common ./common
COPY node ./node
COPY operator ./operator
# The browser client, bundled into dist/web (it imports the node's protocol modules).
COPY web ./web
# Compile to dist/, then drop the dev dependencies (TypeScript, esbuild, vitest, eslint, ...).
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# What both images share: Node.js, the production dependencies, the shared code.
# package.json is needed at run time: its "type": "module" makes dist/**/*.js ES modules.
FROM ${NODE_IMAGE} AS runtime
ARG VERSION
ARG NODE_IMAGE
LABEL org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="ChatCluster" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/common ./dist/common

# The operator. It reads crds/chatcluster.yaml at start, at the same place relative to
# its compiled modules as in the repository (dist/operator/*.js -> ../../crds/).
FROM runtime AS operator
LABEL org.opencontainers.image.title="chatcluster-operator" \
      org.opencontainers.image.description="Kubernetes operator for ChatCluster: reconciles chat nodes, Redis, Cassandra, autoscaling"
COPY --from=build /app/dist/operator ./dist/operator
COPY crds/chatcluster.yaml ./crds/chatcluster.yaml
# /healthz, /readyz, /metrics
EXPOSE 8081
# Numeric, so Kubernetes can verify runAsNonRoot: the image's `node` user.
USER 1000:1000
ENTRYPOINT ["node", "/app/dist/operator/main.js"]

# The chat node, last so that a plain `docker build .` builds it. `serve` is the default
# command; a Job runs the schema migration with `args: [migrate]`.
FROM runtime AS node
LABEL org.opencontainers.image.title="chat-node" \
      org.opencontainers.image.description="ChatCluster chat node: WebSocket chat server with Redis bus and Cassandra store"
COPY --from=build /app/dist/node ./dist/node
# The web client every node serves at / (node/server/web-client.ts finds it in dist/web).
COPY --from=build /app/dist/web ./dist/web
# 8080: WebSocket and HTTP API, /healthz, /readyz; 9090: admin (/metrics, /load, /drain).
EXPOSE 8080 9090
# Numeric, so Kubernetes can verify runAsNonRoot: the image's `node` user.
USER 1000:1000
ENTRYPOINT ["node", "/app/dist/node/main.js"]
CMD ["serve"]
