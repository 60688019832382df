"""Cold start, warm latency, memory and size of cognito-set-password, side by side with the peer
our users would otherwise deploy (bench/peer: crhelper + boto3 under awslambdaric).

For each run, alternating Rust and peer, a fresh process starts under a Lambda Runtime API served
here, with one CloudFormation Create already waiting (a real GetSecretValue and AdminSetUserPassword
against moto on 127.0.0.1, and the PUT to a local https ResponseURL). Recorded: exec -> first
`next` poll (runtime ready) -> first response, and the CPU time the process used to get there;
then the median of 20 warm invocations and their CPU time; then the process's peak RSS and the
connections it opened. Then the same under AWS's Runtime Interface Emulator: its INIT REPORT
durationMs and REPORT Duration. Prints medians and Rust/peer ratios and appends them to
bench/results.md. It prints nothing else but real errors: the output of moto, of the functions and
of the emulator goes to target/bench/*.log, and a line of it reaches the terminal only when it is
a failure (a 5xx or a traceback from moto, a WARN or ERROR line from a function); a client closing
its connection, which each killed process does, is not one.

Each measure is taken for each transport to AWS:
- http: moto's own port, one endpoint for every service (AWS_ENDPOINT_URL);
- https: a TLS front for moto (bench/tls_front.py), one port per service as real AWS has one host
  per service (AWS_ENDPOINT_URL_SECRETS_MANAGER, _SSM, _COGNITO_IDENTITY_PROVIDER), so a
  connection cannot be shared between services here either, and no session resumption;
- http-front (on request): the same front without TLS, to tell TLS from the extra hop.
Every process trusts the bench's root CA the standard way, through a bundle that also holds the
machine's public roots, so that loading the roots costs what it costs on Lambda: SSL_CERT_FILE
(rustls-native-certs, used by the AWS SDK for Rust's https client; OpenSSL for crhelper's PUT)
and AWS_CA_BUNDLE (botocore).
"""

import argparse
import datetime
import http.server
import io
import ipaddress
import json
import os
import platform
import queue
import re
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
import zipfile
from collections import Counter
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = ROOT / "target/bench"
TRANSPORTS = ("http", "https", "http-front")

# How a connection ends when its client closes it, or is killed, mid-exchange: not news.
DISCONNECTS = (ConnectionError, TimeoutError, ssl.SSLEOFError, ssl.SSLZeroReturnError)


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
    """Reports what goes wrong, except a client closing its connection: the bench kills each
    process as soon as it has answered, often while a keep-alive connection is open or a reply
    is on its way."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], DISCONNECTS):
            super().handle_error(request, client_address)


class RuntimeApi:
    """The Lambda Runtime API, with timestamps of what the function did when; each invocation's
    deadline is `budget` seconds away."""

    def __init__(self, budget=30):
        self.events = queue.Queue()
        self.answers = queue.Queue()
        self.first_poll = None
        self.polled = threading.Event()
        outer = self

        class Handler(NoDelayHandler):
            def do_GET(self):
                if outer.first_poll is None:
                    outer.first_poll = time.perf_counter()
                    outer.polled.set()
                item = outer.events.get()
                if item is None:  # stopped: the process is gone
                    self.close_connection = True
                    return
                request_id, event = item
                deadline = int((time.time() + budget) * 1000)
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

        self.server = QuietServer(("127.0.0.1", 0), Handler)
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
        # Release a `next` poll still waiting (the process was killed while it waited).
        for _ in range(4):
            self.events.put(None)


def make_tls_files(directory, public_roots=True):
    """A root CA, an intermediate and a certificate for 127.0.0.1, RSA 2048 as AWS's endpoints and
    S3's pre-signed URLs have them, the server sending leaf and intermediate; and trust.pem, the
    machine's public roots with the bench's root added, so that a process loading its trust store
    parses as many roots as it would on Lambda."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(text):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    def certificate(subject, key, issuer, issuer_key, ca, extensions=()):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=7))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca,
                                                content_commitment=False, key_encipherment=not ca,
                                                data_encipherment=False, key_agreement=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                  critical=False))
        for extension in extensions:
            builder = builder.add_extension(extension, critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def rsa_key():
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    root_key, intermediate_key, key = rsa_key(), rsa_key(), rsa_key()
    root = certificate(name("bench root CA"), root_key, name("bench root CA"), root_key, True)
    intermediate = certificate(name("bench RSA 2048 intermediate"), intermediate_key, root.subject, root_key, True)
    leaf = certificate(name("127.0.0.1"), key, intermediate.subject, intermediate_key, False, [
        x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
    ])
    pem = serialization.Encoding.PEM
    (directory / "server-chain.pem").write_bytes(leaf.public_bytes(pem) + intermediate.public_bytes(pem))
    (directory / "server.key").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
    if not public_roots:
        (directory / "trust.pem").write_bytes(root.public_bytes(pem))
        return directory / "trust.pem", "the bench's root only (--trust bench-root)"
    public = next((Path(p) for p in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
                   if Path(p).exists()), None)
    if public is None:
        import certifi
        public = Path(certifi.where())
    trust = public.read_bytes().rstrip(b"\n") + b"\n" + root.public_bytes(pem)
    (directory / "trust.pem").write_bytes(trust)
    return directory / "trust.pem", f"{public} ({trust.count(b'BEGIN CERTIFICATE') - 1} roots) + the bench's root"


class ResponseUrl:
    """CloudFormation's pre-signed URL, over https; counts the connections made to it."""

    def __init__(self, tls_dir):
        self.received = []
        self.connections = 0
        outer = self

        class Handler(NoDelayHandler):
            def setup(self):
                # The handshake here, in the connection's thread, not in accept(): a failed one
                # is then reported (see QuietServer) instead of silently dropped.
                self.request.do_handshake()
                outer.connections += 1
                super().setup()

            def do_PUT(self):
                outer.received.append(json.loads(self.body()))
                self.reply(200)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls_dir / "server-chain.pem", tls_dir / "server.key")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True,
                                                 do_handshake_on_connect=False)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/cfn?X-Amz-Signature=bench"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def cpu_ms(pid):
    """The CPU time the process's threads have used so far (ns resolution, from the scheduler):
    unlike wall time, hardly moved by whatever else the machine runs."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that ended meanwhile
    return total / 1e6


def peak_rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def forward_output(stream, log_path, prefix, expected):
    """Copies a helper's output to its log, and to stderr the lines that `expected` does not
    recognise: its real errors, and nothing of its routine chatter."""
    ansi = re.compile(r"\x1b\[[0-9;]*m")

    def run():
        with open(log_path, "w") as log:
            for line in stream:
                log.write(line)
                log.flush()
                plain = ansi.sub("", line).rstrip("\n")
                if plain.strip() and not expected(plain):
                    print(f"{prefix}: {plain}", file=sys.stderr, flush=True)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


MOTO_ACCESS = re.compile(r'^\S+ - - \[[^\]]*\] "[^"]*" (\d{3}) ')
MOTO_BANNER = ("WARNING: This is a development server", " * Running on", "Press CTRL+C to quit")


def moto_expected(line):
    """werkzeug's access log below 500 and its start-up banner; a 5xx or a traceback is shown."""
    access = MOTO_ACCESS.match(line)
    return (access is not None and int(access.group(1)) < 500) or line.startswith(MOTO_BANNER)


class Front:
    """bench/tls_front.py in its own process: three ports, one per service, forwarding to moto,
    with or without TLS; counts the connections made to it."""

    def __init__(self, moto_port, tls_dir=None):
        command = [sys.executable, str(BENCH / "tls_front.py"), "--upstream", str(moto_port)]
        if tls_dir:
            command += ["--cert", str(tls_dir / "server-chain.pem"), "--key", str(tls_dir / "server.key")]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        first = self.process.stdout.readline().split()
        if first[:1] != ["listening"]:
            sys.exit(f"the {'TLS ' if tls_dir else ''}front for moto did not start")
        self.ports = [int(p) for p in first[1:]]
        self.connections = Counter()
        threading.Thread(target=self._count, daemon=True).start()

    def _count(self):
        for line in self.process.stdout:
            if line.startswith("connection "):
                self.connections["all"] += 1

    def stop(self):
        self.process.terminate()
        self.process.wait()


class World:
    """moto with a pool, a user and a secret, the fronts for it, and a ResponseURL."""

    def __init__(self, transports, public_roots=True):
        self.port = free_port()
        self.moto = subprocess.Popen([str(ROOT / ".venv/bin/python"), str(ROOT / "tools/moto_server.py"), "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        forward_output(self.moto.stdout, WORK / "moto.log", "moto", moto_expected)
        wait_for_port(self.port)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        aws = dict(endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="bench",
                   aws_secret_access_key="bench")
        cognito = boto3.client("cognito-idp", **aws)
        self.pool = cognito.create_user_pool(PoolName="bench")["UserPool"]["Id"]
        cognito.admin_create_user(UserPoolId=self.pool, Username="alice")
        # Bound to alice (cognito-set-password:user), as every secret the function serves must be.
        boto3.client("secretsmanager", **aws).create_secret(
            Name="bench/alice", SecretString="Bench-Passw0rd!x",
            Tags=[{"Key": "cognito-set-password:user", "Value": f"{self.pool}/alice"}])
        self.trust, self.trust_description = make_tls_files(WORK, public_roots)
        self.cfn = ResponseUrl(WORK)
        self.fronts = {}
        if "https" in transports:
            self.fronts["https"] = Front(self.port, WORK)
        if "http-front" in transports:
            self.fronts["http-front"] = Front(self.port)

    def event(self):
        return {
            "RequestType": "Create", "ResponseURL": self.cfn.url,
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/bench/1",
            "RequestId": str(uuid.uuid4()), "LogicalResourceId": "AlicePassword",
            "ResourceType": "Custom::CognitoUserPassword",
            "ResourceProperties": {"ServiceToken": "arn", "UserPoolId": self.pool, "Username": "alice",
                                   "PasswordSecretId": "bench/alice"},
        }

    def aws_connections(self, transport):
        front = self.fronts.get(transport)
        return front.connections["all"] if front else None

    def env(self, transport):
        env = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": "INFO", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench", "_HANDLER": "handler.handler",
            # The bench's ResponseURL is on loopback; on AWS only CloudFormation's are accepted.
            "RESPONSE_URL_HOSTS": "127.0.0.1",
            "PYTHONPATH": str(BENCH / "peer"), "LAMBDA_TASK_ROOT": str(BENCH / "peer"),
            # The trust store, the standard way: rustls-native-certs (the AWS SDK for Rust's
            # https client, which also sends the function's PUT) and OpenSSL read
            # SSL_CERT_FILE; botocore reads AWS_CA_BUNDLE (before REQUESTS_CA_BUNDLE).
            "SSL_CERT_FILE": str(self.trust), "AWS_CA_BUNDLE": str(self.trust),
        }
        if transport == "http":
            env["AWS_ENDPOINT_URL"] = self.endpoint
        else:
            scheme = "https" if transport == "https" else "http"
            ports = self.fronts[transport].ports
            for service, port in zip(("SECRETS_MANAGER", "SSM", "COGNITO_IDENTITY_PROVIDER"), ports):
                env[f"AWS_ENDPOINT_URL_{service}"] = f"{scheme}://127.0.0.1:{port}"
        return env

    def stop(self):
        for front in self.fronts.values():
            front.stop()
        self.moto.terminate()
        self.moto.wait()


RUST_BINARY = ROOT / "target/release/cognito-set-password"
PEER = [str(BENCH / ".venv/bin/python"), "-m", "awslambdaric", "handler.handler"]


def log_path(name, transport, prefix=""):
    return WORK / f"{prefix}{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}-{transport}.log"


def log_problems(path, start):
    """The lines a function logged at WARN or above, or a traceback, since `start` (a byte offset)."""
    with open(path, errors="replace") as f:
        f.seek(start)
        text = f.read()
    return [line for line in text.splitlines()
            if re.search(r'"level": ?"(WARN|WARNING|ERROR|CRITICAL|FATAL)"|^Traceback|panicked', line)]


def run_once(world, name, command, transport, warm):
    runtime = RuntimeApi()
    env = {**world.env(transport), "AWS_LAMBDA_RUNTIME_API": runtime.address}
    runtime.invoke(world.event())
    before = len(world.cfn.received)
    cfn_connections = world.cfn.connections
    aws_connections = world.aws_connections(transport)
    path = log_path(name, transport)
    start = path.stat().st_size if path.exists() else 0
    with open(path, "a") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=BENCH / "peer", stdout=log, stderr=log)
    try:
        first_at, _ = runtime.answer()
        first_cpu = cpu_ms(process.pid)
        warm_ms = []
        for _ in range(warm):
            t = time.perf_counter()
            runtime.invoke(world.event())
            at, _ = runtime.answer()
            warm_ms.append((at - t) * 1000)
        rss = peak_rss_kib(process.pid)
        warm_cpu = (cpu_ms(process.pid) - first_cpu) / warm if warm else float("nan")
        # Both send their PUT before they answer the invocation: every one must have arrived.
        answered = world.cfn.received[before:]
        if len(answered) != 1 + warm or {r["Status"] for r in answered} != {"SUCCESS"}:
            raise RuntimeError(f"{name}: CloudFormation got {[r['Status'] for r in answered]}")
        result = {
            "cold_ms": (first_at - started) * 1000,
            "ready_ms": (runtime.first_poll - started) * 1000,
            "first_ms": (first_at - runtime.first_poll) * 1000,
            "warm_ms": statistics.median(warm_ms),
            "cold_cpu_ms": first_cpu,
            "warm_cpu_ms": warm_cpu,
            "rss_mib": rss / 1024,
            "cfn_connections": world.cfn.connections - cfn_connections,
        }
        if aws_connections is not None:
            result["aws_connections"] = world.aws_connections(transport) - aws_connections
        return result
    except Exception:
        print(f"{name} over {transport} failed; the end of its log ({path}):", file=sys.stderr)
        print("\n".join(path.read_text(errors="replace").splitlines()[-20:]), file=sys.stderr)
        raise
    finally:
        process.kill()
        process.wait()
        runtime.stop()
        for line in log_problems(path, start):
            print(f"{name} over {transport} logged: {line[:400]}", file=sys.stderr)


def rie_once(world, name, command, transport):
    """INIT REPORT durationMs and REPORT Duration as the Runtime Interface Emulator prints them."""
    port, api = free_port(), free_port()
    env = {**world.env(transport), "AWS_LAMBDA_FUNCTION_TIMEOUT": "30"}
    out = log_path(name, transport, "rie-")
    with open(out, "w") as log:
        process = subprocess.Popen(
            [str(ROOT / ".tools/rie/current/aws-lambda-rie-x86_64"), "--runtime-interface-emulator-address",
             f"127.0.0.1:{port}", "--runtime-api-address", f"127.0.0.1:{api}", *command],
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
        for line in log_problems(out, 0):
            print(f"{name} over {transport} under the RIE logged: {line[:400]}", file=sys.stderr)


def sizes():
    found = {}
    release = ROOT / "dist/release.json"
    if release.exists():
        # What users deploy: the release's zips (scripts/release).
        for name, facts in json.loads(release.read_text())["files"].items():
            found[f"{name}: bootstrap"] = facts["bootstrap_bytes"]
            found[f"{name}: the zip"] = facts["bytes"]
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
                      run(str(ROOT / ".venv/bin/python"), "-c", "import moto; print('moto', moto.__version__)"),
                      f"{ssl.OPENSSL_VERSION} (the bench's TLS servers)"]
                     + [wanted[k] for k in ("crhelper", "awslambdaric", "boto3") if k in wanted])


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))) // 1024 // 1024
    return f"{os.cpu_count()} cores, {cpu}, {mem} GiB, {platform.system()} {platform.release()}"


def fmt(value, digits=1):
    return "-" if value is None or value != value else f"{value:.{digits}f}"


def ratio(a, b):
    return "-" if a is None or b is None or not b or a != a or b != b else f"{a / b:.3f}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--rie-runs", type=int, default=5)
    parser.add_argument("--transports", default="http,https",
                        help=f"comma-separated, from {', '.join(TRANSPORTS)} (default: http,https)")
    parser.add_argument("--trust", choices=("system", "bench-root"), default="system",
                        help="the trust store of every process: the machine's public roots and the bench's "
                             "root (default; what a process loads on Lambda), or the bench's root alone "
                             "(to measure what loading the public roots costs)")
    parser.add_argument("--note", default="", help="what this run is about, for results.md")
    parser.add_argument("--rust-binary", help="another build of the function to measure (default: the release build)")
    parser.add_argument("--baseline", action="append", default=[], metavar="LABEL=PATH",
                        help="another build of the function, measured in the same runs and compared with "
                             "the Rust build (e.g. the build before a change); may be repeated")
    parser.add_argument("--no-record", action="store_true", help="print only; do not append to results.md")
    args = parser.parse_args()
    if args.rust_binary:
        global RUST_BINARY
        RUST_BINARY = Path(args.rust_binary).resolve()
    transports = [t.strip() for t in args.transports.split(",") if t.strip()]
    if not transports or any(t not in TRANSPORTS for t in transports):
        parser.error(f"--transports: choose from {', '.join(TRANSPORTS)}")
    implementations = {"rust": [str(RUST_BINARY)], "peer": PEER}
    for spec in args.baseline:
        label, _, path = spec.partition("=")
        if not label or not path or label in implementations or not Path(path).is_file():
            parser.error(f"--baseline {spec}: give LABEL=PATH, an unused label and an existing binary")
        implementations[label] = [str(Path(path).resolve())]
    baselines = [label for label in implementations if label not in ("rust", "peer")]

    WORK.mkdir(parents=True, exist_ok=True)
    for old in WORK.glob("*.log"):
        old.unlink()
    load_before = os.getloadavg()[0]
    world = World(transports, public_roots=args.trust == "system")
    combos = [(name, transport) for transport in transports for name in implementations]
    results = {combo: [] for combo in combos}
    rie = {combo: [] for combo in combos}
    try:
        for i in range(args.runs):
            for name, transport in (combos if i % 2 == 0 else combos[::-1]):
                results[name, transport].append(run_once(world, name, implementations[name], transport, args.warm))
        for i in range(args.rie_runs):
            for name, transport in (combos if i % 2 == 0 else combos[::-1]):
                rie[name, transport].append(rie_once(world, name, implementations[name], transport))
    finally:
        world.stop()
    load_after = os.getloadavg()[0]

    def med(name, transport, key):
        values = [r[key] for r in results[name, transport] if key in r]
        return statistics.median(values) if values else None

    def rie_med(name, transport, index):
        return statistics.median(r[index] for r in rie[name, transport]) if rie[name, transport] else None

    measures = [
        ("cold start: exec -> first response (ms)", lambda n, t: med(n, t, "cold_ms")),
        ("  exec -> runtime ready, first poll (ms)", lambda n, t: med(n, t, "ready_ms")),
        ("  runtime ready -> first response (ms)", lambda n, t: med(n, t, "first_ms")),
        (f"warm invocation, median of {args.warm} (ms)", lambda n, t: med(n, t, "warm_ms")),
        ("CPU time, exec -> first response (ms)", lambda n, t: med(n, t, "cold_cpu_ms")),
        (f"CPU time per warm invocation, mean of {args.warm} (ms)", lambda n, t: med(n, t, "warm_cpu_ms")),
        ("peak RSS (MiB)", lambda n, t: med(n, t, "rss_mib")),
        (f"RIE INIT REPORT durationMs (median of {args.rie_runs})", lambda n, t: rie_med(n, t, 0)),
        (f"RIE REPORT Duration (ms) (median of {args.rie_runs})", lambda n, t: rie_med(n, t, 1)),
    ]
    counts = [
        ("connections to AWS per process (cold + warm)", "aws_connections"),
        ("connections to the ResponseURL per process", "cfn_connections"),
    ]
    described = {
        "http": "http: moto's port, one endpoint for all services",
        "https": "https: a TLS front for moto, one port per service, no session resumption",
        "http-front": "http-front: the same front without TLS",
    }
    lines = [f"### {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
             + (f": {args.note}" if args.note else ""), "",
             f"- machine: {machine()}", f"- versions: {versions()}",
             f"- {args.runs} fresh processes each, alternating; medians; a CloudFormation Create "
             "(GetSecretValue + AdminSetUserPassword against moto, PUT to a local https ResponseURL)",
             f"- transports to AWS: {'; '.join(described[t] for t in transports)}",
             f"- trust store of every process (SSL_CERT_FILE, AWS_CA_BUNDLE): {world.trust_description}",
             f"- load average (1 min) at start and end: {load_before:.2f}, {load_after:.2f} (the bench itself "
             "keeps about one core busy; more means something else ran)", ""]
    header = "| measure |" + "".join(f" Rust, {t} | peer, {t} | Rust / peer, {t} |" for t in transports)
    lines += [header, "| --- |" + " ---: |" * (3 * len(transports))]
    for label, get in measures:
        cells = []
        for t in transports:
            rust, peer = get("rust", t), get("peer", t)
            cells += [fmt(rust), fmt(peer), ratio(rust, peer)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for label, key in counts:
        cells = []
        for t in transports:
            rust, peer = med("rust", t, key), med("peer", t, key)
            cells += [fmt(rust, 0), fmt(peer, 0), ""]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if "http" in transports and len(transports) > 1:
        others = [t for t in transports if t != "http"]
        lines += ["", "| what the transport adds to http (difference of medians, ms) |"
                  + "".join(f" Rust, {t} | peer, {t} |" for t in others),
                  "| --- |" + " ---: |" * (2 * len(others))]
        for label, get in measures[:6] + measures[8:]:
            cells = []
            for t in others:
                for name in ("rust", "peer"):
                    a, b = get(name, t), get(name, "http")
                    cells.append("-" if a is None or b is None else f"{a - b:+.1f}")
            lines.append(f"| {label.strip()} | " + " | ".join(cells) + " |")
    for base in baselines:
        lines += ["", f"| Rust build `{base}` against this one (`rust`) |"
                  + "".join(f" {base}, {t} | rust, {t} | rust - {base}, {t} |" for t in transports),
                  "| --- |" + " ---: |" * (3 * len(transports))]
        for label, get in measures:
            cells = []
            for t in transports:
                a, b = get(base, t), get("rust", t)
                cells += [fmt(a), fmt(b), "-" if a is None or b is None else f"{b - a:+.1f}"]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        for label, key in counts:
            cells = []
            for t in transports:
                cells += [fmt(med(base, t, key), 0), fmt(med("rust", t, key), 0), ""]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "| artifact | bytes |", "| --- | ---: |"]
    lines += [f"| {name} | {size:,} |" for name, size in sizes().items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.no_record:
        return
    results_md = BENCH / "results.md"
    if not results_md.exists():
        results_md.write_text("# Benchmark results\n\nProduced by `bench/run`; newest last. Figures from one "
                              "run are comparable with each other, not across machines.\n\n")
    with open(results_md, "a") as f:
        f.write("\n" + text)


if __name__ == "__main__":
    main()
