# syntax=docker/dockerfile:1
# Taskman: one image for the API (the default command) and the worker (another command):
#
#   docker build -t taskman .                                 # the API/worker image (last stage)
#   docker build --target nginx -t taskman-nginx .            # nginx with the built web app
#   docker run -p 3000:3000 taskman                           # embedded mode, data in /app/data
#   docker run taskman node --import tsx apps/worker/src/main.ts   # a worker (needs DATABASE_URL)
#
# TypeScript runs through tsx at run time (no build step), so tsx is a production dependency.
# bcrypt and msgpackr-extract install from the prebuilt binaries they ship (linux x64 and arm64,
# glibc): no compiler is needed in the slim image.

# 1. Every dependency (dev ones too: vite), then the web app (apps/web/dist).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/sdk/package.json packages/sdk/
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY apps/web/package.json apps/web/
COPY apps/cli/package.json apps/cli/
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json ./
# The web app imports the SDK and some of the core's pure code (quick add, recurrence).
COPY packages packages
COPY apps/web apps/web
RUN npm run build:web

# 2. nginx serving the same build's web files (compose.yaml's nginx service: `target: nginx`).
# Baked in rather than shared through a volume: a named volume is filled from an image only when it
# is created, so after an upgrade nginx would keep serving the old files. openssl makes the
# self-signed certificate of compose's tls-cert service; curl is nginx's health check.
FROM nginx:1.28 AS nginx
RUN apt-get update \
  && apt-get install -y --no-install-recommends openssl curl \
  && rm -rf /var/lib/apt/lists/* \
  && rm -f /etc/nginx/conf.d/default.conf
COPY --from=build /app/apps/web/dist /usr/share/taskman/web

# 3. The API and the worker: production dependencies only, the TypeScript sources, the web app.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/app/data \
    LOG_FORMAT=json
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY packages/core/package.json packages/core/
COPY packages/sdk/package.json packages/sdk/
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY apps/web/package.json apps/web/
COPY apps/cli/package.json apps/cli/
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund
COPY packages/core packages/core
COPY apps/api apps/api
COPY apps/worker apps/worker
COPY --from=build /app/apps/web/dist apps/web/dist
# DATA_DIR: embedded mode's database and secrets, and mail as .eml files when SMTP_URL is unset.
RUN mkdir -p /app/data && chown node:node /app/data
# The node image's unprivileged user (uid 1000); Kubernetes' runAsNonRoot checks the number.
USER 1000:1000
EXPOSE 3000 9464
# Liveness of the API on PORT. The worker answers /health/live on METRICS_PORT instead: compose.yaml
# and the Kubernetes manifests give it its own check.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--import", "tsx", "apps/api/src/main.ts"]
