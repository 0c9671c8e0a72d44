"""The wheel builder of the ttc Python package (PEP 517 backend, in-tree,
standard library only): `pip wheel python/` or `pip install python/`
builds with no download. It also runs as a script:

    python3 python/build_backend/ttc_build.py [--library libttc.so] [--plat TAG] [--out DIR]

The wheel holds python/ttc/ and a libttc.so:
- the one named by --library, the config setting `library`
  (`pip wheel --config-settings library=PATH`) or TTC_WHEEL_LIBRARY;
- else one built here with `cargo build --release -p ttc-ffi` (for the
  target in TTC_WHEEL_TARGET, if set).

Its tag is py3-none-PLATFORM: one wheel for every Python 3.7+ (the module
is ctypes, no extension), for the library's machine and C library. The
platform is read from the library itself: the ELF machine, and the
highest GLIBC_x.y symbol version it needs (manylinux_x_y_ARCH, at least
2.17), or musllinux_1_2_ARCH for a musl build. --plat overrides it.
"""

import base64
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parent.parent
ROOT = PYTHON_DIR.parent
NAME = "ttc"
SUMMARY = ("Threaded TCP client after Kamaelia's ThreadedTCPClient: reconnect, "
           "TLS, proxies, every byte accounted for")
# ELF e_machine to the wheel's architecture name.
MACHINES = {62: "x86_64", 40: "armv7l", 183: "aarch64", 3: "i686"}


def version():
    """The library's version, from ffi/Cargo.toml (the wheel's is the
    same)."""
    text = (ROOT / "ffi" / "Cargo.toml").read_text()
    m = re.search(r'^version = "([^"]+)"', text, re.M)
    if not m:
        raise RuntimeError("no version in ffi/Cargo.toml")
    return m.group(1)


def platform_tag(library):
    """manylinux_X_Y_ARCH (X.Y: the highest GLIBC symbol version the
    library needs, at least 2.17) or musllinux_1_2_ARCH."""
    data = Path(library).read_bytes()
    if data[:4] != b"\x7fELF":
        raise RuntimeError("%s is not an ELF file" % library)
    little = data[5] == 1
    machine = int.from_bytes(data[18:20], "little" if little else "big")
    arch = MACHINES.get(machine)
    if arch is None:
        raise RuntimeError("%s: ELF machine %d has no wheel name here" % (library, machine))
    versions = {(int(a), int(b)) for a, b in re.findall(rb"GLIBC_(\d+)\.(\d+)", data)}
    if versions:
        major, minor = max(versions | {(2, 17)})
        return "manylinux_%d_%d_%s" % (major, minor, arch)
    if b"libc.musl" in data or b"ld-musl" in data:
        return "musllinux_1_2_%s" % arch
    raise RuntimeError("%s: neither glibc nor musl symbols: which C library?" % library)


def cargo_build():
    """Builds libttc.so (release) and returns its path."""
    target = os.environ.get("TTC_WHEEL_TARGET")
    cmd = ["cargo", "build", "--release", "--locked", "-p", "ttc-ffi"]
    if target:
        cmd += ["--target", target]
    print("ttc_build: " + " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, cwd=str(ROOT), check=True)
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    if not target_dir.is_absolute():
        target_dir = ROOT / target_dir
    return str(target_dir / (target or "") / "release" / "libttc.so")


def metadata(ver):
    readme = (PYTHON_DIR / "README.md").read_text()
    head = [
        "Metadata-Version: 2.1",
        "Name: " + NAME,
        "Version: " + ver,
        "Summary: " + SUMMARY,
        "License: MIT OR Apache-2.0",
        "Requires-Python: >=3.7",
        "Classifier: Operating System :: POSIX :: Linux",
        "Classifier: Programming Language :: Python :: 3",
        "Classifier: Topic :: System :: Networking",
        "Description-Content-Type: text/markdown",
    ]
    return "\n".join(head) + "\n\n" + readme


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (arcname, digest, len(data))


def build(wheel_directory, library=None, plat=None):
    """Writes the wheel into wheel_directory; returns its file name."""
    library = library or os.environ.get("TTC_WHEEL_LIBRARY") or cargo_build()
    plat = plat or os.environ.get("TTC_WHEEL_PLAT") or platform_tag(library)
    ver = version()
    dist_info = "%s-%s.dist-info" % (NAME, ver)
    tag = "py3-none-" + plat
    files = []
    for src in sorted((PYTHON_DIR / NAME).iterdir()):
        if src.is_file() and src.suffix in (".py", ".typed"):
            files.append(("%s/%s" % (NAME, src.name), src.read_bytes(), 0o644))
    files.append(("%s/libttc.so" % NAME, Path(library).read_bytes(), 0o755))
    wheel_meta = ("Wheel-Version: 1.0\nGenerator: ttc_build\nRoot-Is-Purelib: false\n"
                  "Tag: %s\n" % tag)
    licenses = [p for p in ("LICENSE-MIT", "LICENSE-APACHE") if (ROOT / p).is_file()]
    for p in licenses:
        files.append(("%s/licenses/%s" % (dist_info, p), (ROOT / p).read_bytes(), 0o644))
    files.append(("%s/METADATA" % dist_info, metadata(ver).encode(), 0o644))
    files.append(("%s/WHEEL" % dist_info, wheel_meta.encode(), 0o644))
    files.append(("%s/top_level.txt" % dist_info, (NAME + "\n").encode(), 0o644))
    name = "%s-%s-%s.whl" % (NAME, ver, tag)
    out = Path(wheel_directory) / name
    out.parent.mkdir(parents=True, exist_ok=True)
    record = [_record_line(a, d) for a, d, _ in files] + ["%s/RECORD,," % dist_info]
    files.append(("%s/RECORD" % dist_info, ("\n".join(record) + "\n").encode(), 0o644))
    with zipfile.ZipFile(str(out), "w", zipfile.ZIP_DEFLATED) as z:
        for arcname, data, mode in files:
            # A fixed date: the same inputs make the same wheel.
            info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return name


# PEP 517 hooks.

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    cs = config_settings or {}
    return build(wheel_directory, cs.get("library"), cs.get("plat"))


def build_sdist(sdist_directory, config_settings=None):
    raise RuntimeError("ttc has no source distribution: build a wheel "
                       "(pip wheel python/), which builds libttc.so with cargo")


def get_requires_for_build_wheel(config_settings=None):
    return []


def main(argv):
    import argparse
    p = argparse.ArgumentParser(description="Build the ttc wheel.")
    p.add_argument("--library", help="libttc.so to bundle (default: cargo build --release)")
    p.add_argument("--plat", help="platform tag (default: read from the library)")
    p.add_argument("--out", default=str(ROOT / "target" / "wheels"), help="output directory")
    a = p.parse_args(argv)
    name = build(a.out, a.library, a.plat)
    print(str(Path(a.out) / name))


if __name__ == "__main__":
    main(sys.argv[1:])
