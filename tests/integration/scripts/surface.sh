#!/bin/sh
# start/logs/exec/wait/kill/stop/ps/inspect/rm flags, outputs and exit codes in one script.
# tests/integration/test_ci_script.py runs it with rpod and with Podman and compares the output.
set -e
: "${ENGINE:?set ENGINE to the container command}" "${IMAGE:?set IMAGE to an image reference}"
E=$ENGINE

$E pull -q "$IMAGE" >/dev/null
echo "== start -a"
$E create --name sa "$IMAGE" sh -c 'echo out; echo err >&2; exit 3'
$E start -a sa 2>/dev/null || echo "rc=$?"
$E wait sa
$E logs sa 2>/dev/null
$E logs --tail 1 sa 2>&1
$E create -i --name si "$IMAGE" cat >/dev/null
echo fed | $E start -a -i si
echo "== exec"
$E run -d --name svc "$IMAGE" sh -c 'trap "exit 10" USR1; echo ready; while true; do sleep 0.1; done'
until $E logs svc | grep -q ready; do sleep 0.1; done
$E exec svc sh -c 'exit 5' || echo "rc=$?"
$E exec svc nosuchcmd 2>/dev/null || echo "rc=$?"
$E exec svc /etc 2>/dev/null || echo "rc=$?"
$E exec nosuchctr true 2>&1 || echo "rc=$?"
$E exec sa true 2>&1 || echo "rc=$?"
$E exec -e FOO=bar -w /tmp -u 1000:1000 svc sh -c 'echo $FOO $(pwd) $(id -u):$(id -g)'
echo "== wait"
$E wait --condition running svc
$E wait --condition bogus svc 2>&1 || echo "rc=$?"
$E wait nosuch 2>&1 || echo "rc=$?"
echo "== kill"
$E kill -s BOGUS svc 2>&1 || echo "rc=$?"
$E kill -s USR1 svc
$E wait svc
$E inspect --format '{{.State.Status}} {{.State.ExitCode}} {{.Name}} {{.State.Running}}' svc
$E kill svc 2>&1 || echo "rc=$?"
echo "== stop"
$E stop --ignore nosuch
$E stop nosuch 2>&1 || echo "rc=$?"
$E run -d --name k9 "$IMAGE" sleep 1000
$E stop -a -t 0 | wc -l
$E inspect --format '{{.State.ExitCode}}' k9
echo "== ps"
$E ps -a --sort names --format '{{.Names}} {{.Status}}'
$E ps -a -n 1 --format '{{.Names}}'
$E ps -l --format '{{.Names}}'
$E ps -a -q | wc -l
$E ps -a --filter exited=3 --format '{{.Names}}'
$E ps -a --filter name=s --sort names --format '{{.Names}}'
echo "== inspect"
$E inspect -l --format '{{.Name}}'
$E inspect --size --format '{{.SizeRw}}' sa
$E inspect --format '{{.Config.Cmd}} {{.State.ExitCode}} {{.Config.Tty}}' sa
$E inspect nosuch >/dev/null 2>&1 || echo "rc=$?"
echo "== rm"
$E rm sa
$E rm nosuch 2>&1 || echo "rc=$?"
$E rm --ignore nosuch
$E container exists sa || echo "sa gone"
$E rm -a | wc -l
echo "== volumes"
$E volume create v1
$E volume rm v1
$E volume rm v1 2>&1 || echo "rc=$?"
