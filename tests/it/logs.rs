//! What the function's log looks like to a user, through the release binary: at INFO nothing
//! below INFO; every JSON line with an RFC 3339 `timestamp` and a `level` (Lambda re-levels a
//! JSON line without a valid timestamp to INFO, and then filters our ERROR lines out); every line
//! of an invocation with the invocation's context, whatever the event; and at TRACE no raw payload.

use serde_json::{Value, json};

use crate::support::aws::{Aws, cfn_request, eventbridge_event, strong_password, unique};
use crate::support::http::ResponseUrl;
use crate::support::moto;
use crate::support::runtime::json_function;

/// Runs one of each event (CloudFormation success and failure, EventBridge, direct, rotation)
/// through a process logging JSON at `level`; returns its output.
async fn run_every_kind(level: &str) -> String {
    let aws = Aws::moto().await;
    let (pool, user) = aws.pool_with_user("kim").await;
    let secret = unique("logs/kim");
    aws.secret(&secret, &strong_password()).await;
    aws.bind(&secret, &pool.id, &user).await;
    let (runtime, process) = json_function(moto::endpoint(), &[("AWS_LAMBDA_LOG_LEVEL", level)]);
    let props = json!({"UserPoolId": pool.id, "Username": user, "PasswordSecretId": secret});
    let cfn = ResponseUrl::start();
    runtime
        .invoke_async(cfn_request("Create", &cfn.url, props.clone()))
        .await
        .response();
    let mut bad = props.clone();
    bad["Permanent"] = json!("maybe");
    runtime
        .invoke_async(cfn_request("Create", &cfn.url, bad))
        .await
        .response();
    runtime
        .invoke_async(eventbridge_event(props.clone()))
        .await
        .response();
    runtime.invoke_async(props).await.response();
    runtime
        .invoke_async(json!({"Step": "createSecret", "SecretId": secret, "ClientRequestToken": unique("token-1234567890-1234567890")}))
        .await
        .error();
    cfn.wait_for(2, std::time::Duration::from_secs(5));
    process.output()
}

fn json_lines(output: &str) -> Vec<Value> {
    output
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}")))
        .collect()
}

/// `2026-11-27T18:00:00.123456Z`: RFC 3339, in UTC.
fn is_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.len() >= 20
        && text.ends_with('Z')
        && [4, 7].iter().all(|&i| bytes[i] == b'-')
        && bytes[10] == b'T'
        && [13, 16].iter().all(|&i| bytes[i] == b':')
        && text[..4].parse::<u32>().is_ok_and(|year| year >= 2026)
}

#[tokio::test]
async fn at_info_every_line_is_info_or_above_with_a_timestamp_and_the_invocations_context() {
    let lines = json_lines(&run_every_kind("INFO").await);
    let outcomes: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["event_kind"].is_string())
        .collect();
    assert_eq!(outcomes.len(), 5, "one outcome line per invocation: {lines:?}");
    for line in &lines {
        assert!(
            ["INFO", "WARN", "ERROR"].contains(&line["level"].as_str().unwrap_or("")),
            "a line below INFO: {line}"
        );
        assert!(
            is_rfc3339(line["timestamp"].as_str().unwrap_or("")),
            "no valid timestamp: {line}"
        );
    }
    // The same context on every invocation's lines: the runtime's span with the request id.
    for line in outcomes {
        let request_id = line["fields"]["request_id"].as_str().unwrap();
        let invoke_span = line["spans"]
            .as_array()
            .and_then(|spans| spans.iter().find(|s| s["name"] == "Lambda runtime invoke"));
        assert_eq!(
            invoke_span.map(|s| s["requestId"].as_str().unwrap_or_default()),
            Some(request_id),
            "{} lacks the invocation's span: {line}",
            line["fields"]["event_kind"]
        );
    }
}

#[tokio::test]
async fn at_trace_no_raw_payload_is_logged() {
    let output = run_every_kind("TRACE").await;
    let lines = json_lines(&output);
    assert!(lines.iter().any(|l| l["level"] == "TRACE"), "TRACE is on");
    for line in &lines {
        assert!(is_rfc3339(line["timestamp"].as_str().unwrap_or("")), "{line}");
    }
    // The ResponseURL's pre-signed query string is in the raw event, and only there.
    assert!(
        !output.contains("X-Amz-Signature=deadbeef"),
        "the raw event was logged"
    );
    assert!(!output.contains("\"RequestType\""), "the raw event was logged");
    assert!(
        !output.contains("AdminSetUserPassword\",\"Password"),
        "a raw request was logged"
    );
}

#[tokio::test]
async fn each_outcome_is_a_metric_cloudwatch_reads_and_failures_are_counted_at_every_level() {
    for level in ["INFO", "ERROR"] {
        let lines = json_lines(&run_every_kind(level).await);
        let metrics: Vec<&Value> = lines.iter().filter(|line| line.get("_aws").is_some()).collect();
        // Each is an Embedded Metric Format document: a time in milliseconds, one directive in the
        // namespace, the function and the way in as its only dimensions, its metric a count.
        for metric in &metrics {
            let directive = &metric["_aws"]["CloudWatchMetrics"][0];
            assert!(
                metric["_aws"]["Timestamp"].as_u64().unwrap_or(0) > 1_700_000_000_000,
                "{metric}"
            );
            assert_eq!(directive["Namespace"], "cognito-set-password", "{metric}");
            assert_eq!(
                directive["Dimensions"],
                json!([["FunctionName", "WayIn"]]),
                "{metric}"
            );
            assert_eq!(directive["Metrics"].as_array().map(Vec::len), Some(1), "{metric}");
            assert_eq!(directive["Metrics"][0]["Unit"], "Count", "{metric}");
            let name = directive["Metrics"][0]["Name"].as_str().unwrap_or_default();
            assert!(metric[name].as_u64().is_some_and(|n| n >= 1), "{metric}");
            assert_eq!(metric["FunctionName"], "cognito-set-password", "{metric}");
            assert!(
                metric["requestId"].as_str().is_some_and(|id| !id.is_empty()),
                "{metric}"
            );
            assert!(
                is_rfc3339(metric["timestamp"].as_str().unwrap_or_default()),
                "{metric}"
            );
        }
        let levels = |name: &str, way_in: &str| -> Vec<Value> {
            metrics
                .iter()
                .filter(|metric| metric[name] == json!(1) && metric["WayIn"] == way_in)
                .map(|metric| metric["level"].clone())
                .collect()
        };
        // THEN failures are counted at ERROR, whatever the level
        assert_eq!(
            levels("PasswordsRefused", "CloudFormation Create"),
            [json!("ERROR")],
            "{level}"
        );
        assert_eq!(
            levels("RotationStepsFailed", "rotation"),
            [json!("ERROR")],
            "{level}"
        );
        // AND successes at INFO, when INFO is logged
        for way_in in ["CloudFormation Create", "EventBridge", "direct"] {
            let expected = if level == "INFO" {
                vec![json!("INFO")]
            } else {
                vec![]
            };
            assert_eq!(levels("PasswordsSet", way_in), expected, "{level} {way_in}");
        }
    }
}
