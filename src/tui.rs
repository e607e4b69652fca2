//! The terminal and the event loop that ties it together: keys and ticks in, `update`, commands
//! out to the poller, and a redraw when something changed. Also the exits: restore the terminal
//! on quit, panic and SIGTERM/SIGINT; on SIGHUP or a vanished tty, leave without touching it.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
    Terminal(Event),
    /// The tty returned EOF or an error: treat as a hang-up.
    Gone,
    Signal(Exit),
}

/// Called after every frame with the state and what was drawn; lets tests watch the screen.
pub type Observer = Box<dyn FnMut(&State, &ratatui::buffer::Buffer) + Send>;

/// Read terminal events on a thread of their own; stop at the first error, or when the loop
/// asks, so a dead terminal can never keep a core busy.
fn spawn_input_reader(tx: mpsc::UnboundedSender<InputEvent>, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match crossterm::event::poll(Duration::from_millis(100)) {
                Ok(false) => {
                    if !std::io::stdin().is_terminal() {
                        let _ = tx.send(InputEvent::Gone);
                        return;
                    }
                }
                Ok(true) => match crossterm::event::read() {
                    Ok(event) => {
                        if tx.send(InputEvent::Terminal(event)).is_err() {
                            return;
                        }
                    }
                    Err(_) => {
                        let _ = tx.send(InputEvent::Gone);
                        return;
                    }
                },
                Err(_) => {
                    let _ = tx.send(InputEvent::Gone);
                    return;
                }
            }
        }
    });
}

/// Initial screens and the first watch for the poller.
pub fn initial_state(settings: Settings, open: Option<(String, Option<String>)>) -> (State, Vec<Command>) {
    let mut state = State::new(settings, OffsetDateTime::now_utc());
    if let Some((stack_set, operation)) = open {
        state.screens.push(Screen::Operations { stack_set: stack_set.clone() });
        state.operations.stack_set = stack_set.clone();
        if let Some(operation_id) = operation {
            state.screens.push(Screen::Operation { stack_set: stack_set.clone(), operation_id });
            state.operation = app::OperationData::new(&stack_set);
        }
    }
    state.generation = 1;
    let scope = state.scope();
    (state, vec![Command::Watch { scope, generation: 1 }])
}

pub async fn run<A: StackSetApi>(api: Arc<A>, options: DashboardOptions) -> anyhow::Result<()> {
    let (input_tx, input_rx) = mpsc::unbounded_channel();
    // Signals are set up before the terminal changes, so a failure here leaves it untouched.
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let signal_tx = input_tx.clone();
    tokio::spawn(async move {
        let exit = tokio::select! {
            _ = hangup.recv() => Exit::TerminalGone,
            _ = terminate.recv() => Exit::Signal("SIGTERM"),
            _ = interrupt.recv() => Exit::Signal("SIGINT"),
        };
        let _ = signal_tx.send(InputEvent::Signal(exit));
    });
    let mut terminal = ratatui::try_init()?;
    let stop_input = Arc::new(AtomicBool::new(false));
    spawn_input_reader(input_tx, Arc::clone(&stop_input));
    let outcome = drive(&mut terminal, api, options, input_rx, None).await;
    stop_input.store(true, Ordering::Relaxed);
    match outcome {
        Ok(Exit::Quit) => {
            ratatui::restore();
            Ok(())
        }
        Ok(Exit::Signal(name)) => {
            ratatui::restore();
            eprintln!("sstop: stopped by {name}");
            std::process::exit(130);
        }
        Ok(Exit::TerminalGone) => {
            // Writing restore sequences to a hung-up tty can block or fail; the terminal is gone anyway.
            std::process::exit(129);
        }
        Err(err) => {
            ratatui::restore();
            Err(err)
        }
    }
}

/// The event loop, on any ratatui backend: the real terminal, or a `TestBackend` in tests.
pub async fn drive<A: StackSetApi, B: ratatui::backend::Backend>(
    terminal: &mut ratatui::Terminal<B>,
    api: Arc<A>,
    options: DashboardOptions,
    mut input_rx: mpsc::UnboundedReceiver<InputEvent>,
    mut observer: Option<Observer>,
) -> anyhow::Result<Exit>
where
    B::Error: Send + Sync + 'static,
{
    let (msg_tx, mut msg_rx) = mpsc::unbounded_channel::<Msg>();
    let (poller, poller_task) = poll::spawn(api, options.poll, options.limiter, msg_tx);
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    let (mut state, commands) = initial_state(options.settings, options.open);
    let size = terminal.size()?;
    state.size = (size.width, size.height);
    for command in commands {
        poller.send(command);
    }

    let exit = loop {
        let frame = terminal.draw(|frame| crate::ui::view(&state, frame))?;
        if let Some(observe) = observer.as_mut() {
            observe(&state, frame.buffer);
        }
        let mut batch = Vec::new();
        tokio::select! {
            input = input_rx.recv() => match input {
                Some(InputEvent::Terminal(event)) => batch.extend(terminal_msg(event)),
                Some(InputEvent::Signal(exit)) => break exit,
                Some(InputEvent::Gone) | None => break Exit::TerminalGone,
            },
            msg = msg_rx.recv() => batch.extend(msg),
            _ = ticks.tick() => batch.push(Msg::Tick(OffsetDateTime::now_utc())),
        }
        // Apply whatever else is already waiting before the next frame; keys first.
        let mut ended = None;
        while batch.len() < MAX_BATCH {
            match input_rx.try_recv() {
                Ok(InputEvent::Terminal(event)) => {
                    batch.extend(terminal_msg(event));
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
        for msg in batch {
            for command in app::update(&mut state, msg) {
                poller.send(command);
            }
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

fn terminal_msg(event: Event) -> Option<Msg> {
    match event {
        Event::Key(key) => Some(Msg::Key(key)),
        Event::Resize(width, height) => Some(Msg::Resize { width, height }),
        _ => None,
    }
}
