"""Holds the Terraform example (examples/terraform) against template.yaml, offline.

Every .tf file is parsed with python-hcl2. The function's role must allow exactly what
template.yaml's `Policies` allow: the same statements (by Sid), each with the same effect, actions,
resource patterns and condition, and the customer-managed-key statements only when a key is given
(`HasKmsKey` there, a dynamic block on `var.kms_key_arn` here). The two spell the same things
differently; NAMES_IN_TEMPLATE and NAMES_IN_TERRAFORM map both spellings to one, and anything not in
them fails the check. One exception, also checked: the statements for the template's optional SQS
queue (`EnableBulkQueue`) act only on that queue, which the module does not make, so the module's
role must not have them. Then the rest of the role (Lambda as its only principal, the basic
execution role as its only managed policy, nothing else from IAM), the function's settings next to
the template's, and the invocation: lifecycle_scope CRUD, one key name on both sides, the password
passed by reference only, and a new secret version setting it again.
Prints one line per check and a closing 'N passed, N failed' line; exits 1 on any failure.

  python tools/check_terraform.py [--template template.yaml] [--module examples/terraform]
"""

import argparse
import json
import re
import sys
from pathlib import Path

import hcl2
from cfnlint.decode import decode_str
from hcl2 import SerializationOptions

# The operations the code calls (checked against src/aws/), those only rotation calls, and the
# template's region condition.
from check_template import IN_THE_REGIONS, OPERATIONS, ROTATION_ONLY

ROOT = Path(__file__).resolve().parent.parent

# One name for each thing the two policies refer to.
NAMES_IN_TEMPLATE = {
    "AWS::Partition": "partition",
    "AWS::Region": "region",
    "AWS::AccountId": "account",
    "UserPoolArns": "user pools",
    "SecretNamePrefix": "secret_name_prefix",
    "ParameterPathPrefix": "parameter_path_prefix",
    "KmsKeyArn": "kms_key_arn",
}
NAMES_IN_TERRAFORM = {
    "data.aws_partition.current.partition": "partition",
    "data.aws_region.current.region": "region",
    "data.aws_caller_identity.current.account_id": "account",
    # The example makes its own pool, and its role may touch that one only.
    "aws_cognito_user_pool.this.arn": "user pools",
    "var.secret_name_prefix": "secret_name_prefix",
    "var.parameter_path_prefix": "parameter_path_prefix",
    "var.kms_key_arn": "kms_key_arn",
    "concat([data.aws_region.current.region], var.other_regions)": "this region and the other regions",
}
# The template's spelling of "this region and OtherRegions" (a list, in a condition).
REGIONS_IN_TEMPLATE = IN_THE_REGIONS["StringEquals"]["aws:RequestedRegion"]
# The template's condition for rotation's statements, and the module's spelling of it.
WITH_ROTATION = {"Fn::Equals": [{"Ref": "EnableRotation"}, "true"]}
ROTATION_GUARD = re.compile(r"var\.enable_rotation \? \[1\] : \[\]")
ROTATION = "rotation is enabled"
# The template's condition for the statements that need a customer managed key.
HAS_KMS_KEY = {"Fn::Not": [{"Fn::Equals": [{"Ref": "KmsKeyArn"}, ""]}]}
# The Terraform spelling of the same: a dynamic block with no instance when no key is given.
KMS_GUARD = re.compile(r"var\.kms_key_arn == null \? \[\] : \[.+\]|var\.kms_key_arn != null \? \[.+\] : \[\]")
# The template's condition for what only the template deploys: the bulk SQS queue, and the
# statement that lets the function read it. The module makes no queue, so it has no such statement.
WITH_BULK_QUEUE = {"Fn::Equals": [{"Ref": "EnableBulkQueue"}, "true"]}
TEMPLATE_ONLY = "the template's bulk queue exists (EnableBulkQueue; template.yaml only)"

# The direct invocation's properties (README, "The event contract").
PROPERTIES = {"UserPoolId", "Username", "PasswordSecretId", "PasswordParameterName", "PasswordSecretJsonKey",
              "PasswordSecretVersionStage", "PasswordSecretVersionId", "Permanent"}
INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")


# ---- reading both sides ---------------------------------------------------------------------------

def read_template(path):
    """template.yaml as plain JSON-like data, short-form intrinsics expanded (as check_template.py does)."""
    template, matches = decode_str(path.read_text())
    if matches:
        sys.exit(f"{path} does not parse: {matches}")
    return json.loads(json.dumps(template))


def literal(value):
    """The text of a quoted HCL string (python-hcl2 keeps the quotes), else None."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return None


def expression(value):
    """The text of an HCL expression (python-hcl2 gives `${...}`), else None."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}") and literal(value) is None:
        return value[2:-1]
    return None


def hcl_name(value):
    """A block label without its quotes."""
    return literal(value) or value


class Module:
    """Every .tf file of a folder, merged: resources, data sources, variables, locals, terraform blocks."""

    def __init__(self, folder):
        self.resources, self.data, self.variables, self.locals, self.terraform = {}, {}, {}, {}, []
        self.files = sorted(folder.glob("*.tf"))
        self.unparsed = {}
        for path in self.files:
            try:
                with path.open() as f:
                    parsed = hcl2.load(f, serialization_options=SerializationOptions(with_comments=False))
            except Exception as error:  # python-hcl2 raises lark's own exception types
                self.unparsed[path.name] = f"{type(error).__name__}: {error}"
                continue
            for kind, into in (("resource", self.resources), ("data", self.data)):
                for block in parsed.get(kind, []):
                    for rtype, named in block.items():
                        for name, body in named.items():
                            into[(hcl_name(rtype), hcl_name(name))] = body
            for block in parsed.get("variable", []):
                for name, body in block.items():
                    self.variables[hcl_name(name)] = body
            for block in parsed.get("locals", []):
                self.locals.update({k: v for k, v in block.items() if not k.startswith("__")})
            self.terraform.extend(parsed.get("terraform", []))

    def of_type(self, rtype, data=False):
        found = self.data if data else self.resources
        return {name: body for (t, name), body in found.items() if t == rtype}


# ---- one spelling for both ------------------------------------------------------------------------

def canonical_sub(text, names):
    return INTERPOLATION.sub(lambda m: "{" + names.get(m.group(1).strip(), f"UNMAPPED {m.group(1)}") + "}", text)


def from_template(value):
    if isinstance(value, str):
        return value
    if value == REGIONS_IN_TEMPLATE:
        return "{this region and the other regions}"
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return "{" + NAMES_IN_TEMPLATE.get(value["Ref"], f"UNMAPPED {value['Ref']}") + "}"
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        return canonical_sub(value["Fn::Sub"], NAMES_IN_TEMPLATE)
    return f"UNMAPPED {json.dumps(value)}"


def from_terraform(value):
    text = literal(value)
    if text is not None:
        return canonical_sub(text, NAMES_IN_TERRAFORM)
    text = expression(value)
    if text is not None:
        return "{" + NAMES_IN_TERRAFORM.get(text.strip(), f"UNMAPPED {text}") + "}"
    return f"UNMAPPED {json.dumps(value)}"


def as_list(value):
    return value if isinstance(value, list) else [value]


def statement_form(sid, effect, actions, resources, conditions, guard, extra):
    return {"sid": sid, "effect": effect, "actions": sorted(actions), "resources": sorted(resources),
            "conditions": sorted(conditions), "only when": guard, "other keys": sorted(extra)}


def template_statements(template):
    """(form, where) for each statement of the function's Policies."""
    policies = template["Resources"]["SetPasswordFunction"]["Properties"].get("Policies", [])
    found = []

    def add(statement, guard):
        conditions = [(test, key, tuple(sorted(from_template(v) for v in as_list(values))))
                      for test, pairs in statement.get("Condition", {}).items() for key, values in pairs.items()]
        found.append(statement_form(
            statement.get("Sid"), statement.get("Effect"), [from_template(a) for a in as_list(statement.get("Action", []))],
            [from_template(r) for r in as_list(statement.get("Resource", []))], conditions, guard,
            set(statement) - {"Sid", "Effect", "Action", "Resource", "Condition"}))

    for policy in as_list(policies):
        guard = None
        if isinstance(policy, dict) and "Fn::If" in policy:
            condition, policy, otherwise = policy["Fn::If"]
            meaning = template.get("Conditions", {}).get(condition)
            if otherwise != {"Ref": "AWS::NoValue"}:
                guard = f"UNMAPPED {condition}"
            elif meaning == HAS_KMS_KEY:
                guard = "a KMS key is given"
            elif meaning == WITH_BULK_QUEUE:
                guard = TEMPLATE_ONLY
            elif meaning == WITH_ROTATION:
                guard = ROTATION
            else:
                guard = f"UNMAPPED {condition}"
        if not isinstance(policy, dict) or set(policy) != {"Statement"}:
            found.append(statement_form(None, None, [], [], [], guard, {f"not a policy document: {json.dumps(policy)}"}))
            continue
        for statement in as_list(policy["Statement"]):
            add(statement, guard)
    return found


def template_only_statements(template):
    """The statements of template.yaml's `Policies` under its bulk-queue condition, as written."""
    policies = template["Resources"]["SetPasswordFunction"]["Properties"].get("Policies", [])
    return [statement for policy in as_list(policies) if isinstance(policy, dict) and "Fn::If" in policy
            and template.get("Conditions", {}).get(policy["Fn::If"][0]) == WITH_BULK_QUEUE
            and isinstance(policy["Fn::If"][1], dict)
            for statement in as_list(policy["Fn::If"][1].get("Statement", []))]


def queue_only(statement, template):
    """The queues a template-only statement acts on, when it allows only SQS actions and only on
    queues that the template makes under its bulk-queue condition (so that leaving it out of
    Terraform hides no grant); else None."""
    resources = template.get("Resources", {})
    if set(statement) != {"Sid", "Effect", "Action", "Resource"} or statement["Effect"] != "Allow" \
            or not all(isinstance(a, str) and a.startswith("sqs:") for a in as_list(statement["Action"])):
        return None
    queues = []
    for value in as_list(statement.get("Resource", [])):
        name = value.get("Fn::GetAtt", [None])[0] if isinstance(value, dict) and set(value) == {"Fn::GetAtt"} else None
        made = resources.get(name, {})
        if value != {"Fn::GetAtt": [name, "Arn"]} or made.get("Type") != "AWS::SQS::Queue" \
                or template.get("Conditions", {}).get(made.get("Condition")) != WITH_BULK_QUEUE:
            return None
        queues.append(name)
    return queues or None


def terraform_statements(document):
    """The same forms for an aws_iam_policy_document's statement and dynamic "statement" blocks."""
    found = []

    def add(statement, guard):
        conditions = [(literal(c.get("test")), literal(c.get("variable")),
                       tuple(sorted(from_terraform(v) for v in as_list(c.get("values", [])))))
                      for c in statement.get("condition", [])]
        found.append(statement_form(
            literal(statement.get("sid")), literal(statement.get("effect", '"Allow"')),  # the data source's default
            [from_terraform(a) for a in as_list(statement.get("actions", []))],
            [from_terraform(r) for r in as_list(statement.get("resources", []))], conditions, guard,
            {k for k in statement if not k.startswith("__")} - {"sid", "effect", "actions", "resources", "condition"}))

    for statement in document.get("statement", []):
        add(statement, None)
    for dynamic in document.get("dynamic", []):
        for label, body in dynamic.items():
            if label.startswith("__"):
                continue
            for_each = " ".join((expression(body.get("for_each")) or "").split())
            guard = ("a KMS key is given" if KMS_GUARD.fullmatch(for_each) else ROTATION
                     if ROTATION_GUARD.fullmatch(for_each) else f"UNMAPPED for_each {for_each!r}")
            for content in body.get("content", []):
                if hcl_name(label) == "statement":
                    add(content, guard)
                else:
                    found.append(statement_form(None, None, [], [], [], guard, {f'dynamic "{hcl_name(label)}"'}))
    return found


def differences(wanted, matches):
    """What a statement of the Terraform role has that template.yaml's of the same Sid has not."""
    if len(matches) != 1:
        return f"the Terraform role has {len(matches)} statements with this Sid; template.yaml has {json.dumps(wanted)}"
    return "; ".join(f"{key}: template.yaml {json.dumps(value)}, Terraform {json.dumps(matches[0][key])}"
                     for key, value in wanted.items() if matches[0][key] != value)


def reference(value, rtype, attribute):
    """The name X when value is `${rtype.X.attribute}`, else None."""
    match = re.fullmatch(re.escape(rtype) + r"\.([A-Za-z0-9_-]+)\." + re.escape(attribute), expression(value) or "")
    return match.group(1) if match else None


def only(items):
    return next(iter(items.items())) if len(items) == 1 else (None, {})


# ---- the checks -----------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--module", type=Path, default=Path("examples/terraform"))
    args = parser.parse_args()
    args.template, args.module = ROOT / args.template, ROOT / args.module  # an absolute path stays as it is

    checks = []

    def check(name, ok, detail=""):
        checks.append(bool(ok))
        print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}")

    def finish():
        passed, failed = checks.count(True), checks.count(False)
        print(f"{passed} passed, {failed} failed")
        return 1 if failed else 0

    template = read_template(args.template)
    module = Module(args.module)
    shown = args.module.relative_to(ROOT) if args.module.is_relative_to(ROOT) else args.module
    check(f"{shown} has main.tf, variables.tf, outputs.tf and versions.tf",
          {"main.tf", "variables.tf", "outputs.tf", "versions.tf"} <= {p.name for p in module.files},
          str([p.name for p in module.files]))
    for path in module.files:
        check(f"{path.name} parses", path.name not in module.unparsed, module.unparsed.get(path.name, ""))
    if module.unparsed or not module.files:
        return finish()

    # -- the role's policy, statement by statement
    role_name, role = only(module.of_type("aws_iam_role"))
    inline_name, inline = only(module.of_type("aws_iam_role_policy"))
    document_name = reference(inline.get("policy"), "data.aws_iam_policy_document", "json")
    document = module.of_type("aws_iam_policy_document", data=True).get(document_name, {})
    check("the role has one inline policy, an aws_iam_policy_document",
          role_name and inline_name and reference(inline.get("role"), "aws_iam_role", "id") == role_name and document,
          json.dumps({"roles": list(module.of_type("aws_iam_role")),
                      "role policies": list(module.of_type("aws_iam_role_policy")), "policy": inline.get("policy")}))
    merged = {k for k in document if not k.startswith("__")} - {"statement", "dynamic"}
    check("that document is its own statements only (no count, for_each or merged documents)", not merged,
          str(sorted(merged)))

    wanted, have = template_statements(template), terraform_statements(document)
    by_sid = {}
    for form in have:
        by_sid.setdefault(form["sid"], []).append(form)
    for form in wanted:
        matches = by_sid.pop(form["sid"], [])
        if form["only when"] == TEMPLATE_ONLY:
            statements = [s for s in template_only_statements(template) if s.get("Sid") == form["sid"]]
            queues = queue_only(statements[0], template) if len(statements) == 1 else None
            check(f"statement {form['sid']}: {', '.join(form['actions'])} on the template's own "
                  f"{', '.join(queues or ['?'])}, only when {TEMPLATE_ONLY}; not in the module, which makes no queue",
                  queues and not matches,
                  json.dumps({"template.yaml": statements, "Terraform": matches}))
            continue
        check(f"statement {form['sid']}: {', '.join(form['actions'])} on {', '.join(form['resources'])}"
              + (f", only when {form['only when']}" if form["only when"] else ""),
              matches == [form], differences(form, matches))
    check("the Terraform role has no statement that template.yaml lacks", not by_sid,
          json.dumps([f for forms in by_sid.values() for f in forms]))
    # The same list of the operations the code calls as tools/check_template.py holds (and checks
    # against src/aws/): each allowed by a statement that needs no KMS key, and rotation's when
    # rotation is enabled.
    unconditional = {action for form in have if form["only when"] is None for action in form["actions"]}
    rotating = {action for form in have if form["only when"] == ROTATION for action in form["actions"]}
    check("every operation the code calls is allowed by the module's role, with or without a KMS key; "
          "rotation's only when var.enable_rotation",
          set(OPERATIONS) - ROTATION_ONLY <= unconditional and ROTATION_ONLY <= rotating
          and not ROTATION_ONLY & unconditional,
          str([sorted(set(OPERATIONS) - ROTATION_ONLY - unconditional), sorted(ROTATION_ONLY - rotating),
               sorted(ROTATION_ONLY & unconditional)]))

    assume = module.of_type("aws_iam_policy_document", data=True).get(
        reference(role.get("assume_role_policy"), "data.aws_iam_policy_document", "json"), {})
    assume_statements = assume.get("statement", [])
    check(
        "only Lambda may assume the role",
        len(assume_statements) == 1 and set(assume) - {"statement", "__is_block__"} == set()
        and [literal(a) for a in assume_statements[0].get("actions", [])] == ["sts:AssumeRole"]
        and literal(assume_statements[0].get("effect", '"Allow"')) == "Allow"
        and [(literal(p.get("type")), [literal(i) for i in p.get("identifiers", [])])
             for p in assume_statements[0].get("principals", [])] == [("Service", ["lambda.amazonaws.com"])]
        and not {"not_actions", "not_principals", "condition"} & set(assume_statements[0]),
        json.dumps(assume),
    )
    check("the role carries no policy of its own (inline_policy, managed_policy_arns)",
          not {"inline_policy", "managed_policy_arns"} & set(role), str(sorted(role)))
    attachments = module.of_type("aws_iam_role_policy_attachment")
    _, attachment = only(attachments)
    check(
        "its only managed policy is AWSLambdaBasicExecutionRole (CloudWatch Logs), as SAM gives it",
        len(attachments) == 1 and reference(attachment.get("role"), "aws_iam_role", "name") == role_name
        and from_terraform(attachment.get("policy_arn"))
        == "arn:{partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        json.dumps(attachments),
    )
    iam = sorted({t for t, _ in module.resources if t.startswith("aws_iam_")})
    check("no other IAM resource grants anything", iam == ["aws_iam_role", "aws_iam_role_policy",
                                                          "aws_iam_role_policy_attachment"], str(iam))

    # -- the variables that scope the role, as the template's parameters
    parameters = template["Parameters"]
    for variable, parameter in (("secret_name_prefix", "SecretNamePrefix"),
                                ("parameter_path_prefix", "ParameterPathPrefix"), ("kms_key_arn", "KmsKeyArn")):
        body, spec = module.variables.get(variable, {}), parameters[parameter]
        default = body.get("default")
        same_default = default is None if spec["Default"] == "" else literal(default) == spec["Default"]
        conditions = [c.get("condition", "") for c in body.get("validation", [])]
        # The template allows "" for "no key"; Terraform says null.
        patterns = [p for p in spec["AllowedPattern"].split("|") if p != "^$"] if parameter == "KmsKeyArn" \
            else [spec["AllowedPattern"]]
        in_hcl = [p.replace("\\", "\\\\").replace('"', '\\"') for p in patterns]
        same_pattern = all(any(f'regex("{p}", var.{variable})' in c for c in conditions) for p in in_hcl)
        check(f"var.{variable} has {parameter}'s default and allowed pattern", same_default and same_pattern,
              f"default {default!r}, validation {conditions}; template.yaml: {spec['Default']!r}, {spec['AllowedPattern']!r}")

    # -- the function, as template.yaml deploys it
    function_name, function = only(module.of_type("aws_lambda_function"))
    properties = template["Resources"]["SetPasswordFunction"]["Properties"]
    check("the function runs as the role",
          function_name and reference(function.get("role"), "aws_iam_role", "arn") == role_name,
          str(function.get("role")))
    settings = {
        "runtime": (literal(function.get("runtime")), properties["Runtime"]),
        "handler": (literal(function.get("handler")), properties["Handler"]),
        "architectures": ([literal(a) for a in function.get("architectures", [])], properties["Architectures"]),
        "memory_size": (function.get("memory_size"), properties["MemorySize"]),
        "timeout": (function.get("timeout"), properties["Timeout"]),
    }
    check("the function's runtime, handler, architecture, memory and timeout are template.yaml's",
          all(tf == sam for tf, sam in settings.values()), json.dumps(settings))
    logging = (function.get("logging_config") or [{}])[0]
    sam_logging = properties.get("LoggingConfig", {})
    check(
        "the function logs as template.yaml's: JSON, var.log_level (LogLevel's default), system INFO",
        literal(logging.get("log_format")) == sam_logging.get("LogFormat")
        and literal(logging.get("system_log_level")) == sam_logging.get("SystemLogLevel")
        and sam_logging.get("ApplicationLogLevel") == {"Ref": "LogLevel"}
        and expression(logging.get("application_log_level")) == "var.log_level"
        and literal(module.variables.get("log_level", {}).get("default")) == parameters["LogLevel"]["Default"],
        json.dumps([logging, sam_logging]),
    )
    environment = ((function.get("environment") or [{}])[0]).get("variables", {})
    sam_environment = properties.get("Environment", {}).get("Variables", {})
    check("ENABLE_ROTATION is var.enable_rotation (default false), as template.yaml's EnableRotation",
          expression(environment.get("ENABLE_ROTATION")) == "tostring(var.enable_rotation)"
          and sam_environment.get("ENABLE_ROTATION") == {"Ref": "EnableRotation"}
          and module.variables.get("enable_rotation", {}).get("default") is False
          and parameters.get("EnableRotation", {}).get("Default") == "false",
          json.dumps([environment.get("ENABLE_ROTATION"), module.variables.get("enable_rotation")]))
    # The rest of the function's settings: the same variables as template.yaml's, but for the
    # queue's (this module makes none), each from a variable with the parameter's default.
    queue_settings = {"BULK_QUEUE_MAXIMUM_CONCURRENCY", "RESERVED_CONCURRENCY"}
    check("the function's environment names template.yaml's variables (but the queue's) and TERRAFORM_KEY",
          set(environment) == (set(sam_environment) - queue_settings) | {"TERRAFORM_KEY"},
          json.dumps(sorted(set(environment) ^ ((set(sam_environment) - queue_settings) | {"TERRAFORM_KEY"}))))
    for name, variable, parameter, spelled in (
            ("SECRET_BINDING", "secret_binding", "SecretBinding", "var.secret_binding"),
            ("ALLOW_VERSION_SELECTORS", "allow_version_selectors", "AllowVersionSelectors",
             "tostring(var.allow_version_selectors)"),
            ("ROTATION_PASSWORD_LENGTH", "rotation_password_length", "RotationPasswordLength",
             "tostring(var.rotation_password_length)"),
            ("ALLOW_FEDERATED_USERS", "allow_federated_users", "AllowFederatedUsers",
             "tostring(var.allow_federated_users)"),
            ("MAX_READS_PER_SECOND", "max_reads_per_second", "MaxReadsPerSecond", "var.max_reads_per_second")):
        default = module.variables.get(variable, {}).get("default")
        sam_default = parameters.get(parameter, {}).get("Default")
        check(f"{name} is var.{variable}, its default template.yaml's {parameter}'s",
              expression(environment.get(name)) == spelled and sam_environment.get(name) == {"Ref": parameter}
              and str(literal(default) if isinstance(default, str) else default).lower() == str(sam_default).lower(),
              json.dumps([environment.get(name), default, sam_default]))
    check("var.other_regions is empty by default, as template.yaml's OtherRegions",
          module.variables.get("other_regions", {}).get("default") == []
          and parameters.get("OtherRegions", {}).get("Default") == "",
          json.dumps(module.variables.get("other_regions")))
    check("the function keeps template.yaml's RESPONSE_MARGIN_MS",
          literal(environment.get("RESPONSE_MARGIN_MS")) == sam_environment.get("RESPONSE_MARGIN_MS"),
          json.dumps([environment, sam_environment]))
    rate_var = expression(environment.get("MAX_CALLS_PER_SECOND")) or ""
    rate_default = module.variables.get(rate_var[4:], {}).get("default") if rate_var.startswith("var.") else None
    check(
        "MAX_CALLS_PER_SECOND comes from a variable whose default is template.yaml's MaxCallsPerSecond's",
        sam_environment.get("MAX_CALLS_PER_SECOND") == {"Ref": "MaxCallsPerSecond"}
        and rate_default is not None and rate_default == parameters.get("MaxCallsPerSecond", {}).get("Default"),
        json.dumps([environment.get("MAX_CALLS_PER_SECOND"), rate_default, sam_environment.get("MAX_CALLS_PER_SECOND"),
                    parameters.get("MaxCallsPerSecond", {}).get("Default")]),
    )
    build = module.of_type("archive_file", data=True)
    code = json.dumps(module.locals)
    check(
        "the code is the release's arm64 zip with its own hash, or else the sam build artifact, zipped executable",
        len(build) == 1 and [literal(b.get("output_file_mode")) for b in build.values()] == ["0755"]
        and [expression(b.get("count")) for b in build.values()] == ["var.release_zip == null ? 1 : 0"]
        and ".aws-sam/build/SetPasswordFunction" in code + json.dumps(list(build.values()))
        and expression(function.get("filename")) == "local.code_zip"
        and expression(function.get("source_code_hash")) == "local.code_hash"
        and "filebase64sha256(var.release_zip)" in code
        and "data.archive_file.function[0].output_base64sha256" in code
        and "release_zip" in module.variables,
        json.dumps([build, function.get("filename"), function.get("source_code_hash"), module.locals]),
    )

    # -- the invocation
    invocation_name, invocation = only(module.of_type("aws_lambda_invocation"))
    check(
        "aws_lambda_invocation invokes the function with lifecycle_scope CRUD",
        invocation_name and reference(invocation.get("function_name"), "aws_lambda_function", "function_name")
        == function_name and literal(invocation.get("lifecycle_scope")) == "CRUD",
        json.dumps(invocation),
    )
    key_tf = invocation.get("terraform_key", '"tf"')  # the provider's default, and the function's
    key_fn = environment.get("TERRAFORM_KEY", '"tf"')
    key_var = expression(key_tf)
    check(
        "the invocation's terraform_key is the function's TERRAFORM_KEY (default tf)",
        key_tf == key_fn and (literal(key_tf) is not None or (
            key_var and key_var.startswith("var.")
            and literal(module.variables.get(key_var[4:], {}).get("default")) == "tf")),
        f"terraform_key {key_tf!r}, TERRAFORM_KEY {key_fn!r}",
    )
    local_name = re.fullmatch(r"jsonencode\(local\.([A-Za-z0-9_]+)\)", expression(invocation.get("input")) or "")
    request = module.locals.get(local_name.group(1), {}) if local_name else {}
    secrets = module.of_type("aws_secretsmanager_secret")
    secret_name = reference(request.get("PasswordSecretId"), "aws_secretsmanager_secret", "arn")
    check(
        "the input is jsonencode of the properties, the password named by the secret's ARN",
        isinstance(request, dict) and set(request) <= PROPERTIES
        and {"UserPoolId", "Username", "PasswordSecretId"} <= set(request) and secret_name in secrets,
        f"input {invocation.get('input')!r}: {json.dumps(request)}",
    )
    leaks = [word for word in ("random_password", "secret_string", "Password\"") if word in json.dumps(request)
             + json.dumps(invocation)]
    check("nothing in the input or the invocation reads the password's value", not leaks, str(leaks))
    versions = module.of_type("aws_secretsmanager_secret_version")
    triggered_by = [reference(v, "aws_secretsmanager_secret_version", "version_id")
                    for v in (invocation.get("triggers") or {}).values()]
    check(
        "a new version of that secret sets the password again (triggers on its version_id)",
        any(name in versions and reference(versions[name].get("secret_id"), "aws_secretsmanager_secret", "id")
            == secret_name for name in triggered_by),
        json.dumps(invocation.get("triggers")),
    )
    secret = secrets.get(secret_name, {})
    check("the secret's name starts with var.secret_name_prefix (the role reads nothing else)",
          (literal(secret.get("name")) or "").startswith("${var.secret_name_prefix}"), str(secret.get("name")))
    users = module.of_type("aws_cognito_user")
    check("aws_cognito_user is given no password (the function sets it)",
          users and all(not {"password", "temporary_password"} & set(u) for u in users.values()),
          json.dumps(users))

    # -- provider versions
    providers = {}
    for block in module.terraform:
        for required in block.get("required_providers", []):
            providers.update({k: v for k, v in required.items() if not k.startswith("__")})
    pinned = {name: literal(spec.get("version")) for name, spec in providers.items() if isinstance(spec, dict)}
    check(
        "the aws, random and archive providers are pinned (a version constraint with an upper bound)",
        {"aws", "random", "archive"} <= set(pinned)
        and all(v and ("~>" in v or "<" in v) for v in pinned.values()),
        json.dumps(providers),
    )

    return finish()


if __name__ == "__main__":
    sys.exit(main())
