//! Peak resident memory of `sstop results` on the emulator's `large` scenario (42,500 results),
//! for each output format, printed as figures (`cargo bench --bench results_memory`).
//! `SSTOP_BASELINE_BIN=/path/to/older/sstop` runs that binary the same way in the same run, side
//! by side (e.g. one built from the commit before streaming, which held every result in memory).
//! Under `cargo test` it runs the same, once, against the test profile's binary.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const SET: &str = "org-config-rules";
const OP: &str = "5c0f7a2e-4d1b-4e8a-9a42-000000042500";
const SMALL_SET: &str = "vpc-flow-logs";
const SMALL_OP: &str = "e1f2d3c4-b5a6-4978-8d6e-5f4a3b2c1d0e";

/// Runs `bin results ... --output format`, stdout thrown away; its peak RSS (kB), lines written
/// and whether it succeeded. The peak comes from wait4(2)'s rusage of that child alone.
// wait4 reaps the child, which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn peak_rss(bin: &str, endpoint: &str, set: &str, op: &str, format: &str) -> (i64, usize, bool) {
    let mut child = Command::new(bin)
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("XDG_STATE_HOME", std::env::temp_dir().join("sstop-bench-state"))
        .args(["--endpoint-url", endpoint, "results", set, op, "--output", format])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sstop starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let counter = std::thread::spawn(move || {
        use std::io::Read;
        let (mut lines, mut buf) = (0usize, vec![0u8; 1 << 16]);
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            lines += buf[..n].iter().filter(|b| **b == b'\n').count();
        }
        lines
    });
    let mut status = 0;
    // SAFETY: rusage is plain data, filled in by wait4 for the child we spawned.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    let lines = counter.join().expect("reader");
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (usage.ru_maxrss, lines, ok)
}

/// `sstop sim --scenario NAME` in its own process, so this process stays small: a child's peak
/// RSS as wait4(2) reports it starts from its parent's RSS at the fork.
struct Emulator {
    child: Child,
    url: String,
}

impl Emulator {
    fn start(bin: &str, scenario: &str) -> Emulator {
        let mut child = Command::new(bin)
            .args([
                "sim",
                "--listen",
                "127.0.0.1:0",
                "--speed",
                "0.001",
                "--scenario",
                scenario,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sstop sim starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("sstop sim says where it listens");
        let url = line.trim().rsplit(' ').next().expect("a URL").to_string();
        Emulator { child, url }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn main() {
    let now = env!("CARGO_BIN_EXE_sstop");
    let large = Emulator::start(now, "large");
    let small = Emulator::start(now, "runaway");
    let baseline = std::env::var("SSTOP_BASELINE_BIN").ok();
    let (floor, _, ok) = peak_rss(now, &small.url, SMALL_SET, SMALL_OP, "json");
    assert!(ok, "sstop results on the runaway scenario failed");
    println!("peak RSS of `sstop results` on the large scenario (42,500 results), kB");
    println!("(the same binary on the runaway scenario's 1,600-result operation: {floor} kB)");
    println!(
        "{:<10} {:>12} {:>10}   {}",
        "output",
        "this build",
        "lines",
        if baseline.is_some() {
            "baseline (SSTOP_BASELINE_BIN)"
        } else {
            ""
        }
    );
    for format in ["table", "json", "csv", "markdown"] {
        let (rss, lines, ok) = peak_rss(now, &large.url, SET, OP, format);
        assert!(ok, "sstop results --output {format} failed");
        assert_eq!(
            lines,
            42_500
                + [("table", 1), ("csv", 1), ("markdown", 2)]
                    .iter()
                    .find(|f| f.0 == format)
                    .map_or(0, |f| f.1)
        );
        let before = match &baseline {
            Some(bin) => match peak_rss(bin, &large.url, SET, OP, format) {
                (rss, lines, true) => format!("{rss:>12} ({lines} lines)"),
                _ => "(this output is not supported there)".to_string(),
            },
            None => String::new(),
        };
        println!("{format:<10} {rss:>12} {lines:>10}   {before}");
        // Streaming: 170 times the results may cost at most a few MB more than the small read
        // (holding them all cost 65 MB more in JSON, 20 MB in the table, in a debug build).
        assert!(
            rss < floor + 8 * 1024,
            "--output {format}: {rss} kB for 42,500 results against {floor} kB for a small operation: memory grows with the operation"
        );
    }
}
