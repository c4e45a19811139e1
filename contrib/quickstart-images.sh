#!/bin/sh
# The quickstart's images, offline, under plain names: `alpine` (alpine:3.20 and alpine:latest) from
# Alpine's official minirootfs tarball, `busybox` (busybox:latest) from Debian's busybox-static.
# Runs as the user who will use them (the quickstart calls it through runuser; tests call it directly).
#
#   ALPINE_TARBALL=/path/alpine-minirootfs-3.20.3-x86_64.tar.gz BUSYBOX=/bin/busybox sh contrib/quickstart-images.sh
#
# ALPINE_TARBALL defaults to shared/images/alpine-3.20.3/ beside the clone (how this project's machines
# carry it); without it, only busybox is imported and the script says how to add Alpine later.
set -eu
HERE=$(cd "$(dirname "$0")/.." && pwd)
RPOD=${RPOD:-rpod}
ALPINE_SHA512=9d5405f61f8a6ebc02461ba75346fbf1a63a4eab8510a0158dd321cee0c4dafe28c2a3d2cb7c3d75e2a8130dae0c3c92382f5b6adeea309eafc97621c5bf6400
ALPINE_TARBALL=${ALPINE_TARBALL:-$HERE/../shared/images/alpine-3.20.3/alpine-minirootfs-3.20.3-x86_64.tar.gz}
BUSYBOX=${BUSYBOX:-/bin/busybox}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# busybox: the static binary and one symlink per applet, root-owned in the layer
mkdir -p "$WORK/rootfs/bin" "$WORK/rootfs/etc" "$WORK/rootfs/tmp" "$WORK/rootfs/root"
cp "$BUSYBOX" "$WORK/rootfs/bin/busybox"
for applet in $("$BUSYBOX" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$WORK/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$WORK/rootfs/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$WORK/rootfs/etc/group"
chmod 1777 "$WORK/rootfs/tmp"
tar --owner=0 --group=0 --numeric-owner -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .
"$RPOD" import -q --change 'CMD ["sh"]' "$WORK/busybox.tar" busybox:latest >/dev/null
echo "busybox:latest  from $BUSYBOX ($("$BUSYBOX" 2>&1 | head -n1 | cut -d' ' -f1-2))"

if [ -r "$ALPINE_TARBALL" ]; then
    what="not Alpine 3.20.3's published sha512"
    [ "$(sha512sum < "$ALPINE_TARBALL" | cut -d' ' -f1)" = "$ALPINE_SHA512" ] && what="Alpine 3.20.3, sha512 verified"
    "$RPOD" import -q --change 'CMD ["/bin/sh"]' "$ALPINE_TARBALL" alpine:3.20 >/dev/null
    "$RPOD" tag alpine:3.20 alpine:latest
    echo "alpine:3.20, alpine:latest  from $ALPINE_TARBALL ($what)"
else
    echo "no Alpine tarball at $ALPINE_TARBALL: set ALPINE_TARBALL to Alpine's minirootfs" \
         "(alpine-minirootfs-*-x86_64.tar.gz from alpinelinux.org) and run this script again" >&2
fi
