"""Cold start, warm latency, memory and size of cognito-set-password, side by side with the peer
our users would otherwise deploy (bench/peer: crhelper + boto3 under awslambdaric).

For each run, alternating Rust and peer, a fresh process starts under a Lambda Runtime API served
here, with one CloudFormation Create already waiting (a real AdminSetUserPassword against moto on
127.0.0.1, and the PUT to a local ResponseURL). Recorded: exec -> first `next` poll (runtime ready)
-> first response; then the median of 20 warm invocations; then the process's peak RSS. Then the
same under AWS's Runtime Interface Emulator: its INIT REPORT durationMs and REPORT Duration.
Prints medians and Rust/peer ratios and appends them to bench/results.md.
"""

import argparse
import datetime
import http.server
import io
import json
import os
import platform
import queue
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
import zipfile
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = ROOT / "target/bench"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=60):
    until = time.time() + timeout
    while time.time() < until:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


class NoDelayHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Without it, Nagle and delayed ACK add ~40 ms to every exchange on a keep-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client closing its keep-alive connection is not news.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class RuntimeApi:
    """The Lambda Runtime API, with timestamps of what the function did when."""

    def __init__(self):
        self.events = queue.Queue()
        self.answers = queue.Queue()
        self.first_poll = None
        outer = self

        class Handler(NoDelayHandler):
            def do_GET(self):
                if outer.first_poll is None:
                    outer.first_poll = time.perf_counter()
                request_id, event = outer.events.get()
                deadline = int((time.time() + 30) * 1000)
                self.reply(200, json.dumps(event).encode(), [
                    ("Lambda-Runtime-Aws-Request-Id", request_id),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                    ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench"),
                    ("Lambda-Runtime-Trace-Id", "Root=1-5e1b4151-5ac6c58f5e8c1d2d3b4c5d6e"),
                    ("Content-Type", "application/json"),
                ])

            def do_POST(self):
                body = self.body()
                outer.answers.put((time.perf_counter(), self.path, body))
                self.reply(202, b'{"status":"OK"}')

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, event):
        self.events.put((str(uuid.uuid4()), event))

    def answer(self, timeout=60):
        at, path, body = self.answers.get(timeout=timeout)
        if not path.endswith("/response"):
            raise RuntimeError(f"invocation error: {body[:300]}")
        return at, json.loads(body) if body else None

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def make_tls_files(directory):
    """A CA and a certificate for 127.0.0.1 signed by it: the ResponseURL speaks https, as S3's
    pre-signed URLs do (crhelper accepts nothing else), and both functions trust the CA through
    SSL_CERT_FILE, which OpenSSL and rustls-native-certs both honour."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=7))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    (directory / "server.pem").write_bytes(leaf.public_bytes(pem))
    (directory / "server.key").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
    return directory / "ca.pem"


class ResponseUrl:
    """CloudFormation's pre-signed URL, over https."""

    def __init__(self, tls_dir):
        import ssl
        self.received = []

        outer = self

        class Handler(NoDelayHandler):
            def do_PUT(self):
                outer.received.append(json.loads(self.body()))
                self.reply(200)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls_dir / "server.pem", tls_dir / "server.key")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/cfn?X-Amz-Signature=bench"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def peak_rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class World:
    """moto with a pool, a user and a secret, and a ResponseURL."""

    def __init__(self):
        self.port = free_port()
        self.moto = subprocess.Popen([str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        aws = dict(endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="bench",
                   aws_secret_access_key="bench")
        cognito = boto3.client("cognito-idp", **aws)
        self.pool = cognito.create_user_pool(PoolName="bench")["UserPool"]["Id"]
        cognito.admin_create_user(UserPoolId=self.pool, Username="alice")
        boto3.client("secretsmanager", **aws).create_secret(Name="bench/alice", SecretString="Bench-Passw0rd!x")
        self.ca = make_tls_files(WORK)
        self.cfn = ResponseUrl(WORK)

    def event(self):
        return {
            "RequestType": "Create", "ResponseURL": self.cfn.url,
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/bench/1",
            "RequestId": str(uuid.uuid4()), "LogicalResourceId": "AlicePassword",
            "ResourceType": "Custom::CognitoUserPassword",
            "ResourceProperties": {"ServiceToken": "arn", "UserPoolId": self.pool, "Username": "alice",
                                   "PasswordSecretId": "bench/alice"},
        }

    def env(self):
        return {
            "PATH": os.environ.get("PATH", ""),
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": "INFO", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench", "_HANDLER": "handler.handler",
            "PYTHONPATH": str(BENCH / "peer"), "LAMBDA_TASK_ROOT": str(BENCH / "peer"),
            "SSL_CERT_FILE": str(self.ca),
        }

    def stop(self):
        self.moto.terminate()


RUST_BINARY = ROOT / "target/release/cognito-set-password"

IMPLEMENTATIONS = {
    "rust": lambda: [str(RUST_BINARY)],
    "peer": lambda: [str(BENCH / ".venv/bin/python"), "-m", "awslambdaric", "handler.handler"],
}


def run_once(world, name, warm):
    runtime = RuntimeApi()
    env = {**world.env(), "AWS_LAMBDA_RUNTIME_API": runtime.address}
    runtime.invoke(world.event())
    before = len(world.cfn.received)
    log = open(WORK / f"{name}.log", "a")
    started = time.perf_counter()
    process = subprocess.Popen(IMPLEMENTATIONS[name](), env=env, cwd=BENCH / "peer", stdout=log, stderr=log)
    try:
        first_at, _ = runtime.answer()
        warm_ms = []
        for _ in range(warm):
            t = time.perf_counter()
            runtime.invoke(world.event())
            at, _ = runtime.answer()
            warm_ms.append((at - t) * 1000)
        rss = peak_rss_kib(process.pid)
        # Both send their PUT before they answer the invocation: every one must have arrived.
        answered = world.cfn.received[before:]
        if len(answered) != 1 + warm or {r["Status"] for r in answered} != {"SUCCESS"}:
            raise RuntimeError(f"{name}: CloudFormation got {[r['Status'] for r in answered]}")
        return {
            "cold_ms": (first_at - started) * 1000,
            "ready_ms": (runtime.first_poll - started) * 1000,
            "first_ms": (first_at - runtime.first_poll) * 1000,
            "warm_ms": statistics.median(warm_ms),
            "rss_mib": rss / 1024,
        }
    finally:
        process.kill()
        process.wait()
        runtime.stop()


def rie_once(world, name):
    """INIT REPORT durationMs and REPORT Duration as the Runtime Interface Emulator prints them."""
    port, api = free_port(), free_port()
    env = {**world.env(), "AWS_LAMBDA_FUNCTION_TIMEOUT": "30"}
    out = WORK / f"rie-{name}.log"
    with open(out, "w") as log:
        process = subprocess.Popen(
            [str(ROOT / ".tools/rie/current/aws-lambda-rie-x86_64"), "--runtime-interface-emulator-address",
             f"127.0.0.1:{port}", "--runtime-api-address", f"127.0.0.1:{api}", *IMPLEMENTATIONS[name]()],
            env=env, cwd=BENCH / "peer", stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations",
                                         data=json.dumps(world.event()).encode(), method="POST")
        urllib.request.urlopen(request, timeout=60).read()
        until = time.time() + 5
        text = ""
        while time.time() < until:
            text = out.read_text(errors="replace")
            if "REPORT RequestId" in text:
                break
            time.sleep(0.02)
        init = re.search(r"INIT REPORT\(durationMs: ([0-9.]+)\)", text)
        duration = re.search(r"REPORT RequestId: \S+\s+(?:Init Duration: [0-9.]+ ms\s+)?Duration: ([0-9.]+) ms", text)
        return float(init.group(1)) if init else float("nan"), float(duration.group(1)) if duration else float("nan")
    finally:
        process.terminate()
        process.wait()


def sizes():
    found = {}
    bootstrap = ROOT / ".aws-sam/build/SetPasswordFunction/bootstrap"
    if bootstrap.exists():
        found["arm64 bootstrap (sam build)"] = bootstrap.stat().st_size
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(bootstrap, "bootstrap")
        found["its zip, as sam deploy uploads it"] = len(buffer.getvalue())
    binary = RUST_BINARY
    found["x86_64 release binary"] = binary.stat().st_size
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(binary, "bootstrap")
    found["x86_64 release binary, zipped"] = len(buffer.getvalue())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(BENCH / "peer/handler.py", "handler.py")
        crhelper = next((BENCH / ".venv/lib").glob("python3*/site-packages/crhelper"))
        for path in crhelper.rglob("*.py"):
            zf.write(path, f"crhelper/{path.relative_to(crhelper)}")
    found["peer zip (handler + crhelper; boto3 comes with the runtime)"] = len(buffer.getvalue())
    return found


def versions():
    def run(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "?"
    frozen = run(str(BENCH / ".venv/bin/pip"), "freeze")
    wanted = {line.split("==")[0]: line for line in frozen.splitlines()}
    return ", ".join([run("rustc", "--version"), f"Python {platform.python_version()}",
                      run(str(ROOT / ".venv/bin/python"), "-c", "import moto; print('moto', moto.__version__)")]
                     + [wanted[k] for k in ("crhelper", "awslambdaric", "boto3") if k in wanted])


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))) // 1024 // 1024
    return f"{os.cpu_count()} cores, {cpu}, {mem} GiB, {platform.system()} {platform.release()}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--rie-runs", type=int, default=5)
    parser.add_argument("--note", default="", help="what this run is about, for results.md")
    parser.add_argument("--rust-binary", help="another build of the function to measure (default: the release build)")
    args = parser.parse_args()
    if args.rust_binary:
        global RUST_BINARY
        RUST_BINARY = Path(args.rust_binary).resolve()
    WORK.mkdir(parents=True, exist_ok=True)
    world = World()
    results = {"rust": [], "peer": []}
    rie = {"rust": [], "peer": []}
    try:
        for i in range(args.runs):
            for name in (("rust", "peer") if i % 2 == 0 else ("peer", "rust")):
                results[name].append(run_once(world, name, args.warm))
        for i in range(args.rie_runs):
            for name in ("rust", "peer"):
                rie[name].append(rie_once(world, name))
    finally:
        world.stop()

    def med(name, key):
        return statistics.median(r[key] for r in results[name])

    rows = [
        ("cold start: exec -> first response (ms)", "cold_ms"),
        ("  exec -> runtime ready, first poll (ms)", "ready_ms"),
        ("  runtime ready -> first response (ms)", "first_ms"),
        (f"warm invocation, median of {args.warm} (ms)", "warm_ms"),
        ("peak RSS (MiB)", "rss_mib"),
    ]
    lines = [f"### {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
             + (f": {args.note}" if args.note else ""), "",
             f"- machine: {machine()}", f"- versions: {versions()}",
             f"- {args.runs} fresh processes each, alternating; medians; a CloudFormation Create "
             "(GetSecretValue + AdminSetUserPassword against moto over http, PUT to a local https ResponseURL)", "",
             "| measure | Rust | peer (crhelper + boto3) | Rust / peer |", "| --- | ---: | ---: | ---: |"]
    for label, key in rows:
        rust, peer = med("rust", key), med("peer", key)
        lines.append(f"| {label} | {rust:.1f} | {peer:.1f} | {rust / peer:.3f} |")
    for label, index in (("RIE INIT REPORT durationMs", 0), ("RIE REPORT Duration (ms)", 1)):
        rust = statistics.median(r[index] for r in rie["rust"])
        peer = statistics.median(r[index] for r in rie["peer"])
        lines.append(f"| {label} (median of {args.rie_runs}) | {rust:.1f} | {peer:.1f} | {rust / peer:.3f} |")
    lines += ["", "| artifact | bytes |", "| --- | ---: |"]
    lines += [f"| {name} | {size:,} |" for name, size in sizes().items()]
    text = "\n".join(lines) + "\n"
    print(text)
    results_md = BENCH / "results.md"
    if not results_md.exists():
        results_md.write_text("# Benchmark results\n\nProduced by `bench/run`; newest last. Figures from one "
                              "run are comparable with each other, not across machines.\n\n")
    with open(results_md, "a") as f:
        f.write("\n" + text)


if __name__ == "__main__":
    main()
