#!/usr/bin/env bash
# cluster.sh -- a Quiver cluster of separate processes on 127.0.0.1 for
# e2e_bench (and for trying things by hand): etcd (Debian's etcd), the
# Kafka-protocol test broker (tests/kafka_broker), s3rver (tests/e2e's npm
# package) and `quiver run coord|proxy|querynode|datanode|indexnode`, each
# on free ports, the same way tests/e2e/lib/servers.mjs starts them.
#
#   bench/e2e/cluster.sh run <workdir> <quiver> <qv_kafka_broker>
#
# Runs in the foreground.  Once every process serves it writes
#   <workdir>/address   the proxy's 127.0.0.1:port
#   <workdir>/roles     the quiver roles that run (a role this quiver cannot
#                       run as its own process is left out and named in
#                       <workdir>/missing)
#   <workdir>/pids      "<role> <pid>" per quiver role (for CPU accounting)
#   <workdir>/proxy_http  the proxy's HTTP (/metrics) port
# and waits.  SIGTERM or SIGINT stops everything (quiver roles first,
# SIGTERM then SIGKILL after 10 s) and exits.  Every child gets
# `setpriv --pdeathsig KILL`, so none outlives this script; logs stay in
# <workdir>/*.log (the caller removes the workdir).
set -uo pipefail

if [[ $# -ne 4 || $1 != run ]]; then
    echo "usage: $0 run <workdir> <quiver> <qv_kafka_broker>" >&2
    exit 2
fi
mkdir -p "$2" || exit 1
work=$(realpath "$2")
quiver=$(realpath "$3")
broker=$(realpath "$4")
root=$(cd "$(dirname "$0")/../.." && pwd)
for bin in "$quiver" "$broker"; do
    [[ -x $bin ]] || { echo "cluster.sh: $bin is not an executable" >&2; exit 1; }
done
cd "$work" || exit 1

pids=()  # quiver roles, then the servers, in start order
names=()
pdeath=()
if command -v setpriv >/dev/null; then pdeath=(setpriv --pdeathsig KILL --); fi

log() { printf 'cluster.sh: %s\n' "$*" >&2; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start <name> <cmd...>: background with its log in <name>.log
start() {
    local name=$1
    shift
    "${pdeath[@]}" "$@" >"$work/$name.log" 2>&1 &
    pids+=($!)
    names+=("$name")
}

# wait_port <pid> <port> <seconds>: 0 when open, 1 when the process died
# or the time ran out
wait_port() {
    local pid=$1 port=$2 end=$((SECONDS + $3))
    while ((SECONDS < end)); do
        kill -0 "$pid" 2>/dev/null || return 1
        port_open "$port" && return 0
        sleep 0.1
    done
    return 1
}

stop_all() {
    local i pid end
    trap - TERM INT
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[i]}" 2>/dev/null
    done
    end=$((SECONDS + 10))
    for pid in "${pids[@]}"; do
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    exit 0
}
trap stop_all TERM INT

fail() {
    log "$*"
    rm -f "$work/address"
    stop_all
}

# --- etcd -----------------------------------------------------------------
ecp=$(free_port)
epp=$(free_port)
start etcd etcd --name bench --data-dir "$work/etcd" \
    --listen-client-urls "http://127.0.0.1:$ecp" \
    --advertise-client-urls "http://127.0.0.1:$ecp" \
    --listen-peer-urls "http://127.0.0.1:$epp" \
    --initial-advertise-peer-urls "http://127.0.0.1:$epp" \
    --initial-cluster "bench=http://127.0.0.1:$epp" \
    --initial-cluster-state new --logger zap --log-outputs stderr \
    --log-level warn
wait_port "${pids[-1]}" "$ecp" 30 || fail "etcd did not start (see $work/etcd.log)"

# --- Kafka test broker ----------------------------------------------------
kport=$(free_port)
start kafka "$broker" --port "$kport"
wait_port "${pids[-1]}" "$kport" 30 || fail "kafka broker did not start"

# --- s3rver ---------------------------------------------------------------
s3js=$root/tests/e2e/node_modules/s3rver/bin/s3rver.js
[[ -f $s3js ]] || fail "s3rver not installed ($s3js; npm ci in tests/e2e)"
s3port=$(free_port)
mkdir -p "$work/s3"
start s3rver node --openssl-legacy-provider "$s3js" -d "$work/s3" \
    -a 127.0.0.1 -p "$s3port" --silent --configure-bucket quiver
wait_port "${pids[-1]}" "$s3port" 30 || fail "s3rver did not start"

# --- quiver roles ---------------------------------------------------------
common=(--set metakv.backend=etcd --set "etcd.endpoints=127.0.0.1:$ecp"
    --set wal.backend=kafka --set "kafka.brokers=127.0.0.1:$kport"
    --set objstore.backend=s3 --set "s3.endpoint=http://127.0.0.1:$s3port"
    --set s3.bucket=quiver --set s3.accessKey=S3RVER --set s3.secretKey=S3RVER
    --set s3.pathStyle=true --set session.ttl=5s)
declare -A key=([coord]=coord [proxy]=proxy [querynode]=queryNode
    [datanode]=dataNode [indexnode]=indexNode)
roles=()
missing=()
proxy_port=
for role in coord proxy querynode datanode indexnode; do
    p=$(free_port)
    h=$(free_port)
    start "$role" "$quiver" run "$role" "${common[@]}" \
        --set "${key[$role]}.port=$p" --set "${key[$role]}.listenAddress=127.0.0.1" \
        --set "http.port=$h" --set http.listenAddress=127.0.0.1
    if wait_port "${pids[-1]}" "$p" 30; then
        roles+=("$role")
        echo "$role ${pids[-1]}" >>"$work/pids"
    elif grep -q "cannot run as its own process\|unknown role" "$work/$role.log"; then
        missing+=("$role")
        log "role $role is not available in this quiver: $(tail -n 1 "$work/$role.log")"
    else
        fail "quiver run $role did not start: $(tail -n 5 "$work/$role.log")"
    fi
    if [[ $role == coord ]]; then
        end=$((SECONDS + 30))
        until grep -q "active coord at" "$work/coord.log"; do
            ((SECONDS < end)) || fail "the coord did not become active"
            sleep 0.1
        done
    fi
    if [[ $role == proxy ]]; then
        proxy_port=$p
        echo "$h" >"$work/proxy_http"
    fi
done

echo "${roles[*]}" >"$work/roles"
echo "${missing[*]}" >"$work/missing"
echo "127.0.0.1:$proxy_port" >"$work/address.tmp"
mv "$work/address.tmp" "$work/address"
log "serving: proxy 127.0.0.1:$proxy_port, roles: ${roles[*]}${missing:+, missing: ${missing[*]}}"

# Wait for a signal; a process that exits meanwhile is reported.
while true; do
    for i in "${!pids[@]}"; do
        if ! kill -0 "${pids[i]}" 2>/dev/null && [[ ! " ${missing[*]} " =~ " ${names[i]} " ]]; then
            log "${names[i]} exited (see $work/${names[i]}.log)"
            missing+=("${names[i]}")
        fi
    done
    sleep 1 &
    wait $!
done
