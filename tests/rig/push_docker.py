#!/usr/bin/python3
"""Pushes the rig's Docker-typed images with plain registry HTTP calls. Called by
build-images.sh; not meant to be run by hand.

skopeo cannot push these from an OCI layout unchanged (its oci: transport ignores
Docker-typed entries), and converting would change their digests. Plain uploads keep every
byte: HEAD blob, else POST an upload and PUT it with ?digest=, then PUT each manifest
(children before their list) and check Docker-Content-Digest.

Usage: push_docker.py --layout DIR --url http(s)://HOST [--ca FILE] [--insecure]
Credentials, if any, come from the environment variable PF_RIG_CREDS=USER:PASS (not the
command line, which other users of the machine can read). Handles Basic and Bearer challenges.
Prints one "HOST/REPO:REF DIGEST" line per tagged manifest.
"""

import argparse
import base64
import json
import os
import re
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request


class Registry:
    def __init__(self, url, context, creds):
        self.url = url.rstrip("/")
        self.context = context
        self.creds = creds  # "user:pass" or ""
        self.auth = {}  # scope -> Authorization header value

    def send(self, method, path_or_url, body=None, headers=None, scope=None):
        """One request, answering a 401 challenge once. Returns (status, headers, body)."""
        url = path_or_url if "://" in path_or_url else self.url + path_or_url
        for attempt in range(2):
            request = urllib.request.Request(url, data=body, method=method,
                                             headers=dict(headers or {}))
            if scope in self.auth:
                request.add_header("Authorization", self.auth[scope])
            try:
                with urllib.request.urlopen(request, context=self.context, timeout=60) as reply:
                    return reply.status, reply.headers, reply.read()
            except urllib.error.HTTPError as error:
                if error.code != 401 or attempt == 1:
                    return error.code, error.headers, error.read()
                self.answer_challenge(error.headers.get("WWW-Authenticate", ""), scope)
        raise AssertionError("unreachable")

    def answer_challenge(self, challenge, scope):
        if not self.creds:
            sys.exit("push_docker.py: %s wants credentials and none were given" % self.url)
        basic = "Basic " + base64.b64encode(self.creds.encode()).decode()
        if challenge.lower().startswith("basic"):
            self.auth[scope] = basic
            return
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        if not challenge.lower().startswith("bearer") or "realm" not in params:
            sys.exit("push_docker.py: cannot answer the challenge %r" % challenge)
        query = {"service": params.get("service", "")}
        if scope:
            query["scope"] = scope
        token_url = params["realm"] + "?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(token_url, headers={"Authorization": basic})
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=30) as reply:
                token = json.load(reply)
        except urllib.error.HTTPError as error:
            sys.exit("push_docker.py: token request failed with HTTP %d" % error.code)
        self.auth[scope] = "Bearer " + (token.get("token") or token.get("access_token"))

    def push_blob(self, layout, repo, digest):
        scope = "repository:%s:pull,push" % repo
        status, _, _ = self.send("HEAD", "/v2/%s/blobs/%s" % (repo, digest), scope=scope)
        if status == 200:
            return
        status, headers, _ = self.send("POST", "/v2/%s/blobs/uploads/" % repo, body=b"",
                                       scope=scope)
        if status != 202:
            sys.exit("push_docker.py: starting an upload to %s got HTTP %d" % (repo, status))
        location = urllib.parse.urljoin(self.url + "/", headers["Location"])
        location += ("&" if "?" in location else "?") + "digest=" + digest
        with open(os.path.join(layout, "blobs", "sha256", digest[7:]), "rb") as f:
            data = f.read()
        status, _, body = self.send("PUT", location, body=data, scope=scope,
                                    headers={"Content-Type": "application/octet-stream"})
        if status != 201:
            sys.exit("push_docker.py: uploading %s to %s got HTTP %d: %s"
                     % (digest, repo, status, body[:200]))

    def push_manifest(self, layout, repo, ref, descriptor):
        digest = descriptor["digest"]
        with open(os.path.join(layout, "blobs", "sha256", digest[7:]), "rb") as f:
            data = f.read()
        status, headers, body = self.send(
            "PUT", "/v2/%s/manifests/%s" % (repo, ref), body=data,
            headers={"Content-Type": descriptor["mediaType"]},
            scope="repository:%s:pull,push" % repo)
        if status != 201:
            sys.exit("push_docker.py: putting manifest %s:%s got HTTP %d: %s"
                     % (repo, ref, status, body[:300]))
        if headers.get("Docker-Content-Digest") != digest:
            sys.exit("push_docker.py: %s:%s stored as %s, expected %s"
                     % (repo, ref, headers.get("Docker-Content-Digest"), digest))


def main():
    parser = argparse.ArgumentParser(description="push the rig's Docker-typed images")
    parser.add_argument("--layout", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--ca")
    parser.add_argument("--insecure", action="store_true", help="do not verify TLS")
    args = parser.parse_args()

    context = None
    if args.url.startswith("https://"):
        context = ssl.create_default_context(cafile=args.ca)
        if args.insecure and not args.ca:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    registry = Registry(args.url, context, os.environ.get("PF_RIG_CREDS", ""))
    with open(os.path.join(args.layout, "docker-plan.json")) as f:
        plan = json.load(f)
    host = urllib.parse.urlsplit(args.url).netloc
    for entry in plan:
        for digest in entry["blobs"]:
            registry.push_blob(args.layout, entry["repo"], digest)
        registry.push_manifest(args.layout, entry["repo"], entry["ref"], entry["manifest"])
        if not entry["ref"].startswith("sha256:"):
            print("%s/%s:%s %s" % (host, entry["repo"], entry["ref"], entry["manifest"]["digest"]))


if __name__ == "__main__":
    main()
