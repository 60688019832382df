"""Holds the CDK construct CognitoSetPassword (cdk/) against template.yaml, offline.

For every combination of the template's conditions that change what the function may do or who may
invoke it (those that the function, its role, its permissions and its event source mapping name:
a KMS key, rotation, the bulk queue, either rule, other regions, reserved concurrency), and for two
cases where every parameter has a value other than its default, template.yaml is transformed with
the SAM translator with those parameter values, and CognitoSetPassword is synthesised with the
matching props (cdk/build/test/template-cases.js). Then, case by case:
  - the role: the same statements (Sid, effect, actions, resources, conditions) and the same
    managed policies, statement by statement;
  - the function's environment, names and values; its runtime, handler, architecture, memory,
    timeout, logging and reserved concurrency; its asynchronous invocation settings;
  - the Lambda permissions: who may invoke the function, from where;
  - the bulk queue's event source mapping and both rules' event patterns and targets.
References are compared modulo spelling: a parameter becomes its value, a pseudo parameter a
placeholder, and a resource the construct id that names it in the CDK (its logical id in
template.yaml), so `!Sub arn:${AWS::Partition}:...` and CDK's `Fn::Join` of the same parts agree.
Every parameter of the template must be mapped to a prop here (PROPS), so a new parameter fails this
check until the construct has it. The props' allowed patterns are template.yaml's.
Prints one line per check and a closing 'N passed, N failed' line; exits 1 on any failure.

  python tools/check_cdk.py [--template template.yaml] [--cases cdk/build/test/template-cases.js]
"""

import argparse
import itertools
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

from samtranslator.translator.transform import transform

# The template read as check_terraform.py reads it; the managed-policy loader and the walk over the
# role's policies (each statement with the condition of its Fn::If) as check_template.py has them.
from check_template import NoManagedPolicies, statements as role_statements
from check_terraform import as_list, read_template

ROOT = Path(__file__).resolve().parent.parent
# The partition is the one SAM writes into the managed policy's ARN for the translator's region.
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "{region}", "AWS::AccountId": "{account}",
          "AWS::StackName": "{stack name}", "AWS::URLSuffix": "{url suffix}"}
ACCOUNT = "111111111111"
# A value other than the default for each parameter that has no AllowedValues and no range.
SAMPLES = {
    "UserPoolArns": f"arn:aws:cognito-idp:us-east-1:{ACCOUNT}:userpool/us-east-1_Example1,"
                    f"arn:aws:cognito-idp:eu-west-1:{ACCOUNT}:userpool/eu-west-1_Example2",
    "SecretNamePrefix": "team/app/",
    "ParameterPathPrefix": "/team/app/",
    "KmsKeyArn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "OtherRegions": "eu-west-1,eu-central-1",
    "EventSource": "my.provisioning",
    "EventDetailType": "Password Wanted",
    "ReservedConcurrency": "12",
    "AlarmTopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:alarms",
}


def flag(value):
    return value == "true"


# Each parameter of template.yaml, and how its value becomes CognitoSetPassword's props (the harness
# turns the ARNs into imported objects). A parameter missing here fails the check.
PROPS = {
    "UserPoolArns": lambda v, p: {"userPoolArns": v.split(",")},
    "SecretNamePrefix": lambda v, p: {"secretNamePrefix": v},
    "ParameterPathPrefix": lambda v, p: {"parameterPathPrefix": v},
    "KmsKeyArn": lambda v, p: {"kmsKeyArn": v} if v else {},
    "OtherRegions": lambda v, p: {"otherRegions": v.split(",") if v else []},
    "LogLevel": lambda v, p: {"logLevel": v},
    "EnableEventBridgeRule": lambda v, p: (
        {"passwordRequestRule": {"eventSource": p["EventSource"], "detailType": p["EventDetailType"]}} if flag(v) else {}),
    "EventSource": lambda v, p: {},  # with EnableEventBridgeRule
    "EventDetailType": lambda v, p: {},  # with EnableEventBridgeRule
    "SecretBinding": lambda v, p: {"secretBinding": v},
    "AllowVersionSelectors": lambda v, p: {"allowVersionSelectors": flag(v)},
    "AllowFederatedUsers": lambda v, p: {"allowFederatedUsers": flag(v)},
    "EnableRotation": lambda v, p: {"rotation": flag(v)},
    "RotationPasswordLength": lambda v, p: {"rotationPasswordLength": int(v)},
    "EnableSecretSyncRule": lambda v, p: {"secretSync": flag(v)},
    "MaxCallsPerSecond": lambda v, p: {"maxCallsPerSecond": int(v)},
    "MaxReadsPerSecond": lambda v, p: {"maxReadsPerSecond": int(v)},
    "EnableBulkQueue": lambda v, p: (
        {"bulkQueue": {"maximumConcurrency": int(p["BulkQueueMaximumConcurrency"])}} if flag(v) else {}),
    "BulkQueueMaximumConcurrency": lambda v, p: {},  # with EnableBulkQueue
    "ReservedConcurrency": lambda v, p: {"reservedConcurrentExecutions": int(v)} if v else {},
    "AlarmTopicArn": lambda v, p: {"alarmTopicArn": v} if v else {},
}
# The props' patterns and the parameters whose AllowedPattern they repeat (OtherRegions': one region
# of the template's comma-separated list).
PATTERNS = {"SecretNamePrefix": lambda p: p, "ParameterPathPrefix": lambda p: p,
            "OtherRegions": lambda p: "^" + re.match(r"\^\$\|\^(.+?)\(,", p).group(1) + "$"}


# ---- the template's side: SAM's output, evaluated for given parameter values ----------------------

def default(spec):
    return "" if spec.get("Default") is None else str(spec["Default"])


def other_value(name, spec):
    """A value of the parameter other than its default."""
    if "AllowedValues" in spec:
        return next(str(v) for v in spec["AllowedValues"] if str(v) != default(spec))
    if spec.get("Type") == "Number":
        low, high = spec.get("MinValue", 1), spec.get("MaxValue", 10 ** 6)
        return str(next(n for n in (int(default(spec) or low) + 3, low, high) if low <= n <= high and str(n) != default(spec)))
    return SAMPLES.get(name)


def condition_parameters(template):
    """The parameters behind the conditions that the function, its role, its permissions and its
    event source mapping depend on."""
    conditions = template.get("Conditions", {})
    resources = template["Resources"]
    function = resources["SetPasswordFunction"]
    named = set()

    def find(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Fn::If":
                    named.add(value[0])
                if key == "Condition" and isinstance(value, str):
                    named.add(value)
                find(value)
        elif isinstance(node, list):
            for value in node:
                find(value)

    find(function)
    for resource in resources.values():
        if resource["Type"] in ("AWS::Lambda::Permission", "AWS::Lambda::EventSourceMapping"):
            named.add(resource.get("Condition"))
    parameters, seen = set(), set()

    def refs(node):
        if isinstance(node, dict):
            if set(node) == {"Ref"} and node["Ref"] in template["Parameters"]:
                parameters.add(node["Ref"])
            if set(node) == {"Condition"} and node["Condition"] not in seen:
                seen.add(node["Condition"])
                refs(conditions[node["Condition"]])
            for value in node.values():
                refs(value)
        elif isinstance(node, list):
            for value in node:
                refs(value)

    for name in named - {None}:
        refs({"Condition": name})
    return sorted(parameters), sorted(named - {None})


def evaluate_condition(node, values, conditions):
    if isinstance(node, dict):
        (key, args), = node.items()
        if key == "Fn::Equals":
            return evaluate_value(args[0], values, conditions) == evaluate_value(args[1], values, conditions)
        if key == "Fn::Not":
            return not evaluate_condition(args[0], values, conditions)
        if key == "Fn::Or":
            return any(evaluate_condition(a, values, conditions) for a in args)
        if key == "Fn::And":
            return all(evaluate_condition(a, values, conditions) for a in args)
        if key == "Condition":
            return evaluate_condition(conditions[args], values, conditions)
    raise ValueError(f"cannot evaluate condition {json.dumps(node)}")


NO_VALUE = object()


def evaluate_value(node, values, conditions):
    """A template value with the parameters' values, conditions decided, pseudo parameters and
    resources as placeholders ({region}, {BulkQueue.Arn})."""
    if isinstance(node, list):
        return [v for v in (evaluate_value(x, values, conditions) for x in node) if v is not NO_VALUE]
    if not isinstance(node, dict):
        return node if not isinstance(node, (int, float)) or isinstance(node, bool) else node
    if set(node) == {"Ref"}:
        name = node["Ref"]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in values:
            return values[name].split(",") if values.get(f"{name}:list") else values[name]
        return "{" + name + "}"
    if set(node) == {"Fn::If"}:
        name, yes, no = node["Fn::If"]
        return evaluate_value(yes if evaluate_condition({"Condition": name}, values, conditions) else no,
                              values, conditions)
    if set(node) == {"Fn::GetAtt"}:
        target = node["Fn::GetAtt"]
        return "{" + (target if isinstance(target, str) else ".".join(target)) + "}"
    if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
        def one(match):
            name = match.group(1)
            return PSEUDO.get(name) or values.get(name) or "{" + name + "}"
        return re.sub(r"\$\{([^}]+)\}", one, node["Fn::Sub"])
    if set(node) == {"Fn::Split"}:
        separator, text = node["Fn::Split"]
        return evaluate_value(text, values, conditions).split(separator)
    if set(node) == {"Fn::Join"}:
        separator, parts = node["Fn::Join"]
        return separator.join(evaluate_value(parts, values, conditions))
    out = {}
    for key, value in node.items():
        value = evaluate_value(value, values, conditions)
        if value is not NO_VALUE:
            out[key] = value
    return out


def sam_side(template, values):
    """What the SAM transform makes of template.yaml with these parameter values, evaluated."""
    source = json.loads(json.dumps(template))
    # As `sam deploy` packages it: the code is an S3 object by then.
    source["Resources"]["SetPasswordFunction"]["Properties"]["CodeUri"] = "s3://bucket/cognito-set-password.zip"
    transformed = transform(source, dict(values), NoManagedPolicies())
    conditions = transformed.get("Conditions", {})
    resolved = {"Resources": {}}
    for name, resource in transformed["Resources"].items():
        if resource.get("Condition") and not evaluate_condition({"Condition": resource["Condition"]}, values, conditions):
            continue
        resolved["Resources"][name] = {"Type": resource["Type"],
                                       "Properties": evaluate_value(resource.get("Properties", {}), values, conditions)}
    role, found = role_statements(transformed["Resources"])
    resolved["statements"] = [evaluate_value(statement, values, conditions) for statement, condition in found
                              if condition is None or evaluate_condition({"Condition": condition}, values, conditions)]
    resolved["managed"] = evaluate_value(role.get("ManagedPolicyArns", []), values, conditions)
    return resolved


# ---- the CDK's side ---------------------------------------------------------------------------------

def cdk_value(node, names):
    if isinstance(node, list):
        return [cdk_value(x, names) for x in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        name = node["Ref"]
        return PSEUDO.get(name) or "{" + names.get(name, f"UNNAMED {name}") + "}"
    if set(node) == {"Fn::GetAtt"}:
        target, attribute = node["Fn::GetAtt"]
        return "{" + names.get(target, f"UNNAMED {target}") + "." + attribute + "}"
    if set(node) == {"Fn::Join"}:
        separator, parts = node["Fn::Join"]
        return separator.join(cdk_value(parts, names))
    return {key: cdk_value(value, names) for key, value in node.items()}


def cdk_side(template, names):
    resources = {logical: {"Type": r["Type"], "Name": names.get(logical, logical),
                           "Properties": cdk_value(r.get("Properties", {}), names)}
                 for logical, r in template["Resources"].items()}
    role = next(r for r in resources.values() if r["Name"] == "SetPasswordFunctionRole")
    found = [s for policy in role["Properties"].get("Policies", []) for s in as_list(policy["PolicyDocument"]["Statement"])]
    found += [s for r in resources.values() if r["Type"] == "AWS::IAM::Policy"
              and "{SetPasswordFunctionRole}" in r["Properties"].get("Roles", [])
              for s in as_list(r["Properties"]["PolicyDocument"]["Statement"])]
    return {"resources": resources, "statements": found, "managed": role["Properties"].get("ManagedPolicyArns", [])}


# ---- one form for both --------------------------------------------------------------------------

def scalars_as_text(node):
    """CloudFormation passes every scalar as a string: `!Ref` of a Number parameter is "12", CDK writes 12."""
    if isinstance(node, list):
        return [scalars_as_text(x) for x in node]
    if isinstance(node, dict):
        return {k: scalars_as_text(v) for k, v in node.items()}
    return str(node).lower() if isinstance(node, bool) else str(node) if isinstance(node, (int, float)) else node


def statement_form(statement):
    conditions = {test: {key: sorted(as_list(v)) for key, v in pairs.items()}
                  for test, pairs in statement.get("Condition", {}).items()}
    return json.dumps({"Sid": statement.get("Sid"), "Effect": statement.get("Effect"),
                       "Action": sorted(as_list(statement.get("Action", []))),
                       "Resource": sorted(as_list(statement.get("Resource", []))),
                       "Condition": conditions,
                       "other keys": sorted(set(statement) - {"Sid", "Effect", "Action", "Resource", "Condition"})},
                      sort_keys=True)


def of_type(resources, rtype):
    return [r for r in resources.values() if r["Type"] == rtype]


def permission_form(properties):
    return json.dumps({"Action": properties.get("Action"), "Principal": properties.get("Principal"),
                       # template.yaml names the function by Ref, CDK by its ARN: the same function.
                       "FunctionName": re.sub(r"\.Arn\}$", "}", str(properties.get("FunctionName"))),
                       "SourceArn": properties.get("SourceArn"), "SourceAccount": properties.get("SourceAccount")},
                      sort_keys=True)


def rule_form(properties):
    targets = [{k: v for k, v in t.items() if k != "Id"} for t in properties.get("Targets", [])]
    return json.dumps({"EventPattern": properties.get("EventPattern"), "Targets": targets,
                       "State": properties.get("State", "ENABLED")}, sort_keys=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--cases", type=Path, default=Path("cdk/build/test/template-cases.js"))
    args = parser.parse_args()
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the translator's pseudo parameters
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # its metrics' notice, once per transform
    template = read_template(ROOT / args.template)
    parameters = template["Parameters"]

    checks = []

    def check(name, ok, detail=""):
        checks.append(bool(ok))
        print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}")

    unmapped = sorted(set(parameters) - set(PROPS))
    check("every parameter of template.yaml is a prop of CognitoSetPassword (tools/check_cdk.py PROPS)",
          not unmapped, f"no prop for {unmapped}")
    unsampled = sorted(name for name, spec in parameters.items() if other_value(name, spec) is None)
    check("every parameter has a value other than its default to try", not unsampled, str(unsampled))
    if unmapped or unsampled:
        print(f"{checks.count(True)} passed, {checks.count(False)} failed")
        return 1

    toggled, conditions = condition_parameters(template)
    base = {name: default(spec) for name, spec in parameters.items()}
    base["UserPoolArns"] = SAMPLES["UserPoolArns"].split(",")[0]
    cases = {}
    for bits in itertools.product((False, True), repeat=len(toggled)):
        values = dict(base)
        for name, on in zip(toggled, bits):
            if on:
                values[name] = other_value(name, parameters[name])
        cases[", ".join(n for n, on in zip(toggled, bits) if on) or "all defaults"] = values
    for on in (False, True):
        values = {name: other_value(name, spec) for name, spec in parameters.items()}
        for name in toggled:
            values[name] = values[name] if on else base[name]
        cases[f"every other parameter not its default, {'every' if on else 'no'} condition on"] = values

    props = {}
    for name, values in cases.items():
        props[name] = {}
        for parameter, to_props in PROPS.items():
            props[name].update(to_props(values[parameter], values))
    if not (ROOT / args.cases).exists():
        check("the CDK package is built", False, f"{args.cases} is missing: run scripts/cdk-check (or npm run build in cdk/)")
        print(f"{checks.count(True)} passed, {checks.count(False)} failed")
        return 1
    node = subprocess.run(["node", str(ROOT / args.cases)], input=json.dumps({"cases": props}), text=True,
                          capture_output=True, cwd=ROOT / "cdk")
    if node.returncode != 0:
        check("CognitoSetPassword synthesises for every case", False, node.stderr[-4000:])
        print(f"{checks.count(True)} passed, {checks.count(False)} failed")
        return 1
    synthesised = json.loads(node.stdout)

    for parameter, of in PATTERNS.items():
        check(f"the props' pattern for {parameter} is template.yaml's AllowedPattern",
              synthesised["patterns"].get(parameter) == of(parameters[parameter]["AllowedPattern"]),
              f"{synthesised['patterns'].get(parameter)} != {of(parameters[parameter]['AllowedPattern'])}")

    print(f"-- {len(cases)} cases: every combination of {', '.join(toggled)} (conditions {', '.join(conditions)}), "
          "and every other parameter not its default")
    for name, values in cases.items():
        values = {k: ",".join(v) if isinstance(v, list) else v for k, v in values.items()}
        values["UserPoolArns:list"] = True
        sam = sam_side(template, values)
        cdk = cdk_side(synthesised["templates"][name], synthesised["names"][name])
        failures = []

        def same(what, a, b):
            a, b = scalars_as_text(a), scalars_as_text(b)
            if a != b:
                failures.append(f"{what}: template.yaml {json.dumps(a)}, CDK {json.dumps(b)}")

        want = sorted(statement_form(s) for s in sam["statements"])
        have = sorted(statement_form(s) for s in cdk["statements"])
        same("role statements only in one", sorted(set(want) - set(have)), sorted(set(have) - set(want)))
        same("role statements (count)", len(want), len(have))
        same("managed policies", sorted(sam["managed"]), sorted(cdk["managed"]))

        sam_function = sam["Resources"]["SetPasswordFunction"]["Properties"]
        cdk_function = next(r for r in cdk["resources"].values() if r["Name"] == "SetPasswordFunction")["Properties"]
        same("environment", sam_function.get("Environment"), cdk_function.get("Environment"))
        for key in ("Runtime", "Handler", "Architectures", "MemorySize", "Timeout", "LoggingConfig",
                    "ReservedConcurrentExecutions", "Description"):
            same(key, sam_function.get(key), cdk_function.get(key))
        sam_invoke = sam["Resources"]["SetPasswordFunctionEventInvokeConfig"]["Properties"]
        cdk_invoke = of_type(cdk["resources"], "AWS::Lambda::EventInvokeConfig")
        same("asynchronous invocation", {k: v for k, v in sam_invoke.items() if k != "FunctionName"},
             cdk_invoke and {k: v for k, v in cdk_invoke[0]["Properties"].items() if k != "FunctionName"})

        same("who may invoke the function",
             sorted(permission_form(r["Properties"]) for r in sam["Resources"].values() if r["Type"] == "AWS::Lambda::Permission"),
             sorted(permission_form(r["Properties"]) for r in of_type(cdk["resources"], "AWS::Lambda::Permission")))
        same("event source mappings",
             [r["Properties"] for r in sam["Resources"].values() if r["Type"] == "AWS::Lambda::EventSourceMapping"],
             [r["Properties"] for r in of_type(cdk["resources"], "AWS::Lambda::EventSourceMapping")])
        for rule in ("PasswordRequestRule", "SecretSyncRule"):
            sam_rule = sam["Resources"].get(rule)
            cdk_rule = [r for r in cdk["resources"].values() if r["Name"] == rule]
            same(rule, sam_rule and rule_form(sam_rule["Properties"]), cdk_rule and rule_form(cdk_rule[0]["Properties"]) or None)
        check(f"case {name}: role, environment, function, permissions, event source mapping and rules are "
              "template.yaml's", not failures, "\n    " + "\n    ".join(failures))

    print(f"{checks.count(True)} passed, {checks.count(False)} failed")
    return 1 if checks.count(False) else 0


if __name__ == "__main__":
    sys.exit(main())
