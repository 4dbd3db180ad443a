#!/usr/bin/python3
"""Writes the rig's test images into one OCI image layout, deterministically.

Called by build-images.sh; not meant to be run by hand. Every byte is a function of the
inputs (fixed timestamps, owners and random seeds, gzip without a time stamp), so the digests
are the same on every machine and every run, and a cache keyed on the inputs stays valid.
The layout is written by hand rather than with umoci because umoci stamps the current time
into configs and always compresses at its own level, and random-data layers must be stored
uncompressed (gzip level 0) to be fast to write.

Usage: oci_build.py --out LAYOUT_DIR --busybox-amd64 FILE --busybox-arm64 FILE
Writes LAYOUT_DIR (oci-layout, index.json, blobs/) with one ref name per OCI image,
LAYOUT_DIR/docker-plan.json (the Docker-typed images, for push_docker.py) and
LAYOUT_DIR/digests.env (shell-sourceable NAME_DIGEST="sha256:..." lines).
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import sys
import tarfile

MTIME = 1704067200  # 2024-01-01T00:00:00Z: fixed so layers hash the same on every run
CREATED = "2024-01-01T00:00:00Z"
APPLETS = ["sh", "ls", "cat", "echo", "true", "false", "sleep", "env", "id", "uname", "mkdir",
           "rm", "ps", "wget", "sha256sum", "test", "[", "printf", "date", "hostname"]
BIG_LAYER_MIB = [10, 14, 16]  # about 40 MiB in three layers
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


class Layout:
    """An OCI image layout being written: content-addressed blobs plus named refs."""

    def __init__(self, root):
        self.root = root
        self.refs = []  # index.json manifests entries
        os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(root, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')

    def put(self, data, media_type):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = os.path.join(self.root, "blobs", "sha256", digest[7:])
        if not os.path.exists(path):
            tmp = path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def tag(self, descriptor, ref_name, platform=None):
        entry = dict(descriptor)
        if platform:
            entry["platform"] = platform
        entry["annotations"] = {"org.opencontainers.image.ref.name": ref_name}
        self.refs.append(entry)

    def finish(self):
        index = {"schemaVersion": 2, "manifests": self.refs}
        with open(os.path.join(self.root, "index.json"), "w") as f:
            json.dump(index, f, indent=2, sort_keys=True)


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


class Layer:
    """A tar layer built in memory: its diff id (uncompressed) and gzip blob."""

    def __init__(self, entries, level):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for entry in entries:
                tar.addfile(*entry)
        tar_bytes = raw.getvalue()
        self.diff_id = "sha256:" + hashlib.sha256(tar_bytes).hexdigest()
        packed = io.BytesIO()
        with gzip.GzipFile(fileobj=packed, mode="wb", compresslevel=level, mtime=0) as gz:
            gz.write(tar_bytes)
        self.blob = packed.getvalue()


def tar_info(name, kind=tarfile.REGTYPE, size=0, mode=0o644, target=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mode = mode
    info.mtime = MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.linkname = target
    return info


def dir_entry(name):
    return (tar_info(name, tarfile.DIRTYPE, mode=0o755),)


def file_entry(name, data, mode=0o644):
    return (tar_info(name, size=len(data), mode=mode), io.BytesIO(data))


def busybox_layer(binary_path):
    with open(binary_path, "rb") as f:
        binary = f.read()
    entries = [dir_entry("bin"), file_entry("bin/busybox", binary, 0o755)]
    for applet in APPLETS:
        entries.append((tar_info("bin/" + applet, tarfile.SYMTYPE, mode=0o777, target="busybox"),))
    entries += [dir_entry("etc"), file_entry("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
                dir_entry("tmp")]
    return Layer(entries, 6)


def image(layout, layers, arch, labels, cmd, variant=None):
    """Writes config and manifest for `layers`; returns the manifest descriptor."""
    config = {
        "architecture": arch,
        "os": "linux",
        "created": CREATED,
        "config": {"Env": ["PATH=/bin"], "Cmd": cmd, "Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": CREATED, "created_by": "pullfleet tests/rig/oci_build.py"}
                    for _ in layers],
    }
    if variant:
        config["variant"] = variant
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_OCI_MANIFEST,
        "config": layout.put(canonical(config), MT_OCI_CONFIG),
        "layers": [layout.put(layer.blob, MT_OCI_LAYER_GZIP) for layer in layers],
        "annotations": {"org.opencontainers.image.created": CREATED},
    }
    return layout.put(canonical(manifest), MT_OCI_MANIFEST)


def docker_image(layout, layers, arch, labels, variant=None):
    """A Docker schema2 image: its manifest descriptor and the blobs it needs, in push order.

    skopeo's oci: transport ignores Docker-typed entries, so these are not tagged in
    index.json; push_docker.py uploads them over plain registry HTTP, which keeps the digests.
    """
    config = {
        "architecture": arch,
        "os": "linux",
        "created": CREATED,
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
    }
    if variant:
        config["variant"] = variant
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_DOCKER_MANIFEST,
        "config": layout.put(canonical(config), MT_DOCKER_CONFIG),
        "layers": [layout.put(layer.blob, MT_DOCKER_LAYER_GZIP) for layer in layers],
    }
    blobs = [manifest["config"]["digest"]] + [l["digest"] for l in manifest["layers"]]
    return layout.put(canonical(manifest), MT_DOCKER_MANIFEST), blobs


def text_layer(path, text):
    parts = path.split("/")
    entries = [dir_entry("/".join(parts[:i])) for i in range(1, len(parts))]
    entries.append(file_entry(path, text.encode()))
    return Layer(entries, 6)


def random_layer(index, mib):
    data = random.Random(4242 + index).randbytes(mib * 1024 * 1024)
    return Layer([dir_entry("data"), file_entry("data/blob-%d.bin" % index, data)], 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--busybox-amd64", required=True)
    parser.add_argument("--busybox-arm64", required=True)
    args = parser.parse_args()
    for path in (args.busybox_amd64, args.busybox_arm64):
        if not os.path.isfile(path):
            sys.exit("oci_build.py: no busybox binary at %s" % path)

    layout = Layout(args.out)
    digests = {}
    base = busybox_layer(args.busybox_amd64)

    def add(name, ref_names, descriptor):
        digests[name + "_DIGEST"] = descriptor["digest"]
        for ref in ref_names:
            layout.tag(descriptor, ref)

    add("BUSYBOX", ["busybox-1.36", "busybox-latest"],
        image(layout, [base], "amd64", {"org.pullfleet.image": "busybox"}, ["sh"]))

    amd64 = image(layout, [base], "amd64", {"org.pullfleet.image": "multiarch"}, ["sh"])
    arm64 = image(layout, [busybox_layer(args.busybox_arm64)], "arm64",
                  {"org.pullfleet.image": "multiarch"}, ["sh"], variant="v8")
    index = {
        "schemaVersion": 2,
        "mediaType": MT_OCI_INDEX,
        "manifests": [
            dict(amd64, platform={"architecture": "amd64", "os": "linux"}),
            dict(arm64, platform={"architecture": "arm64", "os": "linux", "variant": "v8"}),
        ],
    }
    digests["MULTIARCH_AMD64_DIGEST"] = amd64["digest"]
    digests["MULTIARCH_ARM64_DIGEST"] = arm64["digest"]
    add("MULTIARCH", ["multiarch-1.0"], layout.put(canonical(index), MT_OCI_INDEX))

    big_layers = [random_layer(i, mib) for i, mib in enumerate(BIG_LAYER_MIB)]
    add("BIG", ["big-1.0"],
        image(layout, big_layers, "amd64", {"org.pullfleet.image": "big"}, ["sh"]))
    digests["BIG_LAYER_DIGESTS"] = " ".join(layout.put(l.blob, MT_OCI_LAYER_GZIP)["digest"]
                                     for l in big_layers)
    digests["BIG_SIZE"] = str(sum(len(l.blob) for l in big_layers))

    for version in ("v1", "v2"):
        app = text_layer("app/version", "pullfleet test app %s\n" % version)
        add("APP_" + version.upper(), ["app-" + version],
            image(layout, [base, app], "amd64", {"org.pullfleet.image": "app",
                                                 "org.pullfleet.version": version},
                  ["cat", "/app/version"]))
    sidecar = text_layer("sidecar/role", "pullfleet test sidecar\n")
    add("SIDECAR", ["sidecar-1.0"],
        image(layout, [base, sidecar], "amd64", {"org.pullfleet.image": "sidecar"}, ["sh"]))
    digests["BUSYBOX_LAYER_DIGEST"] = layout.put(base.blob, MT_OCI_LAYER_GZIP)["digest"]

    # Docker-typed images, for clients that must handle what most public registries serve.
    plan = []
    arm64_layer = busybox_layer(args.busybox_arm64)
    docker_layer = text_layer("docker/kind", "pullfleet docker schema2 test image\n")
    single, blobs = docker_image(layout, [base, docker_layer], "amd64",
                                 {"org.pullfleet.image": "docker"})
    plan.append({"repo": "pf/docker", "ref": "1.0", "manifest": single, "blobs": blobs})
    digests["DOCKER_DIGEST"] = single["digest"]
    children = []
    for arch, layer, variant in (("amd64", base, None), ("arm64", arm64_layer, "v8")):
        child, blobs = docker_image(layout, [layer], arch, {"org.pullfleet.image": "dockerlist"},
                                    variant)
        platform = {"architecture": arch, "os": "linux"}
        if variant:
            platform["variant"] = variant
        children.append(dict(child, platform=platform))
        plan.append({"repo": "pf/dockerlist", "ref": child["digest"], "manifest": child,
                     "blobs": blobs})
        digests["DOCKERLIST_%s_DIGEST" % arch.upper()] = child["digest"]
    manifest_list = {"schemaVersion": 2, "mediaType": MT_DOCKER_LIST, "manifests": children}
    listed = layout.put(canonical(manifest_list), MT_DOCKER_LIST)
    plan.append({"repo": "pf/dockerlist", "ref": "1.0", "manifest": listed, "blobs": []})
    digests["DOCKERLIST_DIGEST"] = listed["digest"]
    with open(os.path.join(args.out, "docker-plan.json"), "w") as f:
        json.dump(plan, f, indent=2)

    layout.finish()
    with open(os.path.join(args.out, "digests.env"), "w") as f:
        for name, value in digests.items():
            f.write('%s="%s"\n' % (name, value))


if __name__ == "__main__":
    main()
