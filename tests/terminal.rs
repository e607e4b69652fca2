//! The real binary in a real terminal: tmux, on a private socket per test. Proves the terminal
//! is restored (cooked mode, main screen) after q, SIGTERM, SIGINT and a panic; that a closed
//! terminal ends sstop within a second without spinning, SIGHUP ignored or not; and that resize,
//! NO_COLOR, 16-colour TERMs and a non-UTF-8 locale draw what they should.
//! Needs tmux (scripts/test.sh installs it); without it these tests say so and pass.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The binary under test; `SSTOP_TEST_BIN` runs these tests against another build (e.g. an
/// older commit's, to see a test fail before its fix).
fn bin() -> String {
    std::env::var("SSTOP_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_sstop").to_string())
}
/// Generous: a debug build starting on a loaded 2-core CI machine.
const START: Duration = Duration::from_secs(20);
/// The promise: gone within a second of the terminal closing.
const GONE: Duration = Duration::from_secs(1);

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn have_tmux() -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("tmux not found: skipping (scripts/test.sh installs it)");
    }
    found
}

/// Quote for sh: single quotes, with embedded ones closed and escaped.
fn q(text: impl AsRef<str>) -> String {
    format!("'{}'", text.as_ref().replace('\'', r"'\''"))
}

/// One tmux server of our own and a temp dir for the files the shell leaves behind. Dropping it
/// kills the server (and so every process in it), whatever the test's outcome. The server's
/// socket lives in the temp dir (`-S`, like `-L sstop-test-<unique>` but cleaned up with the dir).
struct Tmux {
    socket: PathBuf,
    dir: tempfile::TempDir,
}

impl Tmux {
    /// A private socket and temp dir; nothing runs until `launch`.
    fn new(name: &str) -> Tmux {
        let prefix = format!(
            "sstop-test-{}-{}-{name}-",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = tempfile::Builder::new().prefix(&prefix).tempdir().expect("temp dir");
        Tmux {
            socket: dir.path().join("tmux.sock"),
            dir,
        }
    }

    /// Writes `script` to a file and runs it with sh in a detached 100x30 session. The tmux
    /// server runs in a UTF-8 locale, so anything non-ASCII a program draws shows in capture-pane.
    fn launch(&self, script: &str) {
        let file = self.path("outer.sh");
        std::fs::write(&file, script).expect("write script");
        let out = self
            .command()
            .args(["new-session", "-d", "-x", "100", "-y", "30", "--", "sh"])
            .arg(&file)
            .output()
            .expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A script that writes its pid to `pid` then execs `env SETTINGS sstop ARGS`, so the pid is sstop's.
    fn sstop_script(&self, env: &str, args: &str) -> String {
        let dir = self.dir();
        let file = self.path("sstop.sh");
        let text = format!(
            "echo $$ > {d}/pid\nexec env {env} {base} {bin} {args}\n",
            d = q(&dir),
            base = base_env(&dir),
            bin = q(bin())
        );
        std::fs::write(&file, text).expect("write script");
        format!("sh {}", q(file.display().to_string()))
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-S")
            .arg(&self.socket)
            .args(["-f", "/dev/null"])
            .env("LC_ALL", "C.UTF-8")
            .env_remove("TMUX");
        cmd
    }

    fn tmux(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("tmux runs")
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn dir(&self) -> String {
        self.dir.path().display().to_string()
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p"]).stdout).into_owned()
    }

    /// The screen with colours and attributes as escape sequences.
    fn screen_styled(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-e"]).stdout).into_owned()
    }

    fn wait_screen(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + START;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited {START:?} for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The dashboard's first screen in the demo.
    fn wait_dashboard(&self) -> String {
        self.wait_screen("the dashboard", |s| s.contains("vpc-flow-logs") && s.contains("Pulse"))
    }

    /// A file the shell writes, once it is there and complete (it ends with a newline).
    fn wait_file(&self, file: &str) -> String {
        let path = self.path(file);
        let deadline = Instant::now() + START;
        loop {
            if let Ok(text) = std::fs::read_to_string(&path) {
                if text.ends_with('\n') {
                    return text;
                }
            }
            assert!(
                Instant::now() < deadline,
                "waited {START:?} for {file}; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pid(&self) -> u32 {
        self.wait_file("pid").trim().parse().expect("pid file holds a pid")
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").stderr(Stdio::null()).status();
    }
}

/// `env` settings every run gets: no backtraces (a panic prints its message only), the log in
/// the temp dir rather than the real home.
fn base_env(dir: &str) -> String {
    format!("RUST_BACKTRACE=0 XDG_STATE_HOME={}", q(format!("{dir}/state")))
}

/// sstop in the foreground; after it ends the shell records its exit status and the tty's
/// settings, then stays so the screen can be read.
fn foreground(tmux: &Tmux, env: &str, args: &str) {
    let d = q(tmux.dir());
    let run = tmux.sstop_script(env, args);
    tmux.launch(&format!(
        "{run}\necho $? > {d}/status\nstty -a > {d}/stty.txt\nsleep 60\n"
    ));
}

/// Starts the runaway demo in the foreground of a fresh tmux and waits for its first screen.
fn demo(name: &str, env: &str) -> Tmux {
    let tmux = Tmux::new(name);
    foreground(&tmux, env, "demo --scenario runaway");
    tmux.wait_dashboard();
    tmux
}

/// `stty -a` shows a cooked terminal: line editing and echo on.
fn assert_cooked(stty: &str) {
    let flags: Vec<&str> = stty.split(|c: char| c.is_whitespace() || c == ';').collect();
    assert!(
        flags.contains(&"icanon") && !flags.contains(&"-icanon"),
        "icanon not restored:\n{stty}"
    );
    assert!(
        flags.contains(&"echo") && !flags.contains(&"-echo"),
        "echo not restored:\n{stty}"
    );
}

/// Ended, as far as the terminal is concerned: no process, or a zombie waiting to be reaped.
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => matches!(stat_field(&stat, 3).as_deref(), Some("Z" | "X")),
        Err(_) => true,
    }
}

/// Field `n` (1-based, as in proc(5)) of /proc/PID/stat; the command name may hold spaces.
fn stat_field(stat: &str, n: usize) -> Option<String> {
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(n - 3).map(str::to_string)
}

/// utime + stime in clock ticks; a zombie keeps its figures until reaped.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let utime: u64 = stat_field(&stat, 14)?.parse().ok()?;
    let stime: u64 = stat_field(&stat, 15)?.parse().ok()?;
    Some(utime + stime)
}

fn ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(hz).ok().filter(|&hz| hz > 0).unwrap_or(100)
}

/// After a signal or q: status, cooked tty, main screen back, and stderr's last words on it.
fn assert_restored(tmux: &Tmux, status: &str) -> String {
    assert_eq!(
        tmux.wait_file("status").trim(),
        status,
        "exit status; screen:\n{}",
        tmux.screen()
    );
    assert_cooked(&tmux.wait_file("stty.txt"));
    let screen = tmux.screen();
    assert!(
        !screen.contains("vpc-flow-logs"),
        "the dashboard is still on screen (alternate screen not left):\n{screen}"
    );
    screen
}

#[test]
fn q_quits_and_restores_the_terminal() {
    if !have_tmux() {
        return;
    }
    let tmux = demo("q", "");
    tmux.tmux(&["send-keys", "q"]);
    assert_restored(&tmux, "0");
}

#[test]
fn sigterm_restores_the_terminal_and_says_so() {
    if !have_tmux() {
        return;
    }
    let tmux = demo("term", "");
    let pid = tmux.pid();
    assert!(Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    let screen = assert_restored(&tmux, "143");
    assert!(screen.contains("sstop: stopped by SIGTERM"), "{screen}");
}

#[test]
fn sigint_restores_the_terminal_and_says_so() {
    if !have_tmux() {
        return;
    }
    let tmux = demo("int", "");
    let pid = tmux.pid();
    assert!(Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    let screen = assert_restored(&tmux, "130");
    assert!(screen.contains("sstop: stopped by SIGINT"), "{screen}");
}

#[test]
fn a_panic_restores_the_terminal_then_shows_its_message() {
    if !have_tmux() {
        return;
    }
    // The hook fires in the event loop once the dashboard has drawn (the demo starts in well under 1.5 s;
    // if it were slower the panic would still come from the loop, just before the first screen is seen).
    let tmux = Tmux::new("panic");
    foreground(&tmux, "SSTOP_TEST_PANIC_AFTER_MS=1500", "demo --scenario runaway");
    let screen = assert_restored(&tmux, "101");
    // The message is on the main screen, so it was written after the alternate screen was left.
    assert!(
        screen.contains("panicked at") && screen.contains("deliberate panic in the event loop"),
        "{screen}"
    );
}

/// Closes the terminal under a running sstop and measures how long it takes to go, and the CPU
/// it used meanwhile. Returns (latency, CPU ticks used from the close to the end).
fn close_terminal_under(tmux: &Tmux) -> (Duration, u64) {
    let pid = tmux.pid();
    let before = cpu_ticks(pid).expect("sstop is running");
    let started = Instant::now();
    let out = tmux.tmux(&["kill-session"]);
    assert!(
        out.status.success(),
        "kill-session: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut last = before;
    while !exited(pid) {
        last = cpu_ticks(pid).unwrap_or(last);
        assert!(
            started.elapsed() < GONE,
            "sstop (pid {pid}) still running {:?} after its terminal closed",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let latency = started.elapsed();
    let after = cpu_ticks(pid).unwrap_or(last);
    (latency, after.saturating_sub(before))
}

#[test]
fn closing_the_terminal_ends_sstop_within_a_second() {
    if !have_tmux() {
        return;
    }
    // sstop is the pane's process itself: when the session goes, so does the terminal.
    let tmux = Tmux::new("hup");
    let run = tmux.sstop_script("", "demo --scenario runaway");
    tmux.launch(&format!("exec {run}\n"));
    tmux.wait_dashboard();
    let (latency, ticks) = close_terminal_under(&tmux);
    eprintln!("kill-session: gone after {latency:?}, {ticks} CPU ticks");
    // A spinning reader would burn a whole second's worth of ticks before the deadline.
    assert!(
        ticks < ticks_per_second() / 4,
        "{ticks} CPU ticks after the terminal closed"
    );
}

#[test]
fn closing_the_terminal_ends_sstop_even_with_sighup_ignored() {
    if !have_tmux() {
        return;
    }
    // As under nohup: SIGHUP is ignored and stays so; only the vanished tty can end sstop. The
    // outer shell ignores it too, so it lives to record sstop's exit status.
    let tmux = Tmux::new("nohup");
    let d = q(tmux.dir());
    let run = tmux.sstop_script("", "demo --scenario runaway");
    tmux.launch(&format!("trap '' HUP\n{run} 2> {d}/stderr\necho $? > {d}/status\n"));
    tmux.wait_dashboard();
    let pid = tmux.pid();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let ignored = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .map(str::trim)
        .unwrap();
    assert_eq!(
        u64::from_str_radix(ignored, 16).unwrap() & 1,
        1,
        "SIGHUP should be ignored in sstop: {ignored}"
    );
    let (latency, ticks) = close_terminal_under(&tmux);
    eprintln!("kill-session, SIGHUP ignored: gone after {latency:?}, {ticks} CPU ticks");
    assert!(
        ticks < ticks_per_second() / 4,
        "{ticks} CPU ticks after the terminal closed"
    );
    // 129: the "terminal gone" exit, which writes nothing to the dead tty (stderr was a file).
    assert_eq!(tmux.wait_file("status").trim(), "129");
    let stderr = std::fs::read_to_string(tmux.path("stderr")).unwrap_or_default();
    assert!(stderr.is_empty(), "nothing should be said on the way out: {stderr:?}");
}

#[test]
fn resize_redraws_and_a_small_terminal_says_so() {
    if !have_tmux() {
        return;
    }
    let tmux = demo("resize", "");
    tmux.tmux(&["resize-window", "-x", "50", "-y", "12"]);
    tmux.wait_screen("the too-small notice", |s| {
        s.contains("terminal too small: 50x12, need at least 60x15")
    });
    tmux.tmux(&["resize-window", "-x", "100", "-y", "30"]);
    let screen = tmux.wait_dashboard();
    assert!(!screen.contains("too small"), "{screen}");
    tmux.tmux(&["send-keys", "q"]);
    assert_restored(&tmux, "0");
}

/// SGR colour parameters in a styled capture: "38;5;6" and the like.
fn colours(styled: &str) -> Vec<String> {
    let mut found = Vec::new();
    for seq in styled.split('\x1b').skip(1) {
        let Some(params) = seq.strip_prefix('[').and_then(|s| s.split_once('m')).map(|(p, _)| p) else {
            continue;
        };
        let parts: Vec<&str> = params.split(';').collect();
        let mut i = 0;
        while i < parts.len() {
            match parts[i] {
                "38" | "48" => {
                    let len = if parts.get(i + 1) == Some(&"2") { 5 } else { 3 };
                    found.push(parts[i..(i + len).min(parts.len())].join(";"));
                    i += len;
                }
                p if p.len() == 2
                    && (p.starts_with('3') || p.starts_with('4') || p.starts_with('9'))
                    && p != "39"
                    && p != "49" =>
                {
                    found.push(p.to_string());
                    i += 1;
                }
                _ => i += 1,
            }
        }
    }
    found
}

#[test]
fn no_color_draws_without_colour() {
    if !have_tmux() {
        return;
    }
    let tmux = demo("nocolor", "NO_COLOR=1 TERM=screen");
    let styled = tmux.screen_styled();
    assert_eq!(
        colours(&styled),
        Vec::<String>::new(),
        "NO_COLOR set, yet colours drawn"
    );
    tmux.tmux(&["send-keys", "q"]);
    assert_restored(&tmux, "0");
}

#[test]
fn sixteen_colour_terminals_get_the_sixteen_colours_only() {
    if !have_tmux() {
        return;
    }
    for term in ["xterm", "screen", "screen-256color", "tmux"] {
        let tmux = demo(&format!("term-{term}"), &format!("TERM={term}"));
        let used = colours(&tmux.screen_styled());
        assert!(!used.is_empty(), "TERM={term}: expected some colour");
        for colour in &used {
            let index = colour.rsplit(';').next().and_then(|n| n.parse::<u32>().ok());
            let basic = colour.len() == 2 || (colour.contains(";5;") && index.is_some_and(|n| n < 16));
            assert!(basic, "TERM={term}: {colour} is outside the 16 base colours");
        }
        tmux.tmux(&["send-keys", "q"]);
        assert_restored(&tmux, "0");
    }
}

#[test]
fn a_c_locale_gets_an_ascii_screen() {
    if !have_tmux() {
        return;
    }
    // The control: in a UTF-8 locale the same screen has non-ASCII glyphs, so the capture would show them.
    let utf8 = demo("utf8", "LANG=C.UTF-8 LC_ALL=C.UTF-8");
    assert!(
        utf8.screen().bytes().any(|b| b > 0x7f),
        "expected UTF-8 glyphs:\n{}",
        utf8.screen()
    );
    drop(utf8);
    let tmux = demo("ascii", "LANG=C LC_ALL=C");
    let screen = tmux.screen();
    let odd: Vec<char> = screen.chars().filter(|c| !c.is_ascii()).collect();
    assert!(odd.is_empty(), "non-ASCII on a C-locale screen: {odd:?}\n{screen}");
}

#[test]
fn no_credentials_are_shown_in_the_dashboard_which_keeps_running() {
    if !have_tmux() {
        return;
    }
    let tmux = Tmux::new("nocreds");
    let sim = LoggedSim::start(&tmux);
    let dir = tmux.dir();
    std::fs::create_dir(tmux.path("home")).unwrap();
    // Nothing from this machine: an empty home, no AWS_* variables, no instance metadata.
    let env = format!(
        "-i PATH=/usr/bin:/bin HOME={home} TERM=screen AWS_EC2_METADATA_DISABLED=true {base}",
        home = q(format!("{dir}/home")),
        base = base_env(&dir)
    );
    foreground(&tmux, &env, &format!("--endpoint-url {} --region us-east-1", sim.url));
    let screen = tmux.wait_screen("a credentials message", |s| {
        s.to_ascii_lowercase().contains("credentials")
    });
    assert!(screen.contains("Pulse"), "the dashboard itself should be up:\n{screen}");
    // Still running a moment later: the error is shown, not fatal.
    std::thread::sleep(Duration::from_millis(300));
    assert!(!exited(tmux.pid()), "sstop ended:\n{}", tmux.screen());
    tmux.tmux(&["send-keys", "q"]);
    assert_eq!(tmux.wait_file("status").trim(), "0");
}

#[test]
fn stat_fields_are_read_past_the_command_name() {
    let stat = "123 (a b) S 1 2 3 4 5 6 7 8 9 10 11 12 13";
    assert_eq!(stat_field(stat, 3).as_deref(), Some("S"));
    assert_eq!(stat_field(stat, 14).as_deref(), Some("11"));
    assert!(Path::new("/proc/self/stat").exists());
}

/// `sstop sim --log-requests` on a free port with its request log in a file: the witness of every
/// call the dashboard sends. Killed on drop.
struct LoggedSim {
    child: Child,
    url: String,
    log: PathBuf,
}

impl LoggedSim {
    fn start(tmux: &Tmux) -> LoggedSim {
        LoggedSim::start_with(tmux, "runaway")
    }

    /// The emulator with a built-in scenario or a scenario file.
    fn start_with(tmux: &Tmux, scenario: &str) -> LoggedSim {
        use std::io::BufRead;
        let log = tmux.path("sim.log");
        let mut child = Command::new(bin())
            .args([
                "sim",
                "--listen",
                "127.0.0.1:0",
                "--scenario",
                scenario,
                "--log-requests",
            ])
            .env("XDG_STATE_HOME", tmux.path("sim-state"))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("sim log"))
            .spawn()
            .expect("sstop sim starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("sim prints its address");
        let url = line.trim().rsplit(' ').next().unwrap_or_default().to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "unexpected first line: {line:?}");
        LoggedSim { child, url, log }
    }

    /// StopStackSetOperation requests the emulator has answered.
    fn stops(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("StopStackSetOperation"))
            .count()
    }

    /// Any request at all: proof the log is the witness it should be.
    fn requests(&self) -> usize {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().count()
    }
}

impl Drop for LoggedSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const RUNAWAY_SET: &str = "vpc-flow-logs";
const RUNAWAY_OP: &str = "e1f2d3c4-b5a6-4978-8d6e-5f4a3b2c1d0e";

/// The dashboard against `sim` in a fresh tmux, opened at the runaway stack set (and its
/// operation's grid with `grid`), waiting until the screen shows it.
fn dashboard_on(name: &str, grid: bool) -> (Tmux, LoggedSim) {
    let tmux = Tmux::new(name);
    let sim = LoggedSim::start(&tmux);
    let env = "AWS_ACCESS_KEY_ID=AKIDSSTOPTEST AWS_SECRET_ACCESS_KEY=sstop-test-secret AWS_EC2_METADATA_DISABLED=true \
               AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null";
    let operation = if grid {
        format!(" --operation {RUNAWAY_OP}")
    } else {
        String::new()
    };
    foreground(
        &tmux,
        env,
        &format!(
            "--endpoint-url {} --region us-east-1 --stack-set {RUNAWAY_SET}{operation}",
            sim.url
        ),
    );
    if grid {
        tmux.wait_screen("the grid", |s| s.contains("of 1600 results"));
    } else {
        tmux.wait_screen("the operations list", |s| {
            s.contains("e1f2d3c4") && s.contains("RUNNING")
        });
    }
    (tmux, sim)
}

/// A person's pause: longer than the dialog's guard.
fn pause() {
    std::thread::sleep(Duration::from_millis(600));
}

#[test]
fn typed_ahead_s_y_never_stops_but_a_deliberate_y_does() {
    if !have_tmux() {
        return;
    }
    let (tmux, sim) = dashboard_on("typeahead", true);
    // One send-keys: s and y reach the terminal together, as typed ahead or pasted raw.
    tmux.tmux(&["send-keys", "sy"]);
    tmux.wait_screen("the burst refused", |s| s.contains("Not sent"));
    pause();
    assert_eq!(sim.stops(), 0, "a burst sent a stop; screen:\n{}", tmux.screen());
    // The control: the same dialog, a pause, then y: the witness sees exactly one stop.
    tmux.tmux(&["send-keys", "y"]);
    tmux.wait_screen("the stop sent", |s| s.contains("Stop sent"));
    assert_eq!(sim.stops(), 1);
}

#[test]
fn a_filter_typed_on_the_operations_list_is_text_not_keys() {
    if !have_tmux() {
        return;
    }
    let (tmux, sim) = dashboard_on("opsfilter", false);
    tmux.tmux(&["send-keys", "/prod-sys"]);
    pause();
    tmux.tmux(&["send-keys", "y"]);
    pause();
    let screen = tmux.screen();
    assert!(sim.requests() > 0, "the log records nothing: no witness");
    assert_eq!(sim.stops(), 0, "typing a filter stopped the operation:\n{screen}");
    assert!(!screen.contains("Stop operation?"), "{screen}");
    assert!(
        screen.contains("/prod-sysy"),
        "the filter holds what was typed:\n{screen}"
    );
}

#[test]
fn a_paste_into_the_grid_filter_is_text_not_keys() {
    if !have_tmux() {
        return;
    }
    let (tmux, sim) = dashboard_on("paste", true);
    tmux.tmux(&["send-keys", "/"]);
    pause();
    tmux.tmux(&["set-buffer", "302233440001\nsystem"]);
    // -p: bracketed, as a terminal pastes when the program asked for it.
    tmux.tmux(&["paste-buffer", "-p"]);
    pause();
    tmux.tmux(&["send-keys", "y"]);
    pause();
    let screen = tmux.screen();
    assert_eq!(sim.stops(), 0, "a paste stopped the operation:\n{screen}");
    assert!(!screen.contains("Stop operation?"), "{screen}");
}

#[test]
fn keys_do_nothing_while_the_terminal_is_too_small() {
    if !have_tmux() {
        return;
    }
    let (tmux, sim) = dashboard_on("toosmall", true);
    tmux.tmux(&["resize-window", "-x", "40", "-y", "10"]);
    tmux.wait_screen("the notice", |s| s.contains("too small"));
    tmux.tmux(&["send-keys", "s"]);
    pause();
    tmux.tmux(&["send-keys", "y"]);
    pause();
    assert_eq!(sim.stops(), 0, "a stop sent through an unseen dialog");
    tmux.tmux(&["resize-window", "-x", "100", "-y", "30"]);
    let screen = tmux.wait_screen("the grid again", |s| s.contains("of 1600 results"));
    assert!(
        !screen.contains("Stop operation?"),
        "s opened a dialog no one saw:\n{screen}"
    );
}

#[test]
fn a_large_raw_paste_neither_freezes_input_nor_spins() {
    if !have_tmux() {
        return;
    }
    let (tmux, _sim) = dashboard_on("bigpaste", true);
    let pid = tmux.pid();
    tmux.tmux(&["send-keys", "/"]);
    pause();
    // Without -p: raw keystrokes, as from a terminal without bracketed paste. 8 KB.
    let text = "5".repeat(8 * 1024);
    tmux.tmux(&["set-buffer", &text]);
    tmux.tmux(&["paste-buffer"]);
    tmux.wait_screen("the cap notice", |s| s.contains("at most 200 characters"));
    // Let the rest of the 8 KB be read and refused; a spinning reader never settles.
    std::thread::sleep(Duration::from_millis(1500));
    let before = cpu_ticks(pid).expect("sstop's cpu time");
    std::thread::sleep(Duration::from_secs(1));
    let after = cpu_ticks(pid).expect("sstop's cpu time");
    let busy = (after - before) as f64 / ticks_per_second() as f64;
    assert!(
        busy < 0.5,
        "sstop used {busy:.2} s of CPU in 1 s after the paste: spinning"
    );
    tmux.tmux(&["send-keys", "C-c"]);
    assert_eq!(
        tmux.wait_file("status").trim(),
        "0",
        "ctrl-c did not quit after the paste"
    );
}

/// Whether a process is still there (a zombie counts as gone).
fn alive(pid: u32) -> bool {
    !exited(pid)
}

#[test]
fn a_hanging_credential_process_is_named_in_the_dashboard_and_none_is_left_after_q() {
    if !have_tmux() {
        return;
    }
    let tmux = Tmux::new("credhang");
    let sim = LoggedSim::start(&tmux);
    let dir = tmux.dir();
    // The helper writes its pid, then hangs as a broken SSO or vault helper does.
    let helper = tmux.path("helper.sh");
    std::fs::write(
        &helper,
        format!("#!/bin/sh\necho $$ >> {}\nexec sleep 1000\n", q(format!("{dir}/pids"))),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("755")
        .arg(&helper)
        .status()
        .unwrap();
    let aws_config = tmux.path("aws-config");
    std::fs::write(
        &aws_config,
        format!(
            "[profile hangs]\nregion = us-east-1\ncredential_process = {}\n",
            helper.display()
        ),
    )
    .unwrap();
    let config = tmux.path("sstop.toml");
    std::fs::write(&config, "credential_timeout = 2\n").unwrap();
    let env = format!(
        "-u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN AWS_EC2_METADATA_DISABLED=true \
         AWS_CONFIG_FILE={} AWS_SHARED_CREDENTIALS_FILE={}",
        q(aws_config.display().to_string()),
        q(format!("{dir}/no-credentials"))
    );
    foreground(
        &tmux,
        &env,
        &format!(
            "--profile hangs --endpoint-url {} --config {}",
            sim.url,
            q(config.display().to_string())
        ),
    );
    let screen = tmux.wait_screen("the helper named", |s| s.contains("credential_process"));
    assert!(screen.contains("hangs"), "the profile is named:\n{screen}");
    let pids: Vec<u32> = std::fs::read_to_string(tmux.path("pids"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert!(!pids.is_empty(), "the helper never ran");
    let running: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
    assert!(running.len() <= 1, "more than one helper at a time: {running:?}");
    tmux.tmux(&["send-keys", "q"]);
    assert_eq!(tmux.wait_file("status").trim(), "0");
    // The exit kills the helper's process group; give the kernel a moment to reap it.
    let deadline = Instant::now() + START;
    while pids.iter().any(|p| alive(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "helpers left running after q: {left:?}");
}

#[test]
fn esc_and_y_read_together_cancel_rather_than_stop() {
    if !have_tmux() {
        return;
    }
    let (tmux, sim) = dashboard_on("escy", true);
    tmux.tmux(&["send-keys", "s"]);
    tmux.wait_screen("the dialog", |s| s.contains("Stop operation?"));
    pause();
    // One send-keys: the terminal reads ESC and y together, as Alt-y.
    tmux.tmux(&["send-keys", "Escape", "y"]);
    pause();
    assert_eq!(sim.stops(), 0, "esc y sent a stop:\n{}", tmux.screen());
}

#[test]
fn a_resize_right_before_y_makes_the_dialog_be_seen_again() {
    if !have_tmux() {
        return;
    }
    let (tmux, sim) = dashboard_on("resizey", true);
    tmux.tmux(&["send-keys", "s"]);
    tmux.wait_screen("the dialog", |s| s.contains("Stop operation?"));
    pause();
    // Shrunk and restored with no pause, then y at once: the dialog was not on screen whole.
    // One tmux command line, so the three happen back to back inside the server.
    tmux.tmux(&[
        "resize-window",
        "-x",
        "60",
        "-y",
        "15",
        ";",
        "resize-window",
        "-x",
        "100",
        "-y",
        "30",
        ";",
        "send-keys",
        "y",
    ]);
    pause();
    assert_eq!(
        sim.stops(),
        0,
        "a y right after a resize sent a stop:\n{}",
        tmux.screen()
    );
}

/// The dashboard in tmux at `args` against `sim`, with `config` as its config file, the raw
/// bytes it writes to the terminal copied to `raw` in the temp dir (pipe-pane), and tmux taking
/// OSC 52 into its paste buffer (set-clipboard on).
fn dashboard_with(tmux: &Tmux, sim: &LoggedSim, config: &str, args: &str) {
    let config_path = tmux.path("config.toml");
    std::fs::write(&config_path, config).expect("write config");
    let env = "AWS_ACCESS_KEY_ID=AKIDSSTOPTEST AWS_SECRET_ACCESS_KEY=sstop-test-secret AWS_EC2_METADATA_DISABLED=true \
               AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null";
    let d = q(tmux.dir());
    let run = tmux.sstop_script(
        env,
        &format!(
            "--config {} --endpoint-url {} --region us-east-1 {args}",
            q(config_path.display().to_string()),
            sim.url
        ),
    );
    // The shell waits for a go file, so pipe-pane is in place before sstop writes anything.
    tmux.launch(&format!(
        "while [ ! -e {d}/go ]; do sleep 0.05; done\n{run}\necho $? > {d}/status\nsleep 60\n"
    ));
    let raw = tmux.path("raw");
    let out = tmux.tmux(&["set-option", "-s", "set-clipboard", "on"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = tmux.tmux(&["pipe-pane", "-o", &format!("cat >> {}", q(raw.display().to_string()))]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(tmux.path("go"), "").expect("go");
}

/// The raw output so far, once `ok` holds for it (polled, with a deadline).
fn wait_raw(tmux: &Tmux, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let raw = std::fs::read(tmux.path("raw")).unwrap_or_default();
        let raw = String::from_utf8_lossy(&raw).into_owned();
        if ok(&raw) {
            return raw;
        }
        assert!(
            Instant::now() < deadline,
            "waited for {what}; screen:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An RFC 4180 reader for the export: records of fields, quotes undone.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(!quoted && field.is_empty() && record.is_empty(), "a cut record");
    records
}

#[test]
fn y_on_a_cell_puts_its_account_id_in_the_tmux_paste_buffer_and_e_exports_a_csv_that_parses() {
    if !have_tmux() {
        return;
    }
    let tmux = Tmux::new("copy");
    let sim = LoggedSim::start(&tmux);
    let config = format!("export_dir = {:?}\n", tmux.dir());
    dashboard_with(
        &tmux,
        &sim,
        &config,
        &format!("--stack-set {RUNAWAY_SET} --operation {RUNAWAY_OP}"),
    );
    tmux.wait_screen("the grid", |s| s.contains("of 1600 results"));
    tmux.tmux(&["send-keys", "j", "y"]);
    let screen = tmux.wait_screen("the copy said", |s| s.contains("Copied account id"));
    let account: String = screen
        .split("Copied account id ")
        .nth(1)
        .unwrap_or_default()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(account.len(), 12, "{screen}");
    assert!(
        screen.lines().filter(|l| l.contains(&account)).count() >= 2,
        "the account is on a grid row:\n{screen}"
    );
    let raw = wait_raw(&tmux, "the OSC 52", |r| r.contains("\x1b]52;c;"));
    assert!(raw.contains("\x1b]52;c;"));
    let buffer = tmux.tmux(&["show-buffer"]);
    assert_eq!(
        String::from_utf8_lossy(&buffer.stdout),
        account,
        "tmux's paste buffer; stderr: {}",
        String::from_utf8_lossy(&buffer.stderr)
    );

    // e: the grid's results as CSV in export_dir, named in the footer.
    pause();
    tmux.tmux(&["send-keys", "e"]);
    let screen = tmux.wait_screen("the export said", |s| s.contains("Exported"));
    let file = std::fs::read_dir(tmux.dir.path())
        .expect("temp dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .unwrap_or_else(|| panic!("no CSV written:\n{screen}"));
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("sstop-vpc-flow-logs-e1f2d3c4-results-"), "{name}");
    let records = parse_csv(&std::fs::read_to_string(&file).expect("the export"));
    assert_eq!(records[0][0], "Account");
    assert_eq!(records.len(), 1601, "a header and the 1600 results");
    assert!(records.iter().all(|r| r.len() == 7));
    assert!(
        records.iter().any(|r| r[2] == "FAILED" && r[3].contains(',')),
        "reasons with commas survive"
    );
}

/// Two accounts one after the other; the second fails with a reason of its own after ~12 s,
/// and the operation then ends: a new failure and an ending, both while watched.
const LATE_FAILURE: &str = r#"description = "a failure that appears while the dashboard watches"
[timing]
deploy_secs = 6
[organization]
management_account = "111111111111"
regions = ["us-east-1"]
[[organization.ous]]
id = "ou-test-one"
name = "One"
accounts = ["222222222222", "333333333333"]
[[stack_sets]]
name = "late"
[[stack_sets.operations]]
id = "0b0b0b0b-0000-4000-8000-000000000002"
action = "CREATE"
started_mins_ago = 0
accounts = ["222222222222", "333333333333"]
regions = ["us-east-1"]
[stack_sets.operations.preferences]
max_concurrent_count = 1
failure_tolerance_count = 1
[[stack_sets.operations.failures]]
accounts = ["333333333333"]
reason = "Role AWSCloudFormationStackSetExecutionRole is missing in 333333333333"
"#;

#[test]
fn a_new_failure_and_the_end_ring_the_bell_send_osc_9_and_run_the_notify_command() {
    if !have_tmux() {
        return;
    }
    let tmux = Tmux::new("notify");
    let scenario = tmux.path("late.toml");
    std::fs::write(&scenario, LATE_FAILURE).expect("scenario");
    let sim = LoggedSim::start_with(&tmux, &scenario.display().to_string());
    let events = tmux.path("events.jsonl");
    let config = format!(
        "poll_interval = 1\n[notify]\nbell = true\nosc9 = true\ncommand = {:?}\n",
        format!("cat >> {}", q(events.display().to_string()))
    );
    dashboard_with(
        &tmux,
        &sim,
        &config,
        "--stack-set late --operation 0b0b0b0b-0000-4000-8000-000000000002",
    );
    tmux.wait_screen("the grid", |s| s.contains("of 2 results"));
    let raw = wait_raw(&tmux, "OSC 9 for the new failure", |r| {
        r.contains("]9;sstop: new failure in late: Role AWSCloudFormationStackSetExecutionRole is missing")
    });
    assert!(raw.contains('\x07'), "the bell");
    let raw = wait_raw(&tmux, "OSC 9 for the end", |r| r.contains("]9;sstop: late SUCCEEDED"));
    // Inside tmux the OSC 9 is wrapped for passthrough.
    assert!(raw.contains("\x1bPtmux;\x1b\x1b]9;"), "{raw:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let lines = loop {
        let text = std::fs::read_to_string(&events).unwrap_or_default();
        if text.lines().count() >= 2 || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let events: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    // Each event runs a command of its own, concurrently: they may land in either order.
    assert_eq!(events.len(), 2, "{events:?}");
    let of = |kind: &str| events.iter().find(|e| e["event"] == kind).cloned().unwrap_or_default();
    assert_eq!(of("new_failure")["stack_set"], "late", "{events:?}");
    assert!(of("new_failure")["reason"]
        .as_str()
        .unwrap_or("")
        .contains("ExecutionRole is missing"));
    assert_eq!(of("operation_ended")["status"], "SUCCEEDED", "{events:?}");
}

#[test]
fn l_lists_the_calls_the_dashboard_made() {
    if !have_tmux() {
        return;
    }
    let (tmux, sim) = dashboard_on("reqlog", true);
    tmux.tmux(&["send-keys", "L"]);
    let screen = tmux.wait_screen("the request log", |s| {
        s.contains("Requests") && s.contains("ListStackSetOperationResults") && s.contains("DescribeStackSetOperation")
    });
    assert!(screen.contains(RUNAWAY_SET) && screen.contains("SELF"), "{screen}");
    assert!(sim.requests() > 0);
    tmux.tmux(&["send-keys", "Escape"]);
    tmux.wait_screen("the grid again", |s| !s.contains("calls kept"));
}

/// `sstop stop` on a terminal asks y/N; an answer typed before the question was on screen
/// (type-ahead in the tty's buffer) is thrown away, not taken as the answer.
#[test]
fn the_stop_prompt_ignores_an_answer_typed_ahead_of_the_question() {
    if !have_tmux() {
        return;
    }
    let tmux = Tmux::new("stop-typeahead");
    let sim = LoggedSim::start(&tmux);
    let env = "AWS_ACCESS_KEY_ID=AKIDSSTOPTEST AWS_SECRET_ACCESS_KEY=sstop-test-secret AWS_EC2_METADATA_DISABLED=true \
               AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null";
    let d = q(tmux.dir());
    let run = tmux.sstop_script(
        env,
        &format!(
            "--endpoint-url {} --region us-east-1 stop {RUNAWAY_SET} {RUNAWAY_OP}",
            sim.url
        ),
    );
    // The answer is typed while the shell is still sleeping: no question is on screen yet.
    tmux.launch(&format!("sleep 1\n{run}\necho $? > {d}/status\nsleep 60\n"));
    tmux.tmux(&["send-keys", "y", "Enter"]);
    // The question is asked, and still waits for its answer: the y typed ahead was not one.
    tmux.wait_screen("the question", |screen| screen.contains("[y/N]"));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        sim.stops(),
        0,
        "a y typed before the prompt existed sent the stop:\n{}",
        tmux.screen()
    );
    assert!(
        !tmux.path("status").exists(),
        "the prompt took the typed-ahead answer:\n{}",
        tmux.screen()
    );
    tmux.tmux(&["send-keys", "n", "Enter"]);
    assert_eq!(tmux.wait_file("status").trim(), "1");
    assert_eq!(sim.stops(), 0);
}

/// Keys typed while the dashboard is still starting (here: the check that the stack set and
/// operation exist, against an endpoint that never answers) were acted on once it drew: a
/// key must answer what is on screen, so what was typed before there was a screen is dropped.
#[test]
fn keys_typed_before_the_dashboard_draws_are_dropped() {
    if !have_tmux() {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("address").port();
    // Accepts and holds every connection, answering nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let tmux = Tmux::new("typeahead");
    foreground(
        &tmux,
        "AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1",
        &format!("--endpoint-url http://127.0.0.1:{port} --stack-set hung --operation op-1"),
    );
    tmux.pid();
    std::thread::sleep(Duration::from_millis(1500));
    tmux.tmux(&["send-keys", "f"]);
    let screen = tmux.wait_screen("the dashboard", |s| s.contains("sstop") && s.contains("hung"));
    std::thread::sleep(Duration::from_millis(500));
    let screen = format!("{screen}\n{}", tmux.screen());
    assert!(
        !screen.contains("Failures"),
        "an f typed before the first screen opened the failures:\n{screen}"
    );
}
