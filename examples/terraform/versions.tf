terraform {
  # The write-only alternative in README.md (an ephemeral random_password and secret_string_wo)
  # needs 1.11 or later.
  required_version = ">= 1.5.0"

  required_providers {
    # 6.x: aws_lambda_invocation's lifecycle_scope and terraform_key (since 5.1), the function's
    # logging_config, data.aws_region's `region` attribute (6.0 renamed it from `name`), and the
    # write-only secret_string_wo of aws_secretsmanager_secret_version (since 5.88).
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    # 3.7.1 and later also offer random_password as an ephemeral resource.
    random = {
      source  = "hashicorp/random"
      version = ">= 3.7.1, < 4.0.0"
    }
    # archive_file's output_file_mode.
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.4"
    }
  }
}
