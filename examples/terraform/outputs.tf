output "function_arn" {
  description = "The function; invoke it with aws_lambda_invocation (lifecycle_scope CRUD) from other configurations too."
  value       = aws_lambda_function.this.arn
}

output "user_pool_id" {
  value = aws_cognito_user_pool.this.id
}

output "app_client_id" {
  value = aws_cognito_user_pool_client.this.id
}

output "username" {
  value = aws_cognito_user.this.username
}

output "password_secret_arn" {
  description = "Sign in: aws cognito-idp initiate-auth --auth-flow USER_PASSWORD_AUTH --client-id <app_client_id> --auth-parameters USERNAME=<username>,PASSWORD=<the secret's value>"
  value       = aws_secretsmanager_secret.password.arn
}

output "set_password_result" {
  description = "What the function returned, as kept in state: {\"UserPoolId\", \"Username\", \"Permanent\"}; no password."
  value       = jsondecode(aws_lambda_invocation.set_password.result)
}
