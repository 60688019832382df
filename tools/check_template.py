"""Asserts the IAM permissions that `sam deploy` of template.yaml would give the function.

The template is transformed with the SAM translator, offline, exactly as CloudFormation's
AWS::Serverless transform does, and the generated role is checked: each action only on the
resources the template's parameters scope it to, nothing broader, and `Resource: "*"` only for
secretsmanager:GetRandomPassword and secretsmanager:BatchGetSecretValue, which IAM cannot scope to a
resource, each alone in its statement. Then who may invoke the function (Secrets Manager from this
account, each rule) and who may send to its dead-letter queue; and the optional bulk queue: read
only by the function, only when enabled, with its dead-letter queue and an event source mapping
that reports failures per message and caps the copies of the function that call Cognito at once.
Prints one line per check and a closing 'N passed, N failed' line.

  python tools/check_template.py [--template template.yaml]
"""

import argparse
import json
import re
import os
import sys
from pathlib import Path

from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parent.parent


class NoManagedPolicies:
    """The template names no managed policy except the basic execution role SAM adds itself."""

    def load(self):
        return {}


def statements(resources):
    role = resources["SetPasswordFunctionRole"]["Properties"]
    found = []

    def walk(node, condition=None):
        if isinstance(node, dict):
            if "Fn::If" in node:
                cond, yes, _no = node["Fn::If"]
                walk(yes, cond)
                return
            if "Effect" in node and "Action" in node:
                found.append((node, condition))
                return
            for value in node.values():
                walk(value, condition)
        elif isinstance(node, list):
            for value in node:
                walk(value, condition)

    walk(role.get("Policies", []))
    return role, found


# Every AWS operation the function calls, as IAM names it, and the file of src/aws/ that calls it;
# tools/check_terraform.py holds the module's role to the same list.
OPERATIONS = {
    "cognito-idp:AdminSetUserPassword": "cognito.rs",
    "cognito-idp:DescribeUserPool": "cognito.rs",
    "cognito-idp:DescribeUserPoolClient": "sign_in.rs",
    "cognito-idp:AdminInitiateAuth": "sign_in.rs",
    "cognito-idp:AdminGetUser": "cognito.rs",
    "secretsmanager:GetSecretValue": "secrets.rs",
    "secretsmanager:BatchGetSecretValue": "secrets.rs",
    "secretsmanager:DescribeSecret": "secrets.rs",
    "secretsmanager:PutSecretValue": "secrets.rs",
    "secretsmanager:UpdateSecretVersionStage": "secrets.rs",
    "secretsmanager:GetRandomPassword": "secrets.rs",
    "ssm:GetParameter": "ssm.rs",
    "ssm:ListTagsForResource": "ssm.rs",
}
# Operations the function calls that no IAM action governs: RevokeToken is authorised by the app
# client's id and secret.
WITHOUT_IAM = {"cognito-idp:RevokeToken": "sign_in.rs"}
# What only rotation calls: granted only when EnableRotation is true.
ROTATION_ONLY = {"cognito-idp:DescribeUserPool", "cognito-idp:DescribeUserPoolClient", "cognito-idp:AdminInitiateAuth",
                 "secretsmanager:PutSecretValue", "secretsmanager:GetRandomPassword"}
# Every read of a secret or parameter, and every write of a secret's versions, is held to the
# stack's region and OtherRegions (the region in the ARNs is "*" so that OtherRegions can be listed).
IN_THE_REGIONS = {"StringEquals": {"aws:RequestedRegion": {"Fn::If": [
    "HasOtherRegions", {"Fn::Split": [",", {"Fn::Sub": "${AWS::Region},${OtherRegions}"}]}, [{"Ref": "AWS::Region"}]]}}}
SERVICE_OF_FILE = {"cognito.rs": "cognito-idp", "sign_in.rs": "cognito-idp", "secrets.rs": "secretsmanager",
                   "ssm.rs": "ssm"}


def operations_in_code():
    """(action, file) of each SDK call in src/aws/: the operation that starts each `.send()` chain (the
    first method called without arguments after the statement begins), as IAM names it."""
    found = set()
    for name, service in SERVICE_OF_FILE.items():
        text = (ROOT / "src" / "aws" / name).read_text()
        for send in re.finditer(r"\.send\(\)", text):
            start = max(text.rfind(c, 0, send.start()) for c in ";{")
            chain = re.findall(r"\.([a-z][a-z0-9_]*)\(\)", text[start:send.start()])
            variable = re.search(r"(\w+)\s*$", text[:send.start()])
            segment = text[start:send.start()]
            for _ in range(3):
                customized = re.search(r"(\w+)\s*\.customize\(\)", segment)
                if chain[:1] == ["customize"] and customized:
                    # `let once = request.customize()…; once.send()`: the operation is `request`'s.
                    chain, variable = [], customized
                if chain or not variable:
                    break
                # A request built in a variable first: `let mut request = client.op()…; request.send()`.
                built = list(re.finditer(rf"let (?:mut )?{variable.group(1)} = ([^;]*)", text[:send.start()]))
                segment = built[-1].group(1) if built else ""
                chain = re.findall(r"\.([a-z][a-z0-9_]*)\(\)", segment)
                variable = None
            if chain:
                found.add((f"{service}:{''.join(w.capitalize() for w in chain[0].split('_'))}", name))
    return found


def as_list(value):
    return value if isinstance(value, list) else [value]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    args = parser.parse_args()
    path = ROOT / args.template  # an absolute path stays as it is
    template, matches = decode_str(path.read_text())
    if matches:
        sys.exit(f"{path} does not parse: {matches}")
    # The translator fills in pseudo parameters from a region; any region will do offline.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = json.loads(json.dumps(template))
    # As `sam deploy` packages it: the code is an S3 object by then.
    template["Resources"]["SetPasswordFunction"]["Properties"]["CodeUri"] = "s3://bucket/cognito-set-password.zip"
    transformed = transform(template, {}, NoManagedPolicies())
    role, found = statements(transformed["Resources"])

    checks = []

    def check(name, ok, detail=""):
        checks.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}")

    by_action = {}
    for statement, condition in found:
        for action in as_list(statement["Action"]):
            by_action.setdefault(action, []).append((statement, condition))

    cognito_actions = ["cognito-idp:AdminSetUserPassword", "cognito-idp:DescribeUserPool",
                       "cognito-idp:DescribeUserPoolClient", "cognito-idp:AdminInitiateAuth",
                       "cognito-idp:AdminGetUser"]
    secret_actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret",
                      "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]
    queue_actions = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    check(
        "the role allows exactly these actions",
        set(by_action) == {*cognito_actions, *secret_actions, *queue_actions, "secretsmanager:GetRandomPassword",
                           "secretsmanager:BatchGetSecretValue", "ssm:GetParameter", "ssm:ListTagsForResource", "kms:Decrypt",
                           "kms:GenerateDataKey", "sqs:SendMessage"},
        f"{sorted(by_action)}",
    )
    check(
        "every statement allows, none denies or wildcards an action",
        all(s["Effect"] == "Allow" and all("*" not in a for a in as_list(s["Action"])) for s, _ in found),
    )
    # The two actions IAM cannot scope to a resource, each alone in its own statement, so that
    # no other action rides along on "*".
    star = [(s, cond) for s, cond in found if "*" in as_list(s.get("Resource", "*"))]
    check(
        'Resource "*" only in two statements: secretsmanager:GetRandomPassword alone, when EnableRotation, and '
        "secretsmanager:BatchGetSecretValue alone, always",
        sorted(([as_list(s["Action"]), as_list(s["Resource"]), cond] for s, cond in star), key=json.dumps)
        == [[["secretsmanager:BatchGetSecretValue"], ["*"], None],
            [["secretsmanager:GetRandomPassword"], ["*"], "WithRotation"]],
        json.dumps(star),
    )

    def only_on(action, resource, what, iam_condition=None):
        """Every statement that allows `action` does so on exactly `resource`, with exactly
        `iam_condition`, and only when EnableRotation is true for what only rotation calls."""
        statements = by_action.get(action, [])
        when = "WithRotation" if action in ROTATION_ONLY else None
        check(
            f"{action.split(':')[1]} only on {what}" + (", only when EnableRotation" if when else ""),
            bool(statements) and all(s["Resource"] == resource and s.get("Condition") == iam_condition
                                     and cond == when for s, cond in statements),
            json.dumps([[s, cond] for s, cond in statements]),
        )

    for action in cognito_actions:
        only_on(action, {"Ref": "UserPoolArns"}, "the UserPoolArns parameter")

    secrets_under_prefix = {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:*:${AWS::AccountId}"
                                       ":secret:${SecretNamePrefix}*"}
    for action in secret_actions:
        only_on(action, secrets_under_prefix,
                "secrets under SecretNamePrefix, in this account, this region and OtherRegions", IN_THE_REGIONS)

    only_on("secretsmanager:GetRandomPassword", "*", '"*" (it acts on no resource)')
    # Secrets Manager checks GetSecretValue on each secret of a batch: with GetSecretValue only
    # under the prefix (above), "*" reads nothing more. Filters would need ListSecrets, which the
    # role does not have (the exact action list above).
    only_on("secretsmanager:BatchGetSecretValue", "*",
            '"*" (no resource-level permissions; each secret still needs GetSecretValue)')

    for action in ("ssm:GetParameter", "ssm:ListTagsForResource"):
        only_on(
            action,
            {"Fn::Sub": "arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:parameter${ParameterPathPrefix}*"},
            "parameters under ParameterPathPrefix, in this account, this region and OtherRegions",
            IN_THE_REGIONS,
        )
    for variable, parameter, default, allowed in (("SECRET_BINDING", "SecretBinding", "Tag", ["Tag", "None"]),
                                                  ("ALLOW_VERSION_SELECTORS", "AllowVersionSelectors", "true",
                                                   ["true", "false"]),
                                                  ("ALLOW_FEDERATED_USERS", "AllowFederatedUsers", "false",
                                                   ["true", "false"])):
        spec = transformed["Parameters"].get(parameter, {})
        check(
            f"{variable} is the {parameter} parameter ({' or '.join(allowed)}, default {default})",
            transformed["Resources"]["SetPasswordFunction"]["Properties"]["Environment"]["Variables"].get(variable)
            == {"Ref": parameter} and spec.get("Default") == default and spec.get("AllowedValues") == allowed,
            json.dumps(spec),
        )

    secret_context = {"kms:EncryptionContext:SecretARN": {"Fn::Sub": (
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretNamePrefix}*")}}
    parameter_context = {"kms:EncryptionContext:PARAMETER_ARN": {"Fn::Sub": (
        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${ParameterPathPrefix}*")}}
    via = {service: {"kms:ViaService": {"Fn::Sub": f"{service}.${{AWS::Region}}.amazonaws.com"}}
           for service in ("secretsmanager", "ssm")}
    for action, wanted in (
        ("kms:Decrypt", [{"StringEquals": via["secretsmanager"], "StringLike": secret_context},
                         {"StringEquals": via["ssm"], "StringLike": parameter_context}]),
        ("kms:GenerateDataKey", [{"StringEquals": via["secretsmanager"], "StringLike": secret_context}]),
    ):
        granted = by_action.get(action, [])
        check(
            f"{action} only when a key is given, only on KmsKeyArn, and only through "
            + " and ".join(
                "Secrets Manager for secrets under SecretNamePrefix" if "kms:EncryptionContext:SecretARN" in w["StringLike"]
                else "SSM for parameters under ParameterPathPrefix" for w in wanted)
            + " (the encryption context names them)",
            sorted((json.dumps(st.get("Condition"), sort_keys=True) for st, _ in granted))
            == sorted(json.dumps(w, sort_keys=True) for w in wanted)
            and all(cond == "HasKmsKey" and st["Resource"] == {"Ref": "KmsKeyArn"} for st, cond in granted),
            json.dumps(granted),
        )

    only_on("sqs:SendMessage", {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]}, "the failed-invocations queue")

    # The bulk queue: the event source mapping receives and deletes with the function's role.
    bulk_queue = {"Fn::GetAtt": ["BulkQueue", "Arn"]}
    receiving = [by_action.get(action, []) for action in queue_actions]
    check(
        f"{', '.join(queue_actions)} in one statement, only on the bulk queue, only when WithBulkQueue",
        all(len(r) == 1 and r[0] == receiving[0][0] for r in receiving)
        and sorted(as_list(receiving[0][0][0]["Action"])) == sorted(queue_actions)
        and receiving[0][0][0]["Resource"] == bulk_queue and receiving[0][0][1] == "WithBulkQueue"
        and "Condition" not in receiving[0][0][0],
        json.dumps(receiving),
    )

    managed = role.get("ManagedPolicyArns", [])
    check(
        "the only managed policy is the basic execution role (CloudWatch Logs)",
        len(managed) == 1 and "AWSLambdaBasicExecutionRole" in json.dumps(managed),
        json.dumps(managed),
    )

    resources = transformed["Resources"]
    permissions = {name: r for name, r in resources.items() if r["Type"] == "AWS::Lambda::Permission"}
    function = {"Ref": "SetPasswordFunction"}
    rotation = permissions.get("SecretsManagerRotationPermission", {})
    check(
        "Secrets Manager may invoke the function for rotation of secrets under SecretNamePrefix in this account "
        "and region only, when EnableRotation is true (default false)",
        rotation.get("Condition") == "WithRotation"
        and transformed["Conditions"].get("WithRotation") == {"Fn::Equals": [{"Ref": "EnableRotation"}, "true"]}
        and transformed["Parameters"].get("EnableRotation", {}).get("Default") == "false"
        and rotation.get("Properties") == {
            "Action": "lambda:InvokeFunction", "FunctionName": function,
            "Principal": "secretsmanager.amazonaws.com", "SourceAccount": {"Ref": "AWS::AccountId"},
            "SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
                                     "${SecretNamePrefix}*"}},
        json.dumps(rotation),
    )
    for rule, condition in (("PasswordRequestRule", "WithEventBridgeRule"), ("SecretSyncRule", "WithSecretSyncRule")):
        permission = permissions.get(f"{rule}Permission", {})
        check(
            f"EventBridge may invoke the function from {rule} only, when {condition}",
            permission.get("Condition") == condition and permission.get("Properties") == {
                "Action": "lambda:InvokeFunction", "FunctionName": function,
                "Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": [rule, "Arn"]}},
            json.dumps(permission),
        )
    check(
        "nothing else may invoke the function",
        set(permissions) == {"SecretsManagerRotationPermission", "PasswordRequestRulePermission",
                             "SecretSyncRulePermission"},
        f"{sorted(permissions)}",
    )

    sync_rule = resources.get("SecretSyncRule", {})
    check(
        "the sync rule matches AWSCURRENT moves of secrets under SecretNamePrefix only",
        sync_rule.get("Condition") == "WithSecretSyncRule"
        and sync_rule.get("Properties", {}).get("EventPattern") == {
            "account": [{"Ref": "AWS::AccountId"}],
            "source": ["aws.secretsmanager"], "detail-type": ["Secret Label Updated"],
            "detail": {"name": [{"prefix": {"Ref": "SecretNamePrefix"}}], "labelUpdated": ["AWSCURRENT"]}},
        json.dumps(sync_rule.get("Properties", {}).get("EventPattern")),
    )
    request_rule = resources.get("PasswordRequestRule", {}).get("Properties", {}).get("EventPattern", {})
    check(
        "the request rule matches the EventSource and EventDetailType put on the bus by this account only",
        request_rule == {"account": [{"Ref": "AWS::AccountId"}], "source": [{"Ref": "EventSource"}],
                         "detail-type": [{"Ref": "EventDetailType"}]},
        json.dumps(request_rule),
    )
    for rule in ("PasswordRequestRule", "SecretSyncRule"):
        targets = resources.get(rule, {}).get("Properties", {}).get("Targets", [])
        check(
            f"{rule} targets the function only, with retries and the failed-invocations queue",
            len(targets) == 1 and targets[0].get("Arn") == {"Fn::GetAtt": ["SetPasswordFunction", "Arn"]}
            and "RetryPolicy" in targets[0]
            and targets[0].get("DeadLetterConfig") == {"Arn": {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]}},
            json.dumps(targets),
        )

    queue_policy = resources.get("FailedInvocationsQueuePolicy", {})
    queue_statements = queue_policy.get("Properties", {}).get("PolicyDocument", {}).get("Statement", [])
    queue_statement = queue_statements[0] if len(queue_statements) == 1 else None
    check(
        "the dead-letter queue policy exists whenever either rule does",
        queue_policy.get("Condition") == "WithAnyRule"
        and transformed["Conditions"].get("WithAnyRule") == {
            "Fn::Or": [{"Condition": "WithEventBridgeRule"}, {"Condition": "WithSecretSyncRule"}]},
        json.dumps([queue_policy.get("Condition"), transformed["Conditions"].get("WithAnyRule")]),
    )
    check(
        "EventBridge may send to the dead-letter queue from the rules that exist, and nothing else may",
        queue_statement is not None
        and queue_statement.get("Principal") == {"Service": "events.amazonaws.com"}
        and queue_statement.get("Action") == "sqs:SendMessage"
        and queue_statement.get("Resource") == {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]}
        and queue_statement.get("Condition") == {"ArnEquals": {"aws:SourceArn": [
            {"Fn::If": ["WithEventBridgeRule", {"Fn::GetAtt": ["PasswordRequestRule", "Arn"]},
                        {"Ref": "AWS::NoValue"}]},
            {"Fn::If": ["WithSecretSyncRule", {"Fn::GetAtt": ["SecretSyncRule", "Arn"]},
                        {"Ref": "AWS::NoValue"}]}]}},
        json.dumps(queue_statement),
    )

    # -- many users: the rate limit, and the optional bulk queue
    parameters = transformed["Parameters"]
    function_properties = resources["SetPasswordFunction"]["Properties"]
    variables = function_properties.get("Environment", {}).get("Variables", {})
    rate = parameters.get("MaxCallsPerSecond", {})
    check(
        "MAX_CALLS_PER_SECOND is the MaxCallsPerSecond parameter: default 25 (Cognito's UserUpdate quota), "
        "above 0, at most 10000",
        variables.get("MAX_CALLS_PER_SECOND") == {"Ref": "MaxCallsPerSecond"} and rate.get("Type") == "Number"
        and rate.get("Default") == 25 and rate.get("MinValue", 0) > 0 and 0 < rate.get("MaxValue", 10001) <= 10000,
        json.dumps([variables, rate]),
    )
    reads = parameters.get("MaxReadsPerSecond", {})
    check(
        "MAX_READS_PER_SECOND is the MaxReadsPerSecond parameter: default 100 (below Cognito's UserRead quota, "
        "120), above 0, at most 10000",
        variables.get("MAX_READS_PER_SECOND") == {"Ref": "MaxReadsPerSecond"} and reads.get("Type") == "Number"
        and reads.get("Default") == 100 and reads.get("MinValue", 0) > 0 and 0 < reads.get("MaxValue", 10001) <= 10000,
        json.dumps([variables, reads]),
    )
    mapping = resources.get("BulkQueueEventSourceMapping", {}).get("Properties", {})
    check(
        "the function is told how many copies share the rate: BULK_QUEUE_MAXIMUM_CONCURRENCY is the "
        "event source mapping's MaximumConcurrency, with the queue only",
        variables.get("BULK_QUEUE_MAXIMUM_CONCURRENCY")
        == {"Fn::If": ["WithBulkQueue", {"Ref": "BulkQueueMaximumConcurrency"}, {"Ref": "AWS::NoValue"}]}
        and mapping.get("ScalingConfig", {}).get("MaximumConcurrency") == {"Ref": "BulkQueueMaximumConcurrency"},
        json.dumps([variables.get("BULK_QUEUE_MAXIMUM_CONCURRENCY"), mapping.get("ScalingConfig")]),
    )
    check(
        "the bulk queue and everything of it exist only when EnableBulkQueue is true (default false)",
        transformed["Conditions"].get("WithBulkQueue") == {"Fn::Equals": [{"Ref": "EnableBulkQueue"}, "true"]}
        and parameters.get("EnableBulkQueue", {}).get("Default") == "false"
        and all(resources.get(name, {}).get("Condition") == "WithBulkQueue"
                for name in ("BulkQueue", "BulkDeadLetterQueue", "BulkQueueEventSourceMapping")),
        json.dumps([transformed["Conditions"].get("WithBulkQueue")]
                   + [resources.get(n, {}).get("Condition") for n in ("BulkQueue", "BulkDeadLetterQueue",
                                                                      "BulkQueueEventSourceMapping")]),
    )
    queue = resources.get("BulkQueue", {}).get("Properties", {})
    dead_letters = resources.get("BulkDeadLetterQueue", {}).get("Properties", {})
    timeout = function_properties.get("Timeout", 0)
    check(
        f"the bulk queue's visibility timeout is at least 6 x the function's timeout ({timeout} s), as AWS advises",
        isinstance(queue.get("VisibilityTimeout"), int) and timeout > 0 and queue["VisibilityTimeout"] >= 6 * timeout,
        json.dumps(queue.get("VisibilityTimeout")),
    )
    redrive = queue.get("RedrivePolicy", {})
    check(
        "the bulk queue sends a message that keeps failing to its own dead-letter queue, after a few receives",
        set(redrive) == {"deadLetterTargetArn", "maxReceiveCount"}
        and redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["BulkDeadLetterQueue", "Arn"]}
        and isinstance(redrive["maxReceiveCount"], int) and 1 <= redrive["maxReceiveCount"] <= 10,
        json.dumps(redrive),
    )
    check(
        "both bulk queues are encrypted (SSE-SQS); the dead-letter queue keeps a message 4 days, "
        "longer than the bulk queue (a message keeps its first enqueue time when it moves)",
        queue.get("SqsManagedSseEnabled") is True and dead_letters.get("SqsManagedSseEnabled") is True
        and dead_letters.get("MessageRetentionPeriod") == 345600
        and queue.get("MessageRetentionPeriod", 345600) < dead_letters["MessageRetentionPeriod"],
        json.dumps([queue, dead_letters]),
    )
    mappings = {name: r for name, r in resources.items() if r["Type"] == "AWS::Lambda::EventSourceMapping"}
    mapping = mappings.get("BulkQueueEventSourceMapping", {}).get("Properties", {})
    check(
        "one event source mapping: the bulk queue to the function, in batches of at most 10",
        list(mappings) == ["BulkQueueEventSourceMapping"]
        and mapping.get("EventSourceArn") == bulk_queue and mapping.get("FunctionName") == function
        and isinstance(mapping.get("BatchSize"), int) and 1 <= mapping["BatchSize"] <= 10
        and "MaximumBatchingWindowInSeconds" not in mapping,
        json.dumps(mappings),
    )
    check(
        "the mapping takes the function's batchItemFailures (FunctionResponseTypes ReportBatchItemFailures)",
        mapping.get("FunctionResponseTypes") == ["ReportBatchItemFailures"],
        json.dumps(mapping.get("FunctionResponseTypes")),
    )
    concurrency = parameters.get("BulkQueueMaximumConcurrency", {})
    check(
        "the mapping caps the copies of the function at BulkQueueMaximumConcurrency (default 2, Lambda's 2 to 1000)",
        mapping.get("ScalingConfig") == {"MaximumConcurrency": {"Ref": "BulkQueueMaximumConcurrency"}}
        and concurrency.get("Type") == "Number" and concurrency.get("Default") == 2
        and concurrency.get("MinValue") == 2 and concurrency.get("MaxValue") == 1000,
        json.dumps([mapping.get("ScalingConfig"), concurrency]),
    )
    outputs = transformed.get("Outputs", {})
    bulk_outputs = {"BulkQueueUrl": {"Ref": "BulkQueue"}, "BulkQueueArn": bulk_queue,
                    "BulkDeadLetterQueueUrl": {"Ref": "BulkDeadLetterQueue"},
                    "BulkDeadLetterQueueArn": {"Fn::GetAtt": ["BulkDeadLetterQueue", "Arn"]}}
    check(
        "the stack outputs both bulk queues' URLs and ARNs, only when they exist",
        all(outputs.get(name, {}).get("Condition") == "WithBulkQueue" and outputs[name].get("Value") == value
            for name, value in bulk_outputs.items()),
        json.dumps({name: outputs.get(name) for name in bulk_outputs}),
    )

    # The prefixes: a path of at least one segment, ending in a slash; never one letter or "/".
    for parameter, good, bad in (
        ("SecretNamePrefix", ["cognito-set-password/", "team/app/", "a/"], ["a", "/", "", "/a/", "a//", "a/*"]),
        ("ParameterPathPrefix", ["/cognito-set-password/", "/team/app/"], ["/", "", "a/", "/a", "//", "/a/*/"]),
    ):
        pattern = re.compile(parameters.get(parameter, {}).get("AllowedPattern", ""))
        default = parameters.get(parameter, {}).get("Default")
        check(
            f"{parameter} accepts a path ending in a slash ({', '.join(good)}) and refuses {bad}",
            all(pattern.fullmatch(p) for p in [default, *good]) and not any(pattern.fullmatch(p) for p in bad),
            pattern.pattern,
        )
    # The dead-letter queues: the bulk one takes failures from the bulk queue only, the
    # failed-invocations one (a Lambda destination, nobody's redrive target) from no queue.
    bulk_source = {"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-bulk"}
    check(
        "the bulk dead-letter queue allows redrive from the bulk queue only, named so that its ARN is known",
        resources.get("BulkDeadLetterQueue", {}).get("Properties", {}).get("RedriveAllowPolicy")
        == {"redrivePermission": "byQueue", "sourceQueueArns": [bulk_source]}
        and resources.get("BulkQueue", {}).get("Properties", {}).get("QueueName")
        == {"Fn::Sub": "${AWS::StackName}-bulk"},
        json.dumps([resources.get("BulkDeadLetterQueue"), resources.get("BulkQueue", {}).get("Properties", {}).get("QueueName")]),
    )
    check(
        "the failed-invocations queue is nobody's dead-letter queue (denyAll)",
        resources.get("FailedInvocationsQueue", {}).get("Properties", {}).get("RedriveAllowPolicy")
        == {"redrivePermission": "denyAll"},
        json.dumps(resources.get("FailedInvocationsQueue")),
    )

    # Every operation the code calls is granted, whatever the template's conditions.
    called = operations_in_code()
    check(
        "the operations the code calls (src/aws/) are exactly the list this check holds",
        called == set(OPERATIONS.items()) | set(WITHOUT_IAM.items()),
        f"in the code, not listed: {sorted(called - set(OPERATIONS.items()) - set(WITHOUT_IAM.items()))}; "
        f"listed, not in the code: {sorted((set(OPERATIONS.items()) | set(WITHOUT_IAM.items())) - called)}",
    )
    conditions = sorted({cond for _, cond in found if cond})
    missing = []
    for on in range(2 ** len(conditions)):
        active = {cond for i, cond in enumerate(conditions) if on >> i & 1}
        allowed = {a for st, cond in found if cond is None or cond in active for a in as_list(st["Action"])}
        missing += [f"{action} when {sorted(active) or 'no condition'} holds" for action in OPERATIONS
                    if action not in allowed and (action not in ROTATION_ONLY or "WithRotation" in active)]
    check(
        f"every operation the code calls is granted under each of the {2 ** len(conditions)} combinations "
        f"of {conditions}",
        not missing,
        "; ".join(missing),
    )

    check(
        "the function is told whether rotation is on (ENABLE_ROTATION is EnableRotation), to refuse a step naming it",
        variables.get("ENABLE_ROTATION") == {"Ref": "EnableRotation"}, json.dumps(variables),
    )
    other = parameters.get("OtherRegions", {})
    region_pattern = re.compile(other.get("AllowedPattern", "^$"))
    check(
        "OtherRegions is empty by default (this region only) and takes region names separated by commas",
        other.get("Default") == "" and all(region_pattern.fullmatch(r) for r in ("", "eu-west-1", "us-gov-west-1,ap-south-2"))
        and not any(region_pattern.fullmatch(r) for r in ("*", "eu-west-1, us-east-1", "eu-west-1,", "arn:aws")),
        json.dumps(other),
    )
    reserved = parameters.get("ReservedConcurrency", {})
    rule = transformed.get("Rules", {}).get("ReservedConcurrencyAboveTheBulkQueue", {})
    check(
        "ReservedConcurrency (empty: none) is the function's reserved concurrency and RESERVED_CONCURRENCY, and a "
        "rule refuses one that cannot exceed BulkQueueMaximumConcurrency as far as CloudFormation can compare",
        reserved.get("Default") == ""
        and function_properties.get("ReservedConcurrentExecutions")
        == {"Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}
        and variables.get("RESERVED_CONCURRENCY")
        == {"Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}
        and rule.get("Assertions", [{}])[0].get("Assert") == {"Fn::Not": [{"Fn::Contains": [
            ["1", {"Ref": "BulkQueueMaximumConcurrency"}], {"Ref": "ReservedConcurrency"}]}]},
        json.dumps([reserved, rule]),
    )

    # Who hears a failure: each failure queue and the function's errors raise an alarm, whose one
    # action is the optional AlarmTopicArn.
    topic = parameters.get("AlarmTopicArn", {})
    check(
        "AlarmTopicArn is optional (empty by default) and must be an SNS topic's ARN",
        topic.get("Default") == "" and topic.get("Type") == "String"
        and transformed["Conditions"].get("HasAlarmTopic") == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]},
        json.dumps([topic, transformed["Conditions"].get("HasAlarmTopic")]),
    )
    action = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    for alarm, condition, namespace, metric, dimension, statistic in (
        ("FailedInvocationsAlarm", None, "AWS/SQS", "ApproximateNumberOfMessagesVisible",
         {"Name": "QueueName", "Value": {"Fn::GetAtt": ["FailedInvocationsQueue", "QueueName"]}}, "Maximum"),
        ("BulkDeadLetterAlarm", "WithBulkQueue", "AWS/SQS", "ApproximateNumberOfMessagesVisible",
         {"Name": "QueueName", "Value": {"Fn::GetAtt": ["BulkDeadLetterQueue", "QueueName"]}}, "Maximum"),
        ("FunctionErrorsAlarm", None, "AWS/Lambda", "Errors",
         {"Name": "FunctionName", "Value": {"Ref": "SetPasswordFunction"}}, "Sum"),
    ):
        resource = resources.get(alarm, {})
        properties = resource.get("Properties", {})
        check(
            f"{alarm}: {namespace} {metric} ({statistic}) above 0 in 5 minutes raises it, its action the AlarmTopicArn"
            + (f", when {condition}" if condition else ""),
            resource.get("Type") == "AWS::CloudWatch::Alarm" and resource.get("Condition") == condition
            and properties.get("Namespace") == namespace and properties.get("MetricName") == metric
            and properties.get("Dimensions") == [dimension] and properties.get("Statistic") == statistic
            and properties.get("Period") == 300 and properties.get("EvaluationPeriods") == 1
            and properties.get("Threshold") == 0 and properties.get("ComparisonOperator") == "GreaterThanThreshold"
            and properties.get("TreatMissingData") == "notBreaching" and properties.get("AlarmActions") == action,
            json.dumps(resource),
        )

    passed, failed = checks.count(True), checks.count(False)
    print(f"template: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
