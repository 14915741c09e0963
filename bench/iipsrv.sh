#!/usr/bin/env bash
# IIPImage for the benchmark: iipsrv FastCGI processes (spawn-fcgi) behind lighttpd, on
# loopback. usage: iipsrv.sh start PORT IMAGE_DIR RUN_DIR | iipsrv.sh stop RUN_DIR
# iipsrv serves IMAGE_DIR/foo.tif as http://127.0.0.1:PORT/iiif/foo.tif/...; FastCGI on PORT+1.
# env: IIPSRV_PROCS (default nproc), MAX_IMAGE_CACHE_SIZE (MB, default 64), JPEG_QUALITY (90)
set -euo pipefail
cmd=$1
if [ "$cmd" = stop ]; then
  run=$2
  [ -f "$run/pids" ] || exit 0
  for p in $(cat "$run/pids"); do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in $(cat "$run/pids"); do kill -9 "$p" 2>/dev/null || true; done
  exit 0
fi
port=$2 imgdir=$(cd "$3" && pwd) run=$4
mkdir -p "$run/www"; run=$(cd "$run" && pwd)
bin=${IIPSRV_BIN:-/usr/lib/iipimage-server/iipsrv.fcgi}
export FILESYSTEM_PREFIX="$imgdir/" URI_MAP="iiif=>IIIF" LOGFILE="$run/iipsrv.log" VERBOSITY=0
export MAX_IMAGE_CACHE_SIZE=${MAX_IMAGE_CACHE_SIZE:-64} JPEG_QUALITY=${JPEG_QUALITY:-90} MAX_CVT=30000 CORS='*'
spawn-fcgi -a 127.0.0.1 -p $((port + 1)) -F "${IIPSRV_PROCS:-$(nproc)}" -f "$bin" > "$run/spawn.out" 2>&1
grep -o 'PID: [0-9]*' "$run/spawn.out" | awk '{print $2}' > "$run/pids"
cat > "$run/lighttpd.conf" <<CONF
server.modules = ( "mod_fastcgi" )
server.bind = "127.0.0.1"
server.port = $port
server.document-root = "$run/www"
server.errorlog = "$run/lighttpd-error.log"
server.max-connections = 4096
server.max-keep-alive-requests = 100000
fastcgi.server = ( "/iiif/" => ( ( "host" => "127.0.0.1", "port" => $((port + 1)), "check-local" => "disable" ) ) )
CONF
lighttpd -D -f "$run/lighttpd.conf" >> "$run/lighttpd-error.log" 2>&1 &
echo $! >> "$run/pids"
echo "iipsrv on http://127.0.0.1:$port/iiif/ (run dir $run)"
