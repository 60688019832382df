# cognito-set-password from Terraform: the function (as template.yaml deploys it), its role, a
# user pool with a password policy, a user, a generated password in Secrets Manager, and the
# aws_lambda_invocation that sets the user's password from that secret on every create and update.
#
# What lands in Terraform state, and what does not:
#   - aws_lambda_invocation keeps `input` (the pool id, the username, the secret's ARN, Permanent:
#     references, never the password) and `result` ({"UserPoolId","Username","Permanent"}). The
#     function reads the password from Secrets Manager itself and returns none of it.
#   - aws_cognito_user has no password argument here, and Cognito never returns one: no password
#     in its state.
#   - The password itself DOES land in state, twice: random_password keeps `result` (and
#     `bcrypt_hash`), and aws_secretsmanager_secret_version keeps `secret_string`. Both are marked
#     sensitive, which only hides them from plan and console output: the state file holds them in
#     plain text. Keep state in an encrypted backend that only the people who may read the
#     password can read. To keep the password out of state altogether, either store the secret's
#     value outside Terraform (`aws secretsmanager put-secret-value`) and give the invocation the
#     secret's ARN only, or, with Terraform 1.11 or later (and the aws and random providers this
#     module pins), generate it with `ephemeral "random_password"` and write it with the
#     write-only `secret_string_wo` and `secret_string_wo_version` of
#     aws_secretsmanager_secret_version instead of `secret_string` (README.md in this folder).

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  build_dir = coalesce(var.build_dir, "${path.module}/../../.aws-sam/build/SetPasswordFunction")
  code_zip  = var.release_zip != null ? var.release_zip : data.archive_file.function[0].output_path
  code_hash = var.release_zip != null ? filebase64sha256(var.release_zip) : data.archive_file.function[0].output_base64sha256

  # The function's input: the properties of the direct invocation (README, "The event contract").
  # The provider adds `<terraform_key>: {"action", "prev_input"}` to it on each invocation.
  password_request = {
    UserPoolId       = aws_cognito_user_pool.this.id
    Username         = aws_cognito_user.this.username
    PasswordSecretId = aws_secretsmanager_secret.password.arn
    Permanent        = var.permanent
  }
}

# ---- The function -------------------------------------------------------------------------------

# The code: the release's arm64 zip when `release_zip` names it (no Rust needed; its hash is the
# release's CODESHA256 line), or else the arm64 `bootstrap` that `sam build` builds, zipped here.
# 0755 keeps it executable whatever the mode of the file on disk.
data "archive_file" "function" {
  count            = var.release_zip == null ? 1 : 0
  type             = "zip"
  source_dir       = local.build_dir
  output_path      = "${path.module}/build/cognito-set-password.zip"
  output_file_mode = "0755"
}

resource "aws_lambda_function" "this" {
  function_name    = var.name
  description      = "Sets a Cognito user's password from Secrets Manager or SSM (aws_lambda_invocation, lifecycle_scope CRUD)."
  role             = aws_iam_role.function.arn
  filename         = local.code_zip
  source_code_hash = local.code_hash
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  memory_size      = 128
  # As in template.yaml: each AWS call has a 2 s connect and 5 s per-attempt timeout and is retried
  # on throttling until the deadline; a normal run takes well under a second.
  timeout = 30

  logging_config {
    log_format            = "JSON"
    application_log_level = var.log_level
    system_log_level      = "INFO"
  }

  environment {
    variables = {
      RESPONSE_MARGIN_MS = "2000"
      # Must name the same key as the invocation's terraform_key below.
      TERRAFORM_KEY = var.terraform_key
      # The pace of a Users list's AdminSetUserPassword calls, unless the input gives its own.
      MAX_CALLS_PER_SECOND = var.max_calls_per_second
      # Whether a rotation step may run (the grants above follow the same variable).
      ENABLE_ROTATION          = tostring(var.enable_rotation)
      ROTATION_PASSWORD_LENGTH = tostring(var.rotation_password_length)
      # Whose password a secret may set: only its tagged user's (Tag), or anyone's (None).
      SECRET_BINDING          = var.secret_binding
      ALLOW_VERSION_SELECTORS = tostring(var.allow_version_selectors)
      # Whether a federated user's profile (EXTERNAL_PROVIDER) may be given a password.
      ALLOW_FEDERATED_USERS = tostring(var.allow_federated_users)
      # The pace of a Users list's AdminGetUser calls (which user each name means).
      MAX_READS_PER_SECOND = var.max_reads_per_second
    }
  }

  # The role's permissions must be in place before the first invocation, not just the role.
  depends_on = [aws_iam_role_policy.function, aws_iam_role_policy_attachment.logs]
}

# ---- Its role: template.yaml's function policy, statement for statement -------------------------
# tools/check_terraform.py compares the statements below with template.yaml's `Policies`. The
# rotation and sync statements are there because this is the same function: it can also be the
# rotation function of a user's secret under the prefix (add an aws_lambda_permission for
# secretsmanager.amazonaws.com). Only the template's statement for its optional SQS queue
# (EnableBulkQueue) has no counterpart: this module makes no queue.

data "aws_iam_policy_document" "assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  name               = var.name
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "function" {
  # Setting a password, and the user's status (waiting for a user that is being created; a
  # rotation's test when the secret names no app client).
  statement {
    sid    = "SetPasswordsInTheGivenPools"
    effect = "Allow"
    actions = [
      "cognito-idp:AdminSetUserPassword",
      "cognito-idp:AdminGetUser",
    ]
    resources = [aws_cognito_user_pool.this.arn]
  }

  # The region in each ARN is "*" so that other_regions can be listed; the condition keeps every
  # read to this region and those (aws:RequestedRegion is the endpoint's).
  statement {
    sid       = "ReadPasswordSecrets"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:${data.aws_partition.current.partition}:secretsmanager:*:${data.aws_caller_identity.current.account_id}:secret:${var.secret_name_prefix}*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = concat([data.aws_region.current.region], var.other_regions)
    }
  }

  # Rotation and sync: a secret's versions and labels, and moving AWSCURRENT and the function's own
  # COGNITO_CURRENT label.
  statement {
    sid    = "LabelPasswordSecrets"
    effect = "Allow"
    actions = [
      "secretsmanager:DescribeSecret",
      "secretsmanager:UpdateSecretVersionStage",
    ]
    resources = ["arn:${data.aws_partition.current.partition}:secretsmanager:*:${data.aws_caller_identity.current.account_id}:secret:${var.secret_name_prefix}*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = concat([data.aws_region.current.region], var.other_regions)
    }
  }

  # A Users list reads its secrets 20 at a time. BatchGetSecretValue has no resource-level
  # permissions, so IAM accepts no narrower resource; Secrets Manager still checks GetSecretValue
  # on each secret, so it returns only what ReadPasswordSecrets allows.
  statement {
    sid       = "ReadPasswordSecretsInBatches"
    effect    = "Allow"
    actions   = ["secretsmanager:BatchGetSecretValue"]
    resources = ["*"]
  }

  statement {
    sid       = "ReadPasswordParameters"
    effect    = "Allow"
    actions   = ["ssm:GetParameter", "ssm:ListTagsForResource"]
    resources = ["arn:${data.aws_partition.current.partition}:ssm:*:${data.aws_caller_identity.current.account_id}:parameter${var.parameter_path_prefix}*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = concat([data.aws_region.current.region], var.other_regions)
    }
  }

  # Rotation only (template.yaml's EnableRotation): the new AWSPENDING version and its password,
  # the pool's minimum password length, and the app client's secret and the sign-in that tests a
  # new password.
  dynamic "statement" {
    for_each = var.enable_rotation ? [1] : []
    content {
      sid       = "WriteRotatedSecretVersions"
      effect    = "Allow"
      actions   = ["secretsmanager:PutSecretValue"]
      resources = ["arn:${data.aws_partition.current.partition}:secretsmanager:*:${data.aws_caller_identity.current.account_id}:secret:${var.secret_name_prefix}*"]

      condition {
        test     = "StringEquals"
        variable = "aws:RequestedRegion"
        values   = concat([data.aws_region.current.region], var.other_regions)
      }
    }
  }

  # GetRandomPassword touches no resource, so IAM accepts no narrower resource.
  dynamic "statement" {
    for_each = var.enable_rotation ? [1] : []
    content {
      sid       = "GenerateRotatedPasswords"
      effect    = "Allow"
      actions   = ["secretsmanager:GetRandomPassword"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = var.enable_rotation ? [1] : []
    content {
      sid    = "TestRotatedPasswordsInTheGivenPools"
      effect = "Allow"
      actions = [
        "cognito-idp:DescribeUserPool",
        "cognito-idp:DescribeUserPoolClient",
        "cognito-idp:AdminInitiateAuth",
      ]
      resources = [aws_cognito_user_pool.this.arn]
    }
  }

  # Only with a customer managed key (template.yaml's HasKmsKey), and only through the services.
  # Through Secrets Manager, and only for the secrets under the prefix (the service names the
  # secret in the encryption context): the key may protect other secrets.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "DecryptSecretsUnderThePrefixThroughSecretsManager"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${data.aws_region.current.region}.amazonaws.com"]
      }
      condition {
        test     = "StringLike"
        variable = "kms:EncryptionContext:SecretARN"
        values   = ["arn:${data.aws_partition.current.partition}:secretsmanager:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:secret:${var.secret_name_prefix}*"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "DecryptParametersUnderThePathThroughSsm"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["ssm.${data.aws_region.current.region}.amazonaws.com"]
      }
      condition {
        test     = "StringLike"
        variable = "kms:EncryptionContext:PARAMETER_ARN"
        values   = ["arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:parameter${var.parameter_path_prefix}*"]
      }
    }
  }

  # Rotation's PutSecretValue encrypts the new version under the key.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "EncryptNewSecretVersionsThroughSecretsManagerOnly"
      effect    = "Allow"
      actions   = ["kms:GenerateDataKey"]
      resources = [var.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${data.aws_region.current.region}.amazonaws.com"]
      }
      condition {
        test     = "StringLike"
        variable = "kms:EncryptionContext:SecretARN"
        values   = ["arn:${data.aws_partition.current.partition}:secretsmanager:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:secret:${var.secret_name_prefix}*"]
      }
    }
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "set-passwords"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

# CloudWatch Logs, as SAM adds to every function's role.
resource "aws_iam_role_policy_attachment" "logs" {
  role       = aws_iam_role.function.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

# ---- The user pool and the user -----------------------------------------------------------------

resource "aws_cognito_user_pool" "this" {
  name = var.name

  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  password_policy {
    minimum_length                   = 16
    require_uppercase                = true
    require_lowercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 1
  }
}

# An app client to sign in with, to see that the password works.
resource "aws_cognito_user_pool_client" "this" {
  name                = "example"
  user_pool_id        = aws_cognito_user_pool.this.id
  generate_secret     = false
  explicit_auth_flows = ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
}

# No `password` or `temporary_password`: the password comes from the secret, through the function.
# Until the invocation below has run, the user is in FORCE_CHANGE_PASSWORD with a temporary
# password that Cognito generated and, with SUPPRESS, sent to no one.
resource "aws_cognito_user" "this" {
  user_pool_id   = aws_cognito_user_pool.this.id
  username       = var.username
  message_action = "SUPPRESS"
}

# ---- The password, in Secrets Manager ------------------------------------------------------------

# 32 characters with at least one of each type meets the pool's policy (16, upper, lower, digits,
# symbols); the symbols are from Cognito's set, without quotes, backslashes or whitespace.
# Its `result` lands in state (see the top of this file).
resource "random_password" "password" {
  length           = 32
  min_upper        = 1
  min_lower        = 1
  min_numeric      = 1
  min_special      = 1
  override_special = "!#$%&*()-_=+[]{}<>:?"

  keepers = {
    generation = var.password_generation
  }
}

# Under secret_name_prefix, the only secrets the function's role may read.
resource "aws_secretsmanager_secret" "password" {
  name                    = "${var.secret_name_prefix}${var.name}/${var.username}"
  description             = "The password of ${var.username} in ${var.name}; the function reads it, Terraform passes only this secret's ARN."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_in_days

  # The binding: the function sets only the password of the user this tag names. Whoever runs
  # this needs secretsmanager:TagResource, which writing the secret's versions does not give.
  tags = {
    "cognito-set-password:user" = "${aws_cognito_user_pool.this.id}/${var.username}"
  }
}

# Each new value is a new version (a new version_id), which becomes AWSCURRENT.
resource "aws_secretsmanager_secret_version" "password" {
  secret_id     = aws_secretsmanager_secret.password.id
  secret_string = random_password.password.result
}

# ---- Setting the password ------------------------------------------------------------------------

# lifecycle_scope CRUD: the provider invokes the function synchronously on create, on update (the
# input changed) and on destroy, adding `<terraform_key>: {"action": "create"|"update"|"delete",
# "prev_input": ...}` to the input. Create and update set the password from the secret's current
# version; delete sets nothing. A function error fails the apply. A new secret version (a new
# version_id) changes `triggers`, which replaces this resource: a delete (nothing set), then a
# create that sets the password from the new version.
resource "aws_lambda_invocation" "set_password" {
  function_name   = aws_lambda_function.this.function_name
  lifecycle_scope = "CRUD"
  terraform_key   = var.terraform_key
  input           = jsonencode(local.password_request)

  triggers = {
    secret_version = aws_secretsmanager_secret_version.password.version_id
  }
}
