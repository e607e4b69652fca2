//! User-facing error wording in one place: what went wrong and what to do about it, for the
//! command line's one-line errors, the dashboard's header and the stop dialog.

use std::path::PathBuf;

/// Where read-only was set, for a message that says how to unset it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOnlySource {
    Flag,
    /// `read_only = true` in this config file (None: a config without a known file).
    Config(Option<PathBuf>),
}

/// `sstop stop` under read-only: why nothing was sent, and how to send it.
pub fn stop_refused_read_only(source: &ReadOnlySource) -> String {
    match source {
        ReadOnlySource::Flag => "refusing to stop: read-only is set by --read-only: remove it to stop".to_string(),
        ReadOnlySource::Config(path) => {
            let file = path
                .as_ref()
                .map_or_else(|| "the config".to_string(), |p| format!("config file {}", p.display()));
            format!(
                "refusing to stop: read-only is set by read_only in {file}: remove it (or set read_only = false) to stop"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_refusals_name_their_source_and_the_fix() {
        let flag = stop_refused_read_only(&ReadOnlySource::Flag);
        assert!(flag.contains("--read-only") && flag.contains("remove it"), "{flag}");
        let file = stop_refused_read_only(&ReadOnlySource::Config(Some(PathBuf::from("/etc/sstop.toml"))));
        assert!(file.contains("read_only in config file /etc/sstop.toml"), "{file}");
    }
}
