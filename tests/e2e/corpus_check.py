#!/usr/bin/env python3
"""Applies every file of a corpus of published manifests to a running cluster and checks it.

The corpus folder is $PULLFLEET_CORPUS_DIR (default /work/shared/corpus); when it is absent the
check is skipped (exit 0). It must hold INDEX.md, a table with a row per file: its kinds and the
images of its pod containers as written ("`ref` ×N (init)"; entries in brackets are image-like
values that are not containers).

A `pullfleet up --nodes 2` is started with every HTTP(S) connection of its nodes sent to a proxy
on a loopback port where nothing listens (libcurl reads all_proxy/https_proxy), so that no pull
leaves the machine: every valid image then fails with ErrImagePull and backs off, as an
unreachable registry does. Each file is applied as written, into a namespace of its own (`-n`,
so that objects of different files never meet), and then checked:
  - `apply` exits 0 and its skipped-kinds line names the kinds of the index that pullfleet does
    not run, with their counts;
  - the pods are those the controllers would make, counted here from the YAML itself
    (replicas, parallelism, one per node for a DaemonSet, a pre-pull pod per node for a CronJob);
  - one pod of each owner carries exactly the images of the index, and no bracketed one;
  - every container has the kubelet's defaulted pull policy;
  - placeholders (`<...>`, `$...`) are InvalidImageName, `Never` images ErrImageNeverPull,
    every other image ErrImagePull or ImagePullBackOff (for a pod with init containers: its
    first one, since the others wait behind it); a pod no node allows is not pulled at all.
Usage: corpus_check.py PULLFLEET_BINARY
"""
import collections
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

import yaml

NODES = {f"node-{i}": {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                       "kubernetes.io/hostname": f"node-{i}"} for i in (1, 2)}
STORED = {"Namespace", "Secret", "ServiceAccount", "RuntimeClass"}
WORKLOADS = {"Pod", "Deployment", "ReplicaSet", "ReplicationController", "StatefulSet",
             "DaemonSet", "Job", "CronJob"}
FAILED = {"ErrImagePull", "ImagePullBackOff"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_index(path):
    """file -> (kinds Counter, images Counter, bracketed set)."""
    rows = {}
    for line in open(path, encoding="utf-8"):
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 9 or not cells[1].startswith("`"):
            continue
        name = cells[1].strip("`")
        kinds = collections.Counter()
        for part in cells[5].split(","):
            m = re.match(r"\s*(\w+)(?:×(\d+))?", part)
            if m:
                kinds[m.group(1)] += int(m.group(2) or 1)
        images, bracketed = collections.Counter(), set()
        for entry in cells[7].split("<br>"):
            m = re.match(r"\s*`([^`]+)`(?:\s*×(\d+))?", entry)
            if not m:
                continue
            if "[" in entry:
                bracketed.add(m.group(1))
            else:
                images[m.group(1)] += int(m.group(2) or 1)
        rows[name] = (kinds, images, bracketed)
    return rows


def objects(text):
    for doc in yaml.safe_load_all(text):
        if not isinstance(doc, dict):
            continue
        if str(doc.get("kind", "")).endswith("List") and "items" in doc:
            yield from (item for item in doc["items"] or [] if isinstance(item, dict))
        else:
            yield doc


def template_of(obj):
    spec = obj.get("spec") or {}
    if obj["kind"] == "Pod":
        return spec
    if obj["kind"] == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return ((spec.get("template") or {}).get("spec")) or {}


def expected_pods(obj):
    kind, spec = obj["kind"], obj.get("spec") or {}
    if kind == "Pod":
        return 1
    if kind in ("Deployment", "ReplicaSet", "ReplicationController", "StatefulSet"):
        return spec.get("replicas", 1)
    if kind == "Job":
        if spec.get("suspend"):
            return 0
        return min(spec.get("parallelism", 1), spec.get("completions", 1 << 30))
    selector = template_of(obj).get("nodeSelector") or {}
    return sum(all(labels.get(k) == str(v) for k, v in selector.items())
               for labels in NODES.values())


def default_policy(image):
    # The API server's rule: no tag (and no digest) or the tag latest gives Always.
    name = image.split("@")[0]
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    if tag == "latest" or (not tag and "@" not in image):
        return "Always"
    return "IfNotPresent"


def invalid(image):
    return image.startswith("<") or "$" in image


class Cluster:
    def __init__(self, binary, data):
        self.binary, self.server = binary, f"127.0.0.1:{free_port()}"
        config = os.path.join(data, "node.yaml")
        with open(config, "w") as f:
            f.write("imagePullBackOff: {initialSeconds: 1, maxSeconds: 2}\n")
        env = dict(os.environ)
        dead = f"http://127.0.0.1:{free_port()}"
        for var in ("all_proxy", "http_proxy", "https_proxy", "ALL_PROXY", "HTTPS_PROXY"):
            env[var] = dead
        env.pop("no_proxy", None)
        env.pop("NO_PROXY", None)
        self.log = open(os.path.join(data, "up.log"), "w")
        self.process = subprocess.Popen(
            [binary, "up", "--nodes", str(len(NODES)), "--data", data, "--listen", self.server,
             "--node-config", config], stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def client(self, *args):
        return subprocess.run([self.binary, *args, "--server", self.server], capture_output=True,
                              text=True, timeout=60)

    def wait_ready(self):
        deadline, out = time.time() + 40, ""
        while time.time() < deadline:
            out = self.client("get", "nodes").stdout
            ready = [l.split()[0] for l in out.splitlines()[1:] if l.split()[1:2] == ["Ready"]]
            if sorted(ready) == sorted(NODES):
                return
            time.sleep(0.2)
        raise SystemExit(f"cluster not ready; get nodes: {out}\n" +
                         open(self.log.name).read()[-2000:])

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def owner_of(pod):
    refs = pod["metadata"].get("ownerReferences") or []
    return (refs[0]["kind"], refs[0]["name"]) if refs else ("Pod", pod["metadata"]["name"])


def containers_of(pod):
    spec = pod["spec"]
    return (spec.get("initContainers") or []) + spec["containers"]


# What apply says of a name that still holds an envsubst placeholder ("$name-db-secret").
TEMPLATE_NAME = 'invalid metadata.name "$'
REFUSED = "refused"


def check_file(cluster, corpus, name, row, namespace):
    problems = []
    text = open(os.path.join(corpus, name), encoding="utf-8").read()
    objs = [o for o in objects(text) if o.get("kind") in WORKLOADS]
    applied = cluster.client("apply", "-n", namespace, "-f", os.path.join(corpus, name))
    if applied.returncode != 0 and TEMPLATE_NAME in applied.stderr:
        # An envsubst template applied unsubstituted: its object names are refused, as the
        # API server refuses them, and nothing of the file is created.
        return ([] if not pods_in(cluster, namespace) else ["pods created from a refused file"],
                REFUSED)
    if applied.returncode != 0:
        return [f"apply failed: {applied.stderr.strip()}"], None
    kinds, images, bracketed = row
    skipped = {k: n for k, n in kinds.items() if k not in WORKLOADS | STORED}
    want_line = ", ".join(f"{k}={n}" for k, n in sorted(skipped.items()))
    lines = [l for l in applied.stdout.splitlines() if l.startswith("skipped kinds")]
    got_line = lines[0].split(": ", 1)[1] if lines else ""
    if got_line != want_line:
        problems.append(f"skipped kinds {got_line!r}, index says {want_line!r}")
    return problems, objs


def pods_in(cluster, namespace):
    listed = cluster.client("get", "pods", "-n", namespace, "-o", "json")
    return json.loads(listed.stdout)["items"] if listed.returncode == 0 else []


def waiting(pod, name):
    for key in ("initContainerStatuses", "containerStatuses"):
        for status in pod["status"].get(key, []):
            if status["name"] == name:
                return status.get("state", {}).get("waiting", {}).get("reason")
    return None


def must_fail(pod):
    """The containers of a scheduled pod that must show a failure: the first init container
    (the others and the app containers wait behind it), or every app container."""
    if not pod["spec"].get("nodeName"):
        return []  # no node allows it: nothing is pulled
    init = pod["spec"].get("initContainers") or []
    return init[:1] if init else pod["spec"]["containers"]


def failure_reasons(container):
    if invalid(container["image"]):
        return {"InvalidImageName"}
    if container.get("imagePullPolicy") == "Never":
        return {"ErrImageNeverPull"}
    return FAILED


def record(seen, namespace, pods):
    for pod in pods:
        for c in containers_of(pod):
            reason = waiting(pod, c["name"])
            if reason:
                seen[(namespace, pod["metadata"]["name"], c["name"])].add(reason)


def settled(seen, namespace, pods):
    return all(seen[(namespace, pod["metadata"]["name"], c["name"])] & failure_reasons(c)
               for pod in pods for c in must_fail(pod))


def check_pods(pods, objs, row, seen, namespace):
    problems = []
    _, images, bracketed = row
    want = sum(expected_pods(o) for o in objs)
    if len(pods) != want:
        problems.append(f"{len(pods)} pods, the controllers would make {want}")
    one_each = {}
    for pod in pods:
        one_each.setdefault(owner_of(pod), pod)
    found = collections.Counter(c["image"] for pod in one_each.values()
                                for c in containers_of(pod))
    # Objects with no pod (replicas: 0, or no node allows them) carry images the index lists.
    for obj in objs:
        if expected_pods(obj) == 0:
            spec = template_of(obj)
            for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
                found[c["image"]] += 1
    if found != images:
        problems.append(f"images {dict(found)}, index says {dict(images)}")
    for image in bracketed:
        if any(c["image"] == image for pod in pods for c in containers_of(pod)):
            problems.append(f"{image} is not a container image but a pod uses it")
    for pod in pods:
        for c in must_fail(pod):
            got = seen[(namespace, pod["metadata"]["name"], c["name"])]
            if not got & failure_reasons(c):
                problems.append(f"{pod['metadata']['name']}/{c['name']}: seen {sorted(got)}, "
                                f"want one of {sorted(failure_reasons(c))}")
    return problems


def written_policies(objs):
    """(object name, container name) -> the policy the API server would store."""
    out = {}
    for obj in objs:
        spec = template_of(obj)
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            out[(obj["metadata"]["name"], c["name"])] = (
                c.get("imagePullPolicy") or default_policy(c["image"]))
    return out


def check_policies(pods, objs):
    problems = []
    want = written_policies(objs)
    for pod in pods:
        kind, owner = owner_of(pod)
        if kind == "ReplicaSet":  # a Deployment's ReplicaSet is NAME-HASH
            owner = owner if any(o["metadata"]["name"] == owner for o in objs) else \
                owner.rsplit("-", 1)[0]
        for c in containers_of(pod):
            if invalid(c["image"]):
                continue
            expected = want.get((owner, c["name"]))
            if expected and c.get("imagePullPolicy") != expected:
                problems.append(f"{pod['metadata']['name']}/{c['name']}: policy "
                                f"{c.get('imagePullPolicy')}, the API server stores {expected}")
    return problems


def main():
    corpus = os.environ.get("PULLFLEET_CORPUS_DIR", "/work/shared/corpus")
    if not os.path.isfile(os.path.join(corpus, "INDEX.md")):
        print(f"corpus check skipped: no {corpus}/INDEX.md")
        return 0
    index = parse_index(os.path.join(corpus, "INDEX.md"))
    with tempfile.TemporaryDirectory(prefix="pf-corpus-") as data:
        cluster = Cluster(sys.argv[1], data)
        try:
            cluster.wait_ready()
            applied, failures = {}, 0
            for i, name in enumerate(sorted(index)):
                problems, objs = check_file(cluster, corpus, name, index[name], f"corpus-{i}")
                if objs is None:
                    print(f"FAIL {name}: " + "; ".join(problems))
                    failures += 1
                    continue
                if objs == REFUSED:
                    print(("ok   " if not problems else "FAIL ") + name +
                          ": refused (unsubstituted placeholders in object names)")
                    failures += bool(problems)
                    continue
                applied[name] = (f"corpus-{i}", objs, problems)
            # Containers pass through ContainerCreating at every retry: each reason seen counts.
            seen = collections.defaultdict(set)
            deadline = time.time() + 90
            while time.time() < deadline:
                done = True
                for ns, _, _ in applied.values():
                    pods = pods_in(cluster, ns)
                    record(seen, ns, pods)
                    done = settled(seen, ns, pods) and done
                if done:
                    break
                time.sleep(0.3)
            for name, (ns, objs, problems) in sorted(applied.items()):
                pods = pods_in(cluster, ns)
                problems += check_pods(pods, objs, index[name], seen, ns)
                problems += check_policies(pods, objs)
                status = "ok  " if not problems else "FAIL"
                failures += bool(problems)
                print(f"{status} {name}: {len(pods)} pods" +
                      ("" if not problems else ": " + "; ".join(problems[:6])))
            print(f"{len(index) - failures}/{len(index)} corpus files as the index says")
            return 1 if failures else 0
        finally:
            cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
