//! Regions: which one a request is for (the Region in its SigV4 credential scope, as AWS routes
//! by endpoint and the emulator has only one), and each Region's own engine.

use std::collections::BTreeMap;

use super::engine::{fnv64, Engine, Millis};
use super::error::SimError;

/// The Region of `Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`,
/// or `None` when the header is absent, not SigV4, or names no well-formed Region (the caller
/// then serves the home Region).
pub fn from_authorization(header: Option<&str>) -> Option<&str> {
    let rest = header?.trim().strip_prefix("AWS4-HMAC-SHA256")?;
    // Components are comma separated; SDKs put spaces after the commas, some tools do not.
    let credential = rest
        .split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("Credential="))?;
    // AKID/date/region/service/aws4_request; an access key id never holds a slash.
    let mut scope = credential.split('/');
    let (_akid, date, region, _service, terminator) = (
        scope.next()?,
        scope.next()?,
        scope.next()?,
        scope.next()?,
        scope.next()?,
    );
    if scope.next().is_some() || terminator != "aws4_request" {
        return None;
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    is_region(region).then_some(region)
}

/// AWS's Region shape: a two-letter area, one or more lowercase words, a number
/// (`us-east-1`, `us-gov-west-1`, `ap-southeast-2`). Keeps junk from creating estates.
pub fn is_region(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    name.len() <= 32
        && words.len() >= 2
        && words[0].len() == 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// Regions served beyond the scenario's: each first request for a new Region makes an empty
/// estate, so the number is capped to keep a client from growing the emulator without end.
pub const MAX_REGIONS: usize = 64;

/// The administrator account's stack sets, Region by Region: one engine per Region, so the
/// rollout rules stay those of a single Region.
pub struct Estates {
    home: String,
    /// `false` when the scenario put every stack set in the home Region: then every request,
    /// whatever its Region, sees the home estate (as before Regions existed).
    regional: bool,
    engines: BTreeMap<String, Engine>,
    seed: u64,
}

impl Estates {
    /// One estate that every request sees.
    pub fn single(home: &str, engine: Engine, seed: u64) -> Self {
        let mut engines = BTreeMap::new();
        engines.insert(home.to_string(), engine);
        Estates {
            home: home.to_string(),
            regional: false,
            engines,
            seed,
        }
    }

    /// An estate per Region; `engines` must hold `home`.
    pub fn regional(home: &str, engines: BTreeMap<String, Engine>, seed: u64) -> Self {
        assert!(engines.contains_key(home), "the home Region needs an engine");
        Estates {
            home: home.to_string(),
            regional: true,
            engines,
            seed,
        }
    }

    pub fn home(&self) -> &str {
        &self.home
    }

    pub fn is_regional(&self) -> bool {
        self.regional
    }

    /// Regions with an estate, in name order.
    pub fn regions(&self) -> Vec<String> {
        self.engines.keys().cloned().collect()
    }

    /// The seed a Region's engine draws from: the home Region keeps the scenario's seed, so
    /// single-Region scenarios replay exactly as they did before Regions.
    pub fn seed_for(home: &str, region: &str, seed: u64) -> u64 {
        if region == home {
            seed
        } else {
            seed ^ fnv64(region.as_bytes())
        }
    }

    /// The estate a request for `region` (`None`: unsigned or unreadable) goes to.
    pub fn key<'a>(&'a self, region: Option<&'a str>) -> &'a str {
        match region {
            Some(r) if self.regional => r,
            _ => &self.home,
        }
    }

    /// The home Region's engine, the other Regions dropped.
    pub fn into_home(mut self) -> Engine {
        self.engines.remove(&self.home).expect("the home Region has an engine")
    }

    pub fn home_engine(&mut self) -> &mut Engine {
        self.engines.get_mut(&self.home).expect("the home Region has an engine")
    }

    /// An existing estate (`None`: the home one).
    pub fn get_mut(&mut self, region: Option<&str>) -> Option<&mut Engine> {
        let key = self.key(region).to_string();
        self.engines.get_mut(&key)
    }

    /// The engine for a request signed for `region`; a Region first seen gets an empty estate
    /// on the home Region's organization and rules, starting at `now`.
    pub fn engine_for(&mut self, region: Option<&str>, now: Millis) -> Result<&mut Engine, SimError> {
        let key = self.key(region).to_string();
        if !self.engines.contains_key(&key) {
            if self.engines.len() >= MAX_REGIONS {
                return Err(SimError::validation(format!(
                    "sstop sim serves at most {MAX_REGIONS} Regions; {key} would be one more"
                )));
            }
            let home = self.home_engine();
            let (org, behaviour) = (home.org.clone(), home.behaviour.clone());
            let mut engine = Engine::new(org, Self::seed_for(&self.home, &key, self.seed), now);
            engine.behaviour = behaviour;
            self.engines.insert(key.clone(), engine);
        }
        Ok(self.engines.get_mut(&key).expect("inserted above"))
    }

    /// Brings every Region's engine to `t`.
    pub fn advance_to(&mut self, t: Millis) {
        for engine in self.engines.values_mut() {
            engine.advance_to(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/eu-west-1/cloudformation/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=0123abcd";

    #[test]
    fn reads_the_region_of_a_good_header() {
        assert_eq!(from_authorization(Some(GOOD)), Some("eu-west-1"));
        let tight = GOOD.replace(", ", ",");
        assert_eq!(from_authorization(Some(&tight)), Some("eu-west-1"));
        let gov = GOOD.replace("eu-west-1", "us-gov-west-1");
        assert_eq!(from_authorization(Some(&gov)), Some("us-gov-west-1"));
    }

    #[test]
    fn a_missing_header_has_no_region() {
        assert_eq!(from_authorization(None), None);
        assert_eq!(from_authorization(Some("")), None);
    }

    #[test]
    fn malformed_headers_have_no_region() {
        for bad in [
            "AWS AKIDEXAMPLE:c2lnbmF0dXJl",
            "Bearer eyJhbGciOi",
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/eu-west-1/cloudformation",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/eu-west-1/cloudformation/aws4_request/x",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2026-11-22/eu-west-1/cloudformation/aws4_request",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/eu-west-1/cloudformation/aws2_request",
            "AWS4-HMAC-SHA256 Credential=",
        ] {
            assert_eq!(from_authorization(Some(bad)), None, "{bad}");
        }
    }

    #[test]
    fn a_region_outside_the_pattern_has_no_region() {
        for region in [
            "EU-WEST-1",
            "eu_west_1",
            "local",
            "eu-west",
            "eu-west-123",
            "e-west-1",
            "eu--1",
            "",
            "../x",
        ] {
            let header = GOOD.replace("eu-west-1", region);
            assert_eq!(from_authorization(Some(&header)), None, "{region:?}");
            assert!(!is_region(region), "{region:?}");
        }
        assert!(is_region("ap-southeast-2") && is_region("il-central-1"));
    }

    fn engine(seed: u64) -> Engine {
        Engine::new(crate::sim::engine::Organization::default(), seed, 0)
    }

    #[test]
    fn a_single_estate_serves_every_region() {
        let mut e = Estates::single("us-east-1", engine(1), 1);
        for r in [None, Some("us-east-1"), Some("eu-west-1")] {
            assert_eq!(e.key(r), "us-east-1");
            e.engine_for(r, 0).unwrap();
        }
        assert_eq!(e.regions(), vec!["us-east-1"], "no estate was made for eu-west-1");
    }

    #[test]
    fn regional_estates_route_by_region_and_make_new_ones_up_to_the_cap() {
        let engines = [("us-east-1", engine(1)), ("eu-west-1", engine(2))]
            .into_iter()
            .map(|(r, e)| (r.to_string(), e))
            .collect();
        let mut e = Estates::regional("us-east-1", engines, 1);
        assert_eq!(e.key(None), "us-east-1");
        assert_eq!(e.key(Some("eu-west-1")), "eu-west-1");
        assert!(e.get_mut(Some("us-west-2")).is_none(), "looking makes nothing");
        e.engine_for(Some("us-west-2"), 5).unwrap();
        assert_eq!(e.regions(), vec!["eu-west-1", "us-east-1", "us-west-2"]);
        assert_eq!(e.get_mut(Some("us-west-2")).unwrap().now(), 5);
        for n in 0..MAX_REGIONS {
            let _ = e.engine_for(Some(&format!("xx-test-{}", n % 100)), 0);
        }
        assert_eq!(e.regions().len(), MAX_REGIONS);
        assert!(e.engine_for(Some("zz-last-1"), 0).is_err(), "one Region too many");
        assert!(e.engine_for(Some("eu-west-1"), 0).is_ok(), "existing ones still serve");
    }

    #[test]
    fn the_home_region_keeps_the_seed() {
        assert_eq!(Estates::seed_for("us-east-1", "us-east-1", 7), 7);
        assert_ne!(Estates::seed_for("us-east-1", "eu-west-1", 7), 7);
    }
}
