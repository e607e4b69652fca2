//! The aws-sdk-cloudformation implementation of `StackSetApi`: client set-up from aws-config's
//! default chain, conversion of SDK shapes into `model` types, and of SDK errors into `ApiError`.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudformation::operation::RequestId;
use aws_sdk_cloudformation::types as sdk;
use aws_sdk_cloudformation::Client;
use time::OffsetDateTime;

use super::credentials::{self, Guarded, Source, SourceFailed};
use super::{ApiError, ErrorKind, InstanceQuery, StackSetApi, StopAccepted};
use crate::model::{
    CallAs, InstanceStatus, Operation, OperationAction, OperationPreferences, OperationResult, OperationStatus, Page,
    PermissionModel, ResultStatus, StackInstance, StackInstanceDetail, StackSetDetail, StackSetStatus, StackSetSummary,
};

/// How to reach CloudFormation. `None` fields fall back to aws-config's default chain.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// Dummy static credentials, for the built-in emulator (which accepts any signature).
    pub dummy_credentials: bool,
    /// Cut for one attempt; the SDK retries throttling and transient errors within `operation_timeout`.
    pub attempt_timeout: Duration,
    pub operation_timeout: Duration,
    pub max_attempts: u32,
    /// The longest one credentials lookup (a `credential_process`, SSO, instance metadata) may take.
    pub credential_timeout: Duration,
    /// Never send StopStackSetOperation: `stop_operation` refuses without a request.
    pub read_only: bool,
}

impl ConnectOptions {
    pub fn new() -> Self {
        ConnectOptions {
            attempt_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(30),
            max_attempts: 3,
            credential_timeout: Duration::from_secs(30),
            ..Default::default()
        }
    }
}

/// A set-up problem found before any call is made (exit code 2 on the command line).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "no AWS Region is set: pass --region, set AWS_REGION, or add `region = ...` to the profile in ~/.aws/config"
    )]
    NoRegion,
    #[error("invalid AWS Region {0:?}: a Region is lowercase letters, digits and hyphens, e.g. us-east-1: fix --region, AWS_REGION, region in the sstop config, or the profile's region in ~/.aws/config")]
    BadRegion(String),
    #[error("invalid --endpoint-url {0:?}: give a full URL such as http://127.0.0.1:4566 or https://cloudformation.us-east-1.amazonaws.com")]
    BadEndpoint(String),
    #[error("AWS profile {name:?} not found in {files}: check the name{known}, or create it with `aws configure --profile {name}`")]
    UnknownProfile { name: String, files: String, known: String },
    #[error("cannot use AWS profile {name:?}: the AWS config files could not be parsed ({reason}): fix {files}")]
    UnreadableProfiles {
        name: String,
        files: String,
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub struct SdkApi {
    client: Client,
    /// Resolved before each call, outside the SDK's attempt timeout (None: static credentials).
    credentials: Option<Guarded>,
    /// Checked at the last step before a stop is sent, behind the dialog's and the CLI's own checks.
    read_only: bool,
}

/// The resolved place calls go to, for display.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub region: String,
    pub endpoint: Option<String>,
}

impl SdkApi {
    pub async fn connect(options: &ConnectOptions) -> Result<(SdkApi, Resolved), ConnectError> {
        if let Some(url) = &options.endpoint_url {
            validate_endpoint(url)?;
        }
        if let Some(profile) = &options.profile {
            check_profile(profile).await?;
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // Standard retries. The pace follows throttling in the poller's own limiter, fed by
            // the request log's attempt counts: the SDK's adaptive mode slowed every call of
            // this client (the stop's and `sstop results`' too) to a crawl under throttling it
            // did not cause.
            .retry_config(RetryConfig::standard().with_max_attempts(options.max_attempts.max(1)))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(options.attempt_timeout)
                    .operation_timeout(options.operation_timeout)
                    .build(),
            );
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if options.dummy_credentials {
            loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                "AKIDSSTOPDEMO",
                "sstop-demo-secret",
                None,
                None,
                "sstop-demo",
            ));
        }
        let config = loader.load().await;
        let region = config.region().ok_or(ConnectError::NoRegion)?.to_string();
        // Checked whichever source it came from (flag, config, environment, profile): the SDK
        // would put it into a host name and fail every call with a vague dispatch error.
        if !valid_region(&region) {
            return Err(ConnectError::BadRegion(region));
        }
        let endpoint = config.endpoint_url().map(str::to_string);
        let credentials = match (options.dummy_credentials, config.credentials_provider()) {
            (false, Some(chain)) => Some(Guarded::new(
                credentials_source(options.profile.as_deref(), chain).await,
                options.credential_timeout,
            )),
            _ => None,
        };
        // Every call, its attempts and throttles, into the request log (`L` in the dashboard).
        let mut builder = aws_sdk_cloudformation::config::Builder::from(&config).interceptor(super::reqlog::Recorder);
        if let Some(guarded) = &credentials {
            // Ours caches and bounds the lookup; a second cache in front would only hide it.
            builder = builder
                .credentials_provider(guarded.clone())
                .identity_cache(aws_config::identity::IdentityCache::no_cache());
        }
        Ok((
            SdkApi {
                client: Client::from_conf(builder.build()),
                credentials,
                read_only: options.read_only,
            },
            Resolved { region, endpoint },
        ))
    }

    /// The same client (credentials, endpoint, timeouts, retries, read-only) for another
    /// Region: one per watched Region, sharing one credentials lookup.
    pub fn for_region(&self, region: &str) -> Result<SdkApi, ConnectError> {
        if !valid_region(region) {
            return Err(ConnectError::BadRegion(region.to_string()));
        }
        let config = self
            .client
            .config()
            .to_builder()
            .region(Region::new(region.to_string()))
            .build();
        Ok(SdkApi {
            client: Client::from_conf(config),
            credentials: self.credentials.clone(),
            read_only: self.read_only,
        })
    }

    pub fn from_client(client: Client) -> Self {
        SdkApi {
            client,
            credentials: None,
            read_only: false,
        }
    }

    /// Credentials in hand before a call is sent, so their lookup has its own timeout and
    /// message rather than the call's "timed out".
    async fn ready(&self) -> Result<(), ApiError> {
        match &self.credentials {
            Some(guarded) => guarded
                .credentials()
                .await
                .map(drop)
                .map_err(|failed| ApiError::new(failed.kind, failed.message)),
            None => Ok(()),
        }
    }

    /// The same client, refusing every stop from now on.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }
}

/// Where credentials come from: the profile's `credential_process` run by us when aws-config's
/// chain would run it, otherwise the chain itself. The profile is the flag's, else AWS_PROFILE's,
/// else "default", as aws-config picks it.
async fn credentials_source(profile: Option<&str>, chain: SharedCredentialsProvider) -> Source {
    let from_env = std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty());
    let named = profile.map(str::to_string).or(from_env);
    let effective = named.clone().unwrap_or_else(|| "default".to_string());
    match credentials::credential_process_of(&effective).await {
        Some(command) => Source::Process {
            profile: effective,
            command,
        },
        None => Source::Chain {
            provider: chain,
            profile: named,
        },
    }
}

/// The shared config and credentials files, as aws-config finds them (AWS_CONFIG_FILE and
/// AWS_SHARED_CREDENTIALS_FILE honoured), for messages.
fn profile_file_names() -> String {
    let name = |var: &str, default: &str| match std::env::var(var) {
        Ok(path) if !path.is_empty() => path,
        _ => default.to_string(),
    };
    format!(
        "{} or {}",
        name("AWS_CONFIG_FILE", "~/.aws/config"),
        name("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")
    )
}

/// A named profile must exist before we start: aws-config would otherwise fall through to an
/// empty profile and fail later with a vaguer "no credentials" on every call.
async fn check_profile(name: &str) -> Result<(), ConnectError> {
    use aws_types::os_shim_internal::{Env, Fs};
    let files = aws_runtime::env_config::file::EnvConfigFiles::default();
    match aws_config::profile::load(&Fs::real(), &Env::real(), &files, None).await {
        Ok(set) if set.get_profile(name).is_some() => Ok(()),
        Ok(set) => {
            let mut names: Vec<&str> = set.profiles().collect();
            names.sort_unstable();
            let known = if names.is_empty() {
                String::new()
            } else {
                let shown = names.iter().take(8).copied().collect::<Vec<_>>().join(", ");
                let more = if names.len() > 8 { ", ..." } else { "" };
                format!(" (known profiles: {shown}{more})")
            };
            Err(ConnectError::UnknownProfile {
                name: name.to_string(),
                files: profile_file_names(),
                known,
            })
        }
        // aws-config reads a missing or unreadable file as empty, so this is a parse error.
        Err(err) => Err(ConnectError::UnreadableProfiles {
            name: name.to_string(),
            files: profile_file_names(),
            reason: error_chain(&err),
        }),
    }
}

/// An error and its sources as one line ("a: b: c"), without the debug dump that
/// `DisplayErrorContext` adds: for headers and one-line messages.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        let text = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
        // Wrappers often repeat their source's text; keep each piece once.
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// The shape of a Region as it must appear in a host name: lowercase letters, digits and single
/// hyphens, at most 63 characters (us-east-1, us-gov-west-1, eusc-de-east-1).
fn valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 63
        && region
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

fn validate_endpoint(url: &str) -> Result<(), ConnectError> {
    let bad = || ConnectError::BadEndpoint(url.to_string());
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(bad)?;
    let host = rest.split(['/', '?']).next().unwrap_or("");
    if host.is_empty() || host.contains(' ') || host.starts_with(':') {
        return Err(bad());
    }
    if let Some((_, port)) = host.rsplit_once(':') {
        if !host.ends_with(']') && port.parse::<u16>().is_err() {
            return Err(bad());
        }
    }
    Ok(())
}

fn sdk_call_as(call_as: CallAs) -> sdk::CallAs {
    sdk::CallAs::from(call_as.as_str())
}

fn timestamp(value: Option<&aws_smithy_types::DateTime>) -> Option<OffsetDateTime> {
    let value = value?;
    OffsetDateTime::from_unix_timestamp_nanos(value.as_nanos()).ok()
}

/// Parse an SDK enum's wire string into ours; values newer than sstop are logged and replaced.
fn parse_or<T: std::str::FromStr>(wire: Option<&str>, fallback: T) -> T {
    match wire {
        Some(text) => text.parse().unwrap_or_else(|_| {
            tracing::warn!(value = text, "unknown value from CloudFormation");
            fallback
        }),
        None => fallback,
    }
}

fn u32_of(value: Option<i32>) -> Option<u32> {
    value.and_then(|v| u32::try_from(v).ok())
}

fn preferences(p: Option<&sdk::StackSetOperationPreferences>) -> OperationPreferences {
    let Some(p) = p else {
        return OperationPreferences::default();
    };
    OperationPreferences {
        region_concurrency: p.region_concurrency_type().and_then(|v| v.as_str().parse().ok()),
        region_order: p.region_order().to_vec(),
        max_concurrent_count: u32_of(p.max_concurrent_count()),
        max_concurrent_percentage: u32_of(p.max_concurrent_percentage()),
        failure_tolerance_count: u32_of(p.failure_tolerance_count()),
        failure_tolerance_percentage: u32_of(p.failure_tolerance_percentage()),
        concurrency_mode: p.concurrency_mode().and_then(|v| v.as_str().parse().ok()),
    }
}

fn stack_set_summary(s: &sdk::StackSetSummary) -> StackSetSummary {
    StackSetSummary {
        name: s.stack_set_name().unwrap_or_default().to_string(),
        id: s.stack_set_id().unwrap_or_default().to_string(),
        status: parse_or(s.status().map(|v| v.as_str()), StackSetStatus::Active),
        permission_model: s
            .permission_model()
            .and_then(|v| v.as_str().parse::<PermissionModel>().ok()),
        description: s.description().map(str::to_string),
        listed_as: None,
    }
}

fn operation_summary(s: &sdk::StackSetOperationSummary) -> Operation {
    Operation {
        id: s.operation_id().unwrap_or_default().to_string(),
        action: parse_or(s.action().map(|v| v.as_str()), OperationAction::Update),
        status: parse_or(s.status().map(|v| v.as_str()), OperationStatus::Running),
        created: timestamp(s.creation_timestamp()),
        ended: timestamp(s.end_timestamp()),
        status_reason: s.status_reason().map(str::to_string),
        failed_count: s
            .status_details()
            .and_then(|d| u32_of(d.failed_stack_instances_count())),
        preferences: preferences(s.operation_preferences()),
    }
}

fn operation(s: &sdk::StackSetOperation) -> Operation {
    Operation {
        id: s.operation_id().unwrap_or_default().to_string(),
        action: parse_or(s.action().map(|v| v.as_str()), OperationAction::Update),
        status: parse_or(s.status().map(|v| v.as_str()), OperationStatus::Running),
        created: timestamp(s.creation_timestamp()),
        ended: timestamp(s.end_timestamp()),
        status_reason: s.status_reason().map(str::to_string),
        failed_count: s
            .status_details()
            .and_then(|d| u32_of(d.failed_stack_instances_count())),
        preferences: preferences(s.operation_preferences()),
    }
}

fn stack_instance(s: &sdk::StackInstanceSummary) -> StackInstance {
    StackInstance {
        account: s.account().unwrap_or_default().to_string(),
        region: s.region().unwrap_or_default().to_string(),
        ou: s.organizational_unit_id().map(str::to_string),
        status: parse_or(s.status().map(|v| v.as_str()), InstanceStatus::Outdated),
        detailed_status: s
            .stack_instance_status()
            .and_then(|d| d.detailed_status())
            .map(|d| d.as_str().to_string()),
        status_reason: s.status_reason().map(str::to_string),
        drift_status: s.drift_status().map(|d| d.as_str().to_string()),
        last_operation_id: s.last_operation_id().map(str::to_string),
    }
}

fn stack_instance_detail(s: &sdk::StackInstance) -> StackInstanceDetail {
    StackInstanceDetail {
        stack_set_id: s.stack_set_id().map(str::to_string),
        account: s.account().unwrap_or_default().to_string(),
        region: s.region().unwrap_or_default().to_string(),
        stack_id: s.stack_id().map(str::to_string),
        parameter_overrides: s
            .parameter_overrides()
            .iter()
            .map(|p| crate::model::ParameterOverride {
                key: p.parameter_key().unwrap_or_default().to_string(),
                value: p.parameter_value().map(str::to_string),
                use_previous_value: p.use_previous_value().unwrap_or(false),
                resolved_value: p.resolved_value().map(str::to_string),
            })
            .collect(),
        status: s.status().and_then(|v| v.as_str().parse().ok()),
        detailed_status: s
            .stack_instance_status()
            .and_then(|d| d.detailed_status())
            .map(|d| d.as_str().to_string()),
        status_reason: s.status_reason().map(str::to_string),
        ou: s.organizational_unit_id().map(str::to_string),
        drift_status: s.drift_status().map(|d| d.as_str().to_string()),
        last_drift_check: timestamp(s.last_drift_check_timestamp()),
        last_operation_id: s.last_operation_id().map(str::to_string),
    }
}

fn operation_result(s: &sdk::StackSetOperationResultSummary) -> OperationResult {
    let gate = s.account_gate_result();
    OperationResult {
        account: s.account().unwrap_or_default().to_string(),
        region: s.region().unwrap_or_default().to_string(),
        status: parse_or(s.status().map(|v| v.as_str()), ResultStatus::Pending),
        status_reason: s.status_reason().map(str::to_string),
        gate_status: gate.and_then(|g| g.status()).and_then(|v| v.as_str().parse().ok()),
        gate_reason: gate.and_then(|g| g.status_reason()).map(str::to_string),
        ou: s.organizational_unit_id().map(str::to_string),
    }
}

/// Classify an SDK failure. Codes come from the service's error envelope; everything else from
/// the kind of SdkError (dispatch, timeout, credentials).
fn api_error<E>(err: SdkError<E, aws_smithy_runtime_api::http::Response>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let request_id = err.request_id().map(str::to_string);
    tracing::debug!(error = %aws_smithy_types::error::display::DisplayErrorContext(&err), "call failed");
    let detail = error_chain(&err);
    // Something answered, but not CloudFormation: a web server's or a proxy's page.
    let foreign = err.raw_response().and_then(not_cloudformation);
    let (kind, code, message) = match (&err, credentials_error(&err)) {
        (SdkError::ServiceError(service), _) if service.err().code().is_none() && foreign.is_some() => {
            let (kind, message) = foreign.unwrap_or((ErrorKind::Other, detail.clone()));
            (kind, None, message)
        }
        (SdkError::ServiceError(service), _) => {
            let code = service.err().code().map(str::to_string);
            let message = service.err().message().unwrap_or("no message").to_string();
            let status = service.raw().status().as_u16();
            let kind = match code.as_deref() {
                Some("Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "TooManyRequestsException") => {
                    ErrorKind::Throttled
                }
                Some("ExpiredToken" | "ExpiredTokenException" | "RequestExpired") => ErrorKind::ExpiredCredentials,
                Some("AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation") => ErrorKind::AccessDenied,
                Some("InvalidClientTokenId" | "SignatureDoesNotMatch" | "UnrecognizedClientException") => {
                    ErrorKind::ExpiredCredentials
                }
                Some("StackSetNotFoundException") => ErrorKind::StackSetNotFound,
                Some("OperationNotFoundException") => ErrorKind::OperationNotFound,
                Some("InvalidOperationException") => ErrorKind::InvalidOperation,
                Some("OperationInProgressException") => ErrorKind::OperationInProgress,
                Some("ValidationError") => ErrorKind::Validation,
                _ if status >= 500 => ErrorKind::Service,
                _ => ErrorKind::Other,
            };
            (kind, code, message)
        }
        (SdkError::TimeoutError(_), _) => (ErrorKind::Timeout, None, "the request timed out".to_string()),
        // Identity resolution runs just before transmit, so a credentials failure arrives as a
        // dispatch failure (kind "other") wrapping the provider's CredentialsError: not a network fault.
        (_, Some(creds)) => {
            let (kind, message) = credentials_failure(creds);
            (kind, None, message)
        }
        (SdkError::DispatchFailure(failure), None) => {
            let kind = if failure.is_timeout() {
                ErrorKind::Timeout
            } else {
                ErrorKind::Network
            };
            (kind, None, detail.clone())
        }
        (SdkError::ResponseError(_), None) => match foreign {
            Some((kind, message)) => (kind, None, message),
            None => (ErrorKind::Network, None, detail.clone()),
        },
        _ => {
            let lower = detail.to_ascii_lowercase();
            let kind = if lower.contains("credential") || lower.contains("identity") {
                if credentials_expired(&lower) {
                    ErrorKind::ExpiredCredentials
                } else {
                    ErrorKind::NoCredentials
                }
            } else {
                ErrorKind::Other
            };
            (kind, None, detail.clone())
        }
    };
    ApiError {
        kind,
        code,
        message,
        request_id,
    }
}

/// An answer that is not CloudFormation's XML, described for a person: its status and content
/// type, and where to look. None for an XML answer (CloudFormation's, even when unexpected).
fn not_cloudformation(raw: &aws_smithy_runtime_api::http::Response) -> Option<(ErrorKind, String)> {
    let content_type = raw.headers().get("content-type").map(str::trim).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let xml = if media.is_empty() {
        // No content type: judge by the first bytes.
        let body = raw.body().bytes().unwrap_or_default().trim_ascii_start();
        let head = String::from_utf8_lossy(&body[..body.len().min(16)]).to_ascii_lowercase();
        head.starts_with('<') && !head.starts_with("<!doctype html") && !head.starts_with("<html")
    } else {
        media.ends_with("/xml") || media.ends_with("+xml")
    };
    if xml {
        return None;
    }
    let status = raw.status().as_u16();
    let what = if content_type.is_empty() {
        "no content type".to_string()
    } else {
        media
    };
    let kind = if status >= 500 {
        ErrorKind::Service
    } else {
        ErrorKind::Other
    };
    Some((
        kind,
        format!(
            "the endpoint answered {status} with {what}, not CloudFormation XML: check --endpoint-url (endpoint_url in the config, AWS_ENDPOINT_URL)"
        ),
    ))
}

/// The credentials provider's error, wherever it sits in the chain of sources.
fn credentials_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a CredentialsError> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<CredentialsError>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

fn credentials_expired(lower: &str) -> bool {
    lower.contains("expired") || (lower.contains("sso") && lower.contains("token"))
}

/// Kind and a one-line message for a credentials failure. The provider's own text can run to a
/// line per provider tried; the first line is enough for a header.
pub(super) fn credentials_failure(err: &CredentialsError) -> (ErrorKind, String) {
    // Our own lookup's failure is already worded.
    let ours = std::error::Error::source(err).and_then(|s| s.downcast_ref::<SourceFailed>());
    if let Some(failed) = ours {
        return (failed.kind, failed.message.clone());
    }
    let detail = error_chain(err);
    match err {
        CredentialsError::CredentialsNotLoaded(_) => (
            ErrorKind::NoCredentials,
            "no AWS credentials found (tried environment, profile, web identity, container and instance metadata)"
                .to_string(),
        ),
        CredentialsError::ProviderTimedOut(_) => (ErrorKind::Timeout, detail),
        _ if credentials_expired(&detail.to_ascii_lowercase()) => (ErrorKind::ExpiredCredentials, detail),
        _ => (ErrorKind::NoCredentials, detail),
    }
}

impl StackSetApi for SdkApi {
    async fn list_stack_sets(
        &self,
        call_as: CallAs,
        next_token: Option<String>,
    ) -> Result<Page<StackSetSummary>, ApiError> {
        self.ready().await?;
        let out = self
            .client
            .list_stack_sets()
            .call_as(sdk_call_as(call_as))
            .status(sdk::StackSetStatus::Active)
            .max_results(100)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(api_error)?;
        Ok(Page {
            items: out.summaries().iter().map(stack_set_summary).collect(),
            next_token: out.next_token().map(str::to_string),
        })
    }

    async fn describe_stack_set(&self, stack_set: &str, call_as: CallAs) -> Result<StackSetDetail, ApiError> {
        self.ready().await?;
        let out = self
            .client
            .describe_stack_set()
            .stack_set_name(stack_set)
            .call_as(sdk_call_as(call_as))
            .send()
            .await
            .map_err(api_error)?;
        let s = out
            .stack_set()
            .ok_or_else(|| ApiError::new(ErrorKind::Other, "DescribeStackSet returned no stack set"))?;
        Ok(StackSetDetail {
            summary: StackSetSummary {
                name: s.stack_set_name().unwrap_or_default().to_string(),
                id: s.stack_set_id().unwrap_or_default().to_string(),
                status: parse_or(s.status().map(|v| v.as_str()), StackSetStatus::Active),
                permission_model: s.permission_model().and_then(|v| v.as_str().parse().ok()),
                description: s.description().map(str::to_string),
                listed_as: None,
            },
            regions: s.regions().to_vec(),
            managed_execution: s.managed_execution().and_then(|m| m.active()).unwrap_or(false),
        })
    }

    async fn list_operations(
        &self,
        stack_set: &str,
        call_as: CallAs,
        max_results: i32,
        next_token: Option<String>,
    ) -> Result<Page<Operation>, ApiError> {
        self.ready().await?;
        let out = self
            .client
            .list_stack_set_operations()
            .stack_set_name(stack_set)
            .call_as(sdk_call_as(call_as))
            .max_results(max_results)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(api_error)?;
        Ok(Page {
            items: out.summaries().iter().map(operation_summary).collect(),
            next_token: out.next_token().map(str::to_string),
        })
    }

    async fn describe_operation(
        &self,
        stack_set: &str,
        operation_id: &str,
        call_as: CallAs,
    ) -> Result<Operation, ApiError> {
        self.ready().await?;
        let out = self
            .client
            .describe_stack_set_operation()
            .stack_set_name(stack_set)
            .operation_id(operation_id)
            .call_as(sdk_call_as(call_as))
            .send()
            .await
            .map_err(api_error)?;
        out.stack_set_operation()
            .map(operation)
            .ok_or_else(|| ApiError::new(ErrorKind::Other, "DescribeStackSetOperation returned no operation"))
    }

    async fn list_results(
        &self,
        stack_set: &str,
        operation_id: &str,
        call_as: CallAs,
        status: Option<ResultStatus>,
        next_token: Option<String>,
    ) -> Result<Page<OperationResult>, ApiError> {
        self.ready().await?;
        let mut request = self
            .client
            .list_stack_set_operation_results()
            .stack_set_name(stack_set)
            .operation_id(operation_id)
            .call_as(sdk_call_as(call_as))
            .max_results(100)
            .set_next_token(next_token);
        if let Some(status) = status {
            request = request.filters(
                sdk::OperationResultFilter::builder()
                    .name(sdk::OperationResultFilterName::OperationResultStatus)
                    .values(status.as_str())
                    .build(),
            );
        }
        let out = request.send().await.map_err(api_error)?;
        Ok(Page {
            items: out.summaries().iter().map(operation_result).collect(),
            next_token: out.next_token().map(str::to_string),
        })
    }

    async fn list_instances(
        &self,
        stack_set: &str,
        call_as: CallAs,
        query: &InstanceQuery,
        next_token: Option<String>,
    ) -> Result<Page<StackInstance>, ApiError> {
        self.ready().await?;
        let mut request = self
            .client
            .list_stack_instances()
            .stack_set_name(stack_set)
            .call_as(sdk_call_as(call_as))
            .max_results(100)
            .set_stack_instance_region(query.region.clone())
            .set_next_token(next_token);
        let filters = [
            (sdk::StackInstanceFilterName::DetailedStatus, &query.detailed_status),
            (sdk::StackInstanceFilterName::LastOperationId, &query.last_operation),
        ];
        for (name, value) in filters {
            if let Some(value) = value {
                request = request.filters(sdk::StackInstanceFilter::builder().name(name).values(value).build());
            }
        }
        let out = request.send().await.map_err(api_error)?;
        Ok(Page {
            items: out.summaries().iter().map(stack_instance).collect(),
            next_token: out.next_token().map(str::to_string),
        })
    }

    async fn describe_instance(
        &self,
        stack_set: &str,
        account: &str,
        region: &str,
        call_as: CallAs,
    ) -> Result<StackInstanceDetail, ApiError> {
        self.ready().await?;
        let out = self
            .client
            .describe_stack_instance()
            .stack_set_name(stack_set)
            .stack_instance_account(account)
            .stack_instance_region(region)
            .call_as(sdk_call_as(call_as))
            .send()
            .await
            .map_err(api_error)?;
        out.stack_instance()
            .map(stack_instance_detail)
            .ok_or_else(|| ApiError::new(ErrorKind::Other, "DescribeStackInstance returned no stack instance"))
    }

    async fn stop_operation(
        &self,
        stack_set: &str,
        operation_id: &str,
        call_as: CallAs,
    ) -> Result<StopAccepted, ApiError> {
        if self.read_only {
            return Err(ApiError::new(
                ErrorKind::ReadOnly,
                "read-only is set: StopStackSetOperation was not sent",
            ));
        }
        self.ready().await?;
        let out = self
            .client
            .stop_stack_set_operation()
            .stack_set_name(stack_set)
            .operation_id(operation_id)
            .call_as(sdk_call_as(call_as))
            .send()
            .await
            .map_err(api_error)?;
        Ok(StopAccepted {
            request_id: out.request_id().map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::{future, ProvideCredentials};

    /// A credentials provider that always fails the way `make` says.
    #[derive(Debug)]
    struct Failing(fn() -> CredentialsError);

    impl ProvideCredentials for Failing {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            future::ProvideCredentials::ready(Err((self.0)()))
        }
    }

    /// The real SDK against the emulator, with credentials that cannot be had: what kind of
    /// error does a call come back with?
    async fn kind_without_credentials(make: fn() -> CredentialsError) -> ApiError {
        let sim = crate::sim::start(crate::sim::SimOptions::default())
            .await
            .expect("emulator");
        let config = aws_sdk_cloudformation::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(sim.endpoint_url())
            .credentials_provider(Failing(make))
            .build();
        let api = SdkApi::from_client(Client::from_conf(config));
        api.list_stack_sets(CallAs::SelfAccount, None)
            .await
            .expect_err("no credentials, no call")
    }

    #[tokio::test]
    async fn an_empty_credentials_chain_is_no_credentials_not_a_network_error() {
        let err =
            kind_without_credentials(|| CredentialsError::not_loaded("no providers in chain provided credentials"))
                .await;
        assert_eq!(err.kind, ErrorKind::NoCredentials, "{err:?}");
        assert!(!err.is_transient());
        assert!(
            !err.message.contains('\n'),
            "one line for the header: {:?}",
            err.message
        );
    }

    #[tokio::test]
    async fn an_expired_sso_session_is_expired_credentials() {
        let err = kind_without_credentials(|| {
            CredentialsError::provider_error("the SSO session has expired: run aws sso login")
        })
        .await;
        assert_eq!(err.kind, ErrorKind::ExpiredCredentials, "{err:?}");
        assert!(err.message.contains("expired"), "{err:?}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_still_a_network_error() {
        let mut options = ConnectOptions::new();
        options.endpoint_url = Some("http://127.0.0.1:1".into());
        options.region = Some("us-east-1".into());
        options.dummy_credentials = true;
        options.max_attempts = 1;
        let (api, _) = SdkApi::connect(&options).await.expect("client");
        let err = api
            .list_stack_sets(CallAs::SelfAccount, None)
            .await
            .expect_err("nothing listens on port 1");
        assert_eq!(err.kind, ErrorKind::Network, "{err:?}");
        assert!(
            !err.message.contains('\n') && !err.message.contains("DispatchFailure {"),
            "{:?}",
            err.message
        );
    }

    #[tokio::test]
    async fn a_read_only_client_refuses_a_stop_without_sending_it() {
        let sim = crate::sim::start(crate::sim::SimOptions {
            scenario: Some("runaway".into()),
            ..Default::default()
        })
        .await
        .expect("emulator");
        let mut options = ConnectOptions::new();
        options.endpoint_url = Some(sim.endpoint_url());
        options.region = Some("us-east-1".into());
        options.dummy_credentials = true;
        options.read_only = true;
        let (api, _) = SdkApi::connect(&options).await.expect("client");
        let set = "vpc-flow-logs";
        let op = sim.operation_ids(set).into_iter().next().expect("an operation");
        let err = api
            .stop_operation(set, &op, CallAs::SelfAccount)
            .await
            .expect_err("read-only");
        assert_eq!(err.kind, ErrorKind::ReadOnly, "{err:?}");
        assert_eq!(sim.request_counts().get("StopStackSetOperation"), None);
    }

    /// A web server on loopback that answers every request with `status` and an HTML page.
    async fn html_server(status: axum::http::StatusCode) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let page = move || async move {
            (
                status,
                [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<!DOCTYPE html><html><body>Welcome</body></html>",
            )
        };
        tokio::spawn(async move {
            let _ = axum::serve(listener, axum::Router::new().fallback(page)).await;
        });
        format!("http://{addr}")
    }

    async fn client_for(endpoint: String) -> SdkApi {
        let mut options = ConnectOptions::new();
        options.endpoint_url = Some(endpoint);
        options.region = Some("us-east-1".into());
        options.dummy_credentials = true;
        options.max_attempts = 1;
        SdkApi::connect(&options).await.expect("client").0
    }

    #[tokio::test]
    async fn an_html_answer_is_described_not_shown_as_no_message() {
        let api = client_for(html_server(axum::http::StatusCode::OK).await).await;
        let err = api
            .list_stack_sets(CallAs::SelfAccount, None)
            .await
            .expect_err("HTML is no answer");
        assert_eq!(
            err.message,
            "the endpoint answered 200 with text/html, not CloudFormation XML: check --endpoint-url (endpoint_url in the config, AWS_ENDPOINT_URL)"
        );
        assert_eq!(err.kind, ErrorKind::Other);
        assert_eq!(err.advice(None), err.message);
        // A proxy's error page: the same words, and retried as a server fault.
        let api = client_for(html_server(axum::http::StatusCode::BAD_GATEWAY).await).await;
        let err = api
            .describe_stack_set("s", CallAs::SelfAccount)
            .await
            .expect_err("HTML is no answer");
        assert!(
            err.message
                .starts_with("the endpoint answered 502 with text/html, not CloudFormation XML"),
            "{err:?}"
        );
        assert_eq!(err.kind, ErrorKind::Service);
    }

    #[test]
    fn regions_are_checked_before_use() {
        for good in ["us-east-1", "us-gov-west-1", "cn-north-1", "eusc-de-east-1", "local"] {
            assert!(valid_region(good), "{good}");
        }
        for bad in [
            "",
            "../x?y#z@e",
            "US-EAST-1",
            "us east 1",
            "-us-east-1",
            "us--east-1",
            "us-east-1-",
            "ü-1",
        ] {
            assert!(!valid_region(bad), "{bad}");
        }
        assert!(!valid_region(&"a".repeat(64)));
    }

    #[test]
    fn endpoint_urls_are_checked_before_use() {
        assert!(validate_endpoint("http://127.0.0.1:4566").is_ok());
        assert!(validate_endpoint("https://cloudformation.us-east-1.amazonaws.com/").is_ok());
        assert!(validate_endpoint("127.0.0.1:4566").is_err());
        assert!(validate_endpoint("http://").is_err());
        assert!(validate_endpoint("http://host:notaport").is_err());
    }
}
