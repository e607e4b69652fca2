//! Telling a person something happened while they look elsewhere: the terminal bell, OSC 9 and
//! OSC 777 desktop notifications, and a `command` run with the event as JSON on stdin. Also the
//! OSC 52 sequence that puts text on the clipboard of the terminal, over SSH too.
//! Pure builders of escape sequences here; writing them and running the command is the caller's
//! (the dashboard's event loop, `sstop wait`), the command always on a task of its own.

use std::time::Duration;

use base64::Engine;
use serde::{Deserialize, Serialize};

/// How long `command` may run before it is killed, when the config does not say.
pub const DEFAULT_COMMAND_TIMEOUT_SECS: u64 = 10;

/// The config's `[notify]` table, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    /// BEL (`\x07`): tmux and most terminals flag the window or flash.
    pub bell: bool,
    /// `ESC ] 9 ; text BEL` (iTerm2, Windows Terminal, WezTerm, kitty...).
    pub osc9: bool,
    /// `ESC ] 777 ; notify ; title ; body BEL` (rxvt-unicode, foot, Ghostty, VTE terminals...).
    pub osc777: bool,
    /// Run through `sh -c` with the event as one JSON object on stdin.
    pub command: Option<String>,
    pub command_timeout: Duration,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            bell: true,
            osc9: false,
            osc777: false,
            command: None,
            command_timeout: Duration::from_secs(DEFAULT_COMMAND_TIMEOUT_SECS),
        }
    }
}

/// The config's `[notify]` table as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    pub bell: Option<bool>,
    pub osc9: Option<bool>,
    pub osc777: Option<bool>,
    pub command: Option<String>,
    /// Seconds; 1 to 600.
    pub command_timeout: Option<u64>,
}

impl NotifyConfig {
    pub fn resolve(&self) -> NotifySettings {
        let default = NotifySettings::default();
        NotifySettings {
            bell: self.bell.unwrap_or(default.bell),
            osc9: self.osc9.unwrap_or(default.osc9),
            osc777: self.osc777.unwrap_or(default.osc777),
            command: self.command.clone().filter(|c| !c.trim().is_empty()),
            command_timeout: self
                .command_timeout
                .map_or(default.command_timeout, |secs| Duration::from_secs(secs.max(1))),
        }
    }
}

/// What happened, as `command` reads it on stdin (one JSON object, then a newline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// `operation_ended` or `new_failure`.
    pub event: &'static str,
    pub stack_set: String,
    pub operation_id: String,
    /// The operation's status (for `operation_ended`: SUCCEEDED, FAILED, STOPPED).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// For `new_failure`: the reason of the new group, and how many results it holds so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// One line a person reads: what the desktop notification shows.
    pub title: String,
    pub body: String,
}

impl Event {
    pub fn operation_ended(stack_set: &str, operation_id: &str, status: &str) -> Event {
        Event {
            event: "operation_ended",
            stack_set: stack_set.to_string(),
            operation_id: operation_id.to_string(),
            status: Some(status.to_string()),
            reason: None,
            count: None,
            title: format!("sstop: {stack_set} {status}"),
            body: format!("Operation {operation_id} of {stack_set} ended: {status}"),
        }
    }

    pub fn new_failure(stack_set: &str, operation_id: &str, reason: &str, count: usize) -> Event {
        Event {
            event: "new_failure",
            stack_set: stack_set.to_string(),
            operation_id: operation_id.to_string(),
            status: None,
            reason: Some(reason.to_string()),
            count: Some(count),
            title: format!("sstop: new failure in {stack_set}"),
            body: reason.to_string(),
        }
    }

    pub fn json_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }
}

/// Text safe inside an OSC string: no control characters (a BEL or ESC would end it early),
/// at most `max` characters. `semicolons` false turns `;` into `,` (OSC 777 splits on them).
fn osc_text(text: &str, max: usize, semicolons: bool) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            ';' if !semicolons => ',',
            c => c,
        })
        .filter(|c| !c.is_control())
        .take(max)
        .collect()
}

/// Inside tmux, OSC 9 and 777 reach the outer terminal only wrapped in tmux's passthrough
/// (`set -g allow-passthrough on`): ESC P tmux; (the sequence, ESCs doubled) ESC \.
fn tmux_wrap(sequence: &str) -> String {
    format!("\x1bPtmux;{}\x1b\\", sequence.replace('\x1b', "\x1b\x1b"))
}

/// The bytes to write to the terminal for an event, as the settings ask; empty when none.
pub fn escapes(settings: &NotifySettings, event: &Event, in_tmux: bool) -> String {
    let mut out = String::new();
    if settings.bell {
        out.push('\x07');
    }
    let wrap = |s: String| if in_tmux { tmux_wrap(&s) } else { s };
    if settings.osc9 {
        let text = osc_text(&format!("{}: {}", event.title, event.body), 400, true);
        out.push_str(&wrap(format!("\x1b]9;{text}\x07")));
    }
    if settings.osc777 {
        let title = osc_text(&event.title, 120, false);
        let body = osc_text(&event.body, 400, false);
        out.push_str(&wrap(format!("\x1b]777;notify;{title};{body}\x07")));
    }
    out
}

/// Most bytes put on the clipboard: terminals cap OSC 52 (xterm at about 100 kB of base64).
pub const MAX_COPY_BYTES: usize = 74_000;

/// `ESC ] 52 ; c ; base64 BEL`: sets the clipboard of the terminal the bytes reach, through
/// SSH; tmux takes it into its paste buffer with `set -g set-clipboard on`. Text beyond
/// `MAX_COPY_BYTES` is cut at a character boundary.
pub fn osc52(text: &str) -> String {
    let mut end = text.len().min(MAX_COPY_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(&text.as_bytes()[..end]);
    format!("\x1b]52;c;{encoded}\x07")
}

/// Runs `command` through `sh -c` with the event's JSON line on stdin; killed after `timeout`.
/// Failures are logged, never raised: a notification must not disturb what it notifies of.
pub async fn run_command(command: String, event: Event, timeout: Duration) {
    use tokio::io::AsyncWriteExt;
    let mut child = match tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        // Its own process group, so a timeout ends the pipeline it started too.
        .process_group(0)
        .spawn()
    {
        Ok(child) => child,
        Err(err) => {
            tracing::warn!(%err, command, "notify command did not start");
            return;
        }
    };
    let stdin = child.stdin.take();
    let line = event.json_line();
    let run = async {
        if let Some(mut stdin) = stdin {
            // A command that does not read its input is its own business.
            let _ = stdin.write_all(line.as_bytes()).await;
            drop(stdin);
        }
        child.wait().await
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(Ok(status)) if status.success() => {
            tracing::debug!(command, event = event.event, "notify command ran");
        }
        Ok(Ok(status)) => tracing::warn!(command, %status, "notify command failed"),
        Ok(Err(err)) => tracing::warn!(command, %err, "notify command could not be waited on"),
        Err(_) => {
            tracing::warn!(
                command,
                timeout_secs = timeout.as_secs(),
                "notify command timed out: killed"
            );
            if let Some(pid) = child.id() {
                // SAFETY: a signal to the process group this command leads.
                unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
            }
            let _ = child.kill().await;
        }
    }
}

/// `run_command` on a task of its own, so nothing waits for it.
pub fn spawn_command(settings: &NotifySettings, event: &Event) {
    if let Some(command) = settings.command.clone() {
        tokio::spawn(run_command(command, event.clone(), settings.command_timeout));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event::new_failure("set", "op-1", "quota; reached\x07\x1b[31m\nnext", 3)
    }

    #[test]
    fn only_the_chosen_channels_are_written_and_text_cannot_end_them_early() {
        let mut settings = NotifySettings::default();
        assert_eq!(escapes(&settings, &event(), false), "\x07");
        settings.bell = false;
        assert_eq!(escapes(&settings, &event(), false), "");
        settings.osc9 = true;
        settings.osc777 = true;
        let out = escapes(&settings, &event(), false);
        assert!(
            out.starts_with("\x1b]9;sstop: new failure in set: quota; reached[31m next\x07"),
            "{out:?}"
        );
        assert!(
            out.ends_with("\x1b]777;notify;sstop: new failure in set;quota, reached[31m next\x07"),
            "{out:?}"
        );
        // Exactly two BELs: the terminators, none from the reason.
        assert_eq!(out.matches('\x07').count(), 2);
        let wrapped = escapes(&settings, &event(), true);
        assert!(wrapped.starts_with("\x1bPtmux;\x1b\x1b]9;"), "{wrapped:?}");
    }

    #[test]
    fn osc52_carries_the_text_in_base64() {
        assert_eq!(osc52("123456789012"), "\x1b]52;c;MTIzNDU2Nzg5MDEy\x07");
        let long = "é".repeat(MAX_COPY_BYTES);
        let seq = osc52(&long);
        let payload = seq.trim_start_matches("\x1b]52;c;").trim_end_matches('\x07');
        let bytes = base64::engine::general_purpose::STANDARD.decode(payload).unwrap();
        assert!(bytes.len() <= MAX_COPY_BYTES);
        assert!(String::from_utf8(bytes).is_ok(), "cut at a character boundary");
    }

    #[test]
    fn the_event_is_one_json_line() {
        let line = Event::operation_ended("set", "op-1", "STOPPED").json_line();
        assert!(line.ends_with('\n') && line.lines().count() == 1);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"], "operation_ended");
        assert_eq!(v["status"], "STOPPED");
        assert!(v.get("reason").is_none());
    }

    #[tokio::test]
    async fn the_command_reads_the_event_on_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("event.json");
        let command = format!("cat > '{}'", out.display());
        run_command(command, event(), Duration::from_secs(60)).await;
        let written = std::fs::read_to_string(&out).unwrap();
        let v: serde_json::Value = serde_json::from_str(written.trim()).unwrap();
        assert_eq!(v["event"], "new_failure");
        assert_eq!(v["count"], 3);
        // A command that fails is logged, not raised.
        run_command("exit 3".into(), event(), Duration::from_secs(60)).await;
    }

    /// The command is let run until it has said who it is; then the paused clock runs the
    /// timeout out at once: it must be killed before it could leave its mark.
    #[tokio::test(start_paused = true)]
    async fn a_command_that_outlives_its_timeout_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("late");
        let pid_file = dir.path().join("pid");
        let command = format!(
            "echo $$ > '{}.tmp' && mv '{0}.tmp' '{0}'; sleep 5; touch '{}'",
            pid_file.display(),
            marker.display()
        );
        let run = tokio::spawn(run_command(command, event(), Duration::from_secs(10)));
        // Busy, the runtime does not move the paused clock: the timeout waits for the pid.
        let guard = std::time::Instant::now();
        let pid: i32 = loop {
            if let Ok(text) = std::fs::read_to_string(&pid_file) {
                break text.trim().parse().expect("a pid");
            }
            assert!(
                guard.elapsed() < std::time::Duration::from_secs(20),
                "the command never started"
            );
            std::thread::yield_now();
            tokio::task::yield_now().await;
        };
        run.await.unwrap();
        assert!(!marker.exists());
        // SAFETY: signal 0 only asks whether the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        let zombie_or_gone =
            !alive || std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "));
        assert!(zombie_or_gone, "the command still runs after its timeout");
    }
}
