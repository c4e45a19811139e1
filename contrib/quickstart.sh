#!/usr/bin/env bash
# One-command set-up on a fresh Debian 12: installs rpod and the system packages it uses,
# does what udev would (device modes), gives the user a subordinate id range, and runs a real
# container through rpod's pull/run path.  Works offline: the image is built from Debian's
# busybox-static package, served by a local registry on 127.0.0.1 and pulled from there.
#
#   sudo ./contrib/quickstart.sh            # the container runs as $SUDO_USER (rootless)
#   sudo RPOD_USER=alice ./contrib/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
if [ "$(id -u)" -ne 0 ]; then echo "run me with sudo: I install packages" >&2; exit 1; fi
RUSER=${RPOD_USER:-${SUDO_USER:-rpod}}
export DEBIAN_FRONTEND=noninteractive

echo "== packages"
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3 python3-venv uidmap slirp4netns fuse-overlayfs \
    catatonit docker-registry skopeo busybox-static ca-certificates >/dev/null

echo "== rpod into /opt/rpod (command: /usr/local/bin/rpod)"
/usr/bin/python3 -m venv --clear /opt/rpod  # Debian's python: readable by every user
/opt/rpod/bin/pip install -q "$SRC"
ln -sf /opt/rpod/bin/rpod /usr/local/bin/rpod

echo "== host devices and the user's subordinate ids"
[ -e /dev/net/tun ] || { mkdir -p /dev/net; mknod /dev/net/tun c 10 200; }
[ -e /dev/fuse ] || mknod /dev/fuse c 10 229
chmod 0666 /dev/net/tun /dev/fuse
id "$RUSER" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$RUSER"
grep -q "^$RUSER:" /etc/subuid || usermod --add-subuids 300000-365535 "$RUSER"
grep -q "^$RUSER:" /etc/subgid || usermod --add-subgids 300000-365535 "$RUSER"

echo "== an image from Debian's busybox-static, served by a local registry"
WORK=$(mktemp -d)
trap 'kill "${REG_PID:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/rootfs/bin" "$WORK/rootfs/etc" "$WORK/rootfs/tmp" "$WORK/rootfs/root"
cp /bin/busybox "$WORK/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$WORK/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$WORK/rootfs/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$WORK/rootfs/etc/group"
python3 contrib/mkimage.py "$WORK/rootfs" "$WORK/layout" --tag latest --cmd sh >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$WORK/registry.yml" <<YML
version: 0.1
storage: {filesystem: {rootdirectory: $WORK/registry}}
http: {addr: 127.0.0.1:$PORT}
YML
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 50); do python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/v2/')" 2>/dev/null && break; sleep 0.1; done
skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:latest" "docker://127.0.0.1:$PORT/quickstart/busybox:latest"

echo "== rootless container, as $RUSER"
runuser -u "$RUSER" -- rpod pull --tls-verify=false "127.0.0.1:$PORT/quickstart/busybox:latest"
runuser -u "$RUSER" -- rpod run --rm "127.0.0.1:$PORT/quickstart/busybox:latest" \
    sh -c 'echo "hello from a rootless rpod container: $(id -un) in $(hostname), kernel $(uname -r)"'
echo "== done: try 'rpod run --rm -it alpine sh' (needs a registry with alpine, e.g. docker.io)"
