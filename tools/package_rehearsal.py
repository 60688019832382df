"""The packaging rehearsal: `sam package` of dist/template.yaml against moto's S3 on 127.0.0.1,
as a publisher runs it before `sam publish` (which needs AWS itself).

Checks that the packaged template names `s3://` locations for the code, LicenseUrl and ReadmeUrl,
and that what was uploaded is the release's arm64 zip byte for byte, and the LICENSE and
README-SAR.md of dist/. Prints one line per check and a closing 'N passed, N failed' line.

  python tools/package_rehearsal.py [--dist dist]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "release-rehearsal"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def s3_location(uri):
    """(bucket, key) of `s3://bucket/key` or `https://s3.../bucket/key`; None for anything else."""
    if isinstance(uri, str) and uri.startswith("s3://"):
        bucket, _, key = uri[5:].partition("/")
        return bucket, key
    if isinstance(uri, str) and uri.startswith("https://"):
        parts = uri.split("/", 4)
        return (parts[3], parts[4]) if len(parts) == 5 else None
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    args = parser.parse_args()
    dist = args.dist.resolve()
    release = json.loads((dist / "release.json").read_text())
    arm64 = next(name for name in release["files"] if name.endswith("-arm64.zip"))

    port = free_port()
    log = open(tempfile.mkstemp(prefix="moto-rehearsal-", suffix=".log")[1], "w")
    moto = subprocess.Popen([str(ROOT / ".venv/bin/python"), str(ROOT / "tools/moto_server.py"), "-H", "127.0.0.1",
                             "-p", str(port)], stdout=log, stderr=log)
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AWS_ENDPOINT_URL_S3": endpoint, "AWS_ACCESS_KEY_ID": "rehearsal",
           "AWS_SECRET_ACCESS_KEY": "rehearsal", "AWS_DEFAULT_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0"}
    env.pop("AWS_PROFILE", None)
    results = []

    def check(name, ok, detail=""):
        results.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}")

    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal")
        s3.create_bucket(Bucket=BUCKET)
        packaged = Path(tempfile.mkdtemp(prefix="packaged-")) / "packaged.yaml"
        run = subprocess.run(["sam", "package", "--template-file", str(dist / "template.yaml"), "--s3-bucket", BUCKET,
                              "--output-template-file", str(packaged), "--region", "us-east-1"],
                             env=env, cwd=dist, capture_output=True, text=True)
        check("sam package succeeds against moto's S3", run.returncode == 0, run.stdout + run.stderr)
        if run.returncode != 0:
            return 1
        template, matches = decode_str(packaged.read_text())
        check("the packaged template parses", not matches, str(matches))
        meta = template["Metadata"]["AWS::ServerlessRepo::Application"]
        code = template["Resources"]["SetPasswordFunction"]["Properties"]["CodeUri"]
        expected = {"CodeUri": (code, dist / arm64), "LicenseUrl": (meta["LicenseUrl"], dist / "LICENSE"),
                    "ReadmeUrl": (meta["ReadmeUrl"], dist / "README-SAR.md")}
        for field, (uri, local) in expected.items():
            where = s3_location(uri)
            check(f"{field} became an S3 location in {BUCKET}", where is not None and where[0] == BUCKET, str(uri))
            if where:
                body = s3.get_object(Bucket=where[0], Key=where[1])["Body"].read()
                check(f"the {field} object is {local.name}, byte for byte", body == local.read_bytes(),
                      f"{len(body)} bytes against {local.stat().st_size}")
    finally:
        moto.terminate()
        moto.wait()
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
