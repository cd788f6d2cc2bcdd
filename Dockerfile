# twcloud-scaler: Woodpecker CI autoscaler for Timeweb Cloud.
#
#   docker build -t twcloud-scaler .
#   docker run --env-file .env -e WOODPECKER_PROVIDER=timewebcloud -e WOODPECKER_SERVER=https://ci.example.com -p 127.0.0.1:8080:8080 twcloud-scaler
#   (.env.example leaves WOODPECKER_PROVIDER and WOODPECKER_SERVER to docker-compose.yml)
#
# Node.js LTS line; override with --build-arg NODE_VERSION=<major> when a newer LTS is out.
ARG NODE_VERSION=24

# ---- build: compile TypeScript to dist/ ------------------------------------------------------------------------------
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and the compiled code only -----------------------------------------------------
FROM node:${NODE_VERSION}-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && printf '#!/bin/sh\nexec node /app/bin/twcloud-scaler.js "$@"\n' > /usr/local/bin/twcloud-scaler \
 && chmod 0755 /usr/local/bin/twcloud-scaler \
 && mkdir -p /var/lib/twcloud-scaler \
 && chown node:node /var/lib/twcloud-scaler
COPY bin ./bin
COPY --from=build /src/dist ./dist

# Listen on all interfaces inside the container so the status page and /metrics can be published. Without
# WOODPECKER_HTTP_TOKEN the admin endpoints (pause, cordon, drain) stay disabled on this address: the listener is
# read-only. Publish the port on the host's loopback only (-p 127.0.0.1:8080:8080) unless a token is set.
ENV WOODPECKER_HTTP_ADDR=0.0.0.0:8080
# JSON logs, one object per line (set WOODPECKER_LOG_FORMAT=pretty for readable lines).
ENV WOODPECKER_LOG_FORMAT=json
# The budget's ledger survives restarts here; mount a volume on /var/lib/twcloud-scaler (the compose files do) so it
# survives a new container too. A named volume takes the directory's owner (node) from the image.
ENV WOODPECKER_STATE_FILE=/var/lib/twcloud-scaler/state.json

USER node
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const a=process.env.WOODPECKER_HTTP_ADDR||'127.0.0.1:8080';if(a==='off')process.exit(0);const p=a.slice(a.lastIndexOf(':')+1);fetch('http://127.0.0.1:'+p+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# A daemon that reconciles once a minute allocates little: small young-generation semi-spaces keep its RSS low on the
# small VDS it shares with the Woodpecker server (docs/benchmarks.md: ~75 MB instead of ~105-137 MB after 10 000 ticks).
ENTRYPOINT ["node", "--max-semi-space-size=1", "/app/bin/twcloud-scaler.js"]
