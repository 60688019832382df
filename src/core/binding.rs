//! The binding of a secret or parameter to the one user whose password it may set: its tag
//! `cognito-set-password:user` = `<UserPoolId>/<Username or sub>`, read on every request (never
//! cached) and compared with the user the request names before anything changes in Cognito.
//! Writing a secret's versions cannot change a tag: tagging is an IAM action of its own.

use crate::aws::clients::Clients;
use crate::aws::regions::SecretStores;
use crate::aws::{cognito, secrets, ssm};
use crate::core::identity::{self, Identity};
use crate::core::password::PasswordRef;
use crate::error::{AwsCall, Error};
use crate::settings::{SecretBinding, Settings};

/// The tag that binds a secret or parameter to its user.
pub const BINDING_TAG: &str = "cognito-set-password:user";

/// What the deployment allows a request to do with a reference and a user (`SECRET_BINDING`,
/// `ALLOW_VERSION_SELECTORS`, `ALLOW_FEDERATED_USERS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub binding: SecretBinding,
    pub allow_version_selectors: bool,
    /// `ALLOW_FEDERATED_USERS`: see [`identity::refuse_federated`].
    pub allow_federated_users: bool,
}

impl Policy {
    pub fn of(settings: &Settings) -> Self {
        Policy {
            binding: settings.secret_binding,
            allow_version_selectors: settings.allow_version_selectors,
            allow_federated_users: settings.allow_federated_users,
        }
    }
}

/// The user a tag names: a pool id (which holds no `/`) and a username or `sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub user_pool_id: String,
    pub user: String,
}

impl Bound {
    /// Reads a tag's value, split at its first `/`; `None` when either side is empty.
    pub fn parse(value: &str) -> Option<Bound> {
        let (pool, user) = value.trim().split_once('/')?;
        (!pool.is_empty() && !user.is_empty()).then(|| Bound {
            user_pool_id: pool.to_owned(),
            user: user.to_owned(),
        })
    }
}

/// The binding tag's value of the secret (`DescribeSecret`) or parameter (`ListTagsForResource`).
pub async fn read(stores: &SecretStores, source: &PasswordRef) -> Result<Option<String>, Error> {
    match source {
        PasswordRef::Secret { secret_id, .. } => Ok(secrets::describe(&stores.secrets_manager, secret_id)
            .await?
            .tag(BINDING_TAG)
            .map(str::to_owned)),
        PasswordRef::Parameter { name } => ssm::tag(&stores.ssm, &parameter_name(name), BINDING_TAG).await,
    }
}

/// The call that reads a reference's binding, as IAM names it.
pub fn read_call(source: &PasswordRef) -> AwsCall {
    match source {
        PasswordRef::Secret { secret_id, .. } => AwsCall {
            action: "secretsmanager:DescribeSecret",
            resource: secret_id.clone(),
        },
        PasswordRef::Parameter { name } => AwsCall {
            action: "ssm:ListTagsForResource",
            resource: parameter_name(name),
        },
    }
}

/// The property that selects a version other than the current one, if the reference has one.
pub fn selector(source: &PasswordRef) -> Option<&'static str> {
    match source {
        PasswordRef::Secret {
            version_stage: Some(_),
            ..
        } => Some("`PasswordSecretVersionStage`"),
        PasswordRef::Secret {
            version_id: Some(_), ..
        } => Some("`PasswordSecretVersionId`"),
        PasswordRef::Secret { .. } => None,
        PasswordRef::Parameter { name } => {
            let unqualified = name
                .split_once(":parameter/")
                .map_or(name.as_str(), |(_, rest)| rest);
            unqualified
                .contains(':')
                .then_some("the `:version` or `:label` after the parameter's name")
        }
    }
}

/// Whether a tag value can hold `name`: letters, digits, spaces and `_ . : / = + - @`.
pub fn taggable(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c))
}

/// Refuses, naming both users, a request for `username` in `user_pool_id` with a reference whose
/// binding `tag` names another user, or none; `Ok` when it names this one. `user` is who
/// `username` means (`None` when that is not known: the user does not exist yet, or could not be
/// read): the tag must name that user by its username, `sub` or sign-in address (see
/// [`identity::names`]); a tag spelled otherwise is looked up, for a pool whose usernames ignore
/// case. Unknown, only a tag that spells the request's name passes; the caller then looks the
/// user up before anything is set.
pub async fn check(
    clients: &Clients,
    source: &PasswordRef,
    tag: Option<&str>,
    user_pool_id: &str,
    username: &str,
    user: Option<&Identity>,
) -> Result<(), Error> {
    let Some(value) = tag else {
        return Err(unbound(source, user_pool_id, username, "it has no tag"));
    };
    let Some(bound) = Bound::parse(value) else {
        return Err(unbound(
            source,
            user_pool_id,
            username,
            "its tag is not `<UserPoolId>/<Username or sub>`",
        ));
    };
    let holds = bound.user_pool_id == user_pool_id
        && match user {
            None => bound.user == username,
            Some(user) if identity::names(user, &bound.user) => true,
            Some(user) => {
                match cognito::identify(&clients.cognito_for(user_pool_id), user_pool_id, &bound.user).await {
                    Ok(found) => identity::same_username(user, &bound.user, &found),
                    Err(Error::UserNotFound { .. }) => false,
                    Err(err) => return Err(err),
                }
            }
        };
    if holds {
        return Ok(());
    }
    Err(Error::BoundToAnother {
        source_name: source.to_string(),
        bound: format!("user `{}` in user pool `{}`", bound.user, bound.user_pool_id),
        requested: match user {
            Some(user) if user.username != username => {
                format!(
                    "user `{username}` (`{}`) in user pool `{user_pool_id}`",
                    user.username
                )
            }
            _ => format!("user `{username}` in user pool `{user_pool_id}`"),
        },
    })
}

fn unbound(source: &PasswordRef, user_pool_id: &str, username: &str, why: &str) -> Error {
    let (user, by_sub) = if taggable(username) {
        (username.to_owned(), "")
    } else {
        (
            "<the user's sub>".to_owned(),
            " (the username holds characters a tag cannot, so bind it by its `sub`: \
             aws cognito-idp admin-get-user --user-pool-id … --username … --query \
             \"UserAttributes[?Name=='sub'].Value\")",
        )
    };
    let value = format!("{user_pool_id}/{user}");
    let command = match source {
        PasswordRef::Secret { secret_id, .. } => format!(
            "aws secretsmanager tag-resource --secret-id {secret_id} --tags Key={BINDING_TAG},Value={value}"
        ),
        PasswordRef::Parameter { name } => format!(
            "aws ssm add-tags-to-resource --resource-type Parameter --resource-id {} --tags \
             Key={BINDING_TAG},Value={value}",
            parameter_name(name)
        ),
    };
    Error::Unbound {
        source_name: source.to_string(),
        why: why.to_owned(),
        requested: format!("user `{username}` in user pool `{user_pool_id}`"),
        fix: format!("{command}{by_sub}"),
    }
}

/// A parameter's name as tagging takes it: without an ARN's prefix or a `:version`/`:label`
/// selector (`arn:…:parameter/app/alice:3` is `/app/alice`).
pub fn parameter_name(reference: &str) -> String {
    let name = match reference.split_once(":parameter/") {
        Some((arn, rest)) if arn.starts_with("arn:") => {
            if rest.contains('/') {
                format!("/{rest}")
            } else {
                rest.to_owned()
            }
        }
        _ => reference.to_owned(),
    };
    match name.split_once(':') {
        Some((name, _selector)) => name.to_owned(),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_names_a_pool_and_a_user_split_at_the_first_slash() {
        let bound = Bound::parse("us-east-1_Abc/team/alice").unwrap();
        assert_eq!(bound.user_pool_id, "us-east-1_Abc");
        assert_eq!(bound.user, "team/alice");
        for bad in ["", "us-east-1_Abc", "us-east-1_Abc/", "/alice"] {
            assert_eq!(Bound::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_tag_holds_what_tags_hold() {
        assert!(taggable("alice@example.com"));
        assert!(taggable("Jane Doe_1+2=3:4/5-6.7"));
        assert!(!taggable("alice#1"));
        assert!(!taggable("a,b"));
    }

    #[test]
    fn a_parameter_is_tagged_by_its_name() {
        assert_eq!(parameter_name("/app/alice"), "/app/alice");
        assert_eq!(parameter_name("/app/alice:3"), "/app/alice");
        assert_eq!(parameter_name("/app/alice:current"), "/app/alice");
        assert_eq!(
            parameter_name("arn:aws:ssm:us-east-1:123456789012:parameter/app/alice:3"),
            "/app/alice"
        );
        assert_eq!(
            parameter_name("arn:aws:ssm:us-east-1:123456789012:parameter/alice"),
            "alice"
        );
    }
}
