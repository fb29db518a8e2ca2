# shellcheck shell=bash
# nginx.sh - the nginx configuration the preload test and bench share
# (sourced). nginx_conf DIR writes DIR/nginx.conf: one process in the
# foreground (daemon off, master_process off, so ustack-run's stack is in
# it), sendfile on, keep-alive without a request limit worth meeting,
# every path under DIR (DIR/www the root, DIR/ngx logs and temp files),
# listening on port 8080.
nginx_conf() {
	local d=$1
	mkdir -p "$d/www" "$d/ngx"
	cat >"$d/nginx.conf" <<NGX
daemon off;
master_process off;
worker_processes 1;
error_log $d/ngx/error.log warn;
pid $d/ngx/nginx.pid;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	keepalive_requests 1000000;
	client_body_temp_path $d/ngx/body;
	proxy_temp_path $d/ngx/proxy;
	fastcgi_temp_path $d/ngx/fcgi;
	uwsgi_temp_path $d/ngx/uwsgi;
	scgi_temp_path $d/ngx/scgi;
	server { listen 8080; root $d/www; }
}
NGX
}
