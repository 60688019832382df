//! Which ResponseURLs the function PUTs to: CloudFormation's own, and nothing else. Any caller who
//! may invoke the function can send a request with `RequestType` and `ResponseURL`; without this
//! check the PUT would be a write to any address the function reaches, and its answer a port
//! scanner. AWS documents the URL only as "a presigned S3 URL"; the host forms below are those
//! CloudFormation uses, in the function's own region (a ServiceToken is always in the stack's).

use url::Url;

use crate::inbound::invocation::FunctionArn;

/// Why a ResponseURL is refused, for the log: never for an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The URL's host, when it has one (never its path or query: the query is a credential).
    pub host: Option<String>,
    /// The host ends in the partition's S3 suffix: perhaps a form of AWS's this check does not
    /// know yet, so it is logged as such the first time it shows up.
    pub looks_like_aws: bool,
}

/// Accepts `response_url` when it is `https` on port 443 to CloudFormation's response bucket in
/// the function's region, or names one of `extra_hosts` (`RESPONSE_URL_HOSTS`: local runs and
/// tests), over http or https on any port.
pub fn check(
    response_url: &str,
    function: Option<FunctionArn<'_>>,
    extra_hosts: &[String],
) -> Result<(), Refused> {
    let Ok(url) = Url::parse(response_url) else {
        return Err(Refused {
            host: None,
            looks_like_aws: false,
        });
    };
    let host = url.host_str().map(str::to_ascii_lowercase);
    let refused = |looks_like_aws| Refused {
        host: host.clone(),
        looks_like_aws,
    };
    let Some(name) = host.as_deref() else {
        return Err(refused(false));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused(false));
    }
    if extra_hosts.iter().any(|extra| extra == name) && matches!(url.scheme(), "http" | "https") {
        return Ok(());
    }
    let suffix = match function.map(|arn| arn.partition) {
        Some("aws-cn") => ".amazonaws.com.cn",
        _ => ".amazonaws.com",
    };
    let is_cloudformations = function.is_some_and(|arn| {
        let bucket = format!(
            "cloudformation-custom-resource-response-{}",
            arn.region.replace('-', "")
        );
        let region = arn.region;
        [
            format!("{bucket}.s3{suffix}"),
            format!("{bucket}.s3-{region}{suffix}"),
            format!("{bucket}.s3.{region}{suffix}"),
        ]
        .iter()
        .any(|form| form == name)
    });
    if is_cloudformations && url.scheme() == "https" && url.port_or_known_default() == Some(443) {
        Ok(())
    } else {
        Err(refused(name.ends_with(suffix)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY: &str = "/arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/s/1%7CAlice%7Cr?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc";

    fn verdict(url: &str, arn: &str, extra: &[&str]) -> Result<(), Refused> {
        let extra: Vec<String> = extra.iter().map(|h| h.to_string()).collect();
        check(url, FunctionArn::parse(arn), &extra)
    }

    #[test]
    fn only_cloudformations_own_hosts_in_the_functions_region_are_accepted() {
        let east = "arn:aws:lambda:us-east-1:012345678912:function:f";
        let west = "arn:aws:lambda:eu-west-2:012345678912:function:f";
        let china = "arn:aws-cn:lambda:cn-north-1:012345678912:function:f";
        let accepted = [
            (
                "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com",
                east,
            ),
            (
                "https://cloudformation-custom-resource-response-useast1.s3-us-east-1.amazonaws.com",
                east,
            ),
            (
                "https://cloudformation-custom-resource-response-euwest2.s3.eu-west-2.amazonaws.com",
                west,
            ),
            (
                "https://cloudformation-custom-resource-response-euwest2.s3-eu-west-2.amazonaws.com:443",
                west,
            ),
            (
                "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn",
                china,
            ),
        ];
        for (host, arn) in accepted {
            assert_eq!(verdict(&format!("{host}{QUERY}"), arn, &[]), Ok(()), "{host}");
        }
        let aws_like = |host: &str| Refused {
            host: Some(host.to_owned()),
            looks_like_aws: true,
        };
        let other = |host: Option<&str>| Refused {
            host: host.map(str::to_owned),
            looks_like_aws: false,
        };
        let c = "cloudformation-custom-resource-response-useast1";
        let refused = [
            (
                format!("http://{c}.s3.amazonaws.com{QUERY}"),
                aws_like(&format!("{c}.s3.amazonaws.com")),
            ),
            (
                format!("https://{c}.s3.amazonaws.com:8443{QUERY}"),
                aws_like(&format!("{c}.s3.amazonaws.com")),
            ),
            (
                format!("https://{c}.s3.amazonaws.com.evil.example{QUERY}"),
                other(Some(&format!("{c}.s3.amazonaws.com.evil.example"))),
            ),
            (
                format!("https://user:pw@{c}.s3.amazonaws.com{QUERY}"),
                other(Some(&format!("{c}.s3.amazonaws.com"))),
            ),
            (
                format!("https://attacker@{c}.s3.amazonaws.com{QUERY}"),
                other(Some(&format!("{c}.s3.amazonaws.com"))),
            ),
            (
                format!(
                    "https://cloudformation-custom-resource-response-euwest2.s3.eu-west-2.amazonaws.com{QUERY}"
                ),
                aws_like("cloudformation-custom-resource-response-euwest2.s3.eu-west-2.amazonaws.com"),
            ),
            (
                format!("https://{c}.s3.eu-west-2.amazonaws.com{QUERY}"),
                aws_like(&format!("{c}.s3.eu-west-2.amazonaws.com")),
            ),
            (
                format!("https://evil.s3.amazonaws.com{QUERY}"),
                aws_like("evil.s3.amazonaws.com"),
            ),
            (
                format!("https://{c}.s3.amazonaws.com.cn{QUERY}"),
                other(Some(&format!("{c}.s3.amazonaws.com.cn"))),
            ),
            (
                "http://169.254.169.254/latest/meta-data".to_owned(),
                other(Some("169.254.169.254")),
            ),
            ("http://127.0.0.1:9/x".to_owned(), other(Some("127.0.0.1"))),
            ("file:///etc/passwd".to_owned(), other(None)),
            ("not a url".to_owned(), other(None)),
        ];
        for (url, why) in refused {
            assert_eq!(verdict(&url, east, &[]), Err(why), "{url}");
        }
        // No function ARN (a unit test's context): nothing of AWS's is known to be the region's.
        assert!(verdict(&format!("https://{c}.s3.amazonaws.com{QUERY}"), "", &[]).is_err());
    }

    #[test]
    fn hosts_named_for_local_runs_are_accepted_over_http_on_any_port() {
        let east = "arn:aws:lambda:us-east-1:012345678912:function:f";
        assert_eq!(
            verdict("http://127.0.0.1:8123/cfn?x=1", east, &["127.0.0.1"]),
            Ok(())
        );
        assert_eq!(
            verdict("https://127.0.0.1:8443/cfn", east, &["127.0.0.1"]),
            Ok(())
        );
        assert!(verdict("http://127.0.0.2:8123/cfn", east, &["127.0.0.1"]).is_err());
        assert!(verdict("ftp://127.0.0.1/cfn", east, &["127.0.0.1"]).is_err());
        assert!(verdict("http://u@127.0.0.1:8123/cfn", east, &["127.0.0.1"]).is_err());
    }
}
