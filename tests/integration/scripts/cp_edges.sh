#!/bin/sh
# cp's path rules, errors and symlink handling, and diff, on a running container.
# tests/integration/test_ci_script.py runs it with rpod and with Podman and compares the output.
set -e
: "${ENGINE:?set ENGINE to the container command}" "${IMAGE:?set IMAGE to an image reference}"
E=$ENGINE

$E run -d --name edge "$IMAGE" sleep 1000 >/dev/null
mkdir -p h/d/sub out
echo hi > h/f; echo x > h/d/a; echo y > h/d/sub/b; ln -s /etc/passwd h/d/lnk

echo "== in"
$E cp h/f edge:/tmp/newf
$E cp h/f edge:/tmp
$E cp h/d edge:/tmp/dnew
$E cp h/d edge:/tmp/dnew
$E exec edge mkdir /tmp/e /tmp/e2
$E cp h/d/. edge:/tmp/e
$E cp h/d/ edge:/tmp/e2
$E exec edge sh -c 'cd /tmp && find newf f dnew e e2 | sort && stat -c "%u:%g %n" newf dnew/sub/b && readlink dnew/lnk'
$E cp h/f edge:/tmp/nodir/ 2>&1 || echo "rc=$?"
$E cp h/d edge:/etc/hostname 2>&1 || echo "rc=$?"
$E cp h/nonexist edge:/tmp 2>&1 || echo "rc=$?"
$E cp h/f nosuch:/tmp 2>&1 || echo "rc=$?"
$E cp nosuch:/etc out 2>&1 || echo "rc=$?"
$E cp h/f/ edge:/tmp 2>&1 | sed 's/: stat .*: not a directory/: not a directory/' || true

echo "== symlinks stay inside"
$E exec edge ln -s ../../../../../etc /tmp/up
$E cp h/f edge:/tmp/up/
$E exec edge cat /etc/f
$E cp edge:/tmp/up/hostname out/hn
[ "$(cat out/hn)" = "$($E exec edge cat /etc/hostname)" ] && echo "hostname is the container's"

echo "== out"
$E cp edge:/etc/hostname out/
$E cp edge:/etc/apk out/apk
$E cp edge:/etc/apk out/apk
$E cp edge:/etc/apk/. out/apk2
(cd out && find . | sort)
$E cp edge:/etc/os-release out/nodir/ 2>&1 || echo "rc=$?"
$E cp edge:/nonexist out 2>&1 || echo "rc=$?"
$E cp edge:/etc/apk - | tar -tf - | sort
$E cp edge:/etc/apk/. - | tar -tf - | sort

echo "== stdin"
tar -cf - -C h f d | $E cp - edge:/tmp/nodir 2>&1 || echo "rc=$?"
$E exec edge mkdir /tmp/in
tar -cf - -C h f d | $E cp - edge:/tmp/in
$E exec edge sh -c 'cd /tmp/in && find . | sort'
echo notatar | $E cp - edge:/tmp/in 2>&1 || echo "rc=$?"

echo "== diff"
$E exec edge sh -c 'echo new > /root/added; rm /etc/motd; echo c >> /etc/profile; mkdir -p /var/nd/x; touch /var/nd/x/y; rm -r /etc/apk/keys'
$E diff edge | sort

echo "== export"
$E export edge | tar -tf - | sort > export.txt
grep -E '^(root/added|etc/motd|etc/apk/keys)' export.txt || true
$E run --name fresh "$IMAGE" true
$E export -o fresh.tar fresh
tar -tf fresh.tar | sort > fresh.txt
echo "entries: $(wc -l < fresh.txt)"
grep -E '^(dev|proc|sys|run|etc/host|etc/resolv|etc/mtab)' fresh.txt || true
$E rm -f -t 0 edge fresh >/dev/null
