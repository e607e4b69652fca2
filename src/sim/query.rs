//! Reading awsQuery requests: the form body, flattened lists (`X.member.N`), typed parameters,
//! and the opaque NextToken. Every failure is a `SimError`, never a panic.

use std::collections::HashMap;

use base64::Engine as _;

use super::engine::fnv64;
use super::error::SimError;

/// Bodies above this size are refused (AWS's own limit is of this order).
pub const MAX_BODY: usize = 1024 * 1024;

/// The parameters of one request.
#[derive(Debug, Clone, Default)]
pub struct Params {
    map: HashMap<String, String>,
}

impl Params {
    /// Parses a form-encoded body. Invalid UTF-8 is replaced, which then fails validation.
    pub fn parse(body: &[u8]) -> Params {
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(body) {
            // The first occurrence wins, so a repeated key cannot override a checked one.
            map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
        Params { map }
    }

    /// A parameter, treating an empty value as absent (the SDK sends `X=` for empty lists).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// Whether the request mentions `prefix` at all, as `prefix=` (an empty list, which the
    /// SDKs send to clear it) or `prefix.…`.
    pub fn map_has_prefix(&self, prefix: &str) -> bool {
        self.map
            .keys()
            .any(|k| k == prefix || k.strip_prefix(prefix).is_some_and(|r| r.starts_with('.')))
    }

    /// Whether any parameter lies under `prefix.` (a structure was given).
    pub fn has_under(&self, prefix: &str) -> bool {
        self.map
            .keys()
            .any(|k| k.strip_prefix(prefix).is_some_and(|r| r.starts_with('.')))
    }

    /// Indices N of non-empty scalar list items `prefix.member.N`, sorted.
    pub fn member_positions(&self, prefix: &str) -> Result<Vec<u32>, SimError> {
        let head = format!("{prefix}.member.");
        let mut out = Vec::new();
        for (k, v) in &self.map {
            if let Some(rest) = k.strip_prefix(&head) {
                if rest.contains('.') || v.is_empty() {
                    continue;
                }
                let n: u32 = rest
                    .parse()
                    .map_err(|_| SimError::validation(format!("Invalid list index in parameter {k}")))?;
                out.push(n);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    pub fn required(&self, key: &str) -> Result<&str, SimError> {
        self.get(key).ok_or_else(|| SimError::missing(key))
    }

    /// `prefix.member.1`, `prefix.member.2`, … in index order.
    pub fn members(&self, prefix: &str) -> Result<Vec<String>, SimError> {
        let head = format!("{prefix}.member.");
        let mut items: Vec<(u32, &String)> = Vec::new();
        for (k, v) in &self.map {
            if let Some(rest) = k.strip_prefix(&head) {
                if rest.contains('.') {
                    continue; // a structure member (handled by `member_structs`)
                }
                let n: u32 = rest
                    .parse()
                    .map_err(|_| SimError::validation(format!("Invalid list index in parameter {k}")))?;
                if n == 0 {
                    return Err(SimError::validation(format!(
                        "Invalid list index in parameter {k}: lists start at 1"
                    )));
                }
                items.push((n, v));
            }
        }
        items.sort_by_key(|(n, _)| *n);
        Ok(items
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect())
    }

    /// Indices N of `prefix.member.N.<field>` entries, sorted.
    pub fn member_indices(&self, prefix: &str) -> Result<Vec<u32>, SimError> {
        let head = format!("{prefix}.member.");
        let mut out = Vec::new();
        for k in self.map.keys() {
            if let Some(rest) = k.strip_prefix(&head) {
                let Some((n, _field)) = rest.split_once('.') else {
                    continue;
                };
                let n: u32 = n
                    .parse()
                    .map_err(|_| SimError::validation(format!("Invalid list index in parameter {k}")))?;
                if n == 0 {
                    return Err(SimError::validation(format!(
                        "Invalid list index in parameter {k}: lists start at 1"
                    )));
                }
                out.push(n);
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    pub fn u32(&self, key: &str) -> Result<Option<u32>, SimError> {
        self.get(key)
            .map(|v| {
                v.parse::<u32>().map_err(|_| {
                    SimError::validation(format!(
                        "1 validation error detected: Value '{v}' at '{key}' failed to satisfy constraint: Member must be a non-negative integer"
                    ))
                })
            })
            .transpose()
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, SimError> {
        match self.get(key) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(SimError::validation(format!(
                "Value '{v}' at '{key}' is not a boolean (true or false)"
            ))),
        }
    }

    /// Parses a wire enum parameter, naming the parameter on failure.
    pub fn parse_enum<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, SimError> {
        self.get(key)
            .map(|v| {
                v.parse::<T>().map_err(|_| {
                    SimError::validation(format!(
                        "1 validation error detected: Value '{v}' at '{key}' failed to satisfy constraint: Member must satisfy enum value set"
                    ))
                })
            })
            .transpose()
    }

    /// MaxResults: 1..=100, default 100.
    pub fn max_results(&self) -> Result<usize, SimError> {
        match self.get("MaxResults") {
            None => Ok(100),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=100).contains(&n) => Ok(n as usize),
                _ => Err(SimError::validation(format!(
                    "1 validation error detected: Value '{v}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100"
                ))),
            },
        }
    }
}

/// Opaque NextTokens: an offset plus a check binding it to one list, so a forged, stale or
/// foreign token is refused instead of silently returning the wrong page.
#[derive(Debug, Clone, Copy)]
pub struct Tokens {
    secret: u64,
}

impl Tokens {
    pub fn new(secret: u64) -> Self {
        Tokens { secret }
    }

    /// Tokens that only this scope (a Region) accepts.
    pub fn scoped(&self, scope: &str) -> Tokens {
        Tokens {
            secret: self.secret ^ fnv64(scope.as_bytes()).rotate_left(17),
        }
    }

    fn check(&self, list: &str, offset: usize) -> u64 {
        fnv64(format!("{}|{list}|{offset}", self.secret).as_bytes())
    }

    /// `list` names the exact list (action, stack set, operation, filter).
    pub fn encode(&self, list: &str, offset: usize) -> String {
        let raw = format!("{offset}.{:016x}", self.check(list, offset));
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(&self, list: &str, token: &str) -> Result<usize, SimError> {
        let bad = || SimError::validation("Invalid NextToken: it is malformed, expired, or from another request");
        if token.len() > 256 {
            return Err(bad());
        }
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (offset, check) = raw.split_once('.').ok_or_else(bad)?;
        let offset: usize = offset.parse().map_err(|_| bad())?;
        let check = u64::from_str_radix(check, 16).map_err(|_| bad())?;
        if check != self.check(list, offset) {
            return Err(bad());
        }
        Ok(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_come_in_index_order() {
        let p = Params::parse(b"Regions.member.2=b&Regions.member.1=a&Regions.member.10=c");
        assert_eq!(p.members("Regions").unwrap(), vec!["a", "b", "c"]);
        let bad = Params::parse(b"Regions.member.x=a");
        assert!(bad.members("Regions").is_err());
    }

    #[test]
    fn tokens_round_trip_and_refuse_forgeries() {
        let t = Tokens::new(7);
        let tok = t.encode("results|a|b", 300);
        assert_eq!(t.decode("results|a|b", &tok).unwrap(), 300);
        assert!(t.decode("results|a|c", &tok).is_err());
        assert!(Tokens::new(8).decode("results|a|b", &tok).is_err());
        assert!(t.decode("results|a|b", "AAAA").is_err());
        assert!(t.decode("results|a|b", "not base64!!").is_err());
    }

    #[test]
    fn max_results_bounds() {
        assert_eq!(Params::parse(b"").max_results().unwrap(), 100);
        assert_eq!(Params::parse(b"MaxResults=1").max_results().unwrap(), 1);
        assert!(Params::parse(b"MaxResults=0").max_results().is_err());
        assert!(Params::parse(b"MaxResults=101").max_results().is_err());
        assert!(Params::parse(b"MaxResults=abc").max_results().is_err());
    }
}
