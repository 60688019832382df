"""The peer our users would otherwise deploy: the same contract as cognito-set-password, written
the usual way with crhelper and boto3. Idiomatic, no handicaps: clients are built once at import,
the way the AWS docs recommend, and crhelper handles the CloudFormation protocol.
"""

import json

import boto3
from crhelper import CfnResource

helper = CfnResource(json_logging=True, log_level="INFO", boto_level="CRITICAL")
cognito = boto3.client("cognito-idp")
secretsmanager = boto3.client("secretsmanager")
ssm = boto3.client("ssm")


def _password(props):
    if "Password" in props:
        raise ValueError("property Password is refused: store it in Secrets Manager or SSM")
    if props.get("PasswordSecretId") and props.get("PasswordParameterName"):
        raise ValueError("give exactly one of PasswordSecretId and PasswordParameterName")
    if props.get("PasswordParameterName"):
        return ssm.get_parameter(Name=props["PasswordParameterName"], WithDecryption=True)["Parameter"]["Value"]
    args = {"SecretId": props["PasswordSecretId"]}
    if props.get("PasswordSecretVersionStage"):
        args["VersionStage"] = props["PasswordSecretVersionStage"]
    if props.get("PasswordSecretVersionId"):
        args["VersionId"] = props["PasswordSecretVersionId"]
    value = secretsmanager.get_secret_value(**args)["SecretString"]
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        key = props.get("PasswordSecretJsonKey", "password")
        if key not in parsed:
            raise ValueError(f"secret has no key {key}; keys present: {sorted(parsed)}")
        return parsed[key]
    return value


def _permanent(props):
    value = props.get("Permanent", True)
    return value if isinstance(value, bool) else str(value).lower() == "true"


def _set_password(props):
    cognito.admin_set_user_password(
        UserPoolId=props["UserPoolId"],
        Username=props["Username"],
        Password=_password(props),
        Permanent=_permanent(props),
    )


@helper.create
@helper.update
def create_or_update(event, _context):
    props = event["ResourceProperties"]
    _set_password(props)
    helper.Data.update({"UserPoolId": props["UserPoolId"], "Username": props["Username"]})
    return f"{props['UserPoolId']}/{props['Username']}"


@helper.delete
def delete(_event, _context):
    pass


def handler(event, context):
    if "RequestType" in event and "ResponseURL" in event:
        helper(event, context)
        return None
    props = event["detail"] if "detail-type" in event else event
    _set_password(props)
    return {"UserPoolId": props["UserPoolId"], "Username": props["Username"], "Permanent": _permanent(props)}
