"""Checks what a release publishes, offline: the Serverless Application Repository metadata, the
resource types SAR accepts, the capabilities a deployer must acknowledge, one version everywhere,
the license, and dist/template.yaml against template.yaml.

Nothing else lints `AWS::ServerlessRepo::Application`: its fields are checked here against the
limits the SAM and SAR references give (CreateApplication's lengths and patterns; no intrinsic
functions). SAR validates a template against its own list of supported resource types: every type
the SAM transform produces must be on SUPPORTED_BY_SAR, taken from the SAR developer guide's
"Supported AWS resources" (awsdocs/aws-serverlessrepo-developer-guide,
doc_source/list-supported-resources.md, last changed 2021-02; the live page lists a few more).

  python tools/check_release.py [--template template.yaml] [--dist dist]
  python tools/check_release.py --self-test    each check must fail on a broken copy

Prints one line per check and a closing 'N passed, N failed' line.
"""

import argparse
import base64
import copy
import hashlib
import json
import os
import re
import sys
import tomllib
import zipfile
from pathlib import Path

from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_template import NoManagedPolicies  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAR = "AWS::ServerlessRepo::Application"

SUPPORTED_BY_SAR = {f"AWS::{service}::{kind}" for service, kinds in {
    "AccessAnalyzer": "Analyzer",
    "ApiGateway": "ApiKey Authorizer BasePathMapping ClientCertificate Deployment DocumentationPart "
                  "DocumentationVersion DomainName GatewayResponse Method Model RequestValidator Resource "
                  "RestApi Stage UsagePlan UsagePlanKey VpcLink",
    "ApiGatewayV2": "Api ApiMapping Authorizer DomainName Deployment Integration IntegrationResponse Model "
                    "Route RouteResponse Stage",
    "AppSync": "ApiKey DataSource GraphQLApi GraphQLSchema Resolver",
    "ApplicationAutoScaling": "ScalableTarget ScalingPolicy",
    "Athena": "NamedQuery",
    "CertificateManager": "Certificate",
    "CloudFormation": "CustomResource Interface Macro WaitConditionHandle",
    "CloudFront": "CloudFrontOriginAccessIdentity Distribution StreamingDistribution",
    "CloudTrail": "Trail",
    "CloudWatch": "Alarm AnomalyDetector Dashboard InsightRule",
    "CodeBuild": "Project",
    "CodeCommit": "Repository",
    "CodePipeline": "CustomActionType Pipeline Webhook",
    "Cognito": "IdentityPool IdentityPoolRoleAttachment UserPool UserPoolClient UserPoolDomain UserPoolGroup "
               "UserPoolResourceServer UserPoolUser UserPoolUserToGroupAttachment",
    "Config": "AggregationAuthorization ConfigRule ConfigurationAggregator ConfigurationRecorder DeliveryChannel "
              "RemediationConfiguration",
    "DataPipeline": "Pipeline",
    "DynamoDB": "Table",
    "EC2": "SecurityGroup SecurityGroupEgress SecurityGroupIngress",
    "ECR": "Repository",
    "Elasticsearch": "Domain",
    "Events": "EventBusPolicy Rule",
    "EventSchemas": "Discoverer Registry Schema",
    "Glue": "Classifier Connection Crawler Database DevEndpoint Job Partition Table Trigger",
    "IAM": "Group InstanceProfile ManagedPolicy Policy Role",
    "IoT": "Certificate Policy PolicyPrincipalAttachment Thing ThingPrincipalAttachment TopicRule",
    "KMS": "Alias Key",
    "Kinesis": "Stream StreamConsumer Streams",
    "KinesisAnalytics": "Application ApplicationOutput",
    "KinesisFirehose": "DeliveryStream",
    "Lambda": "Alias EventInvokeConfig EventSourceMapping Function LayerVersion LayerVersionPermission "
              "Permission Version",
    "Logs": "Destination LogGroup LogStream MetricFilter SubscriptionFilter",
    "Route53": "HealthCheck HostedZone RecordSet RecordSetGroup",
    "S3": "Bucket BucketPolicy",
    "SNS": "Subscription Topic TopicPolicy",
    "SQS": "Queue QueuePolicy",
    "SSM": "Association Document MaintenanceWindowTask Parameter PatchBaseline ResourceDataSync",
    "Serverless": "Api Application Function HttpApi LayerVersion SimpleTable StateMachine",
    "StepFunctions": "Activity StateMachine",
}.items() for kind in kinds.split()}

# What a deployer acknowledges, by the resource types that need it (SAR developer guide,
# "Acknowledging application capabilities").
CAPABILITIES = {
    "CAPABILITY_IAM": {"AWS::IAM::Group", "AWS::IAM::InstanceProfile", "AWS::IAM::Policy", "AWS::IAM::Role"},
    "CAPABILITY_RESOURCE_POLICY": {"AWS::Lambda::LayerVersionPermission", "AWS::Lambda::Permission",
                                   "AWS::Events::EventBusPolicy", "AWS::IAM::Policy",
                                   "AWS::ApplicationAutoScaling::ScalingPolicy", "AWS::S3::BucketPolicy",
                                   "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"},
    "CAPABILITY_AUTO_EXPAND": {"AWS::Serverless::Application"},
}

# CreateApplication's limits (SAR API reference) and the SAM metadata reference.
FIELDS = {
    # field: (required, maximum length, pattern)
    "Name": (True, 140, r"[a-zA-Z0-9\-]+"),
    "Description": (True, 256, None),
    "Author": (True, 127, r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?"),
    "SpdxLicenseId": (True, None, None),
    "LicenseUrl": (True, None, None),
    "ReadmeUrl": (True, None, None),
    "HomePageUrl": (True, None, r"https://\S+"),
    "SemanticVersion": (True, None,
                        r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?"),
    "SourceCodeUrl": (True, None, r"https://\S+"),
    "Labels": (True, None, None),
}
LABEL = re.compile(r"[a-zA-Z0-9+\-_:/@]+")
MAX_LABELS = 10
MAX_FILE_BYTES = 5 * 1000 * 1000  # "5 MB", read as the smaller of its meanings
# The SPDX ids whose text LICENSE is checked against.
LICENSE_TEXTS = {"MIT": "Permission is hereby granted, free of charge"}


def load(path):
    template, matches = decode_str(Path(path).read_text())
    if matches:
        sys.exit(f"{path} does not parse: {matches}")
    return json.loads(json.dumps(template))


def transformed_types(template):
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = copy.deepcopy(template)
    template["Resources"]["SetPasswordFunction"]["Properties"]["CodeUri"] = "s3://bucket/code.zip"
    # Every resource, whatever its condition: SAR checks the template, not one deployment of it.
    return {resource["Type"] for resource in transform(template, {}, NoManagedPolicies())["Resources"].values()}


def changelog_version(text):
    heading = re.search(r"^## (\S+)", text, re.M)
    return heading.group(1) if heading else None


def checks(template, project):
    """[(name, ok, detail)] for `template` (parsed) and `project`: the files beside it, as text."""
    results = []

    def check(name, ok, detail=""):
        results.append((name, bool(ok), detail))

    meta = template.get("Metadata", {}).get(SAR)
    check(f"template has Metadata {SAR}", isinstance(meta, dict))
    meta = meta if isinstance(meta, dict) else {}
    for field, (required, longest, pattern) in FIELDS.items():
        value = meta.get(field)
        if value is None:
            check(f"{field} is set", not required, "missing")
            continue
        if field == "Labels":
            ok = isinstance(value, list) and 0 < len(value) <= MAX_LABELS and all(
                isinstance(label, str) and 0 < len(label) <= 127 and LABEL.fullmatch(label) for label in value)
            check(f"Labels: 1 to {MAX_LABELS}, each 1-127 of {LABEL.pattern}", ok, repr(value))
            continue
        if not isinstance(value, str):
            check(f"{field} is a plain string (SAR metadata takes no intrinsic functions)", False, repr(value))
            continue
        check(f"{field} is 1-{longest or 'any'} characters", 0 < len(value) <= (longest or 10**9), f"{len(value)}")
        if pattern:
            check(f"{field} matches {pattern}", re.fullmatch(pattern, value), repr(value))
    for field in ("LicenseUrl", "ReadmeUrl"):
        name = meta.get(field)
        if isinstance(name, str):
            content = project.get(name)
            check(f"{field} {name} is a file beside the template, at most 5 MB",
                  content is not None and len(content.encode()) <= MAX_FILE_BYTES, "missing or too big")

    version = project.get("version")
    check("SemanticVersion is Cargo.toml's version", meta.get("SemanticVersion") == version,
          f"{meta.get('SemanticVersion')} != {version}")
    check("CHANGELOG.md's first heading is that version", changelog_version(project.get("CHANGELOG.md", "")) == version,
          f"{changelog_version(project.get('CHANGELOG.md', ''))} != {version}")
    check("SourceCodeUrl is the repository at the tag v<version>",
          meta.get("SourceCodeUrl") == f"{project.get('repository')}/tree/v{version}", str(meta.get("SourceCodeUrl")))
    check("examples/sar-consumer.yaml deploys that version by default", project.get("sar_consumer_version") == version,
          f"{project.get('sar_consumer_version')} != {version}")
    check("HomePageUrl is Cargo.toml's repository", meta.get("HomePageUrl") == project.get("repository"),
          f"{meta.get('HomePageUrl')} != {project.get('repository')}")
    if "cdk_version" in project:
        check("the CDK package's version is that version", project["cdk_version"] == version,
              f"{project['cdk_version']} != {version}")
    license_id = project.get("license")
    check("SpdxLicenseId is Cargo.toml's license", meta.get("SpdxLicenseId") == license_id,
          f"{meta.get('SpdxLicenseId')} != {license_id}")
    marker = LICENSE_TEXTS.get(license_id)
    check(f"LICENSE is the {license_id} license text", marker and marker in (project.get("LICENSE") or ""),
          "LICENSE missing or another license")

    types = project["types"]
    unsupported = sorted(types - SUPPORTED_BY_SAR)
    check("every resource type the transform produces is supported by SAR", not unsupported, ", ".join(unsupported))
    needed = sorted(cap for cap, kinds in CAPABILITIES.items() if types & kinds)
    for doc in ("README.md", "README-SAR.md"):
        missing = [cap for cap in needed if cap not in (project.get(doc) or "")]
        check(f"{doc} names the capabilities the template needs ({', '.join(needed)})", not missing,
              ", ".join(missing))
    return results


def project_files(template_path):
    base = template_path.parent
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]
    project = {"version": cargo["version"], "license": cargo.get("license"), "repository": cargo.get("repository")}
    for name in ("CHANGELOG.md", "README.md"):
        project[name] = (ROOT / name).read_text()
    for name in ("LICENSE", "README-SAR.md"):
        path = base / name
        project[name] = path.read_text() if path.exists() else None
    consumer = load(ROOT / "examples/sar-consumer.yaml")
    project["sar_consumer_version"] = consumer["Parameters"]["SemanticVersion"].get("Default")
    cdk = ROOT / "cdk/package.json"
    if cdk.exists():
        project["cdk_version"] = json.loads(cdk.read_text()).get("version")
    return project


def dist_checks(dist):
    """dist/template.yaml is template.yaml but for CodeUri (the arm64 zip) and the build metadata."""
    results = []
    source, built = load(ROOT / "template.yaml"), load(dist / "template.yaml")
    release = json.loads((dist / "release.json").read_text())
    arm64 = next((name for name in release["files"] if name.endswith("-arm64.zip")), None)
    function = built["Resources"]["SetPasswordFunction"]
    results.append(("dist/template.yaml: CodeUri is the arm64 zip beside it",
                    arm64 is not None and function["Properties"].get("CodeUri") == arm64 and (dist / arm64).exists(),
                    str(function["Properties"].get("CodeUri"))))
    results.append(("dist/template.yaml: no build metadata", "Metadata" not in function, str(function.get("Metadata"))))
    expected = copy.deepcopy(source)
    expected["Resources"]["SetPasswordFunction"].pop("Metadata", None)
    expected["Resources"]["SetPasswordFunction"]["Properties"]["CodeUri"] = arm64
    results.append(("dist/template.yaml: otherwise identical to template.yaml", expected == built,
                    "they differ beyond CodeUri and the build metadata: run scripts/release"))
    results.append(("release.json's version is Cargo.toml's", release["version"] == project_files(ROOT / "template.yaml")["version"],
                    release["version"]))
    sums = dict(reversed(line.split("  ", 1)) for line in (dist / "SHA256SUMS").read_text().splitlines() if line)
    code = dict(reversed(line.split("  ", 1)) for line in (dist / "CODESHA256").read_text().splitlines() if line)
    for name in release["files"]:
        data = (dist / name).read_bytes() if (dist / name).exists() else b""
        digest = hashlib.sha256(data)
        results.append((f"{name}: SHA256SUMS, CODESHA256 and release.json give the file's digest",
                        data and sums.get(name) == digest.hexdigest() == release["files"][name]["sha256"]
                        and code.get(name) == base64.b64encode(digest.digest()).decode(),
                        f"{sums.get(name)} / {code.get(name)} / {digest.hexdigest()}"))
        with zipfile.ZipFile(dist / name) as archive:
            entries = archive.infolist()
        results.append((f"{name}: one entry, bootstrap, mode 0755, 1980-01-01",
                        [(e.filename, e.external_attr >> 16, e.date_time) for e in entries]
                        == [("bootstrap", 0o100755, (1980, 1, 1, 0, 0, 0))], str(entries)))
    for name in ("LICENSE", "README-SAR.md"):
        same = (dist / name).exists() and (dist / name).read_bytes() == (ROOT / name).read_bytes()
        results.append((f"dist/{name} is the project's", same, "missing or stale: run scripts/release"))
    return results


def self_test(template, project):
    """Every check must catch a broken copy: a field too long, a bad pattern, a missing field, an
    unsupported type, versions that disagree, a missing capability in the README."""
    def broken(field, value):
        t = copy.deepcopy(template)
        if value is None:
            del t["Metadata"][SAR][field]
        else:
            t["Metadata"][SAR][field] = value
        return t, project

    def project_with(**changes):
        return template, {**project, **changes}

    # case: (template, project, the start of the check it must trip)
    cases = {
        "Name with a space": (*broken("Name", "cognito set password"), "Name matches"),
        "Name of 141 characters": (*broken("Name", "a" * 141), "Name is 1-140"),
        "Description of 257 characters": (*broken("Description", "d" * 257), "Description is 1-256"),
        "Author in capitals": (*broken("Author", "Cognito"), "Author matches"),
        "Author with a double hyphen": (*broken("Author", "a--b"), "Author matches"),
        "Labels, eleven": (*broken("Labels", [f"l{i}" for i in range(11)]), "Labels:"),
        "Labels, none": (*broken("Labels", []), "Labels:"),
        "a Label of 128 characters": (*broken("Labels", ["l" * 128]), "Labels:"),
        "a Label with a space": (*broken("Labels", ["two words"]), "Labels:"),
        "SemanticVersion not semver": (*broken("SemanticVersion", "1.0"), "SemanticVersion matches"),
        "SemanticVersion other than Cargo.toml's": (*broken("SemanticVersion", "9.9.9"), "SemanticVersion is Cargo"),
        "no ReadmeUrl": (*broken("ReadmeUrl", None), "ReadmeUrl is set"),
        "an intrinsic function": (*broken("Description", {"Fn::Sub": "x"}), "Description is a plain string"),
        "ReadmeUrl that is no file": (*broken("ReadmeUrl", "NOPE.md"), "ReadmeUrl NOPE.md is a file"),
        "a readme over 5 MB": (*project_with(**{"README-SAR.md": "x" * (MAX_FILE_BYTES + 1)}), "ReadmeUrl"),
        "SourceCodeUrl of another tag": (*broken("SourceCodeUrl", "https://example.com/tree/v0.0.1"), "SourceCodeUrl is"),
        "CHANGELOG of another version": (*project_with(**{"CHANGELOG.md": "# Changelog\n\n## 9.9.9\n"}), "CHANGELOG"),
        "LICENSE of another license": (*project_with(LICENSE="Apache License Version 2.0"), "LICENSE is"),
        "no LICENSE": (*project_with(LICENSE=None), "LicenseUrl LICENSE is a file"),
        "an unsupported resource type": (*project_with(types=project["types"] | {"AWS::Lambda::Url"}), "every resource"),
        "README without CAPABILITY_RESOURCE_POLICY": (*project_with(
            **{"README.md": project["README.md"].replace("CAPABILITY_RESOURCE_POLICY", "")}), "README.md names"),
        "README-SAR without CAPABILITY_IAM": (*project_with(
            **{"README-SAR.md": project["README-SAR.md"].replace("CAPABILITY_IAM", "")}), "README-SAR.md names"),
        "SAR consumer of another version": (*project_with(sar_consumer_version="9.9.9"), "examples/sar-consumer"),
        "CDK package of another version": (*project_with(cdk_version="9.9.9"), "the CDK package"),
    }
    clean = [check for check, ok, _ in checks(template, project) if not ok]
    print(f"{'ok  ' if not clean else 'FAIL'} self-test, the unbroken template passes{'' if not clean else ': ' + ', '.join(clean)}")
    failures = int(bool(clean))
    for name, (t, p, expected) in cases.items():
        failed = [check for check, ok, _ in checks(t, p) if not ok]
        caught = any(check.startswith(expected) for check in failed)
        failures += not caught
        print(f"{'ok  ' if caught else 'FAIL'} self-test, {name}: "
              f"{'caught by ' + next(c for c in failed if c.startswith(expected)) if caught else 'NOT caught: ' + str(failed)}")
    return len(cases) + 1, failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--dist", "--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    template = load(args.template)
    project = project_files(args.template)
    project["types"] = transformed_types(template)
    if args.self_test:
        total, failures = self_test(template, project)
        print(f"{total - failures} passed, {failures} failed")
        sys.exit(1 if failures else 0)
    results = checks(template, project)
    if (args.dist / "template.yaml").exists():
        results += dist_checks(args.dist)
    else:
        results.append(("dist/ exists (run scripts/release first)", False, str(args.dist)))
    for name, ok, detail in results:
        print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}")
    failed = sum(not ok for _, ok, _ in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
