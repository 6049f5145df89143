#!/usr/bin/env python3
"""Bounded torture run of labelbench's data safety, against the release binary.

Random SIGKILLs of `curate --accept-all`, of the journal writer and of `export --force` over an
old export; two writers at once; captures moved or cut while they are read; zero-filled tails.
It asserts that no acknowledged edit is lost, no input changes (SHA-256 before and after), no
folder outside the export target is touched, an export folder is always whole, and nothing
panics. Prints its counts as JSON; exits 1 on any violation.

    python3 tests/torture/torture.py --bin target/release/labelbench --rounds 40
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# Files labelbench writes beside a project (everything else there is an input).
OWN_SUFFIXES = (".edits.jsonl", ".edits.jsonl.lock", ".cache", ".model_report.json",
                ".model_comparison.csv")


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree(root, skip=()):
    """Relative path -> SHA-256 (folders -> ''), leaving out the names in `skip`."""
    out = {}
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if os.path.join(d, x) not in skip]
        for x in dirs:
            out[os.path.relpath(os.path.join(d, x), root)] = ""
        for x in files:
            p = os.path.join(d, x)
            if p not in skip:
                out[os.path.relpath(p, root)] = sha(p)
    return out


def inputs(project_dir):
    return {k: v for k, v in tree(project_dir).items() if not k.endswith(OWN_SUFFIXES)}


def inside_a_record(capture):
    """A byte offset 5 bytes into the middle record of a legacy pcap (little-endian)."""
    data = open(capture, "rb").read()
    starts, at = [], 24
    while at + 16 <= len(data):
        starts.append(at)
        at += 16 + int.from_bytes(data[at + 8:at + 12], "little")
    return starts[len(starts) // 2] + 5


class Run:
    def __init__(self, binary, work, rng):
        self.bin, self.work, self.rng = binary, work, rng
        self.counts = {"runs": 0, "kills": 0, "acked_edits": 0, "acked_lost": 0,
                       "exports_checked": 0, "refused_writers": 0, "reads_disturbed": 0,
                       "short_reads_unreported": 0, "zero_tails": 0, "panics": 0}
        self.failures = []

    def fail(self, what):
        self.failures.append(what)
        print("FAIL:", what, file=sys.stderr)

    def start(self, *args, stdout=subprocess.PIPE):
        self.counts["runs"] += 1
        return subprocess.Popen([self.bin, *map(str, args)], stdout=stdout,
                                stderr=subprocess.PIPE, text=True)

    def finish(self, p, what):
        out, err = p.communicate()
        if "panicked" in err:
            self.counts["panics"] += 1
            self.fail(f"{what}: panic: {err.strip()[:300]}")
        return p.returncode, out, err

    def run(self, *args):
        return self.finish(self.start(*args), " ".join(map(str, args[:2])))

    def duration(self, *args):
        """How long one undisturbed run takes: kills are drawn inside that span."""
        t0 = time.monotonic()
        self.run(*args)
        return max(time.monotonic() - t0, 0.05)

    def kill_after(self, p, seconds):
        time.sleep(seconds)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            self.counts["kills"] += 1
        return p

    # -- the journal ---------------------------------------------------------------------
    def journal(self, project):
        path = project[: -len(".json")] + ".edits.jsonl"
        entries = {}
        if os.path.exists(path):
            with open(path, "rb") as f:
                for line in f.read().split(b"\n"):
                    try:
                        e = json.loads(line)
                    except ValueError:
                        continue
                    if e.get("seq") in entries:
                        self.fail(f"journal sequence number {e['seq']} written twice")
                    entries[e.get("seq")] = e
        return entries

    def stress_kills(self, project, rounds):
        """Kills the journal writer at random; every acknowledged edit must be in the journal."""
        span = self.duration("journal-stress", project, "--edits", 300)
        for _ in range(rounds):
            p = self.start("journal-stress", project, "--edits", 300)
            self.kill_after(p, self.rng.uniform(0.1, 0.95) * span)
            _, out, _ = self.finish(p, "journal-stress")
            acked = [line.split() for line in out.splitlines() if line.startswith("ack ")]
            entries = self.journal(project)
            for _, seq, eid, to in acked:
                self.counts["acked_edits"] += 1
                e = entries.get(int(seq))
                if not e or e["edit"].get("to") != int(to) or e["edit"].get("id") != int(eid):
                    self.counts["acked_lost"] += 1
                    self.fail(f"acknowledged edit {seq} lost")

    def curate_kills(self, project, rounds):
        span = self.duration("curate", project, "--accept-all")
        for _ in range(rounds):
            p = self.start("curate", project, "--accept-all")
            self.kill_after(p, self.rng.uniform(0.1, 0.95) * span)
            self.finish(p, "curate")
        code, _, err = self.run("inspect", project)
        if code != 0:
            self.fail(f"project does not open after curate kills: {err.strip()}")

    def two_writers(self, project, rounds):
        for i in range(rounds):
            # Two journal writers always write; two curates write when there is work left.
            args = ("journal-stress", project, "--edits", 200) if i % 2 == 0 else \
                ("curate", project, "--accept-all")
            a = self.start(*args)
            b = self.start(*args)
            for p in (a, b):
                code, _, err = self.finish(p, "curate")
                if code != 0:
                    if "project is open in" in err or "changed since" in err:
                        self.counts["refused_writers"] += 1
                    else:
                        self.fail(f"second writer failed oddly: {err.strip()}")
            self.journal(project)

    # -- exports -------------------------------------------------------------------------
    def check_export(self, out):
        """An export folder is absent or whole: its manifest's slices and tables all there."""
        if not os.path.exists(out):
            return
        man = os.path.join(out, "manifest.json")
        if not os.path.exists(man):
            self.fail(f"{out} exists without a manifest")
            return
        m = json.load(open(man))
        for f in m.get("rows", {}):
            if not os.path.exists(os.path.join(out, f)):
                self.fail(f"{out}: {f} listed in the manifest is missing")
        have = len(os.listdir(os.path.join(out, "slices"))) if m.get("pcap_slices") else 0
        if have != m.get("pcap_slices", 0):
            self.fail(f"{out}: manifest says {m['pcap_slices']} slices, {have} on disk")
        self.counts["exports_checked"] += 1

    def export_kills(self, project, rounds):
        out = os.path.join(self.work, "export")
        code, _, err = self.run("export", project, "--out", out, "--pcap-slices", "--force")
        if code != 0:
            self.fail(f"export failed: {err.strip()}")
        span = self.duration("export", project, "--out", out, "--pcap-slices", "--force")
        for _ in range(rounds):
            p = self.start("export", project, "--out", out, "--pcap-slices", "--force")
            self.kill_after(p, self.rng.uniform(0.05, 0.95) * span)
            self.finish(p, "export")
            self.check_export(out)
        code, _, err = self.run("export", project, "--out", out, "--pcap-slices", "--force")
        if code != 0:
            self.fail(f"export after kills failed: {err.strip()}")
        self.check_export(out)
        left = [x for x in os.listdir(self.work) if x.startswith(".export.")]
        if left:
            self.fail(f"leftovers of killed exports not cleaned: {left}")

    # -- captures ------------------------------------------------------------------------
    def disturbed_reads(self, capture, rounds):
        """Moves or cuts a capture while it is read: a full count, or an issue saying why."""
        d = os.path.join(self.work, "moving")
        os.makedirs(d, exist_ok=True)
        src = os.path.join(d, "cap.pcap")
        project = os.path.join(d, "m.labelbench.json")
        shutil.copy(capture, src)
        code, _, err = self.run("new", project, "--capture", src, "--force")
        if code != 0:
            self.fail(f"new failed: {err.strip()}")
            return
        _, out, _ = self.run("inspect", project, "--json", "--no-cache")
        full = json.loads(out)["packets"]
        # A cut inside a record, so that a read of the cut file (before or during the cut)
        # always has something to report: a cut on a record boundary is a shorter, whole file.
        mid_record = inside_a_record(capture)
        for i in range(rounds):
            shutil.copy(capture, src)
            p = self.start("inspect", project, "--json")
            time.sleep(self.rng.uniform(0.0, 0.3))
            cut = i % 2 == 1
            if cut:
                with open(src, "r+b") as f:
                    f.truncate(mid_record)
            else:
                os.rename(src, src + ".moved")
            self.counts["reads_disturbed"] += 1
            code, out, err = self.finish(p, "inspect")
            if code == 0:
                r = json.loads(out)
                told = any(i.get("fatal") for i in r["capture_issues"])
                if r["packets"] != full and not told:
                    self.counts["short_reads_unreported"] += 1
                    self.fail(f"disturbed read: {r['packets']} of {full} packets, no issue")
            if not cut:
                os.rename(src + ".moved", src)
            else:
                shutil.copy(capture, src)
            # Whatever happened, the next read (cache or not) is whole.
            _, out, _ = self.run("inspect", project, "--json")
            if json.loads(out)["packets"] != full:
                self.fail("the cache kept a short read")

    def zero_tail(self, capture):
        d = os.path.join(self.work, "zeros")
        os.makedirs(d, exist_ok=True)
        z = os.path.join(d, "z.pcap")
        shutil.copy(capture, z)
        with open(z, "ab") as f:
            f.truncate(os.path.getsize(z) + (8 << 20))
        project = os.path.join(d, "z.labelbench.json")
        self.run("new", project, "--capture", z, "--force")
        _, out, _ = self.run("inspect", project, "--json", "--no-cache")
        r = json.loads(out)
        self.counts["zero_tails"] += 1
        shutil.copy(capture, z)
        _, out2, _ = self.run("inspect", project, "--json", "--no-cache")
        if r["packets"] != json.loads(out2)["packets"]:
            self.fail(f"zero tail read as {r['packets']} packets")
        if "zero-filled" not in out:
            self.fail("zero tail not warned about")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    work = a.work or tempfile.mkdtemp(prefix="labelbench-torture-")
    r = Run(os.path.abspath(a.bin), work, rng)
    lab = os.path.join(work, "lab")
    code, _, err = r.run("demo-data", "--out", lab, "--devices", "6", "--days", "1",
                         "--scale", "60000", "--force")
    if code != 0:
        sys.exit(f"demo-data failed: {err}")
    project = os.path.join(lab, "sample.labelbench.json")
    before = inputs(lab)
    outside = tree(work, skip={os.path.join(work, "export"), lab})
    n = max(a.rounds, 1)
    r.stress_kills(project, n)
    r.curate_kills(project, max(n // 2, 1))
    r.two_writers(project, max(n // 4, 1))
    r.export_kills(project, n)
    if inputs(lab) != before:
        r.fail("an input of the project changed")
    now = tree(work, skip={os.path.join(work, "export"), lab})
    if now != outside:
        r.fail("a folder outside the export target changed")
    first = sorted(os.listdir(os.path.join(lab, "pcaps")))[0]
    r.disturbed_reads(os.path.join(lab, "pcaps", first), max(n // 2, 2))
    r.zero_tail(os.path.join(lab, "pcaps", first))
    print(json.dumps({"seed": a.seed, "rounds": n, **r.counts,
                      "failures": len(r.failures)}, indent=1))
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if r.failures else 0)


if __name__ == "__main__":
    main()
