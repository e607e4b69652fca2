//! The log file: `sstop.log` in the platform state dir, created mode 0600, filtered by `SSTOP_LOG`
//! (default `info`). Never stdout or stderr, which belong to the TUI. Lines pass a scrubber that
//! masks anything shaped like an AWS access key id or a security-token header, as a second guard
//! behind "never log credentials or the SDK's config".

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The variable holding the filter, e.g. `SSTOP_LOG=debug` or `SSTOP_LOG=sstop=trace,info`.
pub const ENV: &str = "SSTOP_LOG";

/// A log larger than this is moved to `sstop.log.1` when sstop starts, so it cannot fill a disk.
const ROTATE_BYTES: u64 = 10 * 1024 * 1024;

/// Where the log goes: `$XDG_STATE_HOME/sstop/sstop.log` (`~/.local/state/sstop/sstop.log`) on
/// Linux; platforms without a state dir use the local data dir.
pub fn log_path() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "sstop")?;
    let dir = dirs.state_dir().unwrap_or_else(|| dirs.data_local_dir());
    Some(dir.join("sstop.log"))
}

/// Install the file logger. Returns the file's path, or why there is no log: a read-only home
/// on a bastion must not stop sstop, so callers may carry on without one.
pub fn init() -> Result<PathBuf, String> {
    let path = log_path().ok_or("no home directory to keep a log in")?;
    let file = open(&path).map_err(|err| format!("cannot open log file {}: {err}", path.display()))?;
    let filter = match std::env::var(ENV) {
        Ok(spec) if !spec.trim().is_empty() => {
            EnvFilter::try_new(&spec).map_err(|err| format!("{ENV}={spec:?} is not a valid filter: {err}"))?
        }
        _ => EnvFilter::new("info"),
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(Scrubbed(Mutex::new(file)))
        .with_ansi(false)
        .with_filter(filter.and(filter_fn(|meta| !quiet_target(meta.target()))));
    tracing_subscriber::registry()
        .with(layer)
        .try_init()
        .map_err(|err| format!("cannot install the logger: {err}"))?;
    Ok(path)
}

/// Targets left out whatever the filter says: the signer traces canonical requests and
/// strings to sign, which are built from the credentials.
fn quiet_target(target: &str) -> bool {
    target.starts_with("aws_sigv4")
}

/// Open for append, owner-only. `mode` only applies when the file is created, so an existing
/// file is tightened too; a symlink in its place is refused (O_NOFOLLOW).
fn open(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    if std::fs::metadata(path).is_ok_and(|m| m.len() > ROTATE_BYTES) {
        let _ = std::fs::rename(path, path.with_extension("log.1"));
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    if file.metadata()?.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// The file behind a lock, scrubbing each formatted event (the fmt layer writes one event per
/// `write_all`) before it reaches the disk.
struct Scrubbed(Mutex<File>);

struct ScrubbedWriter<'a>(&'a Mutex<File>);

impl<'a> MakeWriter<'a> for Scrubbed {
    type Writer = ScrubbedWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubbedWriter(&self.0)
    }
}

impl Write for ScrubbedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let clean = scrub(&text);
        let mut file = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        file.write_all(clean.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).flush()
    }
}

/// Mask access key ids (AKIA/ASIA + 16 upper-case letters or digits) and the value after a
/// security-token, secret-key or access-key-id name. The SDK's own Debug of `Credentials`
/// (logged at debug level when an identity is resolved) shows the access key id in clear.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if let Some(len) = access_key_at(&bytes[i..]) {
            out.push_str(&text[i..i + 4]);
            out.push_str("****************");
            i += len;
            continue;
        }
        let starts_name = matches!(bytes[i], b'x' | b'X' | b's' | b'S' | b'a' | b'A');
        if let Some((name_len, value_len)) = starts_name.then(|| secret_assignment_at(&text[i..])).flatten() {
            out.push_str(&text[i..i + name_len]);
            out.push_str("<redacted>");
            i += name_len + value_len;
            continue;
        }
        let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8().max(1);
    }
    out
}

fn access_key_at(bytes: &[u8]) -> Option<usize> {
    let prefix = bytes.get(..4)?;
    if prefix != b"AKIA" && prefix != b"ASIA" {
        return None;
    }
    let body = bytes.get(4..20)?;
    let ok = body.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    let ends = bytes.get(20).is_none_or(|b| !b.is_ascii_alphanumeric());
    (ok && ends).then_some(20)
}

/// `x-amz-security-token: VALUE`, `session_token=VALUE`, `"secret_access_key": "VALUE"` and the
/// like: returns the length of the name with its separator, and of the value.
fn secret_assignment_at(text: &str) -> Option<(usize, usize)> {
    const NAMES: [&str; 6] = [
        "x-amz-security-token",
        "security_token",
        "session_token",
        "secret_access_key",
        "secret_key",
        "access_key_id",
    ];
    let lower_head: String = text.chars().take(24).collect::<String>().to_ascii_lowercase();
    let name = NAMES.iter().find(|n| lower_head.starts_with(*n))?;
    let rest = &text[name.len()..];
    let sep = rest.len() - rest.trim_start_matches(['"', '\'', ':', '=', ' ']).len();
    if sep == 0 {
        return None;
    }
    let value = &rest[sep..];
    if value.starts_with("**") {
        // Already masked by the SDK ("** redacted **").
        return None;
    }
    let value_len = value
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '}' | ')'))
        .unwrap_or(value.len());
    (value_len > 0).then_some((name.len() + sep, value_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_key_ids_and_tokens_are_masked() {
        let line = "Credentials { access_key_id: \"dummy-id\", secret_access_key: \"** redacted **\", session_token=FwoGZXIvYXdzEXAMPLE== }";
        let clean = scrub(line);
        assert!(!clean.contains("dummy-id"), "{clean}");
        assert!(!clean.contains("FwoGZXIvYXdzEXAMPLE"), "{clean}");
        assert!(clean.contains("secret_access_key: \"** redacted **\""), "{clean}");
        let clean = scrub("key ASIAXAMPLEKEYID12345 used");
        assert_eq!(clean, "key ASIA**************** used");
        let header = scrub("x-amz-security-token: IQoJb3JpZ2luX2VjEXAMPLE\nnext");
        assert_eq!(header, "x-amz-security-token: <redacted>\nnext");
    }

    #[test]
    fn ordinary_text_is_untouched() {
        let line = "2024 INFO sstop: polling vpc-flow-logs AKIA-short ASIAN région ✓";
        assert_eq!(scrub(line), line);
    }
}
