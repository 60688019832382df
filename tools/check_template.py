"""Asserts the IAM permissions that `sam deploy` of template.yaml would give the function.

The template is transformed with the SAM translator, offline, exactly as CloudFormation's
AWS::Serverless transform does, and the generated role is checked: each action only on the
resources the template's parameters scope it to, nothing broader, no `Resource: "*"`.
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

    check(
        "the role allows exactly these actions",
        set(by_action) == {"cognito-idp:AdminSetUserPassword", "secretsmanager:GetSecretValue",
                           "ssm:GetParameter", "kms:Decrypt", "sqs:SendMessage"},
        f"{sorted(by_action)}",
    )
    check(
        "every statement allows, none denies or wildcards an action",
        all(s["Effect"] == "Allow" and all("*" not in a for a in as_list(s["Action"])) for s, _ in found),
    )
    check(
        'no statement has Resource "*"',
        all(all(r != "*" for r in as_list(s.get("Resource", "*"))) for s, _ in found),
        json.dumps([s for s, _ in found]),
    )

    [(cognito, _)] = by_action["cognito-idp:AdminSetUserPassword"]
    check("AdminSetUserPassword only on the UserPoolArns parameter", cognito["Resource"] == {"Ref": "UserPoolArns"},
          json.dumps(cognito))

    [(secret, _)] = by_action["secretsmanager:GetSecretValue"]
    check(
        "GetSecretValue only on secrets under SecretNamePrefix, in this account and region",
        secret["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
                                          ":secret:${SecretNamePrefix}*"},
        json.dumps(secret),
    )

    [(parameter, _)] = by_action["ssm:GetParameter"]
    check(
        "GetParameter only on parameters under ParameterPathPrefix, in this account and region",
        parameter["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
                                             ":parameter${ParameterPathPrefix}*"},
        json.dumps(parameter),
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

    [(sqs, _)] = by_action["sqs:SendMessage"]
    check("sqs:SendMessage only to the failed-invocations queue",
          sqs["Resource"] == {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]}, json.dumps(sqs))

    managed = role.get("ManagedPolicyArns", [])
    check(
        "the only managed policy is the basic execution role (CloudWatch Logs)",
        len(managed) == 1 and "AWSLambdaBasicExecutionRole" in json.dumps(managed),
        json.dumps(managed),
    )

    passed, failed = checks.count(True), checks.count(False)
    print(f"template: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
