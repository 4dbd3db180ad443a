#!/usr/bin/env bash
# build-images.sh: build the rig's real OCI test images (no Docker engine) and push them to a
# registry started by registry.sh.
#
#   build-images.sh --registry HOST [--cache DIR] [--tls-verify true|false] [--ca FILE]
#                   [--creds USER:PASS] [--images LIST] [--out FILE]
#   build-images.sh --env REGDIR/env [--cache DIR] [--images LIST] [--out FILE]
#
# --env reads host, credentials and CA from a registry.sh env file (the easy way).
# --images is a comma list of names to push (default all): busybox, multiarch, big, app, sidecar,
# docker.
# --tls-verify defaults to false (plain HTTP or unverified TLS on loopback) unless --ca is given.
#
# Images (all OCI; digests are deterministic, identical on every machine and run):
#   pf/busybox:1.36, pf/busybox:latest  busybox-static (amd64) + applet symlinks, one layer
#   pf/multiarch:1.0   OCI index: linux/amd64 and linux/arm64/v8, real Debian busybox binaries
#   pf/big:1.0         about 40 MiB of random data in 3 layers, gzip level 0
#   pf/app:v1, pf/app:v2, pf/app:latest (= v1 at push; retag.sh moves it)
#                      busybox layer + a small layer with /app/version
#   pf/sidecar:1.0     busybox layer + a small layer
#   pf/docker:1.0      the same as a Docker schema2 image (busybox layer + a small layer)
#   pf/dockerlist:1.0  Docker manifest list: linux/amd64 and linux/arm64/v8 schema2 images
#
# The OCI layout is built once into the cache (default $PULLFLEET_RIG_CACHE, else ./.cache)
# by oci_build.py and reused while its inputs are unchanged; the arm64 busybox comes from
# Debian with `apt-get download` under a private APT configuration, also cached. Writes the
# digests to --out (default: images.env beside --env, else CACHE/images.env):
#   BUSYBOX_DIGEST, MULTIARCH_DIGEST, MULTIARCH_AMD64_DIGEST, MULTIARCH_ARM64_DIGEST,
#   BIG_DIGEST, BIG_LAYER_DIGESTS (space separated), BIG_SIZE (bytes of its layers),
#   APP_V1_DIGEST, APP_V2_DIGEST, SIDECAR_DIGEST, BUSYBOX_LAYER_DIGEST, DOCKER_DIGEST,
#   DOCKERLIST_DIGEST, DOCKERLIST_AMD64_DIGEST, DOCKERLIST_ARM64_DIGEST, IMAGES_HOST,
#   and <NAME>_REF=HOST/pf/... for each pushed tag (BUSYBOX_REF, APP_V1_REF, ...).
set -euo pipefail

RIG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON=/usr/bin/python3
ALL_IMAGES=busybox,multiarch,big,app,sidecar,docker

die() {
  echo "build-images.sh: $*" >&2
  exit 1
}

need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 ||
      die "missing tool '$tool' (Debian packages: skopeo busybox-static dpkg python3 util-linux)"
  done
}

host="" cache="" tls_verify="" ca="" creds="" images=$ALL_IMAGES out="" envfile=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --registry) host=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    --tls-verify) tls_verify=$2; shift 2 ;;
    --ca) ca=$2; shift 2 ;;
    --creds) creds=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --env) envfile=$2; shift 2 ;;
    -h | --help) sed -n '2,28p' "$0"; exit 0 ;;
    *) die "unknown option '$1'" ;;
  esac
done

if [[ -n "$envfile" ]]; then
  [[ -f "$envfile" ]] || die "no env file at $envfile (start the registry with registry.sh first)"
  # shellcheck disable=SC1090
  source "$envfile"
  host=${host:-$REGISTRY_HOST}
  [[ -z "$creds" && -n "${REGISTRY_USER:-}" ]] && creds="$REGISTRY_USER:$REGISTRY_PASSWORD"
  [[ -z "$ca" && -n "${REGISTRY_CA:-}" ]] && ca=$REGISTRY_CA
  out=${out:-$(dirname "$envfile")/images.env}
fi
[[ -n "$host" ]] || die "give --registry HOST or --env REGDIR/env"
[[ "$host" =~ ^[A-Za-z0-9.:-]+$ ]] || die "--registry must be HOST:PORT, not '$host'"
[[ -z "$tls_verify" || "$tls_verify" == true || "$tls_verify" == false ]] ||
  die "--tls-verify must be true or false, not '$tls_verify'"
[[ -z "$ca" || -f "$ca" ]] || die "no CA file at $ca"
[[ -z "$creds" || "$creds" == *:* ]] || die "--creds must be USER:PASS"
if [[ -z "$tls_verify" ]]; then
  if [[ -n "$ca" ]]; then tls_verify=true; else tls_verify=false; fi
fi
cache=${cache:-${PULLFLEET_RIG_CACHE:-.cache}}
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
out=${out:-$cache/images.env}
IFS=, read -r -a wanted <<<"$images"
for name in "${wanted[@]}"; do
  [[ ",$ALL_IMAGES," == *",$name,"* ]] ||
    die "unknown image '$name' in --images (known: $ALL_IMAGES)"
done
need skopeo apt-get dpkg-deb flock sha256sum "$PYTHON"
[[ -x /bin/busybox ]] || die "missing /bin/busybox (install the Debian package busybox-static)"

# The arm64 busybox-static from Debian, same version as the installed amd64 one when Debian
# still has it. A private APT state keeps dpkg's own architecture list and lists untouched.
fetch_arm64_busybox() {
  local dir=$cache/arm64 apt=$cache/arm64/apt version
  if [[ -x "$dir/root/bin/busybox" ]]; then
    return 0
  fi
  mkdir -p "$apt"/{state/lists/partial,cache/archives/partial,etc/sources.list.d,etc/preferences.d}
  touch "$apt/state/status"
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  cat >"$apt/etc/sources.list" <<EOF
deb [signed-by=$keyring] http://deb.debian.org/debian bookworm main
deb [signed-by=$keyring] http://deb.debian.org/debian bookworm-updates main
deb [signed-by=$keyring] http://deb.debian.org/debian-security bookworm-security main
EOF
  cat >"$apt/apt.conf" <<EOF
Dir::State "$apt/state";
Dir::State::status "$apt/state/status";
Dir::Cache "$apt/cache";
Dir::Etc::SourceList "$apt/etc/sources.list";
Dir::Etc::SourceParts "$apt/etc/sources.list.d";
Dir::Etc::Preferences "$apt/etc/preferences";
Dir::Etc::PreferencesParts "$apt/etc/preferences.d";
APT::Architectures { "arm64"; };
APT::Architecture "arm64";
APT::Sandbox::User "root";
Acquire::Languages "none";
EOF
  echo "build-images.sh: fetching busybox-static:arm64 from Debian (once; cached in $dir)" >&2
  APT_CONFIG="$apt/apt.conf" apt-get -q update >"$dir/apt.log" 2>&1 ||
    die "apt-get update for arm64 failed (see $dir/apt.log); multiarch needs Debian's archive"
  version=$(dpkg-query -W -f '${Version}' busybox-static 2>/dev/null || true)
  rm -f "$dir"/*.deb
  (cd "$dir" && { APT_CONFIG="$apt/apt.conf" apt-get -q download "busybox-static:arm64=$version" ||
    APT_CONFIG="$apt/apt.conf" apt-get -q download busybox-static:arm64; } >>"$dir/apt.log" 2>&1) ||
    die "apt-get download busybox-static:arm64 failed (see $dir/apt.log)"
  rm -rf "$dir/root"
  dpkg-deb -x "$dir"/busybox-static_*_arm64.deb "$dir/root" ||
    die "could not unpack the arm64 busybox-static package"
  [[ -x "$dir/root/bin/busybox" ]] || die "the arm64 package has no bin/busybox"
}

# Builds the OCI layout unless the cached one was built from the same inputs.
build_layout() {
  local layout=$cache/oci-layout key
  key=$(cat "$RIG_DIR/oci_build.py" "$RIG_DIR/push_docker.py" /bin/busybox "$cache/arm64/root/bin/busybox" | sha256sum)
  key=${key%% *}
  if [[ -f "$layout/digests.env" && "$(cat "$layout/.key" 2>/dev/null)" == "$key" ]]; then
    return 0
  fi
  rm -rf "$layout" "$layout.tmp"
  "$PYTHON" "$RIG_DIR/oci_build.py" --out "$layout.tmp" --busybox-amd64 /bin/busybox \
    --busybox-arm64 "$cache/arm64/root/bin/busybox" || die "oci_build.py failed"
  echo "$key" >"$layout.tmp/.key"
  mv "$layout.tmp" "$layout"
}

# One lock per cache: test binaries run in parallel share it.
exec 9>"$cache/.lock"
flock 9
fetch_arm64_busybox
build_layout
flock -u 9
layout=$cache/oci-layout
# shellcheck disable=SC1091
source "$layout/digests.env"

copy_args=(--quiet --retry-times 2 --dest-tls-verify="$tls_verify")
if [[ -n "$ca" ]]; then
  certdir=$(mktemp -d)
  trap 'rm -rf "$certdir"' EXIT
  cp "$ca" "$certdir/ca.crt"
  # A registry that wants client certificates (registry.sh --client-certs).
  if [[ -n "${REGISTRY_CLIENT_CERT:-}" ]]; then
    cp "$REGISTRY_CLIENT_CERT" "$certdir/client.cert"
    cp "$REGISTRY_CLIENT_KEY" "$certdir/client.key"
  fi
  copy_args+=(--dest-cert-dir "$certdir")
fi
[[ -n "$creds" ]] && copy_args+=(--dest-creds "$creds")

# push REF_NAME REPO:TAG EXPECTED_DIGEST VAR [--all]
push() {
  local ref=$1 target=$2 want=$3 var=$4 digestfile got
  shift 4
  digestfile=$(mktemp)
  if ! skopeo copy "${copy_args[@]}" "$@" --digestfile "$digestfile" "oci:$layout:$ref" \
    "docker://$host/$target" 2>"$digestfile.err"; then
    # skopeo's message can echo the command line; keep the credentials out of test logs.
    local err
    err=$(cat "$digestfile.err")
    [[ -n "$creds" ]] && err=${err//"${creds#*:}"/<password>}
    echo "$err" >&2
    rm -f "$digestfile" "$digestfile.err"
    die "pushing $target to $host failed"
  fi
  got=$(cat "$digestfile")
  rm -f "$digestfile" "$digestfile.err"
  [[ "$got" == "$want" ]] || die "$host/$target was pushed as $got, expected $want"
  printf '%s_REF=%s/%s\n' "$var" "$host" "$target" >>"$out.tmp"
  printf '  %-40s %s\n' "$host/$target" "$got"
}

# The Docker-typed images go up by plain HTTP calls (skopeo would convert or skip them).
push_docker() {
  local url=${REGISTRY_URL:-} args=() ref digest
  if [[ -z "$url" ]]; then
    url=http://$host
    curl -sk -o /dev/null --max-time 2 "https://$host/v2/" && url=https://$host
  fi
  [[ -n "$ca" ]] && args+=(--ca "$ca")
  [[ "$tls_verify" == false ]] && args+=(--insecure)
  PF_RIG_CREDS="$creds" "$PYTHON" "$RIG_DIR/push_docker.py" --layout "$layout" --url "$url" \
    "${args[@]}" >"$out.docker" || die "pushing the Docker-typed images to $host failed"
  while read -r ref digest; do
    printf '  %-40s %s\n' "$ref" "$digest"
  done <"$out.docker"
  rm -f "$out.docker"
  printf 'DOCKER_REF=%s/pf/docker:1.0\nDOCKERLIST_REF=%s/pf/dockerlist:1.0\n' "$host" "$host" \
    >>"$out.tmp"
}

cp "$layout/digests.env" "$out.tmp"
echo "IMAGES_HOST=$host" >>"$out.tmp"
for name in "${wanted[@]}"; do
  case "$name" in
    busybox)
      push busybox-1.36 pf/busybox:1.36 "$BUSYBOX_DIGEST" BUSYBOX
      push busybox-latest pf/busybox:latest "$BUSYBOX_DIGEST" BUSYBOX_LATEST
      ;;
    multiarch) push multiarch-1.0 pf/multiarch:1.0 "$MULTIARCH_DIGEST" MULTIARCH --all ;;
    big) push big-1.0 pf/big:1.0 "$BIG_DIGEST" BIG ;;
    app)
      push app-v1 pf/app:v1 "$APP_V1_DIGEST" APP_V1
      push app-v2 pf/app:v2 "$APP_V2_DIGEST" APP_V2
      push app-v1 pf/app:latest "$APP_V1_DIGEST" APP_LATEST
      ;;
    sidecar) push sidecar-1.0 pf/sidecar:1.0 "$SIDECAR_DIGEST" SIDECAR ;;
    docker) push_docker ;;
  esac
done
mv "$out.tmp" "$out"
echo "build-images.sh: digests written to $out" >&2
