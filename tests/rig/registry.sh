#!/usr/bin/env bash
# registry.sh: start or stop a real OCI registry (Debian's docker-registry, the CNCF
# distribution registry 2.8) on a loopback port, for integration tests, end-to-end tests, the
# demo and benchmarks.
#
#   registry.sh start --dir DIR [--auth none|htpasswd|token] [--tls [--client-certs]] [--port N]
#                     [--token-expires-in SECONDS] [--anonymous-pull]
#   registry.sh stop  --dir DIR
#
# start writes everything a test needs into DIR (storage, config, logs, certificates,
# credentials) and a shell-sourceable DIR/env:
#   REGISTRY_HOST=127.0.0.1:PORT   REGISTRY_URL=http(s)://127.0.0.1:PORT
#   REGISTRY_PID, REGISTRY_PORT, REGISTRY_DIR, REGISTRY_AUTH, REGISTRY_TLS (0/1)
#   REGISTRY_DEBUG_ADDR=127.0.0.1:PORT  (Prometheus metrics at http://$REGISTRY_DEBUG_ADDR/metrics)
#   REGISTRY_LOG                        (the registry's access and application log)
#   REGISTRY_USER, REGISTRY_PASSWORD    (htpasswd and token modes; random per DIR)
#   REGISTRY_CA, REGISTRY_CERT_DIR      (--tls; the cert dir is in skopeo's --cert-dir layout)
#   REGISTRY_CLIENT_CERT, REGISTRY_CLIENT_KEY  (--client-certs: the registry then accepts only
#                                        TLS clients with a certificate signed by its CA)
#   TOKEN_SERVER_URL, TOKEN_SERVER_PID, TOKEN_SERVICE, TOKEN_ISSUER, TOKEN_USERS_FILE,
#   TOKEN_LOG                           (token mode; see token_server.py)
# and prints REGISTRY_HOST on stdout. Starting again on an existing DIR keeps its storage,
# credentials and certificates (with --port, on the same address): tests use this to
# simulate a registry outage and recovery.
#
# The credentials are test-only and generated randomly for each DIR. Never use this script for
# anything but loopback tests.
set -euo pipefail

# The servers started below must not inherit the caller's descriptors (a test's listening
# sockets, pipes): a leaked socket would keep its port busy after the test closed it.
for fd_path in "/proc/$$/fd"/*; do
  fd=${fd_path##*/}
  if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
done
unset fd fd_path

RIG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON=/usr/bin/python3  # Debian's python has jwt and cryptography; the first on PATH may not

die() {
  echo "registry.sh: $*" >&2
  exit 1
}

need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 ||
      die "missing tool '$tool' (Debian packages: docker-registry apache2-utils openssl curl" \
        "python3-jwt python3-cryptography)"
  done
}

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# True while PID runs. A process that exited stays a zombie until PID 1 reaps it, which can
# take seconds on these machines, so a zombie counts as gone.
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z ]]
}

# Waits until URL answers any HTTP status (401 counts as up) or PID dies. Returns 0 when up.
wait_http() {
  local url=$1 pid=$2 cacert=${3:-} client=${4:-} i code
  local args=(-s -o /dev/null -w '%{http_code}' --max-time 1)
  [[ -n "$cacert" ]] && args+=(--cacert "$cacert")
  [[ -n "$client" ]] && args+=(--cert "$client.crt" --key "$client.key")
  for ((i = 0; i < 200; i++)); do
    alive "$pid" || return 1
    code=$(curl "${args[@]}" "$url" 2>/dev/null || true)
    [[ "$code" != "000" && -n "$code" ]] && return 0
    sleep 0.05
  done
  return 1
}

# Stops PID, but only if it still is the process we started (its command line names $2), so a
# recycled PID is never touched.
stop_pid() {
  local pid=$1 name=${2:-} i
  [[ -z "$pid" ]] && return 0
  alive "$pid" || return 0
  if [[ -n "$name" ]] && ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name"; then
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    alive "$pid" || return 0
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
}

make_certs() {
  local dir=$1/certs
  [[ -f "$dir/server.crt" && -f "$dir/ca.crt" ]] && return 0
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=pullfleet test CA" -keyout "$dir/ca.key" -out "$dir/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    >/dev/null 2>&1 || die "openssl could not make the test CA"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=localhost" -keyout "$dir/server.key" -out "$dir/server.csr" >/dev/null 2>&1 ||
    die "openssl could not make the server key"
  cat >"$dir/server.ext" <<'EOF'
subjectAltName=IP:127.0.0.1,DNS:localhost
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
EOF
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 30 -extfile "$dir/server.ext" -out "$dir/server.crt" >/dev/null 2>&1 ||
    die "openssl could not sign the server certificate"
  chmod 600 "$dir"/*.key
}

# A client certificate signed by the test CA, for registries started with --client-certs.
make_client_cert() {
  local dir=$1/certs
  [[ -f "$dir/client.crt" ]] && return 0
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=pullfleet test node" -keyout "$dir/client.key" -out "$dir/client.csr" \
    >/dev/null 2>&1 || die "openssl could not make the client key"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "extendedKeyUsage=clientAuth"
  } >"$dir/client.ext"
  openssl x509 -req -in "$dir/client.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 30 -extfile "$dir/client.ext" -out "$dir/client.crt" >/dev/null 2>&1 ||
    die "openssl could not sign the client certificate"
  chmod 600 "$dir/client.key"
}

# The token signing key and its self-signed certificate, which is the registry's
# rootcertbundle and travels in each token's x5c header.
make_token_key() {
  local dir=$1/token
  [[ -f "$dir/signing.crt" ]] && return 0
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=pullfleet test token issuer" \
    -keyout "$dir/signing.key" -out "$dir/signing.crt" >/dev/null 2>&1 ||
    die "openssl could not make the token signing key"
  chmod 600 "$dir/signing.key"
}

# Test-only credentials, random per DIR and kept across restarts of the same DIR.
make_creds() {
  local dir=$1
  if [[ ! -f "$dir/creds" ]]; then
    printf 'REGISTRY_USER=%s\nREGISTRY_PASSWORD=%s\n' "pf-$(openssl rand -hex 3)" \
      "$(openssl rand -hex 16)" >"$dir/creds"
    chmod 600 "$dir/creds"
  fi
  # shellcheck disable=SC1091
  source "$dir/creds"
}

write_config() {
  local dir=$1 port=$2 debug_port=$3 auth=$4 tls=$5 token_url=$6 client_certs=${7:-0}
  {
    echo "version: 0.1"
    echo "log:"
    echo "  level: info"
    echo "  formatter: text"
    echo "  accesslog:"
    echo "    disabled: false"
    echo "storage:"
    echo "  filesystem:"
    echo "    rootdirectory: $dir/storage"
    echo "  delete:"
    echo "    enabled: true"
    echo "  maintenance:"
    echo "    uploadpurging:"
    echo "      enabled: false"
    echo "http:"
    echo "  addr: 127.0.0.1:$port"
    echo "  secret: pullfleet-test-only-secret"
    echo "  debug:"
    echo "    addr: 127.0.0.1:$debug_port"
    echo "    prometheus:"
    echo "      enabled: true"
    echo "      path: /metrics"
    if [[ "$tls" == 1 ]]; then
      echo "  tls:"
      echo "    certificate: $dir/certs/server.crt"
      echo "    key: $dir/certs/server.key"
      if [[ "$client_certs" == 1 ]]; then
        echo "    clientcas:"
        echo "      - $dir/certs/ca.crt"
      fi
    fi
    case "$auth" in
      htpasswd)
        echo "auth:"
        echo "  htpasswd:"
        echo "    realm: pullfleet-test"
        echo "    path: $dir/htpasswd"
        ;;
      token)
        echo "auth:"
        echo "  token:"
        echo "    realm: $token_url"
        echo "    service: pullfleet-test-registry"
        echo "    issuer: pullfleet-test-issuer"
        echo "    rootcertbundle: $dir/token/signing.crt"
        ;;
    esac
  } >"$dir/config.yml"
}

start_token_server() {
  local dir=$1 tls=$2 expires_in=$3 anonymous=$4 port pid scheme=http
  local args=()
  if [[ ! -f "$dir/token/users.json" ]]; then
    "$PYTHON" - "$dir/token/users.json" "$REGISTRY_USER" "$REGISTRY_PASSWORD" "$anonymous" <<'EOF'
import json, sys
path, user, password, anonymous = sys.argv[1:5]
doc = {"users": {user: password}, "deny": {}, "anonymous_pull": ["*"] if anonymous == "1" else []}
with open(path, "w") as f:
    json.dump(doc, f, indent=2)
EOF
    chmod 600 "$dir/token/users.json"
  fi
  if [[ "$tls" == 1 ]]; then
    scheme=https
    args+=(--tls-cert "$dir/certs/server.crt" --tls-key "$dir/certs/server.key")
  fi
  for _ in 1 2 3 4 5; do
    port=${TOKEN_PORT_WANTED:-$(free_port)}
    setsid "$PYTHON" "$RIG_DIR/token_server.py" --port "$port" \
      --key "$dir/token/signing.key" --cert "$dir/token/signing.crt" \
      --issuer pullfleet-test-issuer --service pullfleet-test-registry \
      --users "$dir/token/users.json" --log "$dir/token/requests.log" \
      --expires-in "$expires_in" "${args[@]}" \
      >>"$dir/token/server.log" 2>&1 </dev/null &
    pid=$!
    if wait_http "$scheme://127.0.0.1:$port/healthz" "$pid" "$dir/certs/ca.crt"; then
      TOKEN_SERVER_PID=$pid
      TOKEN_SERVER_URL="$scheme://127.0.0.1:$port/token"
      return 0
    fi
    stop_pid "$pid" token_server.py
    [[ -n "${TOKEN_PORT_WANTED:-}" ]] && break
  done
  die "token server did not start; see $dir/token/server.log"
}

cmd_start() {
  local dir="" auth=none tls=0 port_wanted="" expires_in=300 anonymous=0 client_certs=0
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --dir) dir=$2; shift 2 ;;
      --auth) auth=$2; shift 2 ;;
      --tls) tls=1; shift ;;
      --client-certs) client_certs=1; shift ;;
      --port) port_wanted=$2; shift 2 ;;
      --token-expires-in) expires_in=$2; shift 2 ;;
      --anonymous-pull) anonymous=1; shift ;;
      *) die "unknown option '$1' for start" ;;
    esac
  done
  [[ -n "$dir" ]] || die "start needs --dir DIR"
  case "$auth" in
    none | htpasswd | token) ;;
    *) die "--auth must be none, htpasswd or token, not '$auth'" ;;
  esac
  [[ -z "$port_wanted" || "$port_wanted" =~ ^[0-9]+$ ]] ||
    die "--port must be a number, not '$port_wanted'"
  [[ "$expires_in" =~ ^[0-9]+$ ]] || die "--token-expires-in must be seconds, not '$expires_in'"
  need docker-registry openssl curl "$PYTHON"
  [[ "$auth" == htpasswd ]] && need htpasswd

  mkdir -p "$dir/storage"
  dir="$(cd "$dir" && pwd)"
  if [[ -f "$dir/env" ]]; then
    # shellcheck disable=SC1091
    (source "$dir/env" && alive "${REGISTRY_PID:-0}" &&
      tr '\0' ' ' <"/proc/$REGISTRY_PID/cmdline" | grep -q docker-registry) &&
      die "a registry already runs for $dir; stop it first"
  fi

  [[ "$client_certs" == 1 && "$tls" != 1 ]] && die "--client-certs needs --tls"
  [[ "$tls" == 1 ]] && make_certs "$dir"
  [[ "$client_certs" == 1 ]] && make_client_cert "$dir"
  local client=""
  [[ "$client_certs" == 1 ]] && client="$dir/certs/client"
  local scheme=http cacert=""
  if [[ "$tls" == 1 ]]; then
    scheme=https
    cacert="$dir/certs/ca.crt"
  fi
  REGISTRY_USER="" REGISTRY_PASSWORD=""
  if [[ "$auth" != none ]]; then
    make_creds "$dir"
  fi
  if [[ "$auth" == htpasswd && ! -f "$dir/htpasswd" ]]; then
    # bcrypt at the lowest cost: the registry checks it on every request.
    htpasswd -Bbc -C 4 "$dir/htpasswd" "$REGISTRY_USER" "$REGISTRY_PASSWORD" >/dev/null 2>&1 ||
      die "htpasswd failed"
  fi
  TOKEN_SERVER_PID="" TOKEN_SERVER_URL=""
  if [[ "$auth" == token ]]; then
    make_token_key "$dir"
    TOKEN_PORT_WANTED=""
    if [[ -n "$port_wanted" && -f "$dir/token/port" ]]; then
      TOKEN_PORT_WANTED=$(cat "$dir/token/port")
    fi
    start_token_server "$dir" "$tls" "$expires_in" "$anonymous"
    echo "${TOKEN_SERVER_URL##*:}" | cut -d/ -f1 >"$dir/token/port"
  fi

  local port debug_port pid
  for _ in 1 2 3 4 5; do
    port=${port_wanted:-$(free_port)}
    debug_port=$(free_port)
    write_config "$dir" "$port" "$debug_port" "$auth" "$tls" "$TOKEN_SERVER_URL" "$client_certs"
    setsid docker-registry serve "$dir/config.yml" >>"$dir/registry.log" 2>&1 </dev/null &
    pid=$!
    if wait_http "$scheme://127.0.0.1:$port/v2/" "$pid" "$cacert" "$client"; then
      break
    fi
    stop_pid "$pid" docker-registry
    pid=""
    # A fixed port that does not come up is a real failure; a random one may have collided.
    [[ -n "$port_wanted" ]] && break
  done
  if [[ -z "$pid" ]]; then
    stop_pid "$TOKEN_SERVER_PID" token_server.py
    echo "registry.sh: last lines of $dir/registry.log:" >&2
    tail -n 5 "$dir/registry.log" >&2 || true
    die "docker-registry did not answer on 127.0.0.1:${port}"
  fi

  {
    echo "REGISTRY_DIR=$dir"
    echo "REGISTRY_HOST=127.0.0.1:$port"
    echo "REGISTRY_PORT=$port"
    echo "REGISTRY_URL=$scheme://127.0.0.1:$port"
    echo "REGISTRY_PID=$pid"
    echo "REGISTRY_DEBUG_ADDR=127.0.0.1:$debug_port"
    echo "REGISTRY_LOG=$dir/registry.log"
    echo "REGISTRY_AUTH=$auth"
    echo "REGISTRY_TLS=$tls"
    echo "REGISTRY_USER=$REGISTRY_USER"
    echo "REGISTRY_PASSWORD=$REGISTRY_PASSWORD"
    if [[ "$tls" == 1 ]]; then
      echo "REGISTRY_CA=$dir/certs/ca.crt"
      echo "REGISTRY_CERT_DIR=$dir/certs/skopeo"
    fi
    if [[ "$client_certs" == 1 ]]; then
      echo "REGISTRY_CLIENT_CERT=$dir/certs/client.crt"
      echo "REGISTRY_CLIENT_KEY=$dir/certs/client.key"
    fi
    if [[ "$auth" == token ]]; then
      echo "TOKEN_SERVER_URL=$TOKEN_SERVER_URL"
      echo "TOKEN_SERVER_PID=$TOKEN_SERVER_PID"
      echo "TOKEN_SERVICE=pullfleet-test-registry"
      echo "TOKEN_ISSUER=pullfleet-test-issuer"
      echo "TOKEN_USERS_FILE=$dir/token/users.json"
      echo "TOKEN_LOG=$dir/token/requests.log"
    fi
  } >"$dir/env.tmp"
  chmod 600 "$dir/env.tmp"
  mv "$dir/env.tmp" "$dir/env"
  if [[ "$tls" == 1 ]]; then
    # skopeo's --cert-dir takes a folder of *.crt CA files (and no server keys).
    mkdir -p "$dir/certs/skopeo"
    cp "$dir/certs/ca.crt" "$dir/certs/skopeo/ca.crt"
    if [[ "$client_certs" == 1 ]]; then
      # skopeo names a client pair NAME.cert and NAME.key in the same folder.
      cp "$dir/certs/client.crt" "$dir/certs/skopeo/client.cert"
      cp "$dir/certs/client.key" "$dir/certs/skopeo/client.key"
    fi
  fi
  echo "127.0.0.1:$port"
}

cmd_stop() {
  local dir=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --dir) dir=$2; shift 2 ;;
      *) die "unknown option '$1' for stop" ;;
    esac
  done
  [[ -n "$dir" ]] || die "stop needs --dir DIR"
  [[ -f "$dir/env" ]] || return 0
  local REGISTRY_PID="" TOKEN_SERVER_PID=""
  # shellcheck disable=SC1091
  source "$dir/env"
  stop_pid "$REGISTRY_PID" docker-registry
  stop_pid "$TOKEN_SERVER_PID" token_server.py
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) die "usage: registry.sh start --dir DIR [--auth none|htpasswd|token]" \
    "[--tls [--client-certs]] [--port N]" \
    "| stop --dir DIR" ;;
esac
