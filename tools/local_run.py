"""Runs the function locally the way `sam local invoke` does, without Docker or an AWS account.

Starts moto's server mode on 127.0.0.1 as the AWS endpoint, creates what the sample events refer to
(a user pool with a strict password policy, users alice and bob, a secret and a parameter holding
their passwords), starts a ResponseURL server standing in for CloudFormation, and runs the function
under AWS's Lambda Runtime Interface Emulator (RIE) with the settings `sam local invoke` takes from
template.yaml. Then it feeds it every file of events/, with the sample ids replaced by the
emulator's, and prints for each: the outcome, what CloudFormation received, the user's status
before and after, whether the user can sign in with the referenced password, and the RIE's REPORT
line. Passwords are generated here and never printed.
"""

import argparse
import http.server
import json
import os
import secrets
import socket
import string
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import boto3
import yaml

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
SAMPLE_POOL = "us-east-1_Example1"
SAMPLE_RESPONSE_URL_PREFIX = "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/"
# The order tells a story: create, rotate, EventBridge, a temporary password, delete.
EVENT_ORDER = [
    "cloudformation-create.json",
    "cloudformation-update.json",
    "eventbridge.json",
    "direct.json",
    "cloudformation-delete.json",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, what, timeout=60):
    until = time.time() + timeout
    while time.time() < until:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not start on port {port}")


def strong_password():
    # Satisfies the pool's policy: 16+ characters with upper, lower, digit and symbol.
    alphabet = string.ascii_letters + string.digits
    return "Aa1!" + "".join(secrets.choice(alphabet) for _ in range(20))


class _CfnLoader(yaml.SafeLoader):
    """Reads template.yaml with CloudFormation's short-form tags as plain values: `!Ref X` as
    {"Ref": "X"}, so that a parameter's default can stand in for it; the others (!Sub, ...) as None."""


_CfnLoader.add_multi_constructor(
    "!", lambda loader, suffix, node: {"Ref": node.value} if suffix == "Ref" and isinstance(node.value, str) else None
)


# As `sam local invoke --parameter-overrides EnableRotation=true` would run it.
PARAMETER_OVERRIDES = {"EnableRotation": "true"}


def function_settings():
    """What `sam local invoke` would give the function from template.yaml."""
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)
    props = template["Resources"]["SetPasswordFunction"]["Properties"]
    logging = props.get("LoggingConfig", {})
    log_level = template["Parameters"]["LogLevel"]["Default"]
    parameters = template.get("Parameters", {})

    def value(v):
        # `sam local invoke` gives a `!Ref` to a parameter the parameter's default, or its
        # override: the samples include rotation's steps, so this runs as a rotating stack.
        if isinstance(v, dict) and "Ref" in v:
            return str(PARAMETER_OVERRIDES.get(v["Ref"], parameters[v["Ref"]]["Default"]))
        return None if v is None else str(v)

    # A variable read as None depends on a condition (`!If`): in this template, one that only an
    # optional feature sets (the bulk queue's), which the defaults leave out (AWS::NoValue).
    variables = props.get("Environment", {}).get("Variables", {})
    env = {k: value(v) for k, v in variables.items() if value(v) is not None}
    return {
        "timeout": int(props["Timeout"]),
        "memory": int(props["MemorySize"]),
        "log_format": logging.get("LogFormat", "Text"),
        "log_level": log_level,
        "env": env,
    }


class ResponseUrl:
    """CloudFormation's side: records what the function PUTs to the pre-signed URL."""

    def __init__(self):
        self.received = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # Without it, Nagle and delayed ACK add ~40 ms to every exchange.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_PUT(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.received.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cfn-response"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Emulator:
    """The function's binary under the RIE, as `sam local invoke` runs it in its container."""

    def __init__(self, command, env, log_path):
        self.port = free_port()
        api_port = free_port()
        rie = ROOT / ".tools/rie/current/aws-lambda-rie-x86_64"
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [str(rie), "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
             "--runtime-api-address", f"127.0.0.1:{api_port}", *command],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, "the Runtime Interface Emulator")

    def invoke(self, event):
        started = len(self.output())
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations",
            data=json.dumps(event).encode(), method="POST",
        )
        with urllib.request.urlopen(request, timeout=120) as answer:
            result = answer.read().decode()
        # The REPORT line can trail the answer by a moment.
        until = time.time() + 2
        while "REPORT RequestId" not in self.output()[started:] and time.time() < until:
            time.sleep(0.02)
        return result, self.output()[started:]

    def output(self):
        self.log.flush()
        return Path(self.log_path).read_text(errors="replace")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(ROOT / "target/release/cognito-set-password"))
    parser.add_argument("--qemu", action="store_true", help="run an arm64 binary under qemu-aarch64")
    parser.add_argument("--events", nargs="*", help="event files to run (default: all of events/)")
    args = parser.parse_args()

    settings = function_settings()
    work = ROOT / "target/local-run"
    work.mkdir(parents=True, exist_ok=True)

    moto_port = free_port()
    moto_log = open(work / "moto.log", "w")
    moto = subprocess.Popen([str(ROOT / ".venv/bin/python"), str(ROOT / "tools/moto_server.py"), "-H", "127.0.0.1", "-p", str(moto_port)],
                            stdout=moto_log, stderr=subprocess.STDOUT)
    wait_for_port(moto_port, "moto_server")
    endpoint = f"http://127.0.0.1:{moto_port}"
    aws = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local")
    cognito = boto3.client("cognito-idp", **aws)
    secretsmanager = boto3.client("secretsmanager", **aws)
    ssm = boto3.client("ssm", **aws)

    # What the sample events refer to, as a platform team would have set it up.
    pool = cognito.create_user_pool(PoolName="local-run", Policies={"PasswordPolicy": {
        "MinimumLength": 16, "RequireUppercase": True, "RequireLowercase": True,
        "RequireNumbers": True, "RequireSymbols": True}})["UserPool"]["Id"]
    client = cognito.create_user_pool_client(UserPoolId=pool, ClientName="local-run",
                                             ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    passwords = {"alice": strong_password(), "alice-rotated": strong_password(), "bob": strong_password()}
    for user in ("alice", "bob"):
        cognito.admin_create_user(UserPoolId=pool, Username=user)
    # Each bound to its user by its tag, created with it (which takes secretsmanager:TagResource
    # and ssm:AddTagsToResource besides the write).
    def bound_to(user):
        return [{"Key": "cognito-set-password:user", "Value": f"{pool}/{user}"}]
    secretsmanager.create_secret(Name="cognito-set-password/alice", Tags=bound_to("alice"),
                                 SecretString=json.dumps({"username": "alice", "password": passwords["alice"]}))
    ssm.put_parameter(Name="/cognito-set-password/alice-rotated", Value=passwords["alice-rotated"], Type="SecureString",
                      Tags=bound_to("alice"))
    secretsmanager.create_secret(Name="cognito-set-password/bob", SecretString=passwords["bob"], Tags=bound_to("bob"))
    # Which password each event should leave its user with.
    expected_password = {
        "cloudformation-create.json": passwords["alice"],
        "cloudformation-update.json": passwords["alice-rotated"],
        "eventbridge.json": passwords["bob"],
        "direct.json": passwords["bob"],
        "cloudformation-delete.json": passwords["alice-rotated"],
    }

    cfn = ResponseUrl()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_LAMBDA_FUNCTION_NAME": "SetPasswordFunction",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(settings["timeout"]),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(settings["memory"]),
        "AWS_LAMBDA_LOG_FORMAT": settings["log_format"],
        "AWS_LAMBDA_LOG_LEVEL": settings["log_level"],
        **settings["env"],
        # The local ResponseURL is on loopback; on AWS only CloudFormation's own are accepted.
        "RESPONSE_URL_HOSTS": "127.0.0.1",
    }
    command = [args.binary]
    if args.qemu:
        command = ["qemu-aarch64", args.binary]
        env["QEMU_LD_PREFIX"] = "/usr/aarch64-linux-gnu"
    emulator = Emulator(command, env, work / "rie.log")

    print(f"moto on {endpoint}; user pool {pool}; users alice and bob in FORCE_CHANGE_PASSWORD")
    print(f"function: {' '.join(command)} under the RIE (timeout {settings['timeout']} s, "
          f"{settings['memory']} MB, {settings['log_format']} logs at {settings['log_level']})\n")
    names = args.events or [n for n in EVENT_ORDER if (ROOT / "events" / n).exists()]
    failures = 0
    try:
        for name in names:
            text = (ROOT / "events" / name).read_text().replace(SAMPLE_POOL, pool)
            event = json.loads(text)
            if "ResponseURL" in event:
                event["ResponseURL"] = cfn.url
            props = event.get("ResourceProperties") or event.get("detail") or event
            user = props["Username"]
            before = cognito.admin_get_user(UserPoolId=pool, Username=user)["UserStatus"]
            seen = len(cfn.received)
            result, output = emulator.invoke(event)
            after = cognito.admin_get_user(UserPoolId=pool, Username=user)["UserStatus"]
            try:
                auth = cognito.admin_initiate_auth(UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                                   AuthParameters={"USERNAME": user, "PASSWORD": expected_password[name]})
                login = "signed in" if "AuthenticationResult" in auth else f"password accepted, {auth.get('ChallengeName')}"
            except cognito.exceptions.NotAuthorizedException:
                login = "refused"
            print(f"== events/{name}")
            print(f"   user {user}: {before} -> {after}; sign-in with the referenced password: {login}")
            for response in cfn.received[seen:]:
                print(f"   CloudFormation received: {json.dumps(response)}")
                failures += response.get("Status") != "SUCCESS"
            if "ResponseURL" not in event:
                print(f"   returned: {result}")
                failures += "errorType" in result
            report = [line.strip() for line in output.splitlines() if "REPORT RequestId" in line or "INIT REPORT" in line]
            for line in report:
                print(f"   {line}")
            leaked = [p for p in passwords.values() if p in output or p in result]
            if leaked:
                failures += 1
                print("   !! a password appeared in the function's output")
    finally:
        emulator.stop()
        moto.terminate()
    # Every event above succeeds: a line at ERROR in the function's log is a fault of its own.
    errors = [line for line in (work / "rie.log").read_text().splitlines() if '"level":"ERROR"' in line]
    for line in errors:
        print(f"!! the function logged an error: {line[:400]}")
    failures += len(errors)
    print(f"\nfunction log: {work / 'rie.log'}")
    print("all events succeeded" if failures == 0 else f"{failures} event(s) did not succeed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
