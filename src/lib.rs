//! sstop: a terminal dashboard for AWS CloudFormation StackSet operations.
//! The library holds every part so that `tests/` and `benches/` can reach them; `main.rs` only dispatches.

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod console;
pub mod export;
pub mod insight;
pub mod messages;
pub mod model;
pub mod notify;
pub mod poll;
pub mod settings;
pub mod sim;
pub mod tui;
pub mod ui;
pub mod wait;
