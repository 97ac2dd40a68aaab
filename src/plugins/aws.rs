//! AWS Secrets Manager lookups (`aws_secretsmanager_credential`):
//! `GetSecretValue` over the JSON 1.1 protocol, signed with Signature Version 4 (written
//! here with `sha2` + `hmac`), with the static access key pair stored on the credential.
//!
//! Service configuration is read from the AWS tools' own environment variables at every
//! lookup, as the Python plugin (boto3) does:
//! * `AWS_ENDPOINT_URL_SECRETS_MANAGER`, else `AWS_ENDPOINT_URL`: the endpoint (e.g. a moto
//!   server, `http://127.0.0.1:5055`); both are ignored when
//!   `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`. Without them the endpoint is
//!   `https://secretsmanager.{region}.{partition domain}/`.
//! * `AWS_CA_BUNDLE`, else `REQUESTS_CA_BUNDLE`: a PEM file of extra trusted CAs.
//!
//! Errors carry the botocore class names AWX reports: every service error (a JSON
//! `__type`, or any non-2xx answer) is `ClientError`, an unreachable endpoint is
//! `EndpointConnectionError`. Retries follow botocore's "standard" mode: three attempts
//! for connection failures, 5xx answers and throttling.

use super::{client, Kwargs, LookupError};
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::SecretString;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

const SERVICE: &str = "secretsmanager";
const TARGET: &str = "secretsmanager.GetSecretValue";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const MAX_ATTEMPTS: u32 = 3;

/// Error types AWS answers for throttling; retried like 5xx answers.
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

type HmacSha256 = Hmac<Sha256>;

/// Fetches one secret's value.
pub async fn lookup(kw: &Kwargs) -> Result<SecretString, LookupError> {
    let secret_name = kw.require("secret_name")?;
    let region = kw.require("region_name")?;
    let secret_key = kw.require("aws_secret_key")?;
    let access_key = kw.require("aws_access_key")?;
    validate_region(region)?;
    let endpoint = endpoint(region, |name| std::env::var(name).ok())?;
    if secret_name.is_empty() {
        // botocore checks the `SecretId` length before sending anything.
        return Err(LookupError::Kind("ParamValidationError"));
    }
    let http = client(ca_bundle()?.as_deref(), None)?;
    let body = json!({ "SecretId": secret_name }).to_string();
    let keys = Keys {
        access_key,
        secret_key,
        region,
    };
    let answer = send(&http, &endpoint, &keys, &body).await?;
    secret_from(&answer).map(SecretString::from)
}

/// The static key pair and the region the request is signed for.
struct Keys<'a> {
    access_key: &'a str,
    secret_key: &'a str,
    region: &'a str,
}

/// botocore's region check: a DNS label, not all digits (an empty name passes here).
fn validate_region(region: &str) -> Result<(), LookupError> {
    let valid = region.len() <= 63
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-')
        && (region.is_empty() || !region.bytes().all(|b| b.is_ascii_digit()));
    if valid {
        Ok(())
    } else {
        Err(LookupError::Kind("InvalidRegionError"))
    }
}

/// The endpoint for `region`: a configured one, else the partition's default host.
fn endpoint(region: &str, env: impl Fn(&str) -> Option<String>) -> Result<url::Url, LookupError> {
    let ignore = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let configured = if ignore {
        None
    } else {
        ["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"]
            .iter()
            .find_map(|name| env(name).filter(|v| !v.trim().is_empty()))
    };
    let text = match configured {
        Some(url) => url.trim().to_string(),
        None if region.is_empty() => return Err(LookupError::Kind("ValueError")),
        None => format!("https://{SERVICE}.{region}.{}/", partition_domain(region)),
    };
    let url = url::Url::parse(&text).map_err(|_| LookupError::Kind("ValueError"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(LookupError::Kind("ValueError"));
    }
    Ok(url)
}

/// The DNS suffix of the AWS partition a region belongs to.
fn partition_domain(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else if region.starts_with("us-isob-") {
        "sc2s.sgov.gov"
    } else if region.starts_with("us-isof-") {
        "csp.hci.ic.gov"
    } else if region.starts_with("us-iso-") {
        "c2s.ic.gov"
    } else if region.starts_with("eu-isoe-") {
        "cloud.adc-e.uk"
    } else {
        "amazonaws.com"
    }
}

/// Extra trusted CAs from `AWS_CA_BUNDLE` / `REQUESTS_CA_BUNDLE` (a PEM file).
fn ca_bundle() -> Result<Option<String>, LookupError> {
    let path = ["AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()));
    match path {
        Some(p) => std::fs::read_to_string(p.trim())
            .map(Some)
            .map_err(|_| LookupError::Kind("OSError")),
        None => Ok(None),
    }
}

/// Sends the signed call, retrying transient failures; returns the 2xx body.
async fn send(
    http: &reqwest::Client,
    endpoint: &url::Url,
    keys: &Keys<'_>,
    body: &str,
) -> Result<Vec<u8>, LookupError> {
    let host = host_header(endpoint);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let headers = [
            ("content-type", CONTENT_TYPE),
            ("host", host.as_str()),
            ("x-amz-date", amz_date.as_str()),
            ("x-amz-target", TARGET),
        ];
        let request = Request {
            method: "POST",
            path: endpoint.path(),
            query: endpoint.query().unwrap_or(""),
            headers: &headers,
            payload: body.as_bytes(),
        };
        let authorization = authorization(&request, keys, &amz_date);
        let sent = http
            .post(endpoint.clone())
            .header("Content-Type", CONTENT_TYPE)
            .header("Host", &host)
            .header("X-Amz-Date", &amz_date)
            .header("X-Amz-Target", TARGET)
            .header("Authorization", authorization)
            .body(body.to_string())
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                let error = transport_error(&e);
                if error == LookupError::Kind("EndpointConnectionError") && attempt < MAX_ATTEMPTS {
                    backoff(attempt).await;
                    continue;
                }
                return Err(error);
            }
        };
        let status = response.status().as_u16();
        let header_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(':').next().unwrap_or(v).to_string());
        let bytes = response.bytes().await.map_err(|e| transport_error(&e))?;
        if (200..300).contains(&status) {
            return Ok(bytes.to_vec());
        }
        let error_type = header_type.or_else(|| error_type_of(&bytes));
        tracing::debug!(
            status,
            error_type = error_type.as_deref().unwrap_or(""),
            "AWS Secrets Manager refused GetSecretValue"
        );
        let throttled = error_type
            .as_deref()
            .is_some_and(|t| THROTTLING.contains(&t));
        let transient = throttled || status == 429 || matches!(status, 500 | 502 | 503 | 504);
        if transient && attempt < MAX_ATTEMPTS {
            backoff(attempt).await;
            continue;
        }
        return Err(LookupError::Kind("ClientError"));
    }
}

/// botocore's "standard" retry delay: random, exponential, capped at 20 s.
async fn backoff(attempt: u32) {
    let ceiling = f64::from(1u32 << attempt.saturating_sub(1).min(4));
    let seconds = (rand::random::<f64>() * ceiling).min(20.0);
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
}

/// The `Host` header value: host, plus the port when it is not the scheme's default.
fn host_header(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// The `__type` of a JSON error body, without its namespace prefix.
fn error_type_of(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let kind = value.get("__type")?.as_str()?;
    Some(kind.rsplit('#').next().unwrap_or(kind).to_string())
}

/// Classifies a transport failure with botocore's exception names.
fn transport_error(e: &reqwest::Error) -> LookupError {
    if e.is_timeout() {
        return LookupError::Kind(if e.is_connect() {
            "ConnectTimeoutError"
        } else {
            "ReadTimeoutError"
        });
    }
    if LookupError::from_transport(e) == LookupError::Kind("SSLError") {
        return LookupError::Kind("SSLError");
    }
    LookupError::Kind("EndpointConnectionError")
}

/// Picks the value out of a `GetSecretValue` answer.
fn secret_from(body: &[u8]) -> Result<String, LookupError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| LookupError::Kind("KeyError"))?;
    if let Some(text) = value.get("SecretString").and_then(Value::as_str) {
        return Ok(text.to_string());
    }
    let encoded = value
        .get("SecretBinary")
        .and_then(Value::as_str)
        .ok_or(LookupError::Kind("KeyError"))?;
    // Python's b64decode skips characters outside the alphabet; `Error` is binascii's.
    let cleaned: String = encoded
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned)
        .map_err(|_| LookupError::Kind("Error"))?;
    String::from_utf8(bytes).map_err(|_| LookupError::Kind("UnicodeDecodeError"))
}

/// What SigV4 signs of a request.
struct Request<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    /// Lower-case names; values as sent.
    headers: &'a [(&'a str, &'a str)],
    payload: &'a [u8],
}

/// The `Authorization` header of a Signature Version 4 request for this service.
fn authorization(request: &Request<'_>, keys: &Keys<'_>, amz_date: &str) -> String {
    sign(request, keys, SERVICE, amz_date)
}

fn sign(request: &Request<'_>, keys: &Keys<'_>, service: &str, amz_date: &str) -> String {
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let scope = format!("{date}/{}/{service}/aws4_request", keys.region);
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), canonical_header_value(value)))
        .collect();
    headers.sort();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let canonical_request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        request.method,
        canonical_uri(request.path),
        canonical_query(request.query),
        hex(&Sha256::digest(request.payload)),
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac(
        format!("AWS4{}", keys.secret_key).as_bytes(),
        date.as_bytes(),
    );
    for part in [keys.region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex(&hmac(&key, string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        keys.access_key
    )
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Trims the value and folds inner runs of spaces, as SigV4 requires.
fn canonical_header_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// RFC 3986 encoding of everything but the unreserved characters (and `/` when asked).
fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else if b == b'/' && keep_slash {
            out.push('/');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonical URI: the (already encoded) path encoded once more, as for every service
/// but S3.
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        "/".to_string()
    } else {
        uri_encode(path, true)
    }
}

/// The canonical query string: decoded pairs re-encoded and sorted.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (uri_encode(&k, false), uri_encode(&v, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    #[test]
    fn signs_the_aws_test_suite_get_vanilla_request() {
        let headers = [
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
        ];
        let request = Request {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            payload: b"",
        };
        let keys = Keys {
            access_key: "AKIDEXAMPLE",
            secret_key: EXAMPLE_SECRET,
            region: "us-east-1",
        };
        assert_eq!(
            sign(&request, &keys, "service", "20150830T123600Z"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn signs_query_strings_like_the_aws_test_suite() {
        let headers = [
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
        ];
        let request = Request {
            method: "GET",
            path: "/",
            query: "Param2=value2&Param1=value1",
            headers: &headers,
            payload: b"",
        };
        let keys = Keys {
            access_key: "AKIDEXAMPLE",
            secret_key: EXAMPLE_SECRET,
            region: "us-east-1",
        };
        assert!(
            sign(&request, &keys, "service", "20150830T123600Z").ends_with(
                "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
            )
        );
    }

    #[test]
    fn signs_get_secret_value_like_botocore() {
        let headers = [
            ("content-type", CONTENT_TYPE),
            ("host", "127.0.0.1:5055"),
            ("x-amz-date", "20240102T030405Z"),
            ("x-amz-target", TARGET),
        ];
        let request = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            payload: br#"{"SecretId": "awx/test/db"}"#,
        };
        let keys = Keys {
            access_key: "AKIDEXAMPLE",
            secret_key: EXAMPLE_SECRET,
            region: "us-east-1",
        };
        // Reference value computed with botocore's SigV4Auth for the same request.
        assert_eq!(
            authorization(&request, &keys, "20240102T030405Z"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/secretsmanager/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
             Signature=ac0f1f365cfef545fa8457904e58645bcb6637f48931a9d4fdf9c239974c5f9d"
        );
    }

    #[test]
    fn endpoints_follow_the_aws_variables() {
        let none = |_: &str| None;
        assert_eq!(
            endpoint("eu-west-1", none).unwrap().as_str(),
            "https://secretsmanager.eu-west-1.amazonaws.com/"
        );
        assert_eq!(
            endpoint("cn-north-1", none).unwrap().as_str(),
            "https://secretsmanager.cn-north-1.amazonaws.com.cn/"
        );
        assert_eq!(
            endpoint("", none),
            Err(LookupError::Kind("ValueError")),
            "no region and no endpoint"
        );
        let both = |name: &str| match name {
            "AWS_ENDPOINT_URL" => Some("http://generic:1".to_string()),
            "AWS_ENDPOINT_URL_SECRETS_MANAGER" => Some("http://127.0.0.1:5055".to_string()),
            _ => None,
        };
        assert_eq!(
            endpoint("us-east-1", both).unwrap().as_str(),
            "http://127.0.0.1:5055/"
        );
        let generic = |name: &str| (name == "AWS_ENDPOINT_URL").then(|| "http://g:9/".to_string());
        assert_eq!(
            endpoint("us-east-1", generic).unwrap().as_str(),
            "http://g:9/"
        );
        let ignored = |name: &str| match name {
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS" => Some("true".to_string()),
            _ => Some("http://g:9/".to_string()),
        };
        assert_eq!(
            endpoint("us-east-1", ignored).unwrap().as_str(),
            "https://secretsmanager.us-east-1.amazonaws.com/"
        );
        let bad = |_: &str| Some("not a url".to_string());
        assert_eq!(
            endpoint("us-east-1", bad),
            Err(LookupError::Kind("ValueError"))
        );
    }

    #[test]
    fn regions_are_dns_labels() {
        for ok in ["us-east-1", "local", "", "eu-isoe-west-1"] {
            assert_eq!(validate_region(ok), Ok(()), "{ok}");
        }
        for bad in [
            "us east",
            "-us",
            "us-",
            "123",
            "a/b",
            "a".repeat(64).as_str(),
        ] {
            assert_eq!(
                validate_region(bad),
                Err(LookupError::Kind("InvalidRegionError")),
                "{bad}"
            );
        }
    }

    #[test]
    fn secret_values() {
        assert_eq!(
            secret_from(br#"{"Name":"n","SecretString":"s"}"#).unwrap(),
            "s"
        );
        assert_eq!(
            secret_from(br#"{"SecretBinary":"aGVsbG8="}"#).unwrap(),
            "hello"
        );
        assert_eq!(
            secret_from(br#"{"SecretBinary":"aGVs\nbG8="}"#).unwrap(),
            "hello"
        );
        assert_eq!(
            secret_from(br#"{"SecretBinary":"//4A"}"#),
            Err(LookupError::Kind("UnicodeDecodeError"))
        );
        assert_eq!(
            secret_from(br#"{"SecretBinary":"aGVsbG8"}"#),
            Err(LookupError::Kind("Error"))
        );
        assert_eq!(
            secret_from(br#"{"Name":"n"}"#),
            Err(LookupError::Kind("KeyError"))
        );
        assert_eq!(secret_from(b"<html>"), Err(LookupError::Kind("KeyError")));
    }

    #[test]
    fn error_types_and_hosts() {
        assert_eq!(
            error_type_of(br#"{"__type":"com.amazonaws#ResourceNotFoundException"}"#).as_deref(),
            Some("ResourceNotFoundException")
        );
        assert_eq!(error_type_of(b"<Error/>"), None);
        let url = url::Url::parse("http://127.0.0.1:5055/").unwrap();
        assert_eq!(host_header(&url), "127.0.0.1:5055");
        let url = url::Url::parse("https://secretsmanager.us-east-1.amazonaws.com:443/").unwrap();
        assert_eq!(host_header(&url), "secretsmanager.us-east-1.amazonaws.com");
        assert_eq!(canonical_uri("/a b/%41"), "/a%20b/%2541");
        assert_eq!(canonical_query("b=2&a=1&c=x%20y"), "a=1&b=2&c=x%20y");
    }
}
