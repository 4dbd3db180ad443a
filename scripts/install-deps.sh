#!/usr/bin/env bash
# Installs every package pullfleet needs to build, test and run its demo, from Debian only.
# Idempotent: re-running it installs nothing new. Needs root (or sudo).
set -euo pipefail

BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libcaf-dev libprotobuf-dev protobuf-compiler libcurl4-openssl-dev librocksdb-dev
  prometheus-cpp-dev libgtest-dev libgmock-dev libyaml-cpp-dev nlohmann-json3-dev
  libssl-dev libcli11-dev libspdlog-dev
)
# The real servers and image tools the demo and the integration tests drive; containerd is
# the peer bench/ measures against (its ctr client fetches the same images).
RIG_PACKAGES=(
  docker-registry skopeo umoci busybox-static apache2-utils openssl curl jq
  prometheus python3-jwt python3-cryptography python3-yaml ca-certificates iproute2 iptables
  containerd
)

missing=()
for pkg in "${BUILD_PACKAGES[@]}" "${RIG_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#BUILD_PACKAGES[@]}+${#RIG_PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
