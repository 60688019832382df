//! Which region each call goes to. AWS does not route by the ids it is given: a user pool id
//! names its region (`eu-west-1_AbC…`), and so does a secret's or parameter's ARN, but a call
//! made in another region fails (as "not found", or with the template's role as "access
//! denied"). Each call goes to the region its id names; clients for a region other than the
//! function's own are built on first use and kept (up to 64 regions).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::{Region, SdkConfig};

/// More regions than any partition has: the cap on the clients kept beside the function's own.
const MAX_OTHER_REGIONS: usize = 64;

/// The clients that can read a password reference.
#[derive(Debug, Clone)]
pub struct SecretStores {
    pub secrets_manager: aws_sdk_secretsmanager::Client,
    pub ssm: aws_sdk_ssm::Client,
}

/// The clients of one region.
#[derive(Debug, Clone)]
pub struct RegionClients {
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub stores: SecretStores,
}

impl RegionClients {
    pub fn new(config: &SdkConfig) -> Self {
        RegionClients {
            cognito: aws_sdk_cognitoidentityprovider::Client::new(config),
            stores: SecretStores {
                secrets_manager: aws_sdk_secretsmanager::Client::new(config),
                ssm: aws_sdk_ssm::Client::new(config),
            },
        }
    }
}

/// The function's own region's clients, and the others as they are needed.
#[derive(Clone)]
pub struct Regions {
    config: SdkConfig,
    home: RegionClients,
    others: Arc<Mutex<HashMap<String, RegionClients>>>,
}

impl std::fmt::Debug for Regions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Regions")
            .field("home", &self.config.region())
            .finish_non_exhaustive()
    }
}

impl Regions {
    /// `home`: the clients already built for `config`'s region.
    pub fn new(config: &SdkConfig, home: RegionClients) -> Self {
        Regions {
            config: config.clone(),
            home,
            others: Arc::default(),
        }
    }

    /// The clients for `region`, or the function's own when `None` or the same.
    pub fn get(&self, region: Option<&str>) -> RegionClients {
        let Some(region) = region.filter(|r| Some(*r) != self.config.region().map(Region::as_ref)) else {
            return self.home.clone();
        };
        let others = || {
            self.others
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        };
        if let Some(clients) = others().get(region) {
            return clients.clone();
        }
        // Built outside the lock: other invocations' regions are not held up meanwhile.
        let config = self
            .config
            .to_builder()
            .region(Region::new(region.to_owned()))
            .build();
        let clients = RegionClients::new(&config);
        let mut others = others();
        // Ids come from callers: whatever region-like names they send, the process keeps at
        // most this many sets of clients, starting afresh when full, so that names that are no
        // region cannot crowd out the real ones for good.
        if others.len() >= MAX_OTHER_REGIONS {
            others.clear();
        }
        others.entry(region.to_owned()).or_insert(clients).clone()
    }
}

/// The region a user pool id names: `eu-west-1_AbC123` -> `eu-west-1`.
pub fn of_user_pool(user_pool_id: &str) -> Option<&str> {
    user_pool_id
        .split_once('_')
        .map(|(region, _)| region)
        .filter(|r| looks_like_region(r))
}

/// The region an ARN names (`arn:PARTITION:SERVICE:REGION:…`); `None` for a plain name.
pub fn of_arn(id: &str) -> Option<&str> {
    let mut parts = id.splitn(5, ':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("arn"), Some(_), Some(_), Some(region)) if looks_like_region(region) => Some(region),
        _ => None,
    }
}

/// `us-east-1`, `ap-southeast-2`, `us-gov-west-1`, `eusc-de-east-1`: letters, dashes, a number.
fn looks_like_region(text: &str) -> bool {
    let Some((name, number)) = text.rsplit_once('-') else {
        return false;
    };
    !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
        && name.contains('-')
        && name.chars().all(|c| c.is_ascii_lowercase() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::BehaviorVersion;

    #[test]
    fn clients_are_kept_per_region_up_to_the_cap() {
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .build();
        let regions = Regions::new(&config, RegionClients::new(&config));
        let region_of = |clients: RegionClients| clients.cognito.config().region().map(|r| r.to_string());

        assert_eq!(region_of(regions.get(None)), Some("us-east-1".into()));
        assert_eq!(
            region_of(regions.get(Some("us-east-1"))),
            Some("us-east-1".into())
        );
        for n in 0..MAX_OTHER_REGIONS {
            let name = format!("xx-test-{n}");
            assert_eq!(region_of(regions.get(Some(&name))), Some(name));
        }
        assert_eq!(regions.others.lock().unwrap().len(), MAX_OTHER_REGIONS);
        // Full: the next region starts the set afresh, and is kept
        assert_eq!(
            region_of(regions.get(Some("eu-west-1"))),
            Some("eu-west-1".into())
        );
        let kept: Vec<String> = regions.others.lock().unwrap().keys().cloned().collect();
        assert_eq!(kept, ["eu-west-1"]);
    }

    #[test]
    fn regions_are_read_from_pool_ids_and_arns() {
        assert_eq!(of_user_pool("eu-west-1_AbC123"), Some("eu-west-1"));
        assert_eq!(of_user_pool("us-gov-west-1_x"), Some("us-gov-west-1"));
        assert_eq!(of_user_pool("local_x"), None);
        assert_eq!(of_user_pool("a_b"), None);
        assert_eq!(
            of_arn("arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:app/alice-AbC"),
            Some("ap-southeast-2")
        );
        assert_eq!(
            of_arn("arn:aws:ssm:eu-central-1:123456789012:parameter/app/alice"),
            Some("eu-central-1")
        );
        assert_eq!(of_arn("app/alice"), None);
        assert_eq!(of_arn("/app/alice"), None);
        assert_eq!(of_arn("arn:aws:secretsmanager::123:secret:x"), None);
    }
}
