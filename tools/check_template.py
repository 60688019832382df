"""Asserts the IAM permissions that `sam deploy` of template.yaml would give the function.

The template is transformed with the SAM translator, offline, exactly as CloudFormation's
AWS::Serverless transform does, and the generated role is checked: each action only on the
resources the template's parameters scope it to, nothing broader, and `Resource: "*"` only for
secretsmanager:GetRandomPassword, which acts on no resource. Then who may invoke the function
(Secrets Manager from this account, each rule) and who may send to its dead-letter queue.
Prints one line per check and a closing 'N passed, N failed' line.
"""

import json
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


def as_list(value):
    return value if isinstance(value, list) else [value]


def main():
    template, matches = decode_str((ROOT / "template.yaml").read_text())
    if matches:
        sys.exit(f"template.yaml does not parse: {matches}")
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
    check(
        "the role allows exactly these actions",
        set(by_action) == {*cognito_actions, *secret_actions, "secretsmanager:GetRandomPassword",
                           "ssm:GetParameter", "kms:Decrypt", "kms:GenerateDataKey", "sqs:SendMessage"},
        f"{sorted(by_action)}",
    )
    check(
        "every statement allows, none denies or wildcards an action",
        all(s["Effect"] == "Allow" and all("*" not in a for a in as_list(s["Action"])) for s, _ in found),
    )
    check(
        'Resource "*" only in a statement that allows secretsmanager:GetRandomPassword alone',
        all(as_list(s["Action"]) == ["secretsmanager:GetRandomPassword"]
            for s, _ in found if "*" in as_list(s.get("Resource", "*"))),
        json.dumps([s for s, _ in found if "*" in as_list(s.get("Resource", "*"))]),
    )

    def only_on(action, resource, what):
        """Every statement that allows `action` does so on exactly `resource`, without a condition."""
        statements = by_action.get(action, [])
        check(
            f"{action.split(':')[1]} only on {what}",
            bool(statements) and all(s["Resource"] == resource and cond is None for s, cond in statements),
            json.dumps([s for s, _ in statements]),
        )

    for action in cognito_actions:
        only_on(action, {"Ref": "UserPoolArns"}, "the UserPoolArns parameter")

    secrets_under_prefix = {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
                                       ":secret:${SecretNamePrefix}*"}
    for action in secret_actions:
        only_on(action, secrets_under_prefix, "secrets under SecretNamePrefix, in this account and region")

    only_on("secretsmanager:GetRandomPassword", "*", '"*" (it acts on no resource)')

    only_on(
        "ssm:GetParameter",
        {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${ParameterPathPrefix}*"},
        "parameters under ParameterPathPrefix, in this account and region",
    )

    [(kms, kms_condition)] = by_action["kms:Decrypt"]
    check("kms:Decrypt only when a key is given", kms_condition == "HasKmsKey", str(kms_condition))
    check("kms:Decrypt only on the KmsKeyArn parameter", kms["Resource"] == {"Ref": "KmsKeyArn"}, json.dumps(kms))
    check(
        "kms:Decrypt only through Secrets Manager and SSM",
        kms.get("Condition") == {"StringEquals": {"kms:ViaService": [
            {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"},
            {"Fn::Sub": "ssm.${AWS::Region}.amazonaws.com"}]}},
        json.dumps(kms.get("Condition")),
    )

    [(data_key, data_key_condition)] = by_action["kms:GenerateDataKey"]
    check("kms:GenerateDataKey only when a key is given", data_key_condition == "HasKmsKey",
          str(data_key_condition))
    check("kms:GenerateDataKey only on the KmsKeyArn parameter", data_key["Resource"] == {"Ref": "KmsKeyArn"},
          json.dumps(data_key))
    check(
        "kms:GenerateDataKey only through Secrets Manager (rotation's new versions), not SSM",
        data_key.get("Condition") == {"StringEquals": {"kms:ViaService": {
            "Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}}},
        json.dumps(data_key.get("Condition")),
    )

    [(sqs, _)] = by_action["sqs:SendMessage"]
    check("sqs:SendMessage only to the failed-invocations queue",
          sqs["Resource"] == {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]}, json.dumps(sqs))

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
        "Secrets Manager may invoke the function for rotation, from this account only, always",
        "Condition" not in rotation and rotation.get("Properties") == {
            "Action": "lambda:InvokeFunction", "FunctionName": function,
            "Principal": "secretsmanager.amazonaws.com", "SourceAccount": {"Ref": "AWS::AccountId"}},
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
            "source": ["aws.secretsmanager"], "detail-type": ["Secret Label Updated"],
            "detail": {"name": [{"prefix": {"Ref": "SecretNamePrefix"}}], "labelUpdated": ["AWSCURRENT"]}},
        json.dumps(sync_rule.get("Properties", {}).get("EventPattern")),
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

    passed, failed = checks.count(True), checks.count(False)
    print(f"template: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
