"""Many users: 1,000 passwords set in one direct invocation of cognito-set-password (a `Users`
list), side by side with what one would write instead, a plain boto3 loop (bench/bulk_peer.py).

Set-up, not measured: moto on 127.0.0.1, a user pool with a password policy and an app client
that allows ADMIN_USER_PASSWORD_AUTH, and 1,000 users each with a Secrets Manager secret holding a
strong password. Then, alternating run by run, each in a fresh process:
- Rust: the release binary under a Runtime API served here, given the list with the rate limit
  lifted (`MaxCallsPerSecond: 10000`, and `MAX_CALLS_PER_SECOND` in its environment, since a request
  may only lower the deployment's rate) and a deadline 300 s away;
- the boto3 loop: GetSecretValue then AdminSetUserPassword, user after user.
Timed for both from handing over the list (the process is up, its clients built) to the answer.
Recorded: wall time, users per second, the process's peak RSS (VmHWM) and CPU time, and moto's
CPU time meanwhile. Before each run 20 sampled users get another password; after it they must
sign in with their secret's password, so the check proves that run set them.

The lifted runs lift the lookups' rate too (`MAX_READS_PER_SECOND`). Then the rate-limited run: the
same list at the defaults, `MaxCallsPerSecond: 25` (Cognito's UserUpdate quota) and 100 lookups
per second (`MAX_READS_PER_SECOND`'s default, below UserRead's 120), through a forwarder in front of
moto that notes when each call arrives: wall time against the expected 1,000 / 100 + 1,000 / 25 =
50 s, the measured calls per second of each, and the throttling errors seen. Both phases apart:
the lookups (`read_ms`, logged by the function) and the rest of the list.
Prints medians and ratios and appends them to bench/results.md.
"""

import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import platform
import random
import re
import secrets as tokens
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

# The helpers of the cold-start benchmark: the same Runtime API plumbing, moto log filter, RSS.
from bench import (NoDelayHandler, QuietServer, RuntimeApi, fmt, forward_output, free_port, machine,
                   moto_expected, peak_rss_kib, ratio, wait_for_port)

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = ROOT / "target/bench/bulk"
RUST_BINARY = ROOT / "target/release/cognito-set-password"
PEER = [str(BENCH / ".venv/bin/python"), str(BENCH / "bulk_peer.py")]
DEADLINE_S = 300
SAMPLE = 20
QUOTA = 25
READS = 100
UNLIMITED = 10000
THROTTLING = re.compile(r"ThrottlingException|TooManyRequestsException")
TICKS = os.sysconf("SC_CLK_TCK")
AWS = dict(region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench")


def cpu_seconds(pid):
    """User + system CPU time of a live process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def strong_password():
    # Upper, lower, digit and symbol, 20 characters: passes the pool's policy.
    return f"Bk{tokens.token_urlsafe(12)}7!"


class CallLog:
    """A forwarder in front of moto that notes each call: when it arrived, which operation, and
    whether the answer was a throttling error. One upstream connection per call, as moto's server
    closes each after its answer anyway."""

    def __init__(self, upstream_port):
        self.calls = []  # (perf_counter at arrival, operation, throttled)
        outer = self

        class Handler(NoDelayHandler):
            def do_POST(self):
                self.forward("POST")

            def do_GET(self):
                self.forward("GET")

            def forward(self, method):
                at = time.perf_counter()
                body = self.body()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                try:
                    upstream.request(method, self.path, body, headers)
                    response = upstream.getresponse()
                    data = response.read()
                finally:
                    upstream.close()
                kind = response.getheader("x-amzn-ErrorType", "") + data[:300].decode(errors="replace")
                operation = (self.headers.get("X-Amz-Target") or "?").rsplit(".", 1)[-1]
                outer.calls.append((at, operation, response.status >= 400 and bool(THROTTLING.search(kind))))
                skip = ("content-length", "connection", "keep-alive", "transfer-encoding", "date", "server")
                self.reply(response.status, data, [(k, v) for k, v in response.getheaders() if k.lower() not in skip])

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class World:
    """moto with a pool of `count` users, each with a secret holding a strong password."""

    def __init__(self, count):
        self.port = free_port()
        self.moto = subprocess.Popen([str(ROOT / ".venv/bin/python"), str(ROOT / "tools/moto_server.py"), "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        forward_output(self.moto.stdout, WORK / "moto.log", "moto", moto_expected)
        wait_for_port(self.port)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.cognito = boto3.client("cognito-idp", endpoint_url=self.endpoint, **AWS)
        secrets = boto3.client("secretsmanager", endpoint_url=self.endpoint, **AWS)
        policy = {"MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True,
                  "RequireNumbers": True, "RequireSymbols": True}
        self.pool = self.cognito.create_user_pool(PoolName="bench-bulk", Policies={"PasswordPolicy": policy})[
            "UserPool"]["Id"]
        self.client_id = self.cognito.create_user_pool_client(
            UserPoolId=self.pool, ClientName="bench-bulk", GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        # (username, secret id, password)
        self.users = [(f"user-{i:04d}", f"bench-bulk/user-{i:04d}", strong_password()) for i in range(count)]

        def create(user):
            name, secret, password = user
            self.cognito.admin_create_user(UserPoolId=self.pool, Username=name, MessageAction="SUPPRESS")
            secrets.create_secret(Name=secret, SecretString=password,
                                  Tags=[{"Key": "cognito-set-password:user", "Value": f"{self.pool}/{name}"}])

        with concurrent.futures.ThreadPoolExecutor(4) as workers:
            list(workers.map(create, self.users))

    def request(self, rate):
        return {"UserPoolId": self.pool, "MaxCallsPerSecond": rate,
                "Users": [{"Username": name, "PasswordSecretId": secret} for name, secret, _ in self.users]}

    def scramble(self, sample):
        """Gives the sampled users another password, so that signing in after a run proves that
        run set them."""
        for name, _, _ in sample:
            self.cognito.admin_set_user_password(UserPoolId=self.pool, Username=name,
                                                 Password=strong_password(), Permanent=True)

    def signed_in(self, sample):
        """How many of the sampled users sign in with their secret's password."""
        count = 0
        for name, _, password in sample:
            try:
                answer = self.cognito.admin_initiate_auth(
                    UserPoolId=self.pool, ClientId=self.client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                    AuthParameters={"USERNAME": name, "PASSWORD": password})
                count += "AuthenticationResult" in answer
            except ClientError:
                pass
        return count

    def env(self, endpoint):
        return {
            "PATH": os.environ.get("PATH", ""),
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_LAMBDA_FUNCTION_NAME": "bench-bulk", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": "INFO", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench-bulk",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench", "RESPONSE_URL_HOSTS": "127.0.0.1",
        }

    def stop(self):
        self.moto.terminate()
        self.moto.wait()


def log_since(path, start):
    with open(path, errors="replace") as f:
        f.seek(start)
        return f.read()


def problems(text):
    """What a process logged at WARN or above, or a traceback or panic: real errors, to show."""
    return [line for line in text.splitlines()
            if re.search(r'"level": ?"(WARN|WARNING|ERROR|CRITICAL|FATAL)"|^Traceback|panicked', line)]


def rust_once(world, rate, endpoint=None, binary=RUST_BINARY, reads=READS):
    """One fresh process of `binary`, one invocation with the whole list."""
    runtime = RuntimeApi(DEADLINE_S)
    path = WORK / f"{Path(binary).name}.log"
    start = path.stat().st_size if path.exists() else 0
    with open(path, "a") as log:
        # A request may only lower the deployment's rate, so the deployment sets the one asked for.
        process = subprocess.Popen([str(binary)], stdout=log, stderr=log,
                                   env={**world.env(endpoint or world.endpoint), "AWS_LAMBDA_RUNTIME_API": runtime.address,
                                        "MAX_CALLS_PER_SECOND": str(rate), "MAX_READS_PER_SECOND": str(reads)})
    try:
        if not runtime.polled.wait(30):
            raise RuntimeError("the function did not poll for an invocation within 30 s")
        moto_cpu, own_cpu = cpu_seconds(world.moto.pid), cpu_seconds(process.pid)
        started = time.perf_counter()
        runtime.invoke(world.request(rate))
        at, answer = runtime.answer(timeout=DEADLINE_S + 30)
        result = {"started": started, "wall_s": at - started, "rss_mib": peak_rss_kib(process.pid) / 1024,
                  "cpu_s": cpu_seconds(process.pid) - own_cpu, "moto_cpu_s": cpu_seconds(world.moto.pid) - moto_cpu}
        results = answer.get("Results", [])
        result["not_set"] = len(world.users) - sum(r.get("Result") == "set" for r in results)
        if len(results) != len(world.users) or result["not_set"]:
            raise RuntimeError(f"the answer reports {result['not_set']} of {len(world.users)} users not set")
    except Exception:
        print(f"rust failed; the end of its log ({path}):", file=sys.stderr)
        print("\n".join(log_since(path, start).splitlines()[-20:]), file=sys.stderr)
        raise
    finally:
        process.kill()
        process.wait()
        runtime.stop()
        text = log_since(path, start)
        for line in problems(text):
            print(f"rust logged: {line[:400]}", file=sys.stderr)
    elapsed = re.search(r'"elapsed_ms": ?(\d+)', text)
    result["list_s"] = int(elapsed.group(1)) / 1000 if elapsed else None
    # The lookups' phase (a build before them logs none).
    read = re.search(r'"read_ms": ?(\d+)', text)
    result["read_s"] = int(read.group(1)) / 1000 if read else None
    result["sets_s"] = result["list_s"] - result["read_s"] if read and elapsed else result["list_s"]
    result["throttling_lines"] = sum(bool(THROTTLING.search(line)) for line in text.splitlines())
    return result


def peer_once(world):
    """One fresh process of the boto3 loop, timed the same way: the list handed over -> the answer."""
    path = WORK / "peer.log"
    start = path.stat().st_size if path.exists() else 0
    line = json.dumps(world.request(UNLIMITED)) + "\n"
    with open(path, "a") as log:
        process = subprocess.Popen(PEER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                                   env=world.env(world.endpoint))
    try:
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("the boto3 loop did not start")
        moto_cpu, own_cpu = cpu_seconds(world.moto.pid), cpu_seconds(process.pid)
        started = time.perf_counter()
        process.stdin.write(line)
        process.stdin.flush()
        answer = json.loads(process.stdout.readline())
        result = {"wall_s": time.perf_counter() - started, "rss_mib": peak_rss_kib(process.pid) / 1024,
                  "cpu_s": cpu_seconds(process.pid) - own_cpu, "moto_cpu_s": cpu_seconds(world.moto.pid) - moto_cpu}
        if answer["set"] != len(world.users):
            raise RuntimeError(f"the boto3 loop did not set {len(answer['not_set'])} users: {answer['not_set'][:5]}")
        return result
    except Exception:
        print(f"the boto3 loop failed; the end of its log ({path}):", file=sys.stderr)
        print("\n".join(log_since(path, start).splitlines()[-20:]), file=sys.stderr)
        raise
    finally:
        process.kill()
        process.wait()
        for line in problems(log_since(path, start)):
            print(f"the boto3 loop logged: {line[:400]}", file=sys.stderr)


def checked(world, name, sample, run):
    """Runs `run` between scrambling the sample and signing it in; a user who cannot is an error."""
    world.scramble(sample)
    result = run()
    result["signed_in"] = world.signed_in(sample)
    if result["signed_in"] != len(sample):
        raise RuntimeError(f"{name}: only {result['signed_in']} of {len(sample)} sampled users sign in")
    return result


def versions():
    def run(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "?"
    frozen = run(str(BENCH / ".venv/bin/pip"), "freeze")
    boto = next((line for line in frozen.splitlines() if line.startswith("boto3==")), "boto3 ?")
    return ", ".join([run("rustc", "--version"), f"Python {platform.python_version()}",
                      run(str(ROOT / ".venv/bin/python"), "-c", "import moto; print('moto', moto.__version__)"),
                      f"{boto} (the loop's, bench/.venv)"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3, help="runs of each, alternating (default 3)")
    parser.add_argument("--users", type=int, default=1000, help="users in the list, 1 to 1000 (default 1000)")
    parser.add_argument("--note", default="", help="what this run is about, for results.md")
    parser.add_argument("--no-record", action="store_true", help="print only; do not append to results.md")
    parser.add_argument("--baseline", action="append", default=[], metavar="LABEL=PATH",
                        help="another build measured in the same runs, alternating, and at 25/s")
    args = parser.parse_args()
    if not 1 <= args.users <= 1000:
        parser.error("--users: 1 to 1000 (one list's limit)")
    builds = {"rust": RUST_BINARY}
    for spec in args.baseline:
        label, _, path = spec.partition("=")
        if not label or not path or label in builds or label == "peer" or not Path(path).is_file():
            parser.error(f"--baseline {spec}: give LABEL=PATH, an unused label and an existing binary")
        builds[label] = Path(path).resolve()
    baselines = [label for label in builds if label != "rust"]

    WORK.mkdir(parents=True, exist_ok=True)
    for old in WORK.glob("*.log"):
        old.unlink()
    load_before = os.getloadavg()[0]
    set_up = time.perf_counter()
    world = World(args.users)
    set_up = time.perf_counter() - set_up
    rng = random.Random(12)
    runs = {name: [] for name in [*builds, "peer"]}
    limited_by, calls_by = {}, {}
    try:
        for i in range(args.runs):
            order = list(runs)
            for name in order[i % len(order):] + order[:i % len(order)]:
                sample = rng.sample(world.users, min(SAMPLE, len(world.users)))
                if name == "peer":
                    once = lambda: peer_once(world)  # noqa: E731
                else:
                    once = lambda: rust_once(world, UNLIMITED, binary=builds[name], reads=UNLIMITED)  # noqa: E731
                result = checked(world, name, sample, once)
                runs[name].append(result)
                print(f"{name} run {i + 1}: {result['wall_s']:.2f} s, {len(world.users) / result['wall_s']:.0f} users/s, "
                      f"peak RSS {result['rss_mib']:.1f} MiB", file=sys.stderr)
        for name in builds:
            log = CallLog(world.port)
            try:
                sample = rng.sample(world.users, min(SAMPLE, len(world.users)))
                limited_by[name] = checked(world, f"{name} at 25/s", sample,
                                           lambda: rust_once(world, QUOTA, log.endpoint, builds[name]))
            finally:
                log.stop()
            calls_by[name] = log
    finally:
        world.stop()
    limited, calls = limited_by["rust"], calls_by["rust"]
    load_after = os.getloadavg()[0]

    def med(name, key):
        values = [r[key] for r in runs[name] if r.get(key) is not None]
        return statistics.median(values) if values else None

    count = len(world.users)
    sets = [at for at, op, _ in calls.calls if op == "AdminSetUserPassword"]
    rate = (len(sets) - 1) / (sets[-1] - sets[0]) if len(sets) > 1 and sets[-1] > sets[0] else None
    expected = count / READS + count / QUOTA
    lookups = [at for at, op, _ in calls.calls if op == "AdminGetUser"]
    read_rate = ((len(lookups) - 1) / (lookups[-1] - lookups[0])
                 if len(lookups) > 1 and lookups[-1] > lookups[0] else None)
    deviation = (limited["wall_s"] - expected) / expected
    throttled = sum(t for _, _, t in calls.calls)
    reads = Counter(op for _, op, _ in calls.calls)

    lines = [f"### {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC: bulk, {count:,} users"
             + (f": {args.note}" if args.note else ""), "",
             f"- machine: {machine()}", f"- versions: {versions()}",
             f"- `bench/run-bulk`: {count:,} users, each with a Secrets Manager secret, in a pool with a password "
             f"policy, in moto over http (set-up, not measured: {set_up:.0f} s). {args.runs} runs each, "
             "alternating, a fresh process each; medians. Rust: the release build under a local Runtime API, one "
             f"direct invocation with `Users` ({count:,} `PasswordSecretId` entries) and `MaxCallsPerSecond: "
             f"{UNLIMITED}`. boto3 loop: `bench/bulk_peer.py`, GetSecretValue then AdminSetUserPassword per user, "
             "in its own process. Wall time from handing over the list (process up, clients built) to the answer",
             f"- checked: every answer reports all {count:,} set; before each run {SAMPLE} sampled users got another "
             "password, and after it they signed in with their secret's (AdminInitiateAuth "
             f"ADMIN_USER_PASSWORD_AUTH): {SAMPLE} of {SAMPLE} every run, the 25/s run too",
             f"- load average (1 min) at start and end: {load_before:.2f}, {load_after:.2f}", "",
             "| measure | Rust | boto3 loop | Rust / boto3 loop |", "| --- | ---: | ---: | ---: |"]
    rows = [
        (f"wall time, {count:,} users (s)", "wall_s", 2),
        ("users per second", None, 0),
        ("peak RSS (MiB)", "rss_mib", 1),
        ("CPU time of the process during the invocation (s)", "cpu_s", 2),
        ("CPU time of moto meanwhile (s)", "moto_cpu_s", 2),
    ]
    for label, key, digits in rows:
        if key is None:
            rust = count / med("rust", "wall_s")
            peer = count / med("peer", "wall_s")
        else:
            rust, peer = med("rust", key), med("peer", key)
        lines.append(f"| {label} | {fmt(rust, digits)} | {fmt(peer, digits)} | {ratio(rust, peer)} |")
    lines.append(f"| of which the list, as the function logs it (`elapsed_ms`) (s) | {fmt(med('rust', 'list_s'), 2)} "
                 "| | |")
    lines.append(f"| of which the lookups, one AdminGetUser per user (`read_ms`) (s) | {fmt(med('rust', 'read_s'), 2)} "
                 "| | |")
    lines.append(f"| of which the rest: secrets, bindings, sets (s) | {fmt(med('rust', 'sets_s'), 2)} | | |")
    first_set = sets[0] - limited["started"] if sets else None
    lines += ["", f"| `MaxCallsPerSecond: {QUOTA}` and {READS} lookups per second (the defaults), the same {count:,} "
              "users, Rust, through a forwarder that notes each call | |", "| --- | ---: |",
              f"| wall time (s) | {limited['wall_s']:.2f} |",
              f"| expected, {count:,} / {READS} + {count:,} / {QUOTA} (s) | {expected:.2f} |",
              f"| deviation | {deviation:+.1%} ({'within' if abs(deviation) <= 0.10 else 'OUTSIDE'} 10%) |",
              f"| the lookups, as logged (`read_ms`) (s) | {fmt(limited.get('read_s'), 2)} |",
              f"| the rest of the list: secrets, bindings, sets (s) | {fmt(limited.get('sets_s'), 2)} |",
              f"| AdminGetUser calls per second, first call to last ({len(lookups)} calls) | {fmt(read_rate, 2)} |",
              f"| AdminSetUserPassword calls per second, first call to last | {fmt(rate, 2)} |",
              f"| secrets read first ({reads['BatchGetSecretValue']} BatchGetSecretValue, "
              f"{reads['GetSecretValue']} GetSecretValue): handed over -> first AdminSetUserPassword (s) "
              f"| {fmt(first_set, 2)} |",
              f"| peak RSS (MiB) | {limited['rss_mib']:.1f} |",
              f"| users not set (the answer) | {limited['not_set']} |",
              f"| throttling errors: answers seen by the forwarder / ThrottlingException or TooManyRequestsException "
              f"lines in the function's log | {throttled} / {limited['throttling_lines']} |",
              "", "moto does not throttle, so 0 throttling errors here says only that the function kept to the "
              "rate and reported every user; how it meets a real throttle is covered by its retries and tests, "
              "not by this run."]
    for base in baselines:
        lines += ["", f"| this build against `{base}` ({builds[base]}), same runs | this build | {base} | ratio |",
                  "| --- | ---: | ---: | ---: |"]
        for label, key, digits in rows:
            if key is None:
                ours, theirs = count / med("rust", "wall_s"), count / med(base, "wall_s")
            else:
                ours, theirs = med("rust", key), med(base, key)
            lines.append(f"| {label}, rate lifted | {fmt(ours, digits)} | {fmt(theirs, digits)} | {ratio(ours, theirs)} |")
        lines.append(f"| the list as logged (`elapsed_ms`), rate lifted (s) | {fmt(med('rust', 'list_s'), 2)} | "
                     f"{fmt(med(base, 'list_s'), 2)} | {ratio(med('rust', 'list_s'), med(base, 'list_s'))} |")
        lines.append(f"| of which the lookups (`read_ms`), rate lifted (s) | {fmt(med('rust', 'read_s'), 2)} | "
                     f"{fmt(med(base, 'read_s'), 2)} | |")
        lines.append(f"| of which the rest, rate lifted (s) | {fmt(med('rust', 'sets_s'), 2)} | "
                     f"{fmt(med(base, 'sets_s'), 2)} | {ratio(med('rust', 'sets_s'), med(base, 'sets_s'))} |")
        ours_25, theirs_25 = limited_by["rust"]["wall_s"], limited_by[base]["wall_s"]
        lines.append(f"| wall time at {QUOTA}/s (s) | {ours_25:.2f} | {theirs_25:.2f} | {ratio(ours_25, theirs_25)} |")
        ours_calls = Counter(op for _, op, _ in calls_by["rust"].calls)
        theirs_calls = Counter(op for _, op, _ in calls_by[base].calls)
        for op in sorted(set(ours_calls) | set(theirs_calls)):
            lines.append(f"| {op} calls, one list | {ours_calls[op]} | {theirs_calls[op]} | "
                         f"{ours_calls[op] - theirs_calls[op]:+d} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.no_record:
        return
    with open(BENCH / "results.md", "a") as f:
        f.write("\n" + text)


if __name__ == "__main__":
    main()
