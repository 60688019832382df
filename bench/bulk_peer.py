"""The peer of bench/bulk.py: what one would write instead of the function to set many users'
passwords, a plain boto3 loop, GetSecretValue then AdminSetUserPassword for each user in turn.

Clients are built before it says `ready` (as the function builds them at init); then it reads one
request ({"UserPoolId", "Users": [{"Username", "PasswordSecretId"}, ...]}) from stdin, sets every
user, prints {"set", "not_set"} and waits for stdin to close, so that the bench can read its peak
RSS while it is still alive. Endpoint, region and credentials come from the environment.
"""

import json
import sys

import boto3
from botocore.exceptions import ClientError

secrets = boto3.client("secretsmanager")
cognito = boto3.client("cognito-idp")
print("ready", flush=True)

request = json.loads(sys.stdin.readline())
done, not_set = 0, []
for user in request["Users"]:
    try:
        password = secrets.get_secret_value(SecretId=user["PasswordSecretId"])["SecretString"]
        cognito.admin_set_user_password(UserPoolId=request["UserPoolId"], Username=user["Username"],
                                        Password=password, Permanent=True)
        done += 1
    except ClientError as err:
        not_set.append(f"{user['Username']}: {err.response['Error'].get('Code')}")
print(json.dumps({"set": done, "not_set": not_set}), flush=True)
sys.stdin.read()
