# Shared parts of the load-test runners (sourced by run.sh and waf.sh).

# lt_start_origin WORK: the origin every contender proxies to — nginx answering 200 for any
# method and path on 127.0.0.1:9001 (the anchors' origin); its pid file is WORK/nginx-origin.pid.
lt_start_origin() {
  cat > "$1/origin.conf" <<CONF
worker_processes 1;
pid $1/nginx-origin.pid;
error_log $1/origin-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_buffer_size 16k;
  server {
    listen 127.0.0.1:9001 reuseport backlog=4096;
    keepalive_requests 1000000;
    location / { default_type text/plain; return 200 "hello from backend\n"; }
  }
}
CONF
  nginx -c "$1/origin.conf" -p "$1" -g 'daemon on;'
}

# lt_manifests ROOT WORK: the example's IngressClass, Ingress and Services from
# ROOT/config/manifests in WORK/manifests, the EndpointSlices pointed at the origin.
lt_manifests() {
  mkdir -p "$2/manifests"
  cp "$1/config/manifests/ingressclass.yaml" "$1/config/manifests/myapp-ingress.yaml" "$2/manifests/"
  sed -e 's/port: 910[12]/port: 9001/; s/targetPort: 910[12]/targetPort: 9001/' \
    "$1/config/manifests/services.yaml" > "$2/manifests/services.yaml"
}
