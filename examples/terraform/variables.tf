variable "name" {
  description = "Name of the function, its role and the user pool, and part of the secret's name."
  type        = string
  default     = "cognito-set-password-example"
}

variable "username" {
  description = "The user to create and give a password."
  type        = string
  default     = "alice"
}

variable "permanent" {
  description = "Set the password as permanent; false leaves the user in FORCE_CHANGE_PASSWORD."
  type        = bool
  default     = true
}

variable "password_generation" {
  description = "Change this (say 1 -> 2) to generate a new password: a new secret version, which sets it again."
  type        = number
  default     = 1
}

# The three below scope the function's role exactly as template.yaml's parameters of the same
# names do (defaults and patterns too); tools/check_terraform.py holds the two side by side.

variable "secret_name_prefix" {
  description = "The function may read Secrets Manager secrets whose names start with this prefix (this account, this region and other_regions)."
  type        = string
  default     = "cognito-set-password/"

  validation {
    condition     = can(regex("^[A-Za-z0-9_+=.@-]+(/[A-Za-z0-9_+=.@-]+)*/$", var.secret_name_prefix))
    error_message = "secret_name_prefix must be one or more path segments of letters, digits and _+=.@-, ending in a slash (no wildcard)."
  }
}

variable "parameter_path_prefix" {
  description = "The function may read SSM parameters whose names start with this path (this account, this region and other_regions)."
  type        = string
  default     = "/cognito-set-password/"

  validation {
    condition     = can(regex("^/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/$", var.parameter_path_prefix))
    error_message = "parameter_path_prefix must be a path of one or more segments of letters, digits and _.-, starting and ending with a slash (not / alone; no wildcard)."
  }
}

variable "other_regions" {
  description = "Other regions whose secrets and parameters under the prefixes the function may read (template.yaml's OtherRegions); empty: this region only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for r in var.other_regions : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", r))])
    error_message = "other_regions must be region names, such as eu-west-1."
  }
}

variable "enable_rotation" {
  description = "Let the function rotate user secrets (template.yaml's EnableRotation): it may then write secret versions, generate passwords and sign in to test them. Add an aws_lambda_permission for secretsmanager.amazonaws.com too."
  type        = bool
  default     = false
}

variable "rotation_password_length" {
  description = "The length of the passwords rotation generates (template.yaml's RotationPasswordLength), 1 to 256; a pool whose policy asks for more gets its minimum."
  type        = number
  default     = 32
  validation {
    condition     = var.rotation_password_length >= 1 && var.rotation_password_length <= 256
    error_message = "rotation_password_length must be 1 to 256."
  }
}

variable "secret_binding" {
  description = "Tag (the default): a secret or parameter sets only the password of the user its tag cognito-set-password:user names. None: any of them may set any user's password, as the invoker chooses (template.yaml's SecretBinding; README, \"Who can set whose password\")."
  type        = string
  default     = "Tag"
  validation {
    condition     = contains(["Tag", "None"], var.secret_binding)
    error_message = "secret_binding must be Tag or None."
  }
}

variable "allow_version_selectors" {
  description = "Whether a request may name a version of its user's secret or parameter (template.yaml's AllowVersionSelectors); false is recommended where a rule or queue is on."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "ARN of the customer managed KMS key for the secret; null (the default) uses aws/secretsmanager, which needs no extra permission."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/(mrk-)?[0-9a-f-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a key ARN, arn:aws:kms:REGION:ACCOUNT:key/KEY_ID, or null."
  }
}

variable "log_level" {
  description = "Application log level (AWS_LAMBDA_LOG_LEVEL). Passwords are never logged at any level."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"], var.log_level)
    error_message = "log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR (FATAL would make Lambda drop the function's ERROR lines)."
  }
}

variable "max_calls_per_second" {
  description = "AdminSetUserPassword calls per second for a Users list, unless the input gives MaxCallsPerSecond (MAX_CALLS_PER_SECOND); 25 is the default quota of Cognito's UserUpdate category, shared by every caller in the account and region."
  type        = number
  default     = 25

  validation {
    condition     = var.max_calls_per_second >= 1 && var.max_calls_per_second <= 10000
    error_message = "max_calls_per_second must be a number from 1 to 10000, as template.yaml's MaxCallsPerSecond."
  }
}

variable "max_reads_per_second" {
  description = "AdminGetUser calls per second for a Users list (MAX_READS_PER_SECOND), apart from max_calls_per_second; 100 stays below 120, the default quota of Cognito's UserRead category."
  type        = number
  default     = 100

  validation {
    condition     = var.max_reads_per_second >= 1 && var.max_reads_per_second <= 10000
    error_message = "max_reads_per_second must be a number from 1 to 10000, as template.yaml's MaxReadsPerSecond."
  }
}

variable "allow_federated_users" {
  description = "Whether the function may set a password on a federated user's profile (status EXTERNAL_PROVIDER; template.yaml's AllowFederatedUsers). AWS advises against it: the user could then sign in past the identity provider."
  type        = bool
  default     = false
}

variable "terraform_key" {
  description = "The key aws_lambda_invocation adds to the input (its terraform_key), passed to the function as TERRAFORM_KEY."
  type        = string
  default     = "tf"
}

variable "release_zip" {
  description = "Path of the release's arm64 zip (cognito-set-password-<version>-arm64.zip), downloaded and checked against SHA256SUMS; null builds from source instead (build_dir)."
  type        = string
  default     = null
  validation {
    condition     = var.release_zip == null || can(regex("-arm64\\.zip$", var.release_zip))
    error_message = "release_zip must be the release's arm64 zip (the function runs on arm64)."
  }
}

variable "build_dir" {
  description = "Without release_zip: the folder holding the built function's `bootstrap`; null means this repository's .aws-sam/build/SetPasswordFunction, where `sam build` leaves it."
  type        = string
  default     = null
}

variable "secret_recovery_window_in_days" {
  description = "Days Secrets Manager keeps the secret after `terraform destroy` (0 deletes it at once, 7 to 30 otherwise)."
  type        = number
  default     = 7
}
