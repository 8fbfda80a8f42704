"""A round-robin HTTP proxy in front of several mock processes, as a team's load balancer would be: Debian's
nginx with a configuration, pid and logs of its own in a temporary directory, on 127.0.0.1; where nginx is
not installed (outside CI, where ``.ci/run`` installs it) a small threaded proxy of the tests' own.

Each request is sent on a new upstream connection to the next process in turn, so consecutive requests
of one client land on different processes: the mock must serve one state whichever answers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from pathlib import Path

import httpx
import pytest

from support.mock_process import free_port

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

NGINX_CONF = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    client_max_body_size 64m;
    large_client_header_buffers 8 64k;  # the long query strings the suite (and the mock) accept
    upstream mocks {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        # nginx answers TRACE itself, 405 without the Allow header HTTP requires (ALL-01 would warn):
        # docs/team.md gives the same lines for a team's own nginx.
        error_page 405 = @trace;
        location @trace {{
            add_header Allow "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS" always;
            return 405;
        }}
        location / {{
            proxy_pass http://mocks;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_request_buffering on;
            proxy_next_upstream off;
        }}
    }}
}}
"""


class NginxProxy:
    def __init__(self, upstreams: list[str]):
        self.root = Path(tempfile.mkdtemp(prefix="mock-nginx-"))
        os.chmod(self.root, 0o777)  # nginx's workers (nobody, when the tests run as root) write temp files
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        servers = "\n".join(f"        server {u.removeprefix('http://')};" for u in upstreams)
        conf = self.root / "nginx.conf"
        conf.write_text(NGINX_CONF.format(root=self.root, servers=servers, port=self.port))
        subprocess.run(
            [NGINX, "-c", str(conf), "-p", str(self.root), "-e", str(self.root / "error.log")],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        )
        _wait_for(self.url)

    def stop(self) -> None:
        pid_file = self.root / "nginx.pid"
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            pid = int(pid_file.read_text())
            os.kill(pid, 15)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)


class ThreadedProxy:
    """The stand-in for nginx: one upstream connection per request, taken in turn."""

    def __init__(self, upstreams: list[str]):
        turn = count()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                upstream = upstreams[next(turn) % len(upstreams)]
                headers = [(k, v) for k, v in self.headers.items() if k.lower() != "connection"]
                with httpx.Client(timeout=60) as client:
                    answer = client.request(self.command, upstream + self.path, headers=headers, content=body)
                self.send_response(answer.status_code)
                for name, value in answer.headers.multi_items():
                    if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def round_robin_proxy(upstreams: list[str]):
    if NGINX:
        return NginxProxy(upstreams)
    if os.environ.get("CI"):
        pytest.fail("nginx is not installed: .ci/run installs it, so CI must not fall back", pytrace=False)
    return ThreadedProxy(upstreams)


def _wait_for(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            httpx.get(url + "/", timeout=1)
            return
        time.sleep(0.05)
    raise RuntimeError(f"the proxy at {url} did not answer")
