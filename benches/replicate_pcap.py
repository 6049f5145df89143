#!/usr/bin/env python3
"""Writes a large full-payload input for `labelbench bench ingest` by repeating one pcap.

usage: replicate_pcap.py SRC.pcap OUT_DIR FILES COPIES

Each of FILES output pcaps holds COPIES back-to-back copies of SRC's records, every copy shifted
in time by SRC's span, so the whole set is one time-ordered capture (microsecond, little-endian
pcap only). The README's full-payload row uses the Mon(IoT)r camera capture:
  benches/replicate_pcap.py ../shared/real/moniotr/yi_camera_sample.pcap /tmp/full/pcaps 60 40
"""
import os
import struct
import sys


def main():
    src_path, out_dir, files, copies = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    src = open(src_path, "rb").read()
    header = src[:24]
    if struct.unpack("<I", header[:4])[0] != 0xA1B2C3D4:
        sys.exit(f"{src_path}: only little-endian microsecond pcap is supported")
    records, off = [], 24
    while off + 16 <= len(src):
        sec, usec, caplen, origlen = struct.unpack("<IIII", src[off:off + 16])
        records.append((sec, usec, src[off + 16:off + 16 + caplen], origlen))
        off += 16 + caplen
    span = records[-1][0] - records[0][0] + 1
    os.makedirs(out_dir, exist_ok=True)
    k = 0
    for f in range(files):
        out = bytearray(header)
        for _ in range(copies):
            shift = k * span
            k += 1
            for sec, usec, data, origlen in records:
                out += struct.pack("<IIII", sec + shift, usec, len(data), origlen)
                out += data
        with open(os.path.join(out_dir, f"f{f:03d}.pcap"), "wb") as fh:
            fh.write(out)
    print(f"{files} files, {files * copies * len(records)} packets")


if __name__ == "__main__":
    main()
