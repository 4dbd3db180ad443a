#!/usr/bin/python3
"""A relay in front of a real registry that sends blob downloads to another host, as registries
backed by object storage do: a test fixture for "credentials never follow a redirect".

Two HTTP servers in one process, both on loopback:
  front    on --front-host (default 127.0.0.1), port chosen by the OS. Every request is relayed
           to --upstream as it is (method, path, headers including Authorization, body), and the
           answer is relayed back, except a GET of /v2/NAME/blobs/DIGEST that the registry
           answers 200: that one is answered 307 with a Location on the storage host and a
           random one-time ticket in the query, like a presigned URL.
  storage  on --storage-host (default 127.0.0.2, another loopback address: another host to a
           client), port chosen by the OS. It records the headers of every request it gets to
           --log, one JSON object per line ({"path", "headers": {name: value}}; the
           Authorization value is logged as "<present>" so the log never holds a secret), then
           fetches the blob from the registry with the authorization the ticket stands for and
           streams it back, honouring Range.

When both listen, "FRONT_ADDR=HOST:PORT" and "STORAGE_ADDR=HOST:PORT" are written to --ready.
It serves until killed. Test-only: no TLS, no limits.
"""

import argparse
import http.client
import http.server
import json
import os
import secrets
import socketserver
import sys
import threading
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "host"}
CHUNK = 256 * 1024


class State:
    def __init__(self, upstream, storage_addr, log_path):
        self.upstream = upstream
        self.storage_addr = storage_addr
        self.log_path = log_path
        self.tickets = {}  # ticket -> (path, authorization header or None)
        self.lock = threading.Lock()

    def issue(self, path, authorization):
        ticket = secrets.token_hex(16)
        with self.lock:
            self.tickets[ticket] = (path, authorization)
        return ticket

    def redeem(self, ticket):
        with self.lock:
            return self.tickets.pop(ticket, None)

    def record(self, path, headers):
        shown = {}
        for name, value in headers.items():
            shown[name] = "<present>" if name.lower() == "authorization" else value
        with self.lock, open(self.log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps({"path": path, "headers": shown}) + "\n")


def relay_body(response, handler):
    """Streams an upstream response body to the client."""
    while True:
        chunk = response.read(CHUNK)
        if not chunk:
            break
        handler.wfile.write(chunk)


def send_upstream(state, method, path, headers, body):
    connection = http.client.HTTPConnection(state.upstream, timeout=60)
    connection.request(method, path, body=body, headers=headers)
    return connection, connection.getresponse()


def is_blob_get(method, path):
    parts = urllib.parse.urlsplit(path).path.split("/")
    return method == "GET" and len(parts) >= 5 and parts[1] == "v2" and parts[-2] == "blobs"


class FrontHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, *args):
        pass

    def relay(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        connection, response = send_upstream(self.state, self.command, self.path, headers, body)
        try:
            if is_blob_get(self.command, self.path) and response.status == 200:
                ticket = self.state.issue(self.path, self.headers.get("Authorization"))
                location = "http://%s/storage%s?ticket=%s" % (
                    self.state.storage_addr, urllib.parse.urlsplit(self.path).path, ticket)
                self.send_response(307)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            if response.getheader("Content-Length") is None:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                relay_body(response, self)
        finally:
            connection.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = relay


class StorageHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.state.record(self.path, dict(self.headers.items()))
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        grant = self.state.redeem((query.get("ticket") or [""])[0])
        if grant is None:
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, authorization = grant
        headers = {}
        if authorization:
            headers["Authorization"] = authorization
        if self.headers.get("Range"):
            headers["Range"] = self.headers["Range"]
        connection, response = send_upstream(self.state, "GET", path, headers, None)
        try:
            self.send_response(response.status)
            for name in ("Content-Length", "Content-Range", "Content-Type", "Docker-Content-Digest"):
                if response.getheader(name) is not None:
                    self.send_header(name, response.getheader(name))
            self.end_headers()
            relay_body(response, self)
        finally:
            connection.close()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="registry HOST:PORT (plain HTTP)")
    parser.add_argument("--front-host", default="127.0.0.1")
    parser.add_argument("--storage-host", default="127.0.0.2")
    parser.add_argument("--log", required=True, help="storage request log (JSON lines)")
    parser.add_argument("--ready", required=True, help="file to write the addresses to")
    args = parser.parse_args()
    for host in (args.front_host, args.storage_host):
        if not host.startswith("127."):
            sys.exit("redirect_proxy.py: only loopback addresses, got " + host)

    storage = Server((args.storage_host, 0), StorageHandler)
    storage_addr = "%s:%d" % storage.server_address[:2]
    state = State(args.upstream, storage_addr, args.log)
    StorageHandler.state = state
    FrontHandler.state = state
    front = Server((args.front_host, 0), FrontHandler)
    front_addr = "%s:%d" % front.server_address[:2]
    open(args.log, "a", encoding="utf-8").close()

    threading.Thread(target=storage.serve_forever, daemon=True).start()
    with open(args.ready + ".tmp", "w", encoding="utf-8") as ready:
        ready.write("FRONT_ADDR=%s\nSTORAGE_ADDR=%s\n" % (front_addr, storage_addr))
    os.replace(args.ready + ".tmp", args.ready)
    front.serve_forever()


if __name__ == "__main__":
    main()
