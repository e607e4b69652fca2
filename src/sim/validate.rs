//! Input validation from the service model: every constraint botocore's model states for the
//! implemented actions' inputs (required members, enums, lengths, patterns, ranges, list sizes)
//! is checked before an action runs, so bad input gets AWS's 400 ValidationError.
//!
//! `input_model.json` is cut from botocore's model by `tests/boto3/input_model.py`; the
//! model-walk test fails when the two drift apart.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::error::SimError;
use super::query::Params;

#[derive(Debug)]
struct Model {
    actions: HashMap<String, String>,
    shapes: HashMap<String, Shape>,
}

#[derive(Debug)]
struct Shape {
    kind: String,
    members: Vec<(String, String)>,
    required: Vec<String>,
    member: Option<String>,
    enumeration: Vec<String>,
    min: Option<i64>,
    max: Option<i64>,
    pattern: Option<String>,
}

/// The model with its patterns compiled (anchored: AWS matches a pattern against the whole value).
struct Compiled {
    model: Model,
    patterns: HashMap<String, regex::Regex>,
}

fn compiled() -> &'static Compiled {
    static MODEL: OnceLock<Compiled> = OnceLock::new();
    MODEL.get_or_init(|| {
        let raw: serde_json::Value =
            serde_json::from_str(include_str!("input_model.json")).expect("input_model.json is valid JSON");
        let mut shapes = HashMap::new();
        for (name, s) in raw["shapes"].as_object().expect("shapes") {
            let members = s["members"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let strings = |key: &str| -> Vec<String> {
                s[key]
                    .as_array()
                    .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                    .unwrap_or_default()
            };
            shapes.insert(
                name.clone(),
                Shape {
                    kind: s["type"].as_str().unwrap_or_default().to_string(),
                    members,
                    required: strings("required"),
                    member: s["member"].as_str().map(String::from),
                    enumeration: strings("enum"),
                    min: s["min"].as_i64(),
                    max: s["max"].as_i64(),
                    pattern: s["pattern"].as_str().map(String::from),
                },
            );
        }
        let actions = raw["actions"]
            .as_object()
            .expect("actions")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        let mut patterns = HashMap::new();
        for (name, s) in &shapes {
            if let Some(p) = &s.pattern {
                // A pattern Rust's regex cannot read is skipped rather than refusing everything.
                if let Ok(re) = regex::Regex::new(&format!("^(?:{p})$")) {
                    patterns.insert(name.clone(), re);
                }
            }
        }
        Compiled {
            model: Model { actions, shapes },
            patterns,
        }
    })
}

fn invalid(value: &str, at: &str, constraint: &str) -> SimError {
    SimError::validation(format!(
        "1 validation error detected: Value '{value}' at '{at}' failed to satisfy constraint: {constraint}"
    ))
}

/// Checks a request's parameters against its action's input shape.
pub fn check(action: &str, p: &Params) -> Result<(), SimError> {
    let c = compiled();
    let Some(shape) = c.model.actions.get(action) else {
        return Ok(());
    };
    structure(c, shape, "", p)
}

fn joined(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn structure(c: &Compiled, name: &str, prefix: &str, p: &Params) -> Result<(), SimError> {
    let Some(s) = c.model.shapes.get(name) else {
        return Ok(());
    };
    for (member, member_shape) in &s.members {
        let key = joined(prefix, member);
        let present = value(c, member_shape, &key, p)?;
        if !present && s.required.contains(member) {
            return Err(SimError::missing(&key));
        }
    }
    Ok(())
}

/// Validates the value at `key`; returns whether one was given.
fn value(c: &Compiled, name: &str, key: &str, p: &Params) -> Result<bool, SimError> {
    let Some(s) = c.model.shapes.get(name) else {
        return Ok(false);
    };
    match s.kind.as_str() {
        "structure" => {
            if !p.has_under(key) {
                return Ok(false);
            }
            structure(c, name, key, p)?;
            Ok(true)
        }
        "list" => {
            if !p.map_has_prefix(key) {
                return Ok(false);
            }
            let item = s.member.as_deref().unwrap_or_default();
            let item_kind = c.model.shapes.get(item).map(|i| i.kind.as_str()).unwrap_or("");
            let indices = if item_kind == "structure" {
                p.member_indices(key)?
            } else {
                p.member_positions(key)?
            };
            let n = indices.len() as i64;
            if s.max.is_some_and(|max| n > max) {
                return Err(invalid(
                    &n.to_string(),
                    key,
                    &format!("Member must have length less than or equal to {}", s.max.unwrap_or(0)),
                ));
            }
            if s.min.is_some_and(|min| n < min) && n > 0 {
                return Err(invalid(
                    &n.to_string(),
                    key,
                    &format!(
                        "Member must have length greater than or equal to {}",
                        s.min.unwrap_or(0)
                    ),
                ));
            }
            for i in indices {
                value(c, item, &format!("{key}.member.{i}"), p)?;
            }
            Ok(n > 0)
        }
        kind => {
            // An empty value counts as absent, as everywhere in the emulator.
            let Some(v) = p.get(key) else {
                return Ok(false);
            };
            scalar(c, name, s, kind, key, v)?;
            Ok(true)
        }
    }
}

fn scalar(c: &Compiled, name: &str, s: &Shape, kind: &str, key: &str, v: &str) -> Result<(), SimError> {
    match kind {
        "string" => {
            if !s.enumeration.is_empty() && !s.enumeration.iter().any(|e| e == v) {
                return Err(invalid(
                    v,
                    key,
                    &format!("Member must satisfy enum value set: [{}]", s.enumeration.join(", ")),
                ));
            }
            let len = v.chars().count() as i64;
            if let Some(max) = s.max.filter(|m| len > *m) {
                return Err(invalid(
                    v,
                    key,
                    &format!("Member must have length less than or equal to {max}"),
                ));
            }
            if let Some(min) = s.min.filter(|m| len < *m) {
                return Err(invalid(
                    v,
                    key,
                    &format!("Member must have length greater than or equal to {min}"),
                ));
            }
            if let (Some(re), Some(p)) = (c.patterns.get(name), &s.pattern) {
                if !re.is_match(v) {
                    return Err(invalid(
                        v,
                        key,
                        &format!("Member must satisfy regular expression pattern: {p}"),
                    ));
                }
            }
        }
        "integer" | "long" => {
            let n: i64 = v.parse().map_err(|_| invalid(v, key, "Member must be an integer"))?;
            if let Some(min) = s.min.filter(|m| n < *m) {
                return Err(invalid(
                    v,
                    key,
                    &format!("Member must have value greater than or equal to {min}"),
                ));
            }
            if let Some(max) = s.max.filter(|m| n > *m) {
                return Err(invalid(
                    v,
                    key,
                    &format!("Member must have value less than or equal to {max}"),
                ));
            }
        }
        "boolean" if v != "true" && v != "false" => {
            return Err(invalid(v, key, "Member must be true or false"));
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(action: &str, body: &str) -> Result<(), SimError> {
        check(action, &Params::parse(body.as_bytes()))
    }

    #[test]
    fn the_embedded_model_covers_every_action() {
        for a in super::super::api::ACTIONS {
            assert!(compiled().model.actions.contains_key(*a), "{a} has no input shape");
        }
    }

    #[test]
    fn required_enum_length_pattern_range_and_list_size() {
        assert!(run("DescribeStackSet", "StackSetName=ok").is_ok());
        let e = run("DescribeStackSet", "").unwrap_err();
        assert!(e.message.contains("'StackSetName'"), "{}", e.message);
        assert!(run("DescribeStackSet", "StackSetName=ok&CallAs=ME").is_err());
        assert!(run("DescribeStackSetOperation", "StackSetName=ok&OperationId=-x").is_err());
        assert!(run("DescribeStackSetOperation", "StackSetName=ok&OperationId=a-1").is_ok());
        assert!(run("ListStackSets", "MaxResults=0").is_err());
        assert!(run("ListStackSets", "MaxResults=100").is_ok());
        assert!(run("ListStackSets", "MaxResults=x").is_err());
        let region = "StackSetName=s&Accounts.member.1=123456789012&Regions.member.1=";
        assert!(run("CreateStackInstances", &format!("{region}us-east-1")).is_ok());
        assert!(run("CreateStackInstances", &format!("{region}us_east_1")).is_err());
        assert!(run(
            "CreateStackInstances",
            "StackSetName=s&Regions.member.1=us-east-1&OperationPreferences.MaxConcurrentPercentage=101"
        )
        .is_err());
        let four: String = (1..=4)
            .map(|i| format!("&Filters.member.{i}.Name=DRIFT_STATUS&Filters.member.{i}.Values=IN_SYNC"))
            .collect();
        assert!(run("ListStackInstances", &format!("StackSetName=s{four}")).is_err());
        assert!(run("CreateStackSet", "StackSetName=s&Tags.member.1.Key=k").is_err());
        // botocore cannot send a bad boolean (it coerces), so this is checked here.
        let delete = "StackSetName=s&Regions.member.1=us-east-1&RetainStacks=";
        assert!(run("DeleteStackInstances", &format!("{delete}true")).is_ok());
        assert!(run("DeleteStackInstances", &format!("{delete}maybe")).is_err());
    }
}
