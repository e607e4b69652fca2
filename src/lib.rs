//! sstop: a terminal dashboard for AWS CloudFormation StackSet operations.
//! The library holds every part so that `tests/` and `benches/` can reach them; `main.rs` only dispatches.

pub mod model;
pub mod sim;
pub mod api;
pub mod app;
pub mod poll;
pub mod ui;
pub mod cli;
pub mod config;
pub mod tui;
