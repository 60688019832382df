"""Builds the release: for arm64 and x86_64, a zip whose one entry is `bootstrap`, byte for byte the
same on any machine with the recorded toolchain; their checksums; and `dist/template.yaml`.

  python tools/release.py [--out dist]      build into dist/
  python tools/release.py --verify          build twice, in two folders with two CARGO_HOMEs, and
                                            fail unless every zip is identical (and the recorded
                                            tool versions are the ones this machine has)

What makes two builds the same:
- the toolchain is recorded (`release.json`: `rustc -vV`, cargo-lambda's, zig's, Python's and
  zlib's versions, and the sources: commit, uncommitted changes, Cargo.lock's digest), not
  pinned: rustup cannot fetch a toolchain where we build, so a `rust-toolchain.toml` would fail
  every cargo command. `--verify` refuses to compare against a manifest of other versions;
- the build sees only PATH, HOME, RUSTUP_HOME, RUSTUP_TOOLCHAIN, TMPDIR and LANG of the caller's
  environment, plus what is set here: the flags are ours alone (RUSTFLAGS replaces
  cargo-lambda's own `build.rustflags`, so its target CPUs are given again: neoverse-n1, haswell);
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
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY = "cognito-set-password"
ARCHES = {"arm64": "aarch64-unknown-linux-gnu", "x86_64": "x86_64-unknown-linux-gnu"}
# The CPUs cargo-lambda tunes for (its own `build.rustflags`, which RUSTFLAGS replaces rather than
# joins, so they are given here again): Lambda's Graviton2 and later, and Haswell and later.
TARGET_CPU = {"arm64": "neoverse-n1", "x86_64": "haswell"}
# All a build sees of the caller's environment: nothing else (CARGO_PROFILE_*, RUSTC_WRAPPER,
# CFLAGS_<target>, AWS_LC_SYS_*, ...) may change the binary.
PASSED_ON = ("PATH", "HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "TMPDIR", "LANG")
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
        "python": sys.version.split()[0],
        # The zip's deflate stream is zlib's: another zlib (zlib-ng, say) gives other bytes.
        "zlib": zlib.ZLIB_RUNTIME_VERSION,
        "rustc -vV": run("rustc", "-vV"),
        "cargo": run("cargo", "--version"),
        "cargo-lambda": run(str(bin_dir / "cargo-lambda"), "lambda", "--version"),
        "zig": run(str(bin_dir / "python"), "-m", "ziglang", "version"),
    }


def rustflags(arch, paths):
    """The Rust flags of one target: its CPU, and every local path remapped."""
    maps = [f"--remap-path-prefix={path}={REMAPPED[kind]}" for kind, path in paths.items()]
    return " ".join([f"-Ctarget-cpu={TARGET_CPU[arch]}", *maps])


def build(checkout, cargo_home, target_dir, extra_env=None):
    """Both bootstraps, built from `checkout` with `cargo_home` and `target_dir`: {arch: bytes}."""
    paths = {"checkout": Path(checkout).resolve(), "cargo_home": Path(cargo_home).resolve(),
             "target": Path(target_dir).resolve()}
    c_maps = " ".join(f"-ffile-prefix-map={path}={REMAPPED[kind]}" for kind, path in paths.items())
    env = {name: os.environ[name] for name in PASSED_ON if name in os.environ}
    env.update({"CARGO_HOME": str(paths["cargo_home"]), "CARGO_TARGET_DIR": str(paths["target"]),
                "CFLAGS": c_maps, "CXXFLAGS": c_maps,
                # cargo-lambda finds zig through the venv it came with.
                "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    env.update(extra_env or {})
    bootstraps = {}
    for arch, triple in ARCHES.items():
        lambda_dir = Path(target_dir) / f"lambda-{arch}"
        subprocess.run(
            [str(Path(sys.executable).parent / "cargo-lambda"), "lambda", "build", "--release", "--locked",
             "--quiet", "--compiler", "cargo-zigbuild", "--target", triple, "--lambda-dir", str(lambda_dir)],
            # CARGO_TARGET_DIR (above), not --target-dir: cargo-lambda passes that flag on to
            # `cargo metadata`, which refuses it.
            cwd=checkout, env={**env, "RUSTFLAGS": rustflags(arch, paths)}, check=True)
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


def source_identity():
    """Which sources a release was built from, so that a mismatch can be told from a non-reproducible build."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {"commit": git("rev-parse", "HEAD") or "?",
            "uncommitted changes": bool(git("status", "--porcelain", "--untracked-files=no")),
            "Cargo.lock sha256": hashlib.sha256((ROOT / "Cargo.lock").read_bytes()).hexdigest()}


def write(out, bootstraps, tools):
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob(f"{BINARY}-*.zip"):
        old.unlink()
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
                       "bytes": len(data), "bootstrap_bytes": len(bootstrap),
                       "bootstrap_sha256": hashlib.sha256(bootstrap).hexdigest(),
                       "target_cpu": TARGET_CPU[arch]}
    (out / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    (out / "CODESHA256").write_text("\n".join(code_sha256) + "\n")
    (out / "template.yaml").write_text(dist_template())
    shutil.copy(ROOT / "README-SAR.md", out / "README-SAR.md")
    shutil.copy(ROOT / "LICENSE", out / "LICENSE")
    manifest = {"version": version(), "source": source_identity(), "tools": tools, "files": files,
                "remapped": REMAPPED, "zip_time": "1980-01-01T00:00:00"}
    (out / "release.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return files


def default_cargo_home():
    return Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")


def verify(out):
    """Two builds in two folders with two CARGO_HOMEs (and their own zig caches and TMPDIRs); every
    zip must be identical, and identical to dist/'s when dist/ was built from the same sources."""
    tools = tool_versions()
    recorded = out / "release.json"
    manifest = json.loads(recorded.read_text()) if recorded.exists() else None
    if manifest:
        differ = [name for name in tools if manifest["tools"].get(name) != tools[name]]
        if differ:
            sys.exit(f"{recorded} was built with other tools ({', '.join(differ)}): a byte-for-byte comparison "
                     "needs the same ones (or delete dist/ to compare two fresh builds); this machine has:\n"
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
            own = scratch / f"own-{run}"
            for sub in ("tmp", "zig-global", "zig-local"):
                (own / sub).mkdir(parents=True)
            print(f"== build {run}: {checkout}, CARGO_HOME={cargo_home}", flush=True)
            bootstraps = build(checkout, cargo_home, checkout / "target",
                               {"TMPDIR": str(own / "tmp"), "ZIG_GLOBAL_CACHE_DIR": str(own / "zig-global"),
                                "ZIG_LOCAL_CACHE_DIR": str(own / "zig-local")})
            results[run] = {arch: hashlib.sha256(zipped(b)).hexdigest() for arch, b in bootstraps.items()}
        elapsed = time.monotonic() - started
    problems = []
    for arch in ARCHES:
        same = results["a"][arch] == results["b"][arch]
        print(f"{'same' if same else 'DIFFERENT'} {zip_name(arch)}, build a / build b: "
              f"{results['a'][arch]} / {results['b'][arch]}")
        if not same:
            problems.append(f"the two builds of {zip_name(arch)} differ: the release is not reproducible")
    if manifest is None:
        print(f"NOTE: no {recorded}: compared the two builds with each other only (run scripts/release first "
              "to compare with dist/ too)")
    elif manifest.get("source") != source_identity():
        print(f"NOTE: {out} was built from other sources ({manifest.get('source')}, now {source_identity()}): "
              "not compared; run scripts/release, then --verify, to compare with it")
    else:
        for arch in ARCHES:
            on_disk = out / zip_name(arch)
            digest = hashlib.sha256(on_disk.read_bytes()).hexdigest() if on_disk.exists() else "missing"
            same = digest == results["a"][arch]
            print(f"{'same' if same else 'DIFFERENT'} as {on_disk}: {digest}")
            if not same:
                problems.append(f"{on_disk} differs from a fresh build of the same sources")
    print(f"two builds took {elapsed / 60:.1f} minutes")
    if problems:
        sys.exit("; ".join(problems))


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
