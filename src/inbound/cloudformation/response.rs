//! The CloudFormation custom resource response protocol: the response body (at most 4096 bytes,
//! the Reason shortened on a UTF-8 boundary), and its one PUT to the pre-signed ResponseURL,
//! retried on connection errors and 5xx within the invocation's deadline.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

use aws_lambda_events::event::cloudformation::{
    CloudFormationCustomResourceRequest, CloudFormationCustomResourceResponse,
    CloudFormationCustomResourceResponseStatus,
};
use aws_smithy_runtime_api::client::http::{HttpConnector, SharedHttpConnector};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::error::Error;
use crate::inbound::cloudformation::request::CfnRequest;

/// CloudFormation rejects a response body larger than this.
pub const MAX_BODY_BYTES: usize = 4096;
const ELLIPSIS: &str = "…";

/// The fields of a request that its response must echo, whatever the request type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CfnRequestIds {
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    /// Absent on Create.
    pub physical_resource_id: Option<String>,
}

impl CfnRequestIds {
    pub fn of(request: &CfnRequest) -> Self {
        match request {
            CloudFormationCustomResourceRequest::Create(r) => CfnRequestIds {
                response_url: r.response_url.clone(),
                stack_id: r.stack_id.clone(),
                request_id: r.request_id.clone(),
                logical_resource_id: r.logical_resource_id.clone(),
                physical_resource_id: None,
            },
            CloudFormationCustomResourceRequest::Update(r) => CfnRequestIds {
                response_url: r.response_url.clone(),
                stack_id: r.stack_id.clone(),
                request_id: r.request_id.clone(),
                logical_resource_id: r.logical_resource_id.clone(),
                physical_resource_id: Some(r.physical_resource_id.clone()),
            },
            CloudFormationCustomResourceRequest::Delete(r) => CfnRequestIds {
                response_url: r.response_url.clone(),
                stack_id: r.stack_id.clone(),
                request_id: r.request_id.clone(),
                logical_resource_id: r.logical_resource_id.clone(),
                physical_resource_id: Some(r.physical_resource_id.clone()),
            },
            _ => CfnRequestIds::default(),
        }
    }

    /// The request's own PhysicalResourceId (Update, Delete), or for a Create that failed before
    /// it had a pool and user to name its resource after, a stand-in.
    pub fn physical_resource_id_or_stand_in(&self) -> String {
        self.physical_resource_id
            .clone()
            .unwrap_or_else(|| format!("failed-{}", self.request_id))
    }

    /// Best effort for a request that did not parse: whatever string fields it has.
    pub fn of_raw(raw: &Map<String, Value>) -> Self {
        let field = |name: &str| {
            raw.get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        CfnRequestIds {
            response_url: field("ResponseURL"),
            stack_id: field("StackId"),
            request_id: field("RequestId"),
            logical_resource_id: field("LogicalResourceId"),
            physical_resource_id: raw
                .get("PhysicalResourceId")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }
}

/// A response to one request.
#[derive(Debug, Clone, PartialEq)]
pub struct CfnResponse(pub CloudFormationCustomResourceResponse);

impl CfnResponse {
    pub fn success(
        ids: &CfnRequestIds,
        physical_resource_id: String,
        reason: String,
        data: HashMap<String, String>,
    ) -> Self {
        Self::new(
            ids,
            CloudFormationCustomResourceResponseStatus::Success,
            physical_resource_id,
            reason,
            data,
        )
    }

    pub fn failed(
        ids: &CfnRequestIds,
        physical_resource_id: String,
        reason: String,
        data: HashMap<String, String>,
    ) -> Self {
        Self::new(
            ids,
            CloudFormationCustomResourceResponseStatus::Failed,
            physical_resource_id,
            reason,
            data,
        )
    }

    fn new(
        ids: &CfnRequestIds,
        status: CloudFormationCustomResourceResponseStatus,
        physical_resource_id: String,
        reason: String,
        data: HashMap<String, String>,
    ) -> Self {
        let mut response = CloudFormationCustomResourceResponse::default();
        response.status = status;
        response.reason = Some(reason);
        response.physical_resource_id = physical_resource_id;
        response.stack_id = ids.stack_id.clone();
        response.request_id = ids.request_id.clone();
        response.logical_resource_id = ids.logical_resource_id.clone();
        response.data = data;
        CfnResponse(response)
    }

    pub fn is_success(&self) -> bool {
        matches!(self.0.status, CloudFormationCustomResourceResponseStatus::Success)
    }

    /// The JSON body, at most [`MAX_BODY_BYTES`]: an over-long Reason is cut on a character
    /// boundary and ends in `…`. Only a request whose own ids exceed the limit (CloudFormation
    /// never sends one) can still produce a larger body.
    pub fn body(&self) -> String {
        let mut response = self.0.clone();
        loop {
            let body = serde_json::to_string(&response).unwrap_or_default();
            let reason = response.reason.get_or_insert_with(String::new);
            if body.len() <= MAX_BODY_BYTES || reason.is_empty() {
                return body;
            }
            // Each byte cut from the Reason shortens the JSON by at least one byte (escapes only
            // make it longer), so one cut of the excess plus the ellipsis is enough.
            let excess = body.len() - MAX_BODY_BYTES;
            let keep = reason.len().saturating_sub(excess + ELLIPSIS.len());
            if keep == 0 {
                reason.clear();
            } else {
                reason.truncate(reason.floor_char_boundary(keep));
                reason.push_str(ELLIPSIS);
            }
        }
    }
}

/// When a pre-signed ResponseURL stops being valid: `X-Amz-Date` + `X-Amz-Expires` (SigV4), or
/// `Expires` (SigV2, seconds since the epoch). `None` when the URL says neither.
pub fn response_url_expiry(response_url: &str) -> Option<SystemTime> {
    let url = url::Url::parse(response_url).ok()?;
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let epoch_seconds =
        if let (Some(date), Some(expires)) = (query.get("X-Amz-Date"), query.get("X-Amz-Expires")) {
            // `20261127T181500Z`, ISO 8601's basic format, as RFC 3339 for the parser.
            let b = date.as_bytes();
            if date.len() != 16 || b[8] != b'T' || !date.is_ascii() {
                return None;
            }
            let rfc3339 = format!(
                "{}-{}-{}T{}:{}:{}Z",
                &date[0..4],
                &date[4..6],
                &date[6..8],
                &date[9..11],
                &date[11..13],
                &date[13..15]
            );
            let signed = DateTime::from_str(&rfc3339, Format::DateTime).ok()?.secs();
            signed.checked_add(expires.parse::<i64>().ok()?)?
        } else {
            query.get("Expires")?.parse::<i64>().ok()?
        };
    let epoch_seconds = u64::try_from(epoch_seconds).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(epoch_seconds))
}

/// The PUT's own limits: one attempt may take this long, and backoff between attempts starts
/// here and doubles up to the cap.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// PUTs the body to the pre-signed URL, as CloudFormation requires: an empty `Content-Type`
/// (the one S3's signature was computed with) and the exact length. Connection errors and 5xx
/// (S3 answers 503 SlowDown) are retried with jittered backoff until `deadline`; any other
/// answer that is not a success (3xx, 4xx) is final. `http` is the SDK's own connector (see [`crate::aws::setup`]), so the PUT shares its TLS set-up.
pub async fn respond(
    http: &SharedHttpConnector,
    response_url: &str,
    body: String,
    deadline: Instant,
) -> Result<(), Error> {
    let not_a_url = || Error::ResponseDelivery {
        detail: "the request's ResponseURL is not an http(s) URL".into(),
        retryable: false,
    };
    let url = url::Url::parse(response_url)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some())
        .ok_or_else(not_a_url)?;
    // The query string is a pre-signed credential: keep it out of logs and messages.
    let place = format!("{}{}", url.host_str().unwrap_or(""), url.path());
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1u32;
    loop {
        let mut request = HttpRequest::new(SdkBody::from(body.clone()));
        request.set_method("PUT").map_err(|_| not_a_url())?;
        request.set_uri(url.as_str()).map_err(|_| not_a_url())?;
        request.headers_mut().insert("content-type", "");
        let left = deadline.saturating_duration_since(Instant::now());
        let limit = left.min(ATTEMPT_TIMEOUT).max(Duration::from_millis(1));
        let problem = match tokio::time::timeout(limit, http.call(request)).await {
            Ok(Ok(answer)) if answer.status().is_success() => {
                tracing::debug!(
                    attempt,
                    status = answer.status().as_u16(),
                    "CloudFormation response delivered"
                );
                return Ok(());
            }
            Ok(Ok(answer)) if answer.status().is_client_error() => {
                let status = answer.status().as_u16();
                tracing::error!(
                    status,
                    url = %place,
                    "the ResponseURL refused the response; a 403 usually means the pre-signed URL expired \
                     (it is valid for about two hours after CloudFormation sent the request)"
                );
                return Err(Error::ResponseDelivery {
                    detail: format!(
                        "the ResponseURL at {place} answered HTTP {status}; the pre-signed URL may have expired"
                    ),
                    retryable: false,
                });
            }
            Ok(Ok(answer)) if !answer.status().is_server_error() => {
                // CloudFormation's pre-signed URLs (SigV4) are signed for their host and path:
                // a redirect elsewhere would be refused, so it is not followed, nor retried.
                let status = answer.status().as_u16();
                return Err(Error::ResponseDelivery {
                    detail: format!(
                        "the ResponseURL at {place} answered HTTP {status} instead of accepting the response"
                    ),
                    retryable: false,
                });
            }
            Ok(Ok(answer)) => format!("HTTP {}", answer.status().as_u16()),
            Err(_) => "no answer in time".to_owned(),
            Ok(Err(err)) if err.is_timeout() => "no answer in time".to_owned(),
            Ok(Err(err)) if err.is_io() => "the connection failed".to_owned(),
            Ok(Err(_)) => "the request failed".to_owned(),
        };
        let pause = jitter(backoff);
        if Instant::now() + pause >= deadline {
            return Err(Error::ResponseDelivery {
                detail: format!(
                    "gave up on the ResponseURL at {place} after {attempt} attempt(s) at the invocation's deadline; last: {problem}"
                ),
                retryable: true,
            });
        }
        tracing::warn!(attempt, problem = %problem, url = %place, "retrying the CloudFormation response");
        tokio::time::sleep(pause).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        attempt += 1;
    }
}

/// Full jitter: a random pause between half and all of `backoff`.
fn jitter(backoff: Duration) -> Duration {
    backoff / 2 + backoff.mul_f64(fastrand::f64() / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> CfnRequestIds {
        CfnRequestIds {
            response_url: "http://127.0.0.1/r".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1".into(),
            request_id: "req-1".into(),
            logical_resource_id: "AlicePassword".into(),
            physical_resource_id: None,
        }
    }

    #[test]
    fn response_url_expiry_is_read_from_either_signature() {
        let sigv4 = "https://bucket.s3.amazonaws.com/arn%3Aaws/req?X-Amz-Algorithm=AWS4-HMAC-SHA256\
                     &X-Amz-Date=20261127T181500Z&X-Amz-Expires=7200&X-Amz-Signature=abc";
        assert_eq!(
            response_url_expiry(sigv4),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_803_300 + 7200))
        );
        let sigv2 = "https://bucket.s3.amazonaws.com/req?AWSAccessKeyId=A&Expires=1795810500&Signature=x";
        assert_eq!(
            response_url_expiry(sigv2),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_810_500))
        );
        assert_eq!(
            response_url_expiry("http://127.0.0.1:9/r?X-Amz-Signature=x"),
            None
        );
        assert_eq!(
            response_url_expiry("http://127.0.0.1:9/r?X-Amz-Date=garbage&X-Amz-Expires=1"),
            None
        );
        assert_eq!(response_url_expiry("not a url"), None);
    }

    #[test]
    fn body_echoes_the_request_and_carries_data() {
        let data = HashMap::from([("UserPoolId".to_owned(), "us-east-1_A".to_owned())]);
        let body = CfnResponse::success(&ids(), "us-east-1_A/alice".into(), "done".into(), data).body();
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["Status"], "SUCCESS");
        assert_eq!(json["PhysicalResourceId"], "us-east-1_A/alice");
        assert_eq!(
            json["StackId"],
            "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1"
        );
        assert_eq!(json["RequestId"], "req-1");
        assert_eq!(json["LogicalResourceId"], "AlicePassword");
        assert_eq!(json["Reason"], "done");
        assert_eq!(json["Data"]["UserPoolId"], "us-east-1_A");
    }

    #[test]
    fn long_reason_is_cut_to_fit_on_a_char_boundary() {
        let reason = "é".repeat(5000);
        let body = CfnResponse::failed(&ids(), "p".into(), reason, HashMap::new()).body();
        assert!(body.len() <= MAX_BODY_BYTES, "{}", body.len());
        assert!(
            body.len() >= MAX_BODY_BYTES - 4,
            "uses the room it has: {}",
            body.len()
        );
        let json: Value = serde_json::from_str(&body).unwrap();
        let reason = json["Reason"].as_str().unwrap();
        assert!(reason.ends_with('…'));
        assert!(reason.trim_end_matches('…').chars().all(|c| c == 'é'));
    }

    #[test]
    fn reason_of_escaped_characters_is_cut_too() {
        let body = CfnResponse::failed(&ids(), "p".into(), "\u{1}\"".repeat(3000), HashMap::new()).body();
        assert!(body.len() <= MAX_BODY_BYTES);
        assert!(serde_json::from_str::<Value>(&body).is_ok());
    }

    proptest::proptest! {
        /// Whatever the Reason (any characters, any length) and the ids CloudFormation sends,
        /// the body fits, is valid JSON, and its Reason is the start of the original, cut
        /// between characters.
        #[test]
        fn body_always_fits_and_cuts_between_characters(
            reason in "\\PC{0,3000}|(.|\\n|\\u{0}|\\u{1f}|\"|\\\\){0,5000}",
            repeat in 1usize..4,
            stack in "[a-zA-Z0-9:/-]{0,300}",
            request_id in "[a-f0-9-]{0,64}",
        ) {
            let reason = reason.repeat(repeat);
            let mut ids = ids();
            ids.stack_id = stack;
            ids.request_id = request_id;
            let body = CfnResponse::failed(&ids, "pool/user".into(), reason.clone(), HashMap::new()).body();
            proptest::prop_assert!(body.len() <= MAX_BODY_BYTES, "{} bytes", body.len());
            let json: Value = serde_json::from_str(&body).unwrap();
            let sent = json["Reason"].as_str().unwrap();
            if sent != reason {
                let kept = sent.strip_suffix(ELLIPSIS).unwrap_or(sent);
                proptest::prop_assert!(reason.starts_with(kept));
                proptest::prop_assert!(reason.is_char_boundary(kept.len()));
            }
        }
    }
}
