#!/usr/bin/env bash
# Build the Docker image with Debian's podman on a local Debian base, run its command for real
# and check that it serves the sample site and answers its own HEALTHCHECK.
#
# Where no registry can be pulled from and containers cannot be started (as on the project's
# build machines), the base image is a debootstrapped Debian root file system imported into
# podman, and the image's command runs in a chroot of the image's file system, as its user.
# Needs root (apt, debootstrap, mount, chroot). `make container` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=localhost/debian-py:bookworm
IMAGE=localhost/cms:check
WORK=build/container
PORT=8000   # the port the image's CMD and HEALTHCHECK use

say() { printf '== %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  echo "scripts/container.sh needs root (apt-get, debootstrap, mount, chroot)" >&2
  exit 1
fi
missing=()
for tool in podman debootstrap runc; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! podman image exists "$BASE"; then
  say "a Debian bookworm base with python3, venv and git (debootstrap)"
  rm -rf "$WORK/rootfs" && mkdir -p "$WORK"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,git,ca-certificates \
    bookworm "$WORK/rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log"
  # pip in the build reaches the package index through this machine's TLS proxy, if any.
  cp /etc/ssl/certs/ca-certificates.crt "$WORK/rootfs/etc/ssl/certs/ca-certificates.crt"
  tar -C "$WORK/rootfs" -c . | podman import - "$BASE" >/dev/null
  rm -rf "$WORK/rootfs"
fi

say "building $IMAGE"
started=$(date +%s)
podman build --quiet --format docker --isolation=chroot --network=host \
  --build-arg BASE="$BASE" -t "$IMAGE" . >/dev/null
say "built in $(( $(date +%s) - started )) s"

if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
  echo "port $PORT is in use: stop what listens there first" >&2
  exit 1
fi

cid=$(podman create "$IMAGE")
mnt=$(podman mount "$cid")
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  umount "$mnt/proc" 2>/dev/null || true
  podman umount "$cid" >/dev/null 2>&1 || true
  podman rm "$cid" >/dev/null 2>&1 || true
}
trap cleanup EXIT
mount --bind /proc "$mnt/proc"

# The image's own settings: its user, working directory, environment and command.
user=$(podman inspect --format '{{.Config.User}}' "$IMAGE")
workdir=$(podman inspect --format '{{.Config.WorkingDir}}' "$IMAGE")
mapfile -t environment < <(podman inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" | sed '/^$/d')
command=$(podman inspect --format '{{join .Config.Cmd " "}}' "$IMAGE")
health=$(podman image inspect "$IMAGE" | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)[0]["Healthcheck"]["Test"]))')
uid=$(chroot "$mnt" id -u "$user")
say "running \`$command\` as $user (uid $uid) in a chroot of the image"
env -i "${environment[@]}" HOME="/home/$user" \
  chroot --userspec="$uid:$uid" "$mnt" /bin/sh -c "cd $workdir && exec $command" \
  >"$WORK/server.log" 2>&1 &
server=$!

for _ in $(seq 1 120); do
  if curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz"; then break; fi
  sleep 0.5
done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
say "/readyz: ready"
title=$(curl -sf "http://127.0.0.1:$PORT/api/v1/collections/pages/entries/accueil" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["fields"]["title"])')
say "the sample's home page: $title"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/admin/login")
[ "$status" = 200 ] || { echo "/admin/login answered $status" >&2; exit 1; }
say "/admin/login: 200"

# The HEALTHCHECK, run as Docker would: its CMD form, as the image's user.
python3 - "$health" >"$WORK/health.cmd" <<'PY'
import json, shlex, sys
test = json.loads(sys.argv[1])
assert test[0] == "CMD", test
print(shlex.join(test[1:]))
PY
if env -i "${environment[@]}" HOME="/home/$user" \
  chroot --userspec="$uid:$uid" "$mnt" /bin/sh -c "cd $workdir && $(cat "$WORK/health.cmd")"; then
  say "HEALTHCHECK: healthy"
else
  echo "HEALTHCHECK failed" >&2
  exit 1
fi
say "image $IMAGE: $(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
