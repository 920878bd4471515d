# The image the Helm chart runs: `meshgate` on PATH, Node.js 24, non-root (uid 65532), no build tools.
#   docker build -t meshgate/meshgate:0.1.0 .
# Not built in this repository's CI (no container engine there); the chart tests only render it.

FROM node:24-bookworm-slim AS build
WORKDIR /src
# Workspace manifests first, so the dependency layer is cached across source edits.
COPY package.json package-lock.json tsconfig.json tsconfig.base.json turbo.json ./
COPY packages ./packages
COPY integration-tests/package.json ./integration-tests/package.json
COPY bench/package.json ./bench/package.json
# --ignore-scripts: the base image already has Node 24; the `node` devDependency would fetch it again.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npx tsc -b packages/meshgate \
 && rm -rf node_modules \
 && npm ci --omit=dev --ignore-scripts --workspace @meshgate/meshgate --no-audit --no-fund \
 && find packages -name '*.tsbuildinfo' -delete

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/packages ./packages
COPY LICENSE ./
RUN ln -s /app/packages/meshgate/bin/meshgate.js /usr/local/bin/meshgate
USER 65532:65532
EXPOSE 18000 19000
ENTRYPOINT ["meshgate"]
CMD ["--help"]
