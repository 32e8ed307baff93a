NAME="nginx, 2 worker processes"
LOAD="8 clients GET a 4 KiB static file for 3 s"
EXPECT_MODEL=hybrid
EXPECT_WARN=""
WHY="one epoll loop per core in 2 worker processes, never blocked: the multi-process event-loop design is right, keep it"
setup_case() {
  command -v nginx >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx)
  mkdir -p "$WORK/www" && head -c 4096 /dev/urandom | base64 > "$WORK/www/index.html"
  cat > "$WORK/nginx.conf" <<CONF
worker_processes 2;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK; uwsgi_temp_path $WORK; scgi_temp_path $WORK;
  server { listen 127.0.0.1:18781; root $WORK/www; }
}
CONF
}
run_case() {
  rm -f "$WORK/nginx.pid"  # a previous run's would name a process that is gone
  record nginx -c "$WORK/nginx.conf" &
  local rec=$!
  python3 "$HERE/programs/http_load.py" 18781 3
  for _ in $(seq 50); do [ -s "$WORK/nginx.pid" ] && break; sleep 0.1; done
  kill -QUIT "$(cat "$WORK/nginx.pid")"; wait "$rec"
}
