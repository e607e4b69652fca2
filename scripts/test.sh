#!/usr/bin/env bash
# Every test sstop has, on a fresh machine: installs what the tests need (tmux, a Python venv
# with boto3 and pytest), then runs the Rust tests and the boto3 tests against `sstop sim`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v tmux >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq tmux >/dev/null
  else
    echo "tmux is needed for the terminal tests: install it (e.g. sudo apt-get install tmux)" >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/pytest ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r tests/boto3/requirements.txt
fi

# One build: `cargo test` also builds the sstop binary (the integration tests run it). A separate
# `cargo build` first would compile tokio and everything above it twice, since the tests enable
# dev-dependency features (tokio's test-util) that a plain build does not.
mkdir -p target
cargo test --quiet --all-targets 2>&1 | tee target/cargo-test.log
SSTOP_BIN="$PWD/target/debug/sstop" .venv/bin/pytest -q tests/boto3
