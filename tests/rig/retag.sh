#!/usr/bin/env bash
# retag.sh: point a tag at another image in a registry started by registry.sh ("moved tag"
# tests for imagePullPolicy Always / IfNotPresent).
#
#   retag.sh --env REGDIR/env SOURCE TARGET
#   e.g. retag.sh --env /tmp/reg/env pf/app:v2 pf/app:latest    # latest now = v2
#
# SOURCE and TARGET are REPO:TAG (or REPO@sha256:... for SOURCE) inside that registry. The
# manifest bytes are copied unchanged (skopeo copy --all, registry to registry), so TARGET
# resolves to exactly SOURCE's digest, which is printed on stdout.
set -euo pipefail

die() {
  echo "retag.sh: $*" >&2
  exit 1
}

envfile=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --env) envfile=$2; shift 2 ;;
    -*) die "unknown option '$1'" ;;
    *) break ;;
  esac
done
[[ $# -eq 2 ]] || die "usage: retag.sh --env REGDIR/env SOURCE TARGET"
[[ -f "$envfile" ]] || die "no env file at '$envfile' (start the registry with registry.sh)"
command -v skopeo >/dev/null || die "missing tool 'skopeo' (Debian package skopeo)"
source="$1" target="$2"
[[ "$target" == *:* && "$target" != *@* ]] || die "TARGET must be REPO:TAG, not '$target'"

# shellcheck disable=SC1090
source "$envfile"
args=(--quiet --all)
if [[ -n "${REGISTRY_CERT_DIR:-}" ]]; then
  args+=(--src-cert-dir "$REGISTRY_CERT_DIR" --dest-cert-dir "$REGISTRY_CERT_DIR")
else
  args+=(--src-tls-verify=false --dest-tls-verify=false)
fi
if [[ -n "${REGISTRY_USER:-}" ]]; then
  creds="$REGISTRY_USER:$REGISTRY_PASSWORD"
  args+=(--src-creds "$creds" --dest-creds "$creds")
fi
digestfile=$(mktemp)
trap 'rm -f "$digestfile"' EXIT
skopeo copy "${args[@]}" --digestfile "$digestfile" "docker://$REGISTRY_HOST/$source" \
  "docker://$REGISTRY_HOST/$target" || die "copying $source to $target failed"
cat "$digestfile"
echo
