#!/usr/bin/python3
"""Writes the benchmark images into one OCI image layout, streamed and deterministic.

Called by bench/run.sh; not meant to be run by hand. The images are larger than the test
rig's (tests/rig/oci_build.py builds those in memory), so every layer is streamed to disk
in slices: a tar of one random-data file, wrapped in gzip at level 0 (random data does not
compress, and level 0 is fast to write), hashed as it is written. Seeds are fixed, so the
digests are the same on every run and a layout built once can be reused.

Usage: make_images.py --out LAYOUT_DIR
Writes LAYOUT_DIR (oci-layout, index.json, blobs/) with the ref names
  big-1.0     about 1 GiB: 4 layers of 256 MiB
  many-1.0    about 200 MiB: 40 layers of 5 MiB
  tiny-1.0    1 MiB in one layer (the fleet benchmark's pre-loaded image)
and LAYOUT_DIR/digests.env: for each of BIG, MANY and TINY, NAME_DIGEST (the manifest),
NAME_CONFIG, NAME_LAYERS (layer digests separated by spaces) and NAME_SIZE (bytes of the
layers).
"""

import argparse
import hashlib
import json
import os
import random
import tarfile
import zlib

MTIME = 1704067200  # 2024-01-01T00:00:00Z
CREATED = "2024-01-01T00:00:00Z"
SLICE = 8 * 1024 * 1024
MIB = 1024 * 1024
IMAGES = [
    # (ref name, env prefix, layer count, MiB per layer, seed base)
    ("big-1.0", "BIG", 4, 256, 7000),
    ("many-1.0", "MANY", 40, 5, 8000),
    ("tiny-1.0", "TINY", 1, 1, 9000),
]
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


class HashingFile:
    """A file being written whose bytes are hashed on the way (the blob digest)."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.sha.update(data)
        self.f.write(data)
        self.size += len(data)

    def close(self):
        self.f.close()


class GzipLevel0:
    """A gzip member at level 0 around a stream, with no file name and mtime 0."""

    def __init__(self, out):
        self.out = out
        self.crc = 0
        self.length = 0
        # magic, deflate, no flags, mtime 0, no extra flags, OS unknown
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")
        self.z = zlib.compressobj(0, zlib.DEFLATED, -zlib.MAX_WBITS)

    def write(self, data):
        self.crc = zlib.crc32(data, self.crc)
        self.length += len(data)
        self.out.write(self.z.compress(data))

    def close(self):
        self.out.write(self.z.flush())
        self.out.write(self.crc.to_bytes(4, "little"))
        self.out.write((self.length & 0xFFFFFFFF).to_bytes(4, "little"))


class TarStream:
    """Feeds the tar bytes to the gzip writer and hashes them (the layer's diff id)."""

    def __init__(self, gz):
        self.gz = gz
        self.sha = hashlib.sha256()

    def write(self, data):
        self.sha.update(data)
        self.gz.write(data)


def tar_header(name, kind, size, mode):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mode = mode
    info.mtime = MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info.tobuf(format=tarfile.PAX_FORMAT)


def write_layer(blobs_dir, index, mib, seed):
    """Streams one layer into blobs/; returns (descriptor, diff_id)."""
    tmp = os.path.join(blobs_dir, "layer.tmp")
    blob = HashingFile(tmp)
    gz = GzipLevel0(blob)
    tar = TarStream(gz)
    size = mib * MIB
    tar.write(tar_header("data", tarfile.DIRTYPE, 0, 0o755))
    tar.write(tar_header("data/blob-%d.bin" % index, tarfile.REGTYPE, size, 0o644))
    rng = random.Random(seed)
    left = size
    while left > 0:
        n = min(SLICE, left)
        tar.write(rng.randbytes(n))
        left -= n
    tar.write(b"\0" * ((512 - size % 512) % 512))
    tar.write(b"\0" * 1024)  # end of archive
    gz.close()
    blob.close()
    digest = "sha256:" + blob.sha.hexdigest()
    os.replace(tmp, os.path.join(blobs_dir, digest[7:]))
    return {"mediaType": MT_LAYER, "digest": digest, "size": blob.size}, \
        "sha256:" + tar.sha.hexdigest()


def put(blobs_dir, data, media_type):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs_dir, digest[7:]), "wb") as f:
        f.write(data)
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    blobs_dir = os.path.join(args.out, "blobs", "sha256")
    os.makedirs(blobs_dir, exist_ok=True)
    with open(os.path.join(args.out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')

    refs = []
    env = {}
    for ref_name, prefix, count, mib, seed in IMAGES:
        layers, diff_ids = [], []
        for i in range(count):
            descriptor, diff_id = write_layer(blobs_dir, i, mib, seed + i)
            layers.append(descriptor)
            diff_ids.append(diff_id)
        config = {
            "architecture": "amd64",
            "os": "linux",
            "created": CREATED,
            "config": {"Env": ["PATH=/bin"], "Labels": {"org.pullfleet.bench": ref_name}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": CREATED, "created_by": "pullfleet bench/make_images.py"}
                        for _ in layers],
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": put(blobs_dir, canonical(config), MT_CONFIG),
            "layers": layers,
        }
        descriptor = put(blobs_dir, canonical(manifest), MT_MANIFEST)
        env[prefix + "_CONFIG"] = manifest["config"]["digest"]
        entry = dict(descriptor)
        entry["annotations"] = {"org.opencontainers.image.ref.name": ref_name}
        refs.append(entry)
        env[prefix + "_DIGEST"] = descriptor["digest"]
        env[prefix + "_LAYERS"] = " ".join(l["digest"] for l in layers)
        env[prefix + "_SIZE"] = str(sum(l["size"] for l in layers))

    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": refs}, f, indent=2, sort_keys=True)
    with open(os.path.join(args.out, "digests.env"), "w") as f:
        for name, value in env.items():
            f.write('%s="%s"\n' % (name, value))


if __name__ == "__main__":
    main()
