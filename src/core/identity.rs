//! Which user a name means, before anything is set: one `AdminGetUser` gives the username as the
//! pool stores it, the `sub` and the status. Names are compared as users, never as strings (a
//! username, an alias, an address or a `sub` may all mean one user), and a federated user's
//! profile is refused unless the deployment allows it.

use tokio::time::Instant;

use crate::aws::clients::Clients;
use crate::aws::cognito::{self, EXTERNAL_PROVIDER};
use crate::core::deadline::within;
use crate::core::user_wait::UserWait;
use crate::error::Error;

pub use crate::aws::cognito::Identity;

/// The user `name` means in `user_pool_id`.
pub async fn look_up(clients: &Clients, user_pool_id: &str, name: &str) -> Result<Identity, Error> {
    cognito::identify(&clients.cognito_for(user_pool_id), user_pool_id, name).await
}

/// [`look_up`] within the deadline, waiting as `wait` allows for a user that does not exist yet.
pub async fn look_up_waiting(
    clients: &Clients,
    user_pool_id: &str,
    name: &str,
    wait: UserWait,
    deadline: Instant,
) -> Result<Identity, Error> {
    wait.retry(|| {
        within(
            deadline,
            cognito::get_user_call(user_pool_id),
            look_up(clients, user_pool_id, name),
        )
    })
    .await
}

/// Refuses a federated user's profile (status `EXTERNAL_PROVIDER`) unless `allowed`: a password
/// would let that user sign in past the identity provider, its MFA and its off-boarding.
pub fn refuse_federated(allowed: bool, user_pool_id: &str, user: &Identity) -> Result<(), Error> {
    if user.status == EXTERNAL_PROVIDER && !allowed {
        return Err(Error::FederatedUser {
            username: user.username.clone(),
            user_pool_id: user_pool_id.to_owned(),
        });
    }
    Ok(())
}

/// Whether `name` names `user` by something that cannot pass to another user: its username, its
/// `sub`, or, in a pool that signs in by email or phone (where Cognito stores the `sub` as the
/// username), its email address or phone number. Not by another alias (`preferred_username`, an
/// address in a pool that only takes it as an alias): its owner can hand it to another user.
pub fn names(user: &Identity, name: &str) -> bool {
    if name == user.username || user.sub.as_deref() == Some(name) {
        return true;
    }
    let signs_in_by_address = user.sub.as_deref() == Some(user.username.as_str());
    signs_in_by_address && (user.email.as_deref() == Some(name) || user.phone_number.as_deref() == Some(name))
}

/// Whether `name` is `user`'s username spelled in another case, as a pool whose usernames are
/// case-insensitive (the default) takes it: `found` is who `name` itself means there.
pub fn same_username(user: &Identity, name: &str, found: &Identity) -> bool {
    found.username == user.username && name.to_lowercase() == user.username.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(username: &str, sub: &str) -> Identity {
        Identity {
            username: username.into(),
            sub: Some(sub.into()),
            status: "CONFIRMED".into(),
            email: Some("alice@example.com".into()),
            phone_number: Some("+15550100".into()),
        }
    }

    #[test]
    fn a_user_is_named_by_its_username_or_sub() {
        let alice = user("alice", "1111-aaaa");
        assert!(names(&alice, "alice"));
        assert!(names(&alice, "1111-aaaa"));
        assert!(!names(&alice, "bob"));
        assert!(
            !names(&alice, "Alice"),
            "a case-insensitive pool is asked (same_username)"
        );
    }

    #[test]
    fn an_address_names_a_user_only_where_the_pool_signs_in_by_it() {
        // A pool with UsernameAttributes: the stored username is the sub.
        let by_email = user("1111-aaaa", "1111-aaaa");
        assert!(names(&by_email, "alice@example.com"));
        assert!(names(&by_email, "+15550100"));
        // A pool with usernames, where the address is only an alias its owner may move.
        let with_alias = user("alice", "1111-aaaa");
        assert!(!names(&with_alias, "alice@example.com"));
        assert!(!names(&with_alias, "+15550100"));
    }

    #[test]
    fn another_case_is_the_same_username_only_when_the_pool_says_so() {
        let alice = user("alice", "1111-aaaa");
        assert!(same_username(&alice, "ALICE", &user("alice", "1111-aaaa")));
        // A case-sensitive pool: `Alice` is another user.
        assert!(!same_username(&alice, "Alice", &user("Alice", "2222-bbbb")));
        // An alias that happens to resolve to the user is not its username.
        assert!(!same_username(&alice, "boss", &user("alice", "1111-aaaa")));
    }

    #[test]
    fn a_federated_profile_is_refused_unless_allowed() {
        let mut google = user("Google_1234", "3333-cccc");
        google.status = EXTERNAL_PROVIDER.into();
        let refused = refuse_federated(false, "us-east-1_Abc", &google).unwrap_err();
        assert!(matches!(refused, Error::FederatedUser { .. }));
        let message = refused.to_string();
        assert!(
            message.contains("Google_1234") && message.contains("AllowFederatedUsers"),
            "{message}"
        );
        assert!(
            message.contains("don't set passwords on federated user profiles"),
            "{message}"
        );
        assert!(refuse_federated(true, "us-east-1_Abc", &google).is_ok());
        assert!(refuse_federated(false, "us-east-1_Abc", &user("alice", "1")).is_ok());
    }
}
