//! Credentials with bounds: one resolution at a time, shared by every caller that asks meanwhile,
//! cut after a timeout with a message naming the source; a profile's `credential_process` is run
//! here, in its own process group, so a timeout, or sstop's exit, ends it and anything it started.
//! (aws-config's own runner neither times out nor ends the helper when a call gives up on it.)

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use futures::future::{BoxFuture, FutureExt, Shared};

use super::ErrorKind;

/// Credentials that expire sooner than this are fetched again before a call.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(60);

/// Where credentials come from.
pub enum Source {
    /// aws-config's default chain (environment, profile, SSO, web identity, instance metadata).
    /// `profile` is for messages.
    Chain {
        provider: SharedCredentialsProvider,
        profile: Option<String>,
    },
    /// A profile's `credential_process`, run through `sh -c` as the AWS CLI does.
    Process { profile: String, command: String },
}

impl std::fmt::Debug for Source {
    // Never the command: its arguments may hold a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Chain { profile, .. } => f.debug_struct("Chain").field("profile", profile).finish(),
            Source::Process { profile, .. } => f.debug_struct("Process").field("profile", profile).finish(),
        }
    }
}

/// Why there are no credentials, already worded for a person: the kind says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceFailed {
    pub kind: ErrorKind,
    pub message: String,
}

impl SourceFailed {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        SourceFailed {
            kind,
            message: message.into(),
        }
    }
}

type Resolution = Shared<BoxFuture<'static, Result<Credentials, SourceFailed>>>;

/// A credentials provider that resolves at most once at a time and never for longer than
/// `timeout`. Cheap to clone; clones share the cache and the resolution in flight.
#[derive(Debug, Clone)]
pub struct Guarded {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    source: Source,
    timeout: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    cached: Option<Credentials>,
    in_flight: Option<Resolution>,
}

impl std::fmt::Debug for State {
    // Never the credentials themselves.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("cached", &self.cached.is_some())
            .field("in_flight", &self.in_flight.is_some())
            .finish()
    }
}

impl Guarded {
    pub fn new(source: Source, timeout: Duration) -> Self {
        Guarded {
            inner: Arc::new(Inner {
                source,
                timeout,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Fresh credentials: the cached ones, or those of the resolution in flight, or of a new one.
    /// The resolution runs as its own task, so a caller that gives up (a call's timeout, a
    /// screen left) neither ends it nor starts another beside it.
    pub async fn credentials(&self) -> Result<Credentials, SourceFailed> {
        let resolution = {
            let mut state = self.inner.lock();
            if let Some(credentials) = state.cached.as_ref().filter(|c| fresh(c)) {
                return Ok(credentials.clone());
            }
            match &state.in_flight {
                Some(resolution) => resolution.clone(),
                None => {
                    let inner = Arc::clone(&self.inner);
                    // The task takes the lock to record its end, after this block has released it.
                    let task = tokio::spawn(async move {
                        let outcome = inner.resolve().await;
                        let mut state = inner.lock();
                        state.in_flight = None;
                        state.cached = outcome.as_ref().ok().cloned();
                        outcome
                    });
                    let resolution = async move {
                        task.await.unwrap_or_else(|err| {
                            Err(SourceFailed::new(
                                ErrorKind::Other,
                                format!("the credentials lookup ended early: {err}"),
                            ))
                        })
                    }
                    .boxed()
                    .shared();
                    state.in_flight = Some(resolution.clone());
                    resolution
                }
            }
        };
        resolution.await
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn resolve(&self) -> Result<Credentials, SourceFailed> {
        let within = span(self.timeout);
        match &self.source {
            Source::Process { profile, command } => run_process(profile, command, self.timeout).await,
            Source::Chain { provider, profile } => {
                match tokio::time::timeout(self.timeout, provider.provide_credentials()).await {
                    Ok(Ok(credentials)) => Ok(credentials),
                    Ok(Err(err)) => {
                        let (kind, message) = super::sdk::credentials_failure(&err);
                        Err(SourceFailed::new(kind, message))
                    }
                    Err(_) => {
                        let which = profile
                            .as_deref()
                            .map_or_else(|| "the default chain".to_string(), |p| format!("profile {p}"));
                        Err(SourceFailed::new(
                            ErrorKind::CredentialSource,
                            format!(
                                "AWS credentials from {which} did not arrive within {within}: check `aws sts get-caller-identity`{}, or raise credential_timeout in the sstop config",
                                profile.as_deref().map_or_else(String::new, |p| format!(" --profile {p}"))
                            ),
                        ))
                    }
                }
            }
        }
    }
}

/// "30 s", or "500 ms" for the short timeouts of tests.
fn span(duration: Duration) -> String {
    if duration.subsec_millis() == 0 && duration.as_secs() > 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

fn fresh(credentials: &Credentials) -> bool {
    credentials
        .expiry()
        .is_none_or(|expiry| expiry > SystemTime::now() + REFRESH_BEFORE_EXPIRY)
}

impl ProvideCredentials for Guarded {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(
            async move { self.credentials().await.map_err(CredentialsError::provider_error) },
        )
    }
}

/// Kills the helper's whole process group when dropped, unless it finished on its own: a
/// timeout, or sstop's exit with the lookup under way, then leaves nothing behind.
struct GroupGuard(Option<i32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(group) = self.0.take() {
            // SAFETY: killpg only sends a signal; the group is the helper's own (process_group(0)).
            unsafe {
                libc::killpg(group, libc::SIGKILL);
            }
        }
    }
}

/// Run `command` as `credential_process` and read its JSON answer.
async fn run_process(profile: &str, command: &str, timeout: Duration) -> Result<Credentials, SourceFailed> {
    let check = format!("check it with `aws configure export-credentials --profile {profile}`");
    let mut helper = tokio::process::Command::new("sh");
    helper
        .args(["-c", command])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    // Should sstop die without unwinding (SIGKILL), the kernel ends the helper too.
    // SAFETY: prctl is async-signal-safe and touches only the child being set up.
    #[cfg(target_os = "linux")]
    unsafe {
        helper.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = helper.spawn().map_err(|err| {
        SourceFailed::new(
            ErrorKind::CredentialSource,
            format!("cannot run the credential_process of profile {profile}: {err}: {check}"),
        )
    })?;
    let mut group = GroupGuard(child.id().and_then(|id| i32::try_from(id).ok()));
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let run = async { tokio::join!(read_all(stdout), read_all(stderr), child.wait()) };
    let Ok((stdout, stderr, status)) = tokio::time::timeout(timeout, run).await else {
        drop(group);
        let _ = child.kill().await;
        return Err(SourceFailed::new(
            ErrorKind::CredentialSource,
            format!(
                "the credential_process of profile {profile} did not answer within {} and was stopped: {check}, or raise credential_timeout in the sstop config",
                span(timeout)
            ),
        ));
    };
    // It ended by itself: whatever it left running on purpose (an agent) is its business.
    group.0 = None;
    let status = status.map_err(|err| {
        SourceFailed::new(
            ErrorKind::CredentialSource,
            format!("the credential_process of profile {profile} could not be waited for: {err}"),
        )
    })?;
    if !status.success() {
        let said = String::from_utf8_lossy(&stderr);
        let first = said.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
        let first: String = first.chars().take(200).collect();
        let said = if first.is_empty() {
            String::new()
        } else {
            format!(" ({first})")
        };
        return Err(SourceFailed::new(
            ErrorKind::CredentialSource,
            format!("the credential_process of profile {profile} failed with {status}{said}: {check}"),
        ));
    }
    parse_process_output(&stdout).map_err(|why| {
        SourceFailed::new(
            ErrorKind::CredentialSource,
            format!(
                "the credential_process of profile {profile} printed bad JSON ({why}); it must print {{\"Version\": 1, \"AccessKeyId\": ..., \"SecretAccessKey\": ..., \"SessionToken\": ..., \"Expiration\": ...}}: {check}"
            ),
        )
    })
}

async fn read_all(pipe: Option<impl tokio::io::AsyncRead + Unpin>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut pipe, &mut bytes).await;
    }
    bytes
}

/// The credential_process answer, keys matched without regard to case as the AWS SDKs do. The
/// reason for a refusal never quotes the output, which may hold a secret.
fn parse_process_output(stdout: &[u8]) -> Result<Credentials, String> {
    let value: serde_json::Value = serde_json::from_slice(stdout).map_err(|err| err.to_string())?;
    let object = value.as_object().ok_or("not a JSON object")?;
    let get = |name: &str| {
        object
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    };
    let text = |name: &str| get(name).and_then(|v| v.as_str()).filter(|s| !s.is_empty());
    match get("Version").and_then(|v| v.as_u64()) {
        Some(1) => {}
        Some(_) => return Err("Version must be 1".into()),
        None => return Err("no Version".into()),
    }
    let key_id = text("AccessKeyId").ok_or("no AccessKeyId")?;
    let secret = text("SecretAccessKey").ok_or("no SecretAccessKey")?;
    let token = text("SessionToken").map(str::to_string);
    let expiry = match text("Expiration") {
        None => None,
        Some(when) => {
            let when = time::OffsetDateTime::parse(when, &time::format_description::well_known::Rfc3339)
                .map_err(|_| "Expiration is not an RFC 3339 time")?;
            Some(SystemTime::from(when))
        }
    };
    Ok(Credentials::new(key_id, secret, token, expiry, "credential_process"))
}

/// Which profile's `credential_process` aws-config's chain would run for `profile`, if any: the
/// profile sets one and nothing that comes before it in the chain (environment keys; in the
/// profile a role, a credential source, web identity, SSO or a login session).
pub async fn credential_process_of(profile: &str) -> Option<String> {
    use aws_types::os_shim_internal::{Env, Fs};
    let env_key = std::env::var("AWS_ACCESS_KEY_ID").is_ok_and(|v| !v.is_empty());
    if env_key {
        return None;
    }
    let files = aws_runtime::env_config::file::EnvConfigFiles::default();
    let set = aws_config::profile::load(&Fs::real(), &Env::real(), &files, None)
        .await
        .ok()?;
    let section = set.get_profile(profile)?;
    let earlier = [
        "role_arn",
        "credential_source",
        "web_identity_token_file",
        "sso_session",
        "sso_start_url",
        "sso_account_id",
        "sso_role_name",
        "login_session",
    ];
    if earlier.iter().any(|key| section.get(key).is_some()) {
        return None;
    }
    section
        .get("credential_process")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_output_is_read_as_the_sdks_read_it() {
        let creds = parse_process_output(
            br#"{"Version": 1, "AccessKeyId": "AKID", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": "2099-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(creds.access_key_id(), "AKID");
        assert_eq!(creds.session_token(), Some("t"));
        assert!(creds.expiry().is_some());
        let lower = parse_process_output(br#"{"version": 1, "accesskeyid": "A", "secretaccesskey": "s"}"#).unwrap();
        assert_eq!(lower.expiry(), None);
    }

    #[test]
    fn bad_process_output_says_what_is_wrong_without_quoting_it() {
        for (out, why) in [
            (&b"not json SECRETVALUE"[..], "expected"),
            (b"[1]", "not a JSON object"),
            (br#"{"AccessKeyId": "A", "SecretAccessKey": "s"}"#, "no Version"),
            (
                br#"{"Version": 2, "AccessKeyId": "A", "SecretAccessKey": "s"}"#,
                "Version must be 1",
            ),
            (br#"{"Version": 1, "SecretAccessKey": "SECRETVALUE"}"#, "no AccessKeyId"),
            (
                br#"{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "s", "Expiration": "SECRETVALUE"}"#,
                "RFC 3339",
            ),
        ] {
            let err = parse_process_output(out).unwrap_err();
            assert!(err.contains(why), "{err}");
            assert!(!err.contains("SECRETVALUE"), "{err}");
        }
    }

    /// A script in a temp dir that appends its pid (and its child's) to `pids`, then does `body`.
    fn script(dir: &std::path::Path, body: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("helper.sh");
        let pids = dir.join("pids");
        std::fs::write(&path, format!("#!/bin/sh\necho $$ >> '{}'\n{body}\n", pids.display())).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    }

    fn pids(dir: &std::path::Path) -> Vec<i32> {
        std::fs::read_to_string(dir.join("pids"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Whether `pid` has ended or ends within five seconds, on the kernel's word (a pidfd turns
    /// readable when the process ends), not a guessed sleep.
    fn ends(pid: i32) -> bool {
        // SAFETY: plain syscalls on a descriptor this function owns.
        unsafe {
            let fd = libc::syscall(libc::SYS_pidfd_open, pid, 0) as i32;
            if fd < 0 {
                return true;
            }
            let mut watch = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            let ready = libc::poll(&mut watch, 1, 5000);
            libc::close(fd);
            ready == 1
        }
    }

    #[tokio::test]
    async fn a_hanging_helper_is_cut_once_for_all_callers_and_left_running_nowhere() {
        let dir = tempfile::tempdir().unwrap();
        // The helper and a child of its own both hang.
        let body = format!("sleep 1000 &\necho $! >> '{}'\nwait", dir.path().join("pids").display());
        let source = Source::Process {
            profile: "slow".into(),
            command: script(dir.path(), &body),
        };
        let guarded = Guarded::new(source, Duration::from_millis(500));
        let (a, b, c) = tokio::join!(guarded.credentials(), guarded.credentials(), guarded.credentials());
        for outcome in [a, b, c] {
            let err = outcome.unwrap_err();
            assert_eq!(err.kind, ErrorKind::CredentialSource);
            assert!(
                err.message
                    .starts_with("the credential_process of profile slow did not answer within 500 ms"),
                "{err}"
            );
        }
        let started = pids(dir.path());
        assert_eq!(
            started.len(),
            2,
            "one helper (and its child) for three callers: {started:?}"
        );
        for pid in started {
            assert!(ends(pid), "process {pid} is still running");
        }
    }

    /// What quitting the dashboard does to a lookup in flight: the runtime shuts down, and
    /// with it the helper and what it started.
    #[test]
    fn shutting_down_ends_a_helper_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let started = dir.path().join("started");
        let fifo = std::ffi::CString::new(started.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo on a path in our own temp dir.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let body = format!("sleep 1000 &\necho $$ $! > '{}'\nwait", started.display());
        let guarded = Guarded::new(
            Source::Process {
                profile: "slow".into(),
                command: script(dir.path(), &body),
            },
            Duration::from_secs(600),
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.spawn(async move { guarded.credentials().await });
        // Blocks until the helper runs and writes (a FIFO has no content before that).
        let pids: Vec<i32> = std::fs::read_to_string(&started)
            .unwrap()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        assert_eq!(pids.len(), 2, "{pids:?}");
        drop(runtime);
        for pid in pids {
            assert!(ends(pid), "process {pid} outlived the runtime");
        }
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_neither_ends_nor_doubles_the_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let gate = dir.path().join("gate");
        // Answers once the test opens the gate.
        let body = format!(
            "while [ ! -e '{}' ]; do sleep 0.05; done\necho '{{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\"}}'",
            gate.display()
        );
        let guarded = Guarded::new(
            Source::Process {
                profile: "p".into(),
                command: script(dir.path(), &body),
            },
            Duration::from_secs(30),
        );
        // The first caller gives up at once; the second waits for the same helper.
        assert!(tokio::time::timeout(Duration::from_millis(50), guarded.credentials())
            .await
            .is_err());
        let second = tokio::spawn({
            let guarded = guarded.clone();
            async move { guarded.credentials().await }
        });
        std::fs::write(&gate, "").unwrap();
        let creds = second.await.unwrap().expect("credentials");
        assert_eq!(creds.access_key_id(), "A");
        assert_eq!(pids(dir.path()).len(), 1, "one helper run");
        // Cached now: no second run.
        guarded.credentials().await.expect("cached");
        assert_eq!(pids(dir.path()).len(), 1);
    }

    #[tokio::test]
    async fn bad_json_from_the_helper_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let guarded = Guarded::new(
            Source::Process {
                profile: "broken".into(),
                command: script(dir.path(), "echo 'this is not json'"),
            },
            Duration::from_secs(30),
        );
        let err = guarded.credentials().await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::CredentialSource);
        assert!(
            err.message
                .starts_with("the credential_process of profile broken printed bad JSON"),
            "{err}"
        );
        assert!(!err.message.contains("no AWS credentials found"), "{err}");
    }

    #[tokio::test]
    async fn a_failing_helper_shows_its_exit_status_and_first_stderr_line() {
        let dir = tempfile::tempdir().unwrap();
        let guarded = Guarded::new(
            Source::Process {
                profile: "p".into(),
                command: script(dir.path(), "echo 'token expired, log in again' >&2\nexit 3"),
            },
            Duration::from_secs(30),
        );
        let err = guarded.credentials().await.unwrap_err();
        assert!(
            err.message
                .contains("failed with exit status: 3 (token expired, log in again)"),
            "{err}"
        );
    }
}
