#!/bin/sh
# A CI-style job, as a new user would write it: pull, run a service detached, wait for it
# with logs/exec, copy a file out, read the exit code, stop and remove it.
# ENGINE is the container command ("rpod" or "podman"); IMAGE a pullable reference.
# tests/integration/test_ci_script.py runs it with rpod and with Podman and compares the output.
set -e
: "${ENGINE:?set ENGINE to the container command}" "${IMAGE:?set IMAGE to an image reference}"
E=$ENGINE

$E pull -q "$IMAGE"
$E run -d --name ci-web "$IMAGE" sh -c \
  'mkdir -p /srv/www && echo "hello from ci" > /srv/www/index.html && echo ready && exec sleep 1000'

# wait for the service: its log says ready, and a file it wrote is there
tries=0
until $E logs ci-web | grep -q '^ready$'; do
  tries=$((tries + 1)); [ "$tries" -lt 100 ] || { echo "service never got ready" >&2; exit 1; }
  sleep 0.1
done
$E logs ci-web
until $E exec ci-web test -f /srv/www/index.html; do sleep 0.1; done
$E exec ci-web cat /srv/www/index.html
$E exec ci-web sh -c 'exit 3' || echo "exec exit code: $?"

echo "state: $($E inspect --format '{{.State.Status}} {{.State.ExitCode}}' ci-web)"
$E ps --format '{{.Names}} {{.Image}}' --filter name=ci-web

# copy a file out, into a directory and under a new name, and as a tar stream
mkdir -p out
$E cp ci-web:/srv/www/index.html out/
$E cp ci-web:/srv/www/index.html out/copy.html
cat out/index.html out/copy.html
$E cp ci-web:/srv/www - | tar -tf - | sort
# and one in
echo "from the host" > host.txt
$E cp host.txt ci-web:/srv/www/
$E exec ci-web cat /srv/www/host.txt

$E stop -t 2 ci-web
echo "exit code: $($E inspect --format '{{.State.ExitCode}}' ci-web)"
$E wait ci-web
$E rm ci-web
$E container exists ci-web || echo "ci-web is gone"
echo "containers left: $($E ps -a -q | wc -l)"
