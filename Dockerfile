# syntax=docker/dockerfile:1
#
# One image for both duban processes:
#   API (default):  node dist/api/main.js
#   worker:         node dist/worker/main.js   (docker-compose.yml sets this command)
# Both run database migrations at start under an advisory lock, so several replicas may start at once.

ARG NODE_IMAGE=node:20-bookworm-slim

# ─── build: full dependency tree, compile TypeScript, then drop dev dependencies ───────────────────
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false

# Lockfile first, so the slow `npm ci` layer is reused until dependencies change.
COPY package.json package-lock.json ./
RUN npm ci

COPY . .
# db/migrate.ts reads its SQL from path.join(__dirname, 'migrations'); tsc copies no .sql files, so the
# migrations must sit next to the compiled dist/db/migrate.js.
RUN npm run build \
 && mkdir -p dist/db/migrations \
 && cp db/migrations/*.sql dist/db/migrations/ \
 && test -f dist/api/main.js \
 && test -f dist/worker/main.js \
 && test -f dist/workflows/index.js \
 && test -f dist/workflow-bundle.js \
 && npm prune --omit=dev

# ─── runtime: compiled code and production dependencies only ────────────────────────────────────────
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
# HOST=0.0.0.0: the config default (127.0.0.1) would make the API unreachable from outside the container.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    NPM_CONFIG_UPDATE_NOTIFIER=false

# Files stay owned by root and read-only for the process: the app never writes to its own directory.
# `npm run build` wrote the workflow bundle (dist/workflow-bundle.js): the worker loads it and writes nothing.
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

USER node
EXPOSE 3000

# Liveness only (/healthz): readiness (/readyz, which checks PostgreSQL and Temporal) is what compose waits on.
# Node instead of curl, which the slim image lacks. The worker serves no HTTP: compose disables this check there.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["node", "dist/api/main.js"]
