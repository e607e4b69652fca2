//! Scenarios: TOML files that preload the emulator (organization, stack sets, past and running
//! operations, failure and gate rules, faults). Built-in ones are compiled into the binary.
//!
//! History is not written down result by result: each operation is replayed through the engine
//! from its start time, so finished and running operations obey the same rules as live ones.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use serde::Deserialize;

use crate::model::{CallAs, GateStatus, OperationAction, OperationPreferences, PermissionModel};

use super::engine::{
    Behaviour, DriftStatus, Engine, FailureRule, GateRule, Matcher, Millis, NewStackSet, OpRequest, Organization, Ou,
    TargetSpec, Targets, Timing,
};
use super::region::{self, Estates};

/// The Region a scenario's stack sets belong to unless it says otherwise.
pub const DEFAULT_HOME_REGION: &str = "us-east-1";

/// Most stack sets one `[[stack_set_groups]]` entry may declare.
const MAX_GROUP_COUNT: u32 = 20_000;

/// The scenarios shipped with sstop, by name.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("rollout", include_str!("../../assets/scenarios/rollout.toml")),
    ("runaway", include_str!("../../assets/scenarios/runaway.toml")),
    ("large", include_str!("../../assets/scenarios/large.toml")),
    ("fleet", include_str!("../../assets/scenarios/fleet.toml")),
    ("instances", include_str!("../../assets/scenarios/instances.toml")),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// One line shown nowhere but in the file; says what the scenario is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Seed for rollout timing and random failures (a `--seed` flag overrides it).
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub faults: FaultSpec,
    #[serde(default)]
    pub organization: Option<OrgSpec>,
    #[serde(default)]
    pub timing: Option<TimingSpec>,
    /// Failure rules for every stack set, including ones created through the API.
    #[serde(default)]
    pub failures: Vec<FailureSpec>,
    #[serde(default)]
    pub gates: Vec<GateSpec>,
    #[serde(default)]
    pub stack_sets: Vec<StackSetSpec>,
    /// Many similar stack sets declared at once.
    #[serde(default)]
    pub stack_set_groups: Vec<StackSetGroupSpec>,
    /// The administrator's Region for stack sets that name none, and for requests that name no
    /// Region (unsigned, or an unreadable signature). Default us-east-1.
    #[serde(default)]
    pub home_region: Option<String>,
}

/// `count` stack sets alike but for their names (`name_prefix` + 1, 2, … zero-padded to the
/// width of `count`) and, with `stagger_mins`, their operations' start times: member k starts
/// each operation k × stagger_mins earlier, so the fleet's history is not one instant.
/// Every other key is a `[[stack_sets]]` key (except `name`).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "toml::Table")]
pub struct StackSetGroupSpec {
    pub count: u32,
    pub name_prefix: String,
    pub stagger_mins: f64,
    /// The members' shared settings; its name is the prefix.
    pub template: StackSetSpec,
}

impl TryFrom<toml::Table> for StackSetGroupSpec {
    type Error = String;

    fn try_from(mut table: toml::Table) -> Result<Self, String> {
        let count = match table.remove("count") {
            Some(toml::Value::Integer(n)) if (1..=i64::from(MAX_GROUP_COUNT)).contains(&n) => n as u32,
            Some(v) => {
                return Err(format!(
                    "stack_set_groups: count must be 1 to {MAX_GROUP_COUNT}, got {v}"
                ))
            }
            None => return Err("stack_set_groups: missing count".to_string()),
        };
        let name_prefix = match table.remove("name_prefix") {
            Some(toml::Value::String(p)) => p,
            Some(v) => return Err(format!("stack_set_groups: name_prefix must be text, got {v}")),
            None => return Err("stack_set_groups: missing name_prefix".to_string()),
        };
        let stagger_mins = match table.remove("stagger_mins") {
            Some(toml::Value::Float(f)) if f.is_finite() && f >= 0.0 => f,
            Some(toml::Value::Integer(n)) if n >= 0 => n as f64,
            Some(v) => return Err(format!("stack_set_groups: stagger_mins must be 0 or more, got {v}")),
            None => 0.0,
        };
        if table.contains_key("name") {
            return Err("stack_set_groups: members are named by name_prefix, not name".to_string());
        }
        table.insert("name".to_string(), toml::Value::String(name_prefix.clone()));
        let template: StackSetSpec = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| format!("stack_set_groups {name_prefix:?}: {}", e.message()))?;
        Ok(StackSetGroupSpec {
            count,
            name_prefix,
            stagger_mins,
            template,
        })
    }
}

impl StackSetGroupSpec {
    /// The group's stack sets, in number order.
    pub fn expand(&self) -> Vec<StackSetSpec> {
        let width = self.count.to_string().len();
        (0..self.count)
            .map(|k| {
                let mut ss = self.template.clone();
                ss.name = format!("{}{:0width$}", self.name_prefix, k + 1);
                for op in &mut ss.operations {
                    op.started_mins_ago += f64::from(k) * self.stagger_mins;
                }
                ss
            })
            .collect()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    #[serde(default)]
    pub latency_ms: Option<u64>,
    #[serde(default)]
    pub throttle_rate: Option<f64>,
    #[serde(default)]
    pub error_rate: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSpec {
    #[serde(default)]
    pub management_account: Option<String>,
    pub regions: Vec<String>,
    pub ous: Vec<OuSpec>,
    /// Suspended accounts: deployments to them end SKIPPED_SUSPENDED_ACCOUNT.
    #[serde(default)]
    pub suspended_accounts: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OuSpec {
    pub id: String,
    pub name: String,
    /// Explicit account ids …
    #[serde(default)]
    pub accounts: Vec<String>,
    /// … and/or `account_count` generated ids counting up from `first_account`.
    #[serde(default)]
    pub account_count: Option<u32>,
    #[serde(default)]
    pub first_account: Option<u64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimingSpec {
    /// Simulated seconds one account × Region takes to deploy …
    pub deploy_secs: f64,
    /// … give or take up to this many (seeded).
    #[serde(default)]
    pub jitter_secs: f64,
    /// How long a failing account gate takes.
    #[serde(default = "default_gate_secs")]
    pub gate_secs: f64,
}

fn default_gate_secs() -> f64 {
    3.0
}

impl From<TimingSpec> for Timing {
    fn from(t: TimingSpec) -> Self {
        let ms = |s: f64| (s.max(0.0) * 1000.0).min(f64::from(u32::MAX)) as u32;
        Timing {
            deploy_ms: ms(t.deploy_secs).max(1),
            jitter_ms: ms(t.jitter_secs),
            gate_ms: ms(t.gate_secs).max(1),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureSpec {
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub ous: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub actions: Vec<OperationAction>,
    /// Chance that a matching deployment fails (default 1: always).
    #[serde(default)]
    pub rate: Option<f64>,
    /// The StatusReason; may hold `{account}`, `{region}`, `{stack_set}`.
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateSpec {
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub ous: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
    pub status: GateStatus,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackSetSpec {
    pub name: String,
    /// The administrator's Region that keeps this stack set (default: the home Region). Only
    /// requests signed for that Region see it.
    #[serde(default)]
    pub admin_region: Option<String>,
    #[serde(default = "default_permission_model")]
    pub permission_model: PermissionModel,
    /// Owned by a delegated administrator: visible only with CallAs=DELEGATED_ADMIN.
    #[serde(default)]
    pub delegated_admin: bool,
    #[serde(default)]
    pub managed_execution: bool,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub template_body: Option<String>,
    #[serde(default)]
    pub parameters: Vec<ParameterSpec>,
    #[serde(default = "default_created_days_ago")]
    pub created_days_ago: f64,
    #[serde(default)]
    pub timing: Option<TimingSpec>,
    #[serde(default)]
    pub failures: Vec<FailureSpec>,
    #[serde(default)]
    pub gates: Vec<GateSpec>,
    #[serde(default)]
    pub operations: Vec<OperationSpec>,
    /// What drift detection found on its instances once the history has run.
    #[serde(default)]
    pub drift: Vec<DriftSpec>,
}

/// A drift detection's finding on the stack set's instances in `accounts` x `regions` (empty:
/// all), as of `checked_mins_ago`; reported by ListStackInstances and DescribeStackInstance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftSpec {
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
    pub status: DriftStatus,
    #[serde(default)]
    pub checked_mins_ago: f64,
}

fn default_permission_model() -> PermissionModel {
    PermissionModel::SelfManaged
}

fn default_created_days_ago() -> f64 {
    30.0
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterSpec {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationSpec {
    /// A fixed operation id (a UUID is drawn from the seed otherwise).
    #[serde(default)]
    pub id: Option<String>,
    pub action: OperationAction,
    /// When it started, in simulated minutes before the emulator starts.
    pub started_mins_ago: f64,
    /// Someone pressed stop this many minutes after it started.
    #[serde(default)]
    pub stop_after_mins: Option<f64>,
    /// Targets: accounts (self-managed) or OUs (service-managed). Empty for UPDATE/DELETE
    /// means every existing instance.
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub ous: Vec<String>,
    /// Empty: every Region of the organization (CREATE) or of the stack set (UPDATE/DELETE).
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub preferences: OperationPreferences,
    #[serde(default)]
    pub timing: Option<TimingSpec>,
    #[serde(default)]
    pub failures: Vec<FailureSpec>,
    #[serde(default)]
    pub gates: Vec<GateSpec>,
}

fn matcher(accounts: &[String], ous: &[String], regions: &[String], actions: &[OperationAction]) -> Matcher {
    Matcher {
        accounts: accounts.to_vec(),
        ous: ous.to_vec(),
        regions: regions.to_vec(),
        actions: actions.to_vec(),
    }
}

fn behaviour(timing: Option<TimingSpec>, failures: &[FailureSpec], gates: &[GateSpec]) -> Behaviour {
    Behaviour {
        failures: failures
            .iter()
            .map(|f| FailureRule {
                matcher: matcher(&f.accounts, &f.ous, &f.regions, &f.actions),
                rate: f.rate.unwrap_or(1.0),
                reason: f.reason.clone(),
            })
            .collect(),
        gates: gates
            .iter()
            .map(|g| GateRule {
                matcher: matcher(&g.accounts, &g.ous, &g.regions, &[]),
                status: g.status,
                reason: g.reason.clone(),
            })
            .collect(),
        timing: timing.map(Timing::from),
    }
}

impl Scenario {
    /// Parses scenario text; `origin` names the file in errors (toml adds line and column).
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Scenario> {
        toml::from_str(text).map_err(|e| anyhow!("scenario {origin}: {e}"))
    }

    /// A built-in scenario name, or a path to a TOML file.
    pub fn load(name_or_path: &str) -> anyhow::Result<Scenario> {
        if let Some((name, text)) = BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
            return Scenario::parse(text, &format!("assets/scenarios/{name}.toml (built in)"));
        }
        let path = Path::new(name_or_path);
        if !path.exists() {
            let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
            bail!(
                "unknown scenario {name_or_path:?}: not a built-in one ({}) and no such file",
                names.join(", ")
            );
        }
        let text = std::fs::read_to_string(path).with_context(|| format!("reading scenario {}", path.display()))?;
        Scenario::parse(&text, &path.display().to_string())
    }

    fn organization(&self) -> anyhow::Result<Organization> {
        let Some(spec) = &self.organization else {
            return Ok(Organization::default());
        };
        let mut ous = Vec::new();
        for o in &spec.ous {
            let mut accounts = o.accounts.clone();
            if let Some(n) = o.account_count {
                let first = o
                    .first_account
                    .ok_or_else(|| anyhow!("OU {}: account_count needs first_account", o.id))?;
                accounts.extend((0..u64::from(n)).map(|i| format!("{:012}", first + i)));
            }
            if let Some(bad) = accounts
                .iter()
                .find(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
            {
                bail!("OU {}: account {bad:?} is not a 12-digit account id", o.id);
            }
            ous.push(Ou {
                id: o.id.clone(),
                name: o.name.clone(),
                accounts,
            });
        }
        if let Some(bad) = spec
            .suspended_accounts
            .iter()
            .find(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
        {
            bail!("suspended_accounts: {bad:?} is not a 12-digit account id");
        }
        Ok(Organization {
            management_account: spec
                .management_account
                .clone()
                .unwrap_or_else(|| "111111111111".to_string()),
            regions: spec.regions.clone(),
            ous,
            suspended: spec.suspended_accounts.clone(),
        })
    }

    /// Builds an engine whose clock reads `now`, with the history replayed up to it.
    pub fn build(&self, now: Millis, seed: Option<u64>) -> anyhow::Result<Engine> {
        build(Some(self), now, seed)
    }

    pub fn home_region(&self) -> &str {
        self.home_region.as_deref().unwrap_or(DEFAULT_HOME_REGION)
    }

    /// Every stack set, groups expanded, each with its administrator's Region.
    fn all_stack_sets(&self) -> anyhow::Result<Vec<(String, StackSetSpec)>> {
        let home = self.home_region();
        let groups = self.stack_set_groups.iter().flat_map(StackSetGroupSpec::expand);
        let mut out = Vec::new();
        for ss in self.stack_sets.iter().cloned().chain(groups) {
            let r = ss.admin_region.clone().unwrap_or_else(|| home.to_string());
            if !region::is_region(&r) {
                bail!(
                    "stack set {}: admin_region {r:?} is not a Region name like us-east-1",
                    ss.name
                );
            }
            out.push((r, ss));
        }
        Ok(out)
    }
}

/// An engine for `scenario`'s home Region (or the default organization with nothing in it).
pub fn build(scenario: Option<&Scenario>, now: Millis, seed: Option<u64>) -> anyhow::Result<Engine> {
    Ok(build_estates(scenario, now, seed)?.into_home())
}

/// One engine per administrator Region named by `scenario`. When every stack set lives in the
/// home Region, requests for any Region share that one estate, as before Regions.
pub fn build_estates(scenario: Option<&Scenario>, now: Millis, seed: Option<u64>) -> anyhow::Result<Estates> {
    let seed = seed.or(scenario.and_then(|s| s.seed)).unwrap_or(1);
    let Some(s) = scenario else {
        let engine = Engine::new(Organization::default(), seed, now);
        return Ok(Estates::single(DEFAULT_HOME_REGION, engine, seed));
    };
    let home = s.home_region();
    if !region::is_region(home) {
        bail!("home_region {home:?} is not a Region name like us-east-1");
    }
    let org = s.organization()?;
    let mut by_region: BTreeMap<String, Vec<StackSetSpec>> = BTreeMap::new();
    by_region.insert(home.to_string(), Vec::new());
    for (r, ss) in s.all_stack_sets()? {
        by_region.entry(r).or_default().push(ss);
    }
    let mut engines = BTreeMap::new();
    for (r, specs) in &by_region {
        let engine = build_region(s, &org, specs, now, Estates::seed_for(home, r, seed)).map_err(|e| {
            if by_region.len() > 1 {
                e.context(format!("admin Region {r}"))
            } else {
                e
            }
        })?;
        engines.insert(r.clone(), engine);
    }
    if engines.len() == 1 {
        let engine = engines.remove(home).expect("the home Region has an engine");
        return Ok(Estates::single(home, engine, seed));
    }
    Ok(Estates::regional(home, engines, seed))
}

/// One Region's engine: its stack sets created and their operations replayed up to `now`.
fn build_region(
    s: &Scenario,
    org: &Organization,
    stack_sets: &[StackSetSpec],
    now: Millis,
    seed: u64,
) -> anyhow::Result<Engine> {
    const MIN: f64 = 60_000.0;
    const DAY: f64 = 86_400_000.0;
    let earliest = stack_sets.iter().map(|ss| ss.created_days_ago).fold(0.0_f64, f64::max);
    let mut engine = Engine::new(org.clone(), seed, now - (earliest * DAY) as Millis);
    engine.behaviour = behaviour(s.timing, &s.failures, &s.gates);

    // Starts and stops in time order, so operations meet each other as they would live.
    enum Event<'a> {
        Create(&'a StackSetSpec),
        Start(&'a StackSetSpec, usize, &'a OperationSpec),
        Stop(&'a StackSetSpec, usize),
    }
    let mut events: Vec<(Millis, usize, Event)> = Vec::new();
    for ss in stack_sets {
        let created = now - (ss.created_days_ago * DAY) as Millis;
        events.push((created, events.len(), Event::Create(ss)));
        for (i, op) in ss.operations.iter().enumerate() {
            let start = now - (op.started_mins_ago * MIN) as Millis;
            events.push((start, events.len(), Event::Start(ss, i, op)));
            if let Some(after) = op.stop_after_mins {
                let at = start + (after * MIN) as Millis;
                events.push((at, events.len(), Event::Stop(ss, i)));
            }
        }
    }
    events.sort_by_key(|(t, seq, _)| (*t, *seq));
    let mut ids: std::collections::HashMap<(String, usize), String> = Default::default();
    for (t, _, ev) in events {
        if t > now {
            continue; // the future is not history
        }
        engine.advance_to(t);
        match ev {
            Event::Create(ss) => create_stack_set(&mut engine, ss)?,
            Event::Start(ss, i, op) => {
                let call_as = if ss.delegated_admin {
                    CallAs::DelegatedAdmin
                } else {
                    CallAs::SelfAccount
                };
                let targets = if op.accounts.is_empty() && op.ous.is_empty() {
                    if op.action == OperationAction::Create {
                        bail!(
                            "stack set {} operation {}: a CREATE needs accounts or ous",
                            ss.name,
                            i + 1
                        );
                    }
                    TargetSpec::AllInstances
                } else {
                    TargetSpec::Explicit(Targets {
                        accounts: op.accounts.clone(),
                        ous: op.ous.clone(),
                        account_filter_type: None,
                    })
                };
                let regions = if op.regions.is_empty() && op.action == OperationAction::Create {
                    org.regions.clone()
                } else {
                    op.regions.clone()
                };
                let id = engine
                    .start_operation(
                        &ss.name,
                        call_as,
                        OpRequest {
                            id: op.id.clone(),
                            action: op.action,
                            targets,
                            regions,
                            prefs: op.preferences.clone(),
                            behaviour: behaviour(op.timing, &op.failures, &op.gates),
                            retain_stacks: false,
                        },
                    )
                    .map_err(|e| anyhow!("stack set {} operation {}: {e}", ss.name, i + 1))?;
                ids.insert((ss.name.clone(), i), id);
            }
            Event::Stop(ss, i) => {
                let call_as = if ss.delegated_admin {
                    CallAs::DelegatedAdmin
                } else {
                    CallAs::SelfAccount
                };
                if let Some(id) = ids.get(&(ss.name.clone(), i)) {
                    engine
                        .stop_operation(&ss.name, call_as, id)
                        .map_err(|e| anyhow!("stack set {} operation {} stop: {e}", ss.name, i + 1))?;
                }
            }
        }
    }
    engine.advance_to(now);
    for ss in stack_sets {
        let call_as = if ss.delegated_admin {
            CallAs::DelegatedAdmin
        } else {
            CallAs::SelfAccount
        };
        for (i, drift) in ss.drift.iter().enumerate() {
            let matches = |account: &str, region: &str| {
                (drift.accounts.is_empty() || drift.accounts.iter().any(|a| a == account))
                    && (drift.regions.is_empty() || drift.regions.iter().any(|r| r == region))
            };
            let at = now - (drift.checked_mins_ago.max(0.0) * MIN) as Millis;
            let marked = engine
                .set_drift(&ss.name, call_as, matches, drift.status, at)
                .map_err(|e| anyhow!("stack set {} drift {}: {e}", ss.name, i + 1))?;
            // A drift entry that marks nothing is a typo in an account or Region.
            if marked == 0 {
                bail!(
                    "stack set {} drift {}: no stack instance in those accounts and Regions",
                    ss.name,
                    i + 1
                );
            }
        }
    }
    Ok(engine)
}

fn create_stack_set(engine: &mut Engine, ss: &StackSetSpec) -> anyhow::Result<()> {
    let call_as = if ss.delegated_admin {
        CallAs::DelegatedAdmin
    } else {
        CallAs::SelfAccount
    };
    engine
        .create_stack_set(
            NewStackSet {
                name: ss.name.clone(),
                permission_model: ss.permission_model,
                description: ss.description.clone(),
                template_body: ss
                    .template_body
                    .clone()
                    .unwrap_or_else(|| "AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\n".to_string()),
                parameters: ss.parameters.iter().map(|p| (p.key.clone(), p.value.clone())).collect(),
                capabilities: vec!["CAPABILITY_NAMED_IAM".to_string()],
                managed_execution: ss.managed_execution,
                auto_deployment: (ss.permission_model == PermissionModel::ServiceManaged).then_some((true, false)),
                behaviour: behaviour(ss.timing, &ss.failures, &ss.gates),
            },
            call_as,
        )
        .map_err(|e| anyhow!("stack set {}: {e}", ss.name))?;
    Ok(())
}
