//! The terminal and the event loop that ties it together: keys and ticks in, `update`, commands
//! out to the poller, and a redraw when something changed. Also the exits: restore the terminal
//! on quit, panic and SIGTERM/SIGINT; on SIGHUP or a vanished tty, leave without touching it.

use std::io::IsTerminal;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::Event;
use time::OffsetDateTime;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::api::StackSetApi;
use crate::app::{self, Command, Msg, Screen, Settings, State};
use crate::poll::{self, PollConfig, RateLimiter};

/// Most messages applied before a redraw; keeps keys answered while pages pour in.
const MAX_BATCH: usize = 512;

pub struct DashboardOptions {
    pub settings: Settings,
    pub poll: PollConfig,
    pub limiter: Arc<RateLimiter>,
    /// Open straight at a stack set, and optionally one of its operations.
    pub open: Option<(String, Option<String>)>,
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Quit,
    /// SIGTERM or SIGINT: restore the terminal, then exit non-zero.
    Signal(&'static str),
    /// SIGHUP or the tty is gone: nothing may be written to it.
    TerminalGone,
}

/// What reaches the loop from outside the app: terminal events and process signals.
#[derive(Debug, Clone)]
pub enum InputEvent {
    /// A terminal event, stamped with when the reader received it.
    Terminal(Event, Instant),
    /// The tty returned EOF or an error: treat as a hang-up.
    Gone,
    Signal(Exit),
}

/// Called after every frame with the state and what was drawn; lets tests watch the screen.
pub type Observer = Box<dyn FnMut(&State, &ratatui::buffer::Buffer) + Send>;

/// Where escape sequences that are not drawing go (OSC 52, the bell, OSC 9/777): the terminal's
/// stdout in `run`, a capture in tests.
pub type EscapeSink = Box<dyn FnMut(&str) + Send>;

/// Writes to the terminal between frames; a failure is only logged (the next draw will meet it).
fn stdout_sink() -> EscapeSink {
    Box::new(|bytes: &str| {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        if let Err(err) = out.write_all(bytes.as_bytes()).and_then(|()| out.flush()) {
            tracing::warn!(%err, "could not write an escape sequence to the terminal");
        }
    })
}

/// Carries out what `update` queued for the loop: terminal escapes at once (a few bytes), the
/// notify command and export files on tasks of their own, so nothing here waits.
fn run_effects(state: &mut State, sink: &mut Option<EscapeSink>, msg_tx: &mpsc::UnboundedSender<Msg>, in_tmux: bool) {
    for effect in std::mem::take(&mut state.effects) {
        match effect {
            app::Effect::Copy { text } => {
                if let Some(sink) = sink.as_mut() {
                    sink(&crate::notify::osc52(&text));
                }
            }
            app::Effect::Notify(event) => {
                tracing::info!(
                    event = event.event,
                    stack_set = event.stack_set,
                    operation = event.operation_id,
                    body = event.body,
                    "notify"
                );
                let bytes = crate::notify::escapes(&state.settings.notify, &event, in_tmux);
                if let Some(sink) = sink.as_mut().filter(|_| !bytes.is_empty()) {
                    sink(&bytes);
                }
                crate::notify::spawn_command(&state.settings.notify, &event);
            }
            app::Effect::Export(job) => {
                let tx = msg_tx.clone();
                tokio::task::spawn_blocking(move || {
                    let msg = match crate::export::write_job(&job) {
                        Ok((path, rows)) => Msg::Exported { path, result: Ok(rows) },
                        Err(why) => {
                            tracing::warn!(path = %job.path.display(), why, "export failed");
                            Msg::Exported {
                                path: job.path.clone(),
                                result: Err(why),
                            }
                        }
                    };
                    let _ = tx.send(msg);
                });
            }
        }
    }
}

/// The tty that crossterm reads keys from: stdin when it is a terminal, else `/dev/tty` (as
/// crossterm itself does). We poll it ourselves because crossterm cannot tell a hung-up tty
/// from one with input: its reader loops on the endless EOF at 100% CPU and never returns
/// (crossterm-rs/crossterm#793).
struct Tty {
    fd: RawFd,
    /// Keeps `/dev/tty` open when we opened it.
    _owned: Option<std::fs::File>,
}

impl Tty {
    fn open() -> std::io::Result<Tty> {
        if std::io::stdin().is_terminal() {
            return Ok(Tty {
                fd: libc::STDIN_FILENO,
                _owned: None,
            });
        }
        let file = std::fs::OpenOptions::new().read(true).open("/dev/tty")?;
        Ok(Tty {
            fd: file.as_raw_fd(),
            _owned: Some(file),
        })
    }

    /// Throws away input typed before the first screen: a key answers what is on screen, and
    /// there was none (a slow start, such as the check that `--operation` exists, took it).
    fn discard_typed_ahead(&self) {
        // SAFETY: tcflush on a descriptor this value keeps open has no memory effects; an
        // error leaves nothing to discard.
        unsafe {
            libc::tcflush(self.fd, libc::TCIFLUSH);
        }
    }

    /// Wait up to `timeout` (None: for ever) for input or a hang-up. `events` is POLLIN, or 0 to
    /// wake only on hang-up or error, which poll(2) reports whatever was asked for.
    #[cfg(not(target_os = "macos"))]
    fn wait(&self, events: libc::c_short, timeout: Option<Duration>) -> TtyState {
        let mut pfd = libc::pollfd {
            fd: self.fd,
            events,
            revents: 0,
        };
        let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as libc::c_int);
        // SAFETY: one valid pollfd, and the fd stays open for as long as `self` lives.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            return if err.kind() == std::io::ErrorKind::Interrupted {
                TtyState::Idle
            } else {
                TtyState::Gone
            };
        }
        if pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
            TtyState::Gone
        } else if pfd.revents & libc::POLLIN != 0 {
            TtyState::Readable
        } else {
            TtyState::Idle
        }
    }

    /// macOS: poll(2) does not support devices (a tty answers POLLNVAL), so select(2) waits for
    /// input and tcgetattr, which fails once the tty is revoked, tells whether it is still there.
    /// The hang-up watch then wakes every quarter second instead of sleeping until the hang-up.
    #[cfg(target_os = "macos")]
    fn wait(&self, events: libc::c_short, timeout: Option<Duration>) -> TtyState {
        let step = timeout.unwrap_or(Duration::from_millis(250));
        let mut readable = false;
        if events == 0 {
            std::thread::sleep(step);
        } else {
            let mut tv = libc::timeval {
                tv_sec: step.as_secs() as libc::time_t,
                tv_usec: step.subsec_micros() as libc::suseconds_t,
            };
            // SAFETY: a zeroed fd_set is valid; fd is open and below FD_SETSIZE (it is 0 or a
            // file opened at start-up).
            unsafe {
                let mut set: libc::fd_set = std::mem::zeroed();
                libc::FD_ZERO(&mut set);
                libc::FD_SET(self.fd, &mut set);
                let n = libc::select(
                    self.fd + 1,
                    &mut set,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    &mut tv,
                );
                readable = n > 0 && libc::FD_ISSET(self.fd, &set);
            }
        }
        // SAFETY: tcgetattr only writes into the termios we own.
        let alive = unsafe {
            let mut termios: libc::termios = std::mem::zeroed();
            libc::tcgetattr(self.fd, &mut termios) == 0
        };
        match (alive, readable) {
            (false, _) => TtyState::Gone,
            (true, true) => TtyState::Readable,
            (true, false) => TtyState::Idle,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TtyState {
    Idle,
    Readable,
    Gone,
}

/// How often the reader looks at crossterm when no key arrives: resizes reach crossterm as
/// SIGWINCH on a pipe of its own, so they wait at most this long.
const READ_TICK: Duration = Duration::from_millis(50);

/// How long crossterm may wait for the rest of what poll(2) said is there. Its reader
/// (`use-dev-tty`, level-triggered) answers a zero timeout with "nothing" without looking.
const DRAIN_WAIT: Duration = Duration::from_millis(1);

/// Read terminal events on a thread of their own. crossterm is only asked, and only briefly
/// made to wait, once poll(2) says the tty is alive, so a dead terminal cannot keep a core busy;
/// it is asked until it has nothing left, so a large input is read whole at once.
fn spawn_input_reader(tty: Arc<Tty>, tx: mpsc::UnboundedSender<InputEvent>, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if tty.wait(libc::POLLIN, Some(READ_TICK)) == TtyState::Gone {
                let _ = tx.send(InputEvent::Gone);
                return;
            }
            let mut read = Vec::new();
            let gone = loop {
                match crossterm::event::poll(DRAIN_WAIT) {
                    Ok(false) => break false,
                    Ok(true) => match crossterm::event::read() {
                        Ok(event) => read.push(InputEvent::Terminal(event, Instant::now())),
                        Err(_) => break true,
                    },
                    Err(_) => break true,
                }
            };
            // crossterm hands out the tty's bytes before a pending SIGWINCH, so a key typed
            // after a resize can come out first. Resizes read together with keys go first: a
            // resize makes the stop dialog be seen again, and erring that way only refuses.
            let (resizes, others): (Vec<_>, Vec<_>) = read
                .into_iter()
                .partition(|e| matches!(e, InputEvent::Terminal(Event::Resize(..), _)));
            for event in resizes.into_iter().chain(others) {
                if tx.send(event).is_err() {
                    return;
                }
            }
            if gone {
                let _ = tx.send(InputEvent::Gone);
                return;
            }
        }
    });
}

/// Sleeps in poll(2) until the tty hangs up: a second line of defence that notices a closed
/// terminal at once even if the reader were stuck inside crossterm, and costs no CPU.
fn spawn_hangup_watch(tty: Arc<Tty>, tx: mpsc::UnboundedSender<InputEvent>) {
    std::thread::spawn(move || loop {
        if tty.wait(0, None) == TtyState::Gone {
            let _ = tx.send(InputEvent::Gone);
            return;
        }
    });
}

/// Whether SIGHUP was ignored when sstop started (`nohup`, `trap '' HUP`). Then we leave it
/// ignored, as asked; the tty watch still ends sstop when its terminal goes away.
fn hangup_ignored() -> bool {
    // SAFETY: with a null new action, sigaction only reads the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGHUP, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}

/// TEST HOOK, for tests/terminal.rs only: `SSTOP_TEST_PANIC_AFTER_MS=N` makes the event loop
/// panic N ms after it starts, to prove the terminal is restored and the message shown.
const TEST_PANIC_ENV: &str = "SSTOP_TEST_PANIC_AFTER_MS";

fn test_panic_deadline() -> Option<tokio::time::Instant> {
    let ms: u64 = std::env::var(TEST_PANIC_ENV).ok()?.trim().parse().ok()?;
    Some(tokio::time::Instant::now() + Duration::from_millis(ms))
}

/// Initial screens and the first watch for the poller.
pub fn initial_state(settings: Settings, open: Option<(String, Option<String>)>) -> (State, Vec<Command>) {
    // `--stack-set` names a stack set of the home Region (the first watched).
    let region = settings.target.region.clone().unwrap_or_default();
    let mut state = State::new(settings, OffsetDateTime::now_utc());
    if let Some((stack_set, operation)) = open {
        // One saved filter for each screen under the current one.
        state.saved_filters.push(Default::default());
        state.screens.push(Screen::Operations {
            region: region.clone(),
            stack_set: stack_set.clone(),
        });
        state.operations.region = region.clone();
        state.operations.stack_set = stack_set.clone();
        if let Some(operation_id) = operation {
            state.saved_filters.push(Default::default());
            state.screens.push(Screen::Operation {
                region: region.clone(),
                stack_set: stack_set.clone(),
                operation_id,
            });
            state.operation = app::OperationData::new(&region, &stack_set);
        }
    }
    state.generation = 1;
    // Whichever screen opens first waits from now.
    let now = state.now;
    state.operations.freshness.waiting_since = Some(now);
    state.operation.freshness.waiting_since = Some(now);
    let scope = state.scope();
    (state, vec![Command::Watch { scope, generation: 1 }])
}

pub async fn run<A: StackSetApi>(api: impl Into<poll::RegionApis<A>>, options: DashboardOptions) -> anyhow::Result<()> {
    let (input_tx, input_rx) = mpsc::unbounded_channel();
    // Signals and the tty are set up before the terminal changes, so a failure here leaves it untouched.
    let mut hangup = if hangup_ignored() {
        None
    } else {
        Some(signal(SignalKind::hangup())?)
    };
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let tty = Arc::new(Tty::open().map_err(|err| anyhow::anyhow!("no terminal to draw on: {err}"))?);
    let signal_tx = input_tx.clone();
    tokio::spawn(async move {
        let hangup = async {
            match hangup.as_mut() {
                Some(hangup) => hangup.recv().await,
                None => std::future::pending().await,
            }
        };
        let exit = tokio::select! {
            _ = hangup => Exit::TerminalGone,
            _ = terminate.recv() => Exit::Signal("SIGTERM"),
            _ = interrupt.recv() => Exit::Signal("SIGINT"),
        };
        let _ = signal_tx.send(InputEvent::Signal(exit));
    });
    let mut terminal = ratatui::try_init()?;
    tty.discard_typed_ahead();
    // Pastes arrive as one event, so pasted text is only ever text, never keys.
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableBracketedPaste);
    // try_init's hook restores the terminal, then prints the message. A panic on another thread
    // (the poller) would leave the loop drawing on a restored, cooked terminal: end it all instead.
    let restore_and_report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableBracketedPaste);
        restore_and_report(info);
        std::process::exit(101);
    }));
    let stop_input = Arc::new(AtomicBool::new(false));
    spawn_input_reader(Arc::clone(&tty), input_tx.clone(), Arc::clone(&stop_input));
    spawn_hangup_watch(Arc::clone(&tty), input_tx);
    let outcome = drive_with(&mut terminal, api, options, input_rx, None, Some(stdout_sink())).await;
    stop_input.store(true, Ordering::Relaxed);
    // A draw that failed because the tty went away is a hang-up too, not an error to print.
    let outcome = match outcome {
        Err(_) if tty.wait(0, Some(Duration::ZERO)) == TtyState::Gone => Ok(Exit::TerminalGone),
        other => other,
    };
    match outcome {
        Ok(Exit::Quit) => {
            restore();
            Ok(())
        }
        Ok(Exit::Signal(name)) => {
            restore();
            eprintln!("sstop: stopped by {name}");
            tracing::info!(signal = name, "stopped by a signal");
            std::process::exit(if name == "SIGINT" { 130 } else { 143 });
        }
        Ok(Exit::TerminalGone) => {
            // Nothing is written to a hung-up tty: it would fail or block, and no one can see it.
            tracing::info!("terminal gone: exiting without restoring it");
            std::process::exit(129);
        }
        Err(err) => {
            restore();
            Err(err)
        }
    }
}

/// Hands the terminal back as it was: bracketed paste off, then ratatui's restore.
fn restore() {
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableBracketedPaste);
    ratatui::restore();
}

/// The event loop, on any ratatui backend: the real terminal, or a `TestBackend` in tests.
/// Escape sequences that are not drawing (copy, bell) go nowhere: see `drive_with`.
pub async fn drive<A: StackSetApi, B: ratatui::backend::Backend>(
    terminal: &mut ratatui::Terminal<B>,
    api: impl Into<poll::RegionApis<A>>,
    options: DashboardOptions,
    input_rx: mpsc::UnboundedReceiver<InputEvent>,
    observer: Option<Observer>,
) -> anyhow::Result<Exit>
where
    B::Error: Send + Sync + 'static,
{
    drive_with(terminal, api, options, input_rx, observer, None).await
}

/// `drive`, with the escape sequences of copies and notifications written to `sink`.
pub async fn drive_with<A: StackSetApi, B: ratatui::backend::Backend>(
    terminal: &mut ratatui::Terminal<B>,
    api: impl Into<poll::RegionApis<A>>,
    options: DashboardOptions,
    mut input_rx: mpsc::UnboundedReceiver<InputEvent>,
    mut observer: Option<Observer>,
    mut sink: Option<EscapeSink>,
) -> anyhow::Result<Exit>
where
    B::Error: Send + Sync + 'static,
{
    let (msg_tx, mut msg_rx) = mpsc::unbounded_channel::<Msg>();
    let effects_tx = msg_tx.clone();
    let in_tmux = std::env::var_os("TMUX").is_some_and(|v| !v.is_empty());
    let (poller, poller_task) = poll::spawn(api, options.poll, options.limiter, msg_tx);
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    let panic_at = test_panic_deadline();
    let (mut state, commands) = initial_state(options.settings, options.open);
    let size = terminal.size()?;
    state.size = (size.width, size.height);
    for command in commands {
        poller.send(command);
    }

    let exit = loop {
        // The request log view shows the calls as they are now.
        if state.overlay == Some(app::Overlay::RequestLog) {
            app::update(&mut state, Msg::Requests(crate::api::reqlog::snapshot()));
        }
        let mut drawn = crate::ui::Drawn::default();
        let frame = terminal.draw(|frame| drawn = crate::ui::view(&state, frame))?;
        if let Some(observe) = observer.as_mut() {
            observe(&state, frame.buffer);
        }
        // What the person can now see: the stop dialog's guard starts from here.
        app::update(
            &mut state,
            Msg::Drawn(app::FrameReport {
                at: Instant::now(),
                dialog_shown: drawn.dialog_shown,
                page_rows: drawn.page_rows,
            }),
        );
        let mut batch = Vec::new();
        tokio::select! {
            input = input_rx.recv() => match input {
                Some(InputEvent::Terminal(event, at)) => batch.extend(terminal_msg(event, at)),
                Some(InputEvent::Signal(exit)) => break exit,
                Some(InputEvent::Gone) | None => break Exit::TerminalGone,
            },
            msg = msg_rx.recv() => batch.extend(msg),
            _ = ticks.tick() => batch.push(Msg::Tick(OffsetDateTime::now_utc())),
            _ = async { tokio::time::sleep_until(panic_at.expect("guarded")).await }, if panic_at.is_some() => {
                panic!("{TEST_PANIC_ENV} test hook: deliberate panic in the event loop");
            }
        }
        // Apply whatever else is already waiting before the next frame; keys first.
        let mut ended = None;
        while batch.len() < MAX_BATCH {
            match input_rx.try_recv() {
                Ok(InputEvent::Terminal(event, at)) => {
                    batch.extend(terminal_msg(event, at));
                    continue;
                }
                Ok(InputEvent::Signal(exit)) => ended = Some(exit),
                Ok(InputEvent::Gone) => ended = Some(Exit::TerminalGone),
                Err(_) => {}
            }
            if ended.is_some() {
                break;
            }
            match msg_rx.try_recv() {
                Ok(msg) => batch.push(msg),
                Err(_) => break,
            }
        }
        // A resize whose signal has not reached us yet must still count before a key decides
        // anything: compare with the terminal's real size whenever keys are about to act.
        if batch.iter().any(|m| matches!(m, Msg::Key(..))) {
            if let Ok(size) = terminal.size() {
                if (size.width, size.height) != state.size {
                    batch.insert(
                        0,
                        Msg::Resize {
                            width: size.width,
                            height: size.height,
                        },
                    );
                }
            }
        }
        for msg in batch {
            for command in app::update(&mut state, msg) {
                poller.send(command);
            }
            run_effects(&mut state, &mut sink, &effects_tx, in_tmux);
        }
        if let Some(exit) = ended {
            break exit;
        }
        if state.quit {
            break Exit::Quit;
        }
    };
    poller.send(Command::Quit);
    poller_task.abort();
    Ok(exit)
}

fn terminal_msg(event: Event, at: Instant) -> Option<Msg> {
    match event {
        Event::Key(key) => Some(Msg::Key(key, at)),
        Event::Paste(text) => Some(Msg::Paste(text, at)),
        Event::Resize(width, height) => Some(Msg::Resize { width, height }),
        _ => None,
    }
}
