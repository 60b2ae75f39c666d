"""Hostile run bundles: how long each crafted bundle takes to be refused, and the peak memory of the process that
refuses it (each case in a fresh process: ``ru_maxrss``, and how much above what importing the lab takes), next to
an honest bundle reopened for scale.

    python benchmarks/hostile_bundles.py

Each case starts from an honest Playground bundle (synthetic data, 2 epochs) and changes one thing, as issue 32's
list does. Prints one line per case: seconds, peak MiB, and the one-line message (or "reopened").
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

CHILD = r"""
import resource, sys, time
from pathlib import Path
from fusionlab import bundles
from fusionlab.experiments import playground
from fusionlab.commands._common import read_bundle_file
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the lab imported, nothing read yet
t = time.perf_counter()
try:
    bundles.reopen(playground.SAVING, read_bundle_file(sys.argv[1]))
    said = "reopened"
except Exception as exc:  # noqa: BLE001 - the benchmark reports whatever the reader said
    said = f"{type(exc).__name__}: {str(exc).splitlines()[0][:110]}"
s = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{s:7.2f} s  peak {peak:5.0f} MiB (+{peak - base:4.0f} over the lab's imports)  {said}")
"""


def honest() -> bytes:
    from dataclasses import replace

    from fusionlab import bundles
    from fusionlab.data import DataConfig, SyntheticConfig
    from fusionlab.experiments import playground
    cfg = replace(playground.DEFAULT, data=DataConfig("synthetic", SyntheticConfig(n_samples=240, dim=6)),
                  train=replace(playground.DEFAULT.train, epochs=2))
    return bundles.save(playground.SAVING, cfg, playground.run(cfg))


def members(blob: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        return {n: z.read(n) for n in z.namelist()}


def rezip(m: dict, method=zipfile.ZIP_DEFLATED, extra=()) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for n, v in list(m.items()) + list(extra):
            z.writestr(n, v)
    return out.getvalue()


def with_config(m: dict, change) -> bytes:
    meta = json.loads(m["config.json"])
    change(meta)
    return rezip({**m, "config.json": json.dumps(meta).encode()})


def understated(m: dict) -> bytes:
    """weights.safetensors replaced by 300 MB of zeros whose directory entries claim 1 MiB."""
    blob = bytearray(rezip({**m, "weights.safetensors": b"\0" * (300 * 2**20)}))
    with zipfile.ZipFile(io.BytesIO(bytes(blob))) as z:
        local = z.getinfo("weights.safetensors").header_offset
    claim = (2**20).to_bytes(4, "little")
    blob[local + 22:local + 26] = claim
    start = blob.index(b"PK\x01\x02")
    while blob[start + 46:start + 46 + len("weights.safetensors")] != b"weights.safetensors":
        start = blob.index(b"PK\x01\x02", start + 4)
    blob[start + 24:start + 28] = claim
    return bytes(blob)


def patched(m: dict, name: str, local_at: int, central_at: int, value: int, size: int = 2) -> bytes:
    """The honest bundle, stored, with one header field of member ``name`` set to ``value`` in both its local header
    (offset ``local_at``) and its central-directory entry (``central_at``): the general-purpose flags (an encrypted
    member) or the compression method."""
    blob = bytearray(rezip(m, zipfile.ZIP_STORED))
    with zipfile.ZipFile(io.BytesIO(bytes(blob))) as z:
        local = z.getinfo(name).header_offset
    raw = value.to_bytes(size, "little")
    blob[local + local_at:local + local_at + size] = raw
    start = blob.index(b"PK\x01\x02")
    while blob[start + 46:start + 46 + len(name)] != name.encode():
        start = blob.index(b"PK\x01\x02", start + 4)
    blob[start + central_at:start + central_at + size] = raw
    return bytes(blob)


def bad_crc(m: dict, name: str) -> bytes:
    """The honest bundle, stored, with one byte of member ``name``'s data changed (its CRC no longer matches)."""
    blob = bytearray(rezip(m, zipfile.ZIP_STORED))
    with zipfile.ZipFile(io.BytesIO(bytes(blob))) as z:
        info = z.getinfo(name)
    data_at = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    blob[data_at] ^= 0xFF
    return bytes(blob)


def main() -> int:
    m = members(honest())
    wide = ",".join(f"c{i}" for i in range(2_000_000)).encode() + b"\n"
    cases = {
        "honest bundle": rezip(m),
        "1,000,000 noise levels": with_config(m, lambda c: c["config"].update(levels=[0.5] * 1_000_000)),
        "2,000 noise levels": with_config(m, lambda c: c["config"].update(levels=[0.5] * 2_000)),
        "head_hidden 6,000,000": with_config(m, lambda c: c["config"]["model"].update(head_hidden=6_000_000)),
        "head_hidden 200,000,000": with_config(m, lambda c: c["config"]["model"].update(head_hidden=200_000_000)),
        "member size understated (300 MB)": understated(m),
        "table of 2,000,000 columns": rezip({**m, "tables/metrics.csv": wide}),
        "table of 30,000,000 rows": rezip({**m, "tables/metrics.csv": b"a\n" + b"1\n" * 30_000_000}),
        "duplicate config.json": rezip(m, extra=[("config.json", m["config.json"])]),
        "JSON nested 100,000 deep": rezip({**m, "config.json": b"[" * 100_000 + b"]" * 100_000}),
        "table of 100,000 columns (the page's)": rezip({**m, "tables/metrics.csv": wide[:wide.index(b",c100000")] + b"\n"}),
        "one cell of 200 MB": rezip({**m, "tables/metrics.csv": b"a\n" + b"x" * (200 * 2**20) + b"\n"}),
        "an encrypted member": patched(m, "config.json", 6, 8, 0x1),
        "compression method 9": patched(m, "config.json", 8, 10, 9),
        "a bad CRC": bad_crc(m, "config.json"),
    }
    with tempfile.TemporaryDirectory() as d:
        for name, blob in cases.items():
            path = Path(d) / "b.zip"
            path.write_bytes(blob)
            out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True)
            print(f"{name:34s} {out.stdout.strip() or out.stderr.strip().splitlines()[-1]}")
        path = Path(d) / "huge.zip"
        with open(path, "wb") as f:
            f.truncate(2 * 2**30)
        out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True)
        print(f"{'a 2 GiB file':34s} {out.stdout.strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
