#!/usr/bin/python3
"""A Docker-registry Bearer token server: a test fixture, started by registry.sh --auth token.

It implements the flow that Docker Hub and the distribution registry use (the registry answers
401 with `WWW-Authenticate: Bearer realm=...,service=...,scope=...`; the client fetches a token
here and retries with `Authorization: Bearer TOKEN`):

  GET  /token?service=S&scope=repository:NAME:pull[,push]&scope=...   optional Basic auth
  POST /token   (OAuth2 form: grant_type=password with username/password, or
                 grant_type=refresh_token with refresh_token; service, scope, client_id)
  GET  /healthz

Success returns {"token", "access_token", "expires_in", "issued_at"} (plus "refresh_token"
for POST password grants with access_type=offline and for GET with offline_token=true). The
token is an RS256 JWT whose header carries x5c = the DER of --cert (the registry's
rootcertbundle), with claims iss, sub, aud, exp, nbf, iat, jti and access.

Policy comes from the --users JSON file, reread on every request so tests can change it:
  {"users": {"NAME": "PASSWORD"},            test-only credentials
   "deny": {"NAME": ["pf/app", "pf/sec*"]},  repositories (shell patterns) for which NAME gets
                                             empty actions: the registry then answers 401
                                             insufficient_scope
   "anonymous_pull": ["pf/*"]}               repositories anonymous requests may pull
Wrong credentials get 401 here; a known user gets the actions it asked for (pull, push,
delete, *) on any repository it is not denied; anonymous requests get only pull where
anonymous_pull allows, else empty actions.

Each request is logged to --log as one JSON object per line (path, method, service, scopes,
account, auth kind, status, granted access; never a password or token), so tests can count
token fetches.

`token_server.py --users FILE --set-deny USER [PATTERN...]` edits the deny list and exits.
"""

import argparse
import base64
import datetime
import fnmatch
import http.server
import json
import os
import secrets
import ssl
import sys
import threading
import time
import urllib.parse

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

KNOWN_ACTIONS = ("pull", "push", "delete", "*")


class Policy:
    """The users file: credentials, denials and anonymous access."""

    def __init__(self, path):
        with open(path) as f:
            doc = json.load(f)
        self.users = doc.get("users", {})
        self.deny = doc.get("deny", {})
        self.anonymous_pull = doc.get("anonymous_pull", [])

    def check(self, user, password):
        want = self.users.get(user)
        return want is not None and secrets.compare_digest(want.encode(), password.encode())

    def grant(self, account, type_, name, actions):
        if type_ != "repository":
            return [] if not account else [a for a in actions if a in KNOWN_ACTIONS]
        if not account:
            allowed = any(fnmatch.fnmatchcase(name, p) for p in self.anonymous_pull)
            return ["pull"] if allowed and "pull" in actions else []
        if any(fnmatch.fnmatchcase(name, p) for p in self.deny.get(account, [])):
            return []
        return [a for a in actions if a in KNOWN_ACTIONS]


def parse_scope(scope):
    """'repository:pf/app:pull,push' -> ('repository', 'pf/app', ['pull', 'push'])."""
    first = scope.find(":")
    last = scope.rfind(":")
    if first <= 0 or last == first:
        raise ValueError("malformed scope %r" % scope)
    type_ = scope[:first]
    if "(" in type_:  # "repository(plugin)" names a resource class; the type is before it
        type_ = type_[:type_.index("(")]
    return type_, scope[first + 1:last], [a for a in scope[last + 1:].split(",") if a]


class Issuer:
    def __init__(self, args):
        with open(args.key, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)
        with open(args.cert, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        self.x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
        self.issuer = args.issuer
        self.service = args.service
        self.expires_in = args.expires_in
        self.users_path = args.users
        self.refresh_tokens = {}  # refresh token -> account
        self.lock = threading.Lock()
        self.log_path = args.log

    def issue(self, account, scopes, policy):
        now = int(time.time())
        access = []
        for scope in scopes:
            type_, name, actions = parse_scope(scope)
            access.append({"type": type_, "name": name,
                           "actions": policy.grant(account, type_, name, actions)})
        claims = {"iss": self.issuer, "sub": account, "aud": self.service, "exp": now +
                  self.expires_in, "nbf": now - 5, "iat": now, "jti": secrets.token_hex(12),
                  "access": access}
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"x5c": self.x5c})
        issued = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        body = {"token": token, "access_token": token, "expires_in": self.expires_in,
                "issued_at": issued.strftime("%Y-%m-%dT%H:%M:%SZ")}
        return body, access

    def new_refresh_token(self, account):
        token = secrets.token_hex(16)
        with self.lock:
            self.refresh_tokens[token] = account
        return token

    def log(self, entry):
        line = json.dumps(entry) + "\n"
        with self.lock, open(self.log_path, "a") as f:
            f.write(line)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pullfleet-test-token-server"

    def log_message(self, fmt, *args):  # the JSON request log replaces the default stderr log
        pass

    def reply(self, status, body, extra_headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def basic_auth(self):
        """(user, password) from the Authorization header, or None."""
        header = self.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return ("", "")
        return (user, password)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/healthz":
            self.reply(200, {"ok": True})
            return
        if url.path != "/token":
            self.reply(404, {"error": "not found"})
            return
        query = urllib.parse.parse_qs(url.query)
        creds = self.basic_auth()
        self.serve_token("GET", query.get("service", [""])[0], query.get("scope", []),
                         creds, "basic" if creds else "none",
                         query.get("offline_token", [""])[0] == "true")

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            self.reply(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length", "0") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
        field = lambda name: form.get(name, [""])[0]
        scopes = [s for s in field("scope").split(" ") if s]
        grant = field("grant_type")
        if grant == "password":
            self.serve_token("POST", field("service"), scopes,
                             (field("username"), field("password")), "password",
                             field("access_type") == "offline")
        elif grant == "refresh_token":
            with self.server.issuer.lock:
                account = self.server.issuer.refresh_tokens.get(field("refresh_token"))
            self.serve_token("POST", field("service"), scopes, None, "refresh_token", False,
                             refreshed_account=account)
        else:
            self.reply(400, {"error": "unsupported_grant_type"})
            self.server.issuer.log({"method": "POST", "path": "/token", "auth": grant,
                                    "status": 400})

    def serve_token(self, method, service, scopes, creds, auth_kind, offline,
                    refreshed_account=None):
        issuer = self.server.issuer
        entry = {"time": time.time(), "method": method, "path": "/token", "service": service,
                 "scopes": scopes, "auth": auth_kind, "account": ""}
        try:
            policy = Policy(issuer.users_path)
            if service != issuer.service:
                entry["status"] = 400
                self.reply(400, {"error": "invalid_request",
                                 "error_description": "unknown service %r" % service})
                return
            account = ""
            if auth_kind == "refresh_token":
                if refreshed_account is None:
                    entry["status"] = 401
                    self.reply(401, {"error": "invalid_grant"})
                    return
                account = refreshed_account
            elif creds is not None:
                user, password = creds
                entry["account"] = user
                if not policy.check(user, password):
                    entry["status"] = 401
                    self.reply(401, {"error": "unauthorized",
                                     "details": "wrong username or password"},
                               [("WWW-Authenticate", 'Basic realm="pullfleet-test-token"')])
                    return
                account = user
            entry["account"] = account
            body, access = issuer.issue(account, scopes, policy)
            if offline and account:
                body["refresh_token"] = issuer.new_refresh_token(account)
            entry["status"] = 200
            entry["granted"] = access
            self.reply(200, body)
        except ValueError as error:
            entry["status"] = 400
            self.reply(400, {"error": "invalid_scope", "error_description": str(error)})
        finally:
            issuer.log(entry)


def set_deny(users_path, user, patterns):
    with open(users_path) as f:
        doc = json.load(f)
    deny = doc.setdefault("deny", {})
    if patterns:
        deny[user] = patterns
    else:
        deny.pop(user, None)
    tmp = users_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, users_path)


def main():
    parser = argparse.ArgumentParser(description="pullfleet test token server")
    parser.add_argument("--users", required=True, help="JSON users/policy file")
    parser.add_argument("--set-deny", nargs="+", metavar=("USER", "PATTERN"),
                        help="edit the deny list of USER and exit")
    parser.add_argument("--port", type=int)
    parser.add_argument("--key", help="PEM RSA key that signs tokens")
    parser.add_argument("--cert", help="PEM certificate of --key (the registry's rootcertbundle)")
    parser.add_argument("--issuer", default="pullfleet-test-issuer")
    parser.add_argument("--service", default="pullfleet-test-registry")
    parser.add_argument("--log", help="request log, one JSON object per line")
    parser.add_argument("--expires-in", type=int, default=300)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()

    if args.set_deny:
        set_deny(args.users, args.set_deny[0], args.set_deny[1:])
        return
    for name in ("port", "key", "cert", "log"):
        if getattr(args, name) is None:
            sys.exit("token_server.py: --%s is required to serve" % name)
    Policy(args.users)  # fail at start, not at the first request, on a broken users file

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.issuer = Issuer(args)
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
