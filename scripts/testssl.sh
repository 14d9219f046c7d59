#!/usr/bin/env bash
# Runs Debian's testssl (testssl.sh) against a Zonegate HTTPS listener with its default TLS
# settings, on loopback, with certificates generated for the run; prints a summary.
#
#   scripts/testssl.sh                 # protocols, ciphers, forward secrecy, defaults, vulnerabilities
#   TESTSSL_TIMEOUT=600 scripts/testssl.sh
#   TESTSSL_CHECKS="-p -s" scripts/testssl.sh
#
# Bounded: testssl is cut after TESTSSL_TIMEOUT seconds (default 420); the gateway it starts
# is stopped on exit, whatever happens. Nothing leaves loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v testssl >/dev/null || { echo "testssl not installed (Debian: apt-get install testssl.sh)" >&2; exit 2; }

timeout_s="${TESTSSL_TIMEOUT:-420}"
checks="${TESTSSL_CHECKS:--p -s -f -S -P -U}"
work="$(mktemp -d "${TMPDIR:-/tmp}/zg-testssl-XXXXXX")"
gw_pid=""
cleanup() {
  if [[ -n "$gw_pid" ]]; then kill "$gw_pid" 2>/dev/null || true; wait "$gw_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

zonegate=(node --import tsx src/cli/run.ts)
"${zonegate[@]}" certs init "$work/certs" >/dev/null
port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
cat >"$work/gateway.yaml" <<YAML
idc: hz-1
listeners:
  - name: https
    protocol: https
    host: 127.0.0.1
    port: $port
    tls: { cert: certs/server.pem, key: certs/server-key.pem, watch: false }
zonemap: { file: $PWD/policies/examples/three-site-five-center.yaml }
identity: { cookie: { keys: [{ id: k1, secretFile: certs/cookie.secret }] } }
upstream: { healthCheck: { enabled: false } }
admin: { enabled: false }
YAML
"${zonegate[@]}" start -c "$work/gateway.yaml" >"$work/gateway.log" 2>&1 &
gw_pid=$!
for _ in $(seq 1 300); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  kill -0 "$gw_pid" 2>/dev/null || { cat "$work/gateway.log" >&2; exit 1; }
  sleep 0.1
done

echo "testssl $checks against Zonegate https://127.0.0.1:$port (default TLS settings, ECDSA P-256 certificate)"
set +e
# shellcheck disable=SC2086 # $checks is a list of flags
timeout "$timeout_s" testssl --quiet --color 0 --warnings off --openssl-timeout 10 --connect-timeout 10 \
  $checks "127.0.0.1:$port" >"$work/testssl.txt" 2>&1
rc=$?
set -e
if [[ $rc -eq 124 ]]; then echo "(testssl cut after ${timeout_s}s; partial results below)"; fi

echo
echo "== summary =="
# Protocols, cipher categories, forward secrecy, server picks, and every vulnerability line.
grep -E '^ (SSLv2|SSLv3|TLS 1(\.[0-3])?|NPN/SPDY|ALPN/HTTP2) |^ (NULL|Anonymous|Export|LOW|Triple DES|Obsolete CBC|Strong encryption|PFS is offered|FS is offered)|^ (FS is offered|Elliptic curves offered|Has server cipher order|Negotiated protocol|Negotiated cipher|Session Resumption|TLS session ticket)|^ [A-Z][A-Za-z0-9 ()/,.-]+\(CVE|^ (Heartbleed|CCS|Ticketbleed|ROBOT|Secure Renegotiation|Secure Client-Initiated|CRIME|BREACH|POODLE|TLS_FALLBACK_SCSV|SWEET32|FREAK|DROWN|LOGJAM|BEAST|LUCKY13|Winshock|RC4)' \
  "$work/testssl.txt" | sed -E 's/[[:space:]]+$//' || true
echo
echo "findings marked VULNERABLE / NOT ok: $(grep -cE 'VULNERABLE|NOT ok' "$work/testssl.txt" || true)"
grep -E 'VULNERABLE|NOT ok' "$work/testssl.txt" | sed -E 's/[[:space:]]+$//' || true
if [[ -n "${TESTSSL_FULL:-}" ]]; then cp "$work/testssl.txt" "$TESTSSL_FULL"; echo "full output: $TESTSSL_FULL"; fi
