# Sharp Eyes Gateway — multi-stage image.
# Build stage compiles TypeScript, the web application, better-sqlite3's native addon and our native
# SRTP and RTSP-reader modules (scripts/build-native.sh); the run stage carries only production modules, the build
# output and ffmpeg.
# (Node 22 LTS here; the project also runs on Node ≥ 20.)

FROM node:22-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN bash scripts/build-native.sh \
 && if [ -f scripts/build-web.sh ]; then bash scripts/build-web.sh; fi \
 && npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev

FROM node:22-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg fonts-dejavu-core fonts-noto-cjk tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/native/srtp/build ./native/srtp/build
COPY --from=build /app/native/ingest/build ./native/ingest/build
COPY --from=build /app/config ./config
COPY --from=build /app/web ./web
ENV NODE_ENV=production \
    GW_DATA_DIR=/data \
    GW_HTTP_PORT=8080
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
# HTTP API, web application and WHEP signalling
EXPOSE 8080
USER node
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:'+(process.env.GW_HTTP_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--"]
# V8 flags: scripts/gateway-node-flags, explained in scripts/start.sh (test/scripts checks they match)
CMD ["node", "--max-semi-space-size=32", "--no-memory-reducer", "--heap-growing-percent=100", "dist/src/cli.js", "serve"]
