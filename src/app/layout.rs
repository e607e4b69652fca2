//! Layout facts that both `update` and the views obey, kept here so they cannot drift: the
//! smallest usable terminal, the fixed chrome around every screen, and the stop dialog's guard.
//! Sizes that depend on what is drawn (rows per page) are reported back by each frame instead
//! (`Msg::Drawn`).

use std::time::Duration;

/// Below this the screens cannot be laid out: a notice is drawn, and only quit and resize act.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

/// Lines the header takes at the top of every screen.
pub const HEADER_HEIGHT: u16 = 2;
/// Lines the footer takes at the bottom of every screen.
pub const FOOTER_HEIGHT: u16 = 1;

/// The stop dialog takes a decision (y, enter on Stop, the typed name) only once it has been
/// on screen this long, and only from a key that follows this long a quiet spell after the
/// key before it. Typed-ahead keys, pastes and key repeat come faster than this; a person who
/// reads the dialog and then decides does not.
pub const CONFIRM_GUARD: Duration = Duration::from_millis(300);

/// Longest filter, in characters; a longer paste is cut with a notice.
pub const MAX_FILTER_CHARS: usize = 200;
/// Longest name typed in the stop dialog (stack set names are at most 128 characters).
pub const MAX_TYPED_NAME_CHARS: usize = 256;

/// Whether a terminal of this size can show the screens.
pub fn fits(width: u16, height: u16) -> bool {
    width >= MIN_WIDTH && height >= MIN_HEIGHT
}
