"""Builds the release: for arm64 and x86_64, a zip whose one entry is `bootstrap`, byte for byte the
same on any machine with the recorded toolchain; their checksums; and `dist/template.yaml`.

  python tools/release.py [--out dist]      build into dist/
  python tools/release.py --verify          build twice, in two folders with two CARGO_HOMEs, and
                                            fail unless every zip is identical (and the recorded
                                            tool versions are the ones this machine has)

What makes two builds the same:
- the toolchain is recorded (`release.json`: `rustc -vV`, cargo-lambda's and zig's versions), not
  pinned: rustup cannot fetch a toolchain where we build, so a `rust-toolchain.toml` would fail
  every cargo command. `--verify` refuses to compare against a manifest of other versions;
- `--locked`: the dependencies are exactly Cargo.lock's;
- paths remapped: the checkout, `$CARGO_HOME` and the target folder become `/build`, `/cargo` and
  `/target` in panic locations and debug strings, for Rust (`--remap-path-prefix`) and for the C
  code aws-lc compiles (`-ffile-prefix-map`);
- our own zip writer: one entry, mode 0755, a fixed timestamp (cargo-lambda's zip copies the
  binary's mtime, so every fresh build would differ), deflate at level 9.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY = "cognito-set-password"
ARCHES = {"arm64": "aarch64-unknown-linux-gnu", "x86_64": "x86_64-unknown-linux-gnu"}
# The zip's one timestamp: the earliest a zip can hold.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# Where each local path is remapped to inside the binaries.
REMAPPED = {"checkout": "/build", "cargo_home": "/cargo", "target": "/target"}


def version():
    return tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]


def zip_name(arch):
    return f"{BINARY}-{version()}-{arch}.zip"


def tool_versions():
    """What built the release: recorded, compared by --verify."""
    def run(*cmd):
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    bin_dir = Path(sys.executable).parent
    return {
        "rustc -vV": run("rustc", "-vV"),
        "cargo": run("cargo", "--version"),
        "cargo-lambda": run(str(bin_dir / "cargo-lambda"), "lambda", "--version"),
        "zig": run(str(bin_dir / "python"), "-m", "ziglang", "version"),
    }


def build(checkout, cargo_home, target_dir):
    """Both bootstraps, built from `checkout` with `cargo_home` and `target_dir`: {arch: bytes}."""
    paths = {"checkout": checkout, "cargo_home": cargo_home, "target": target_dir}
    rust_maps = [f"--remap-path-prefix={Path(p).resolve()}={REMAPPED[k]}" for k, p in paths.items()]
    c_maps = " ".join(f"-ffile-prefix-map={Path(p).resolve()}={REMAPPED[k]}" for k, p in paths.items())
    env = {**os.environ, "CARGO_HOME": str(cargo_home), "RUSTFLAGS": " ".join(rust_maps),
           "CFLAGS": c_maps, "CXXFLAGS": c_maps,
           # cargo-lambda finds zig through the venv it came with.
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("CARGO_ENCODED_RUSTFLAGS", None)
    bootstraps = {}
    for arch, triple in ARCHES.items():
        lambda_dir = Path(target_dir) / f"lambda-{arch}"
        subprocess.run(
            [str(Path(sys.executable).parent / "cargo-lambda"), "lambda", "build", "--release", "--locked",
             "--quiet", "--compiler", "cargo-zigbuild", "--target", triple, "--lambda-dir", str(lambda_dir)],
            # CARGO_TARGET_DIR, not --target-dir: cargo-lambda passes that flag on to
            # `cargo metadata`, which refuses it.
            cwd=checkout, env={**env, "CARGO_TARGET_DIR": str(target_dir)}, check=True)
        bootstraps[arch] = (lambda_dir / BINARY / "bootstrap").read_bytes()
    return bootstraps


def zipped(bootstrap):
    """A zip with one entry, `bootstrap`, mode 0755, at ZIP_TIME: the same bytes for the same binary."""
    path = Path(tempfile.mkstemp(suffix=".zip")[1])
    try:
        with zipfile.ZipFile(path, "w") as archive:
            entry = zipfile.ZipInfo("bootstrap", date_time=ZIP_TIME)
            entry.create_system = 3  # Unix, so that the mode below is honoured
            entry.external_attr = 0o100755 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, bootstrap, compresslevel=9)
        return path.read_bytes()
    finally:
        path.unlink()


def dist_template():
    """template.yaml as the release ships it: the code is the arm64 zip beside it, no build metadata."""
    text = (ROOT / "template.yaml").read_text()
    build_metadata = re.compile(r"\n    Metadata:\n      BuildMethod: rust-cargolambda\n      BuildProperties:\n"
                                r"        Binary: cognito-set-password\n")
    text, found = build_metadata.subn("\n", text)
    if found != 1:
        sys.exit("template.yaml: the function's build Metadata (BuildMethod: rust-cargolambda) was not found once")
    text, found = re.subn(r"\n      CodeUri: \.\n", f"\n      CodeUri: {zip_name('arm64')}\n", text)
    if found != 1:
        sys.exit("template.yaml: `CodeUri: .` was not found once")
    return text


def write(out, bootstraps, tools):
    out.mkdir(parents=True, exist_ok=True)
    sums, code_sha256 = [], []
    files = {}
    for arch, bootstrap in bootstraps.items():
        data = zipped(bootstrap)
        name = zip_name(arch)
        (out / name).write_bytes(data)
        digest = hashlib.sha256(data)
        sums.append(f"{digest.hexdigest()}  {name}")
        code_sha256.append(f"{base64.b64encode(digest.digest()).decode()}  {name}")
        files[name] = {"sha256": digest.hexdigest(), "CodeSha256": base64.b64encode(digest.digest()).decode(),
                       "bytes": len(data), "bootstrap_bytes": len(bootstrap)}
    (out / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    (out / "CODESHA256").write_text("\n".join(code_sha256) + "\n")
    (out / "template.yaml").write_text(dist_template())
    shutil.copy(ROOT / "README-SAR.md", out / "README-SAR.md")
    shutil.copy(ROOT / "LICENSE", out / "LICENSE")
    manifest = {"version": version(), "tools": tools, "files": files,
                "remapped": REMAPPED, "zip_time": "1980-01-01T00:00:00"}
    (out / "release.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return files


def default_cargo_home():
    return Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")


def verify(out):
    """Two builds in two folders with two CARGO_HOMEs; every zip must be identical."""
    tools = tool_versions()
    recorded = out / "release.json"
    if recorded.exists():
        earlier = json.loads(recorded.read_text())["tools"]
        differ = [name for name in tools if earlier.get(name) != tools[name]]
        if differ:
            sys.exit(f"{recorded} was built with other tools ({', '.join(differ)}): "
                     "a byte-for-byte comparison needs the same ones; this machine has:\n"
                     + json.dumps(tools, indent=2))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="release-verify-") as scratch:
        scratch = Path(scratch)
        results = {}
        for run in ("a", "b"):
            checkout = scratch / f"checkout-{run}" / "cognito-set-password"
            # The working tree as it is, uncommitted changes included, without what builds make.
            shutil.copytree(ROOT, checkout, ignore=shutil.ignore_patterns(
                ".git", "target", ".venv*", "dist", "node_modules", ".tools", ".aws-sam", "__pycache__"))
            cargo_home = scratch / f"cargo-home-{run}"
            # A second CARGO_HOME with the same downloaded crates (the registry's cache), so that
            # the check needs no network: cargo unpacks them again under the new path.
            (cargo_home / "registry").mkdir(parents=True)
            for part in ("cache", "index"):
                source = default_cargo_home() / "registry" / part
                if source.exists():
                    shutil.copytree(source, cargo_home / "registry" / part, symlinks=True)
            print(f"== build {run}: {checkout}, CARGO_HOME={cargo_home}", flush=True)
            bootstraps = build(checkout, cargo_home, checkout / "target")
            results[run] = {arch: hashlib.sha256(zipped(b)).hexdigest() for arch, b in bootstraps.items()}
        elapsed = time.monotonic() - started
    for arch in ARCHES:
        same = results["a"][arch] == results["b"][arch]
        print(f"{'same' if same else 'DIFFERENT'} {zip_name(arch)}: {results['a'][arch]} / {results['b'][arch]}")
    if recorded.exists():
        files = json.loads(recorded.read_text())["files"]
        for arch in ARCHES:
            want = files.get(zip_name(arch), {}).get("sha256")
            print(f"{'same' if want == results['a'][arch] else 'DIFFERENT'} as {recorded.name}: {zip_name(arch)}")
            if want != results["a"][arch]:
                results["a"][arch] = "mismatch"
    print(f"two builds took {elapsed / 60:.1f} minutes")
    if any(results["a"][arch] != results["b"][arch] for arch in ARCHES):
        sys.exit("the builds differ: the release is not reproducible")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--verify", action="store_true", help="build twice elsewhere and compare")
    args = parser.parse_args()
    if args.verify:
        verify(args.out)
        return
    started = time.monotonic()
    files = write(args.out, build(ROOT, default_cargo_home(), ROOT / "target"), tool_versions())
    for name, facts in files.items():
        print(f"{args.out / name}: {facts['bytes']:,} bytes, sha256 {facts['sha256']}, CodeSha256 {facts['CodeSha256']}")
    print(f"built in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
