//! The awsQuery actions: parse a request's parameters, call the engine, write the XML result.
//! Field names and shapes follow the CloudFormation API so the SDKs (Rust, boto3) parse them.

use crate::model::{
    CallAs, ConcurrencyMode, OperationAction, OperationPreferences, PermissionModel, RegionConcurrency, ResultStatus,
    StackSetStatus,
};

use super::engine::{
    DetailedStatus, Engine, Instance, NewStackSet, OpRequest, Operation, StackSet, TargetSpec, Targets,
};
use super::error::SimError;
use super::query::{Params, Tokens, MAX_BODY};
use super::validate;
use super::xml::{self, Xml};

/// Every action the emulator answers.
pub const ACTIONS: &[&str] = &[
    "CreateStackSet",
    "DescribeStackSet",
    "ListStackSets",
    "DeleteStackSet",
    "UpdateStackSet",
    "CreateStackInstances",
    "UpdateStackInstances",
    "DeleteStackInstances",
    "ListStackInstances",
    "DescribeStackInstance",
    "ListStackSetOperations",
    "DescribeStackSetOperation",
    "ListStackSetOperationResults",
    "StopStackSetOperation",
];

/// A parsed request: its action and parameters.
#[derive(Debug, Clone)]
pub struct Request {
    pub action: &'static str,
    pub params: Params,
}

impl Request {
    /// The stack set, operation and CallAs named by the request, for the request log.
    pub fn log_fields(&self) -> (String, String, String) {
        let g = |k: &str| self.params.get(k).unwrap_or("-").to_string();
        (g("StackSetName"), g("OperationId"), g("CallAs"))
    }
}

/// Checks method, content type and size, then reads the form body and its Action.
pub fn parse_request(method: &str, content_type: Option<&str>, body: &[u8]) -> Result<Request, SimError> {
    if body.len() > MAX_BODY {
        return Err(SimError::too_large(MAX_BODY));
    }
    if !method.eq_ignore_ascii_case("POST") {
        return Err(SimError::invalid_action(format!(
            "Unsupported method {method}: the awsQuery protocol uses POST with a form-encoded body"
        )));
    }
    let form = content_type.is_some_and(|ct| {
        ct.trim_start()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if !form {
        return Err(SimError::invalid_action(
            "The request body must be application/x-www-form-urlencoded",
        ));
    }
    let params = Params::parse(body);
    let name = params
        .get("Action")
        .ok_or_else(|| SimError::invalid_action("The request has no Action parameter"))?;
    let action =
        ACTIONS.iter().copied().find(|a| *a == name).ok_or_else(|| {
            SimError::invalid_action(format!("Could not find operation {name} for version 2010-05-15"))
        })?;
    Ok(Request { action, params })
}

/// Runs one action against the engine (already advanced to "now"); returns the inner XML of
/// `<{Action}Result>`.
pub fn dispatch(engine: &mut Engine, tokens: &Tokens, req: &Request) -> Result<String, SimError> {
    let p = &req.params;
    validate::check(req.action, p)?;
    let call_as: CallAs = p.parse_enum("CallAs")?.unwrap_or(CallAs::SelfAccount);
    let mut x = Xml::new();
    match req.action {
        "CreateStackSet" => create_stack_set(engine, p, call_as, &mut x)?,
        "DescribeStackSet" => {
            let ss = engine.stack_set(p.required("StackSetName")?, call_as)?;
            let mgmt = engine.org.management_account.clone();
            write_stack_set(&mut x, ss, &mgmt);
        }
        "ListStackSets" => list_stack_sets(engine, tokens, p, call_as, &mut x)?,
        "DeleteStackSet" => engine.delete_stack_set(p.required("StackSetName")?, call_as)?,
        "UpdateStackSet" => update_stack_set(engine, p, call_as, &mut x)?,
        "CreateStackInstances" | "UpdateStackInstances" | "DeleteStackInstances" => {
            let name = p.required("StackSetName")?;
            let regions = p.members("Regions")?;
            if regions.is_empty() {
                return Err(SimError::missing("Regions"));
            }
            let mut retain_stacks = false;
            let action = match req.action {
                "CreateStackInstances" => OperationAction::Create,
                "UpdateStackInstances" => OperationAction::Update,
                _ => {
                    retain_stacks = p
                        .bool("RetainStacks")?
                        .ok_or_else(|| SimError::missing("RetainStacks"))?;
                    OperationAction::Delete
                }
            };
            let op = OpRequest {
                id: operation_id(p, false)?.map(String::from),
                action,
                targets: TargetSpec::Explicit(targets(p)?),
                regions,
                prefs: preferences(p)?,
                behaviour: Default::default(),
                retain_stacks,
            };
            let id = engine.start_operation(name, call_as, op)?;
            x.leaf("OperationId", &id);
        }
        "ListStackInstances" => list_stack_instances(engine, tokens, p, call_as, &mut x)?,
        "DescribeStackInstance" => {
            let name = p.required("StackSetName")?;
            let account =
                account_param(p, "StackInstanceAccount")?.ok_or_else(|| SimError::missing("StackInstanceAccount"))?;
            let region =
                region_param(p, "StackInstanceRegion")?.ok_or_else(|| SimError::missing("StackInstanceRegion"))?;
            let ss = engine.stack_set(name, call_as)?;
            let inst = ss
                .instances
                .get(account)
                .and_then(|m| m.get(region))
                .ok_or_else(|| SimError::instance_not_found(account, region, &ss.name))?;
            x.open("StackInstance");
            write_instance(&mut x, ss, account, region, inst);
            x.close("StackInstance");
        }
        "ListStackSetOperations" => {
            let name = p.required("StackSetName")?;
            let max = p.max_results()?;
            let ss = engine.stack_set(name, call_as)?;
            let key = format!("ListStackSetOperations|{}", ss.id);
            // Newest first; the token holds how many older operations remain, which stays
            // right when new operations are added between pages.
            let remaining = match p.get("NextToken") {
                Some(t) => tokens.decode(&key, t)?,
                None => ss.operations.len(),
            };
            if remaining > ss.operations.len() {
                return Err(SimError::validation("Invalid NextToken: it is stale"));
            }
            let start = remaining.saturating_sub(max);
            x.open("Summaries");
            for op in ss.operations[start..remaining].iter().rev() {
                x.open("member");
                write_operation_summary(&mut x, op);
                x.close("member");
            }
            x.close("Summaries");
            if start > 0 {
                x.leaf("NextToken", &tokens.encode(&key, start));
            }
        }
        "DescribeStackSetOperation" => {
            let name = p.required("StackSetName")?;
            let id = required_operation_id(p)?;
            let mgmt = engine.org.management_account.clone();
            let (ss, op) = engine.operation(name, call_as, id)?;
            write_operation(&mut x, ss, op, &mgmt);
        }
        "ListStackSetOperationResults" => list_results(engine, tokens, p, call_as, &mut x)?,
        "StopStackSetOperation" => {
            let name = p.required("StackSetName")?;
            let id = required_operation_id(p)?;
            engine.stop_operation(name, call_as, id)?;
        }
        other => {
            return Err(SimError::invalid_action(format!(
                "Could not find operation {other} for version 2010-05-15"
            )))
        }
    }
    Ok(x.into_string())
}

fn targets(p: &Params) -> Result<Targets, SimError> {
    let mut accounts = p.members("Accounts")?;
    accounts.extend(p.members("DeploymentTargets.Accounts")?);
    Ok(Targets {
        accounts,
        ous: p.members("DeploymentTargets.OrganizationalUnitIds")?,
        account_filter_type: p.get("DeploymentTargets.AccountFilterType").map(String::from),
    })
}

fn preferences(p: &Params) -> Result<OperationPreferences, SimError> {
    const P: &str = "OperationPreferences";
    Ok(OperationPreferences {
        region_concurrency: p.parse_enum::<RegionConcurrency>(&format!("{P}.RegionConcurrencyType"))?,
        region_order: p.members(&format!("{P}.RegionOrder"))?,
        max_concurrent_count: p.u32(&format!("{P}.MaxConcurrentCount"))?,
        max_concurrent_percentage: p.u32(&format!("{P}.MaxConcurrentPercentage"))?,
        failure_tolerance_count: p.u32(&format!("{P}.FailureToleranceCount"))?,
        failure_tolerance_percentage: p.u32(&format!("{P}.FailureTolerancePercentage"))?,
        concurrency_mode: p.parse_enum::<ConcurrencyMode>(&format!("{P}.ConcurrencyMode"))?,
    })
}

fn parameters(p: &Params, prefix: &str) -> Result<Vec<(String, String)>, SimError> {
    let mut out = Vec::new();
    for n in p.member_indices(prefix)? {
        let key = p
            .get(&format!("{prefix}.member.{n}.ParameterKey"))
            .ok_or_else(|| SimError::missing(&format!("{prefix}.member.{n}.ParameterKey")))?;
        let value = p.get(&format!("{prefix}.member.{n}.ParameterValue")).unwrap_or("");
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

fn create_stack_set(engine: &mut Engine, p: &Params, call_as: CallAs, x: &mut Xml) -> Result<(), SimError> {
    let name = p.required("StackSetName")?;
    let template_body = match (p.get("TemplateBody"), p.get("TemplateURL")) {
        (Some(b), _) => b.to_string(),
        (None, Some(url)) => format!("# fetched from {url}"),
        (None, None) => {
            return Err(SimError::validation(
                "Either TemplateBody or TemplateURL must be specified",
            ))
        }
    };
    let permission_model = p
        .parse_enum::<PermissionModel>("PermissionModel")?
        .unwrap_or(PermissionModel::SelfManaged);
    let tags = tags(p)?;
    let auto = match p.bool("AutoDeployment.Enabled")? {
        Some(enabled) => Some((
            enabled,
            p.bool("AutoDeployment.RetainStacksOnAccountRemoval")?.unwrap_or(false),
        )),
        None => (permission_model == PermissionModel::ServiceManaged).then_some((false, false)),
    };
    let id = engine.create_stack_set(
        NewStackSet {
            name: name.to_string(),
            permission_model,
            description: p.get("Description").map(String::from),
            template_body,
            parameters: parameters(p, "Parameters")?,
            capabilities: p.members("Capabilities")?,
            managed_execution: p.bool("ManagedExecution.Active")?.unwrap_or(false),
            auto_deployment: auto,
            behaviour: Default::default(),
        },
        call_as,
    )?;
    if !tags.is_empty() {
        engine.update_stack_set_fields(name, call_as, |ss| ss.tags = tags)?;
    }
    x.leaf("StackSetId", &id);
    Ok(())
}

fn update_stack_set(engine: &mut Engine, p: &Params, call_as: CallAs, x: &mut Xml) -> Result<(), SimError> {
    let name = p.required("StackSetName")?;
    let t = targets(p)?;
    let regions = p.members("Regions")?;
    let spec = if t.accounts.is_empty() && t.ous.is_empty() {
        TargetSpec::AllInstances
    } else {
        TargetSpec::Explicit(t)
    };
    let description = p.get("Description").map(String::from);
    let body = p.get("TemplateBody").map(String::from);
    let use_previous = p.bool("UsePreviousTemplate")?.unwrap_or(false);
    if body.is_none() && !use_previous && p.get("TemplateURL").is_none() {
        return Err(SimError::validation(
            "Specify TemplateBody, TemplateURL or UsePreviousTemplate",
        ));
    }
    let params = parameters(p, "Parameters")?;
    let managed = p.bool("ManagedExecution.Active")?;
    let new_tags = if p.map_has_prefix("Tags") { Some(tags(p)?) } else { None };
    let id = engine.start_operation(
        name,
        call_as,
        OpRequest {
            id: operation_id(p, false)?.map(String::from),
            action: OperationAction::Update,
            targets: spec,
            regions,
            prefs: preferences(p)?,
            behaviour: Default::default(),
            retain_stacks: false,
        },
    )?;
    engine.update_stack_set_fields(name, call_as, |ss| {
        if let Some(d) = description {
            ss.description = Some(d);
        }
        if let Some(b) = body {
            ss.template_body = b;
        }
        if !params.is_empty() {
            ss.parameters = params;
        }
        if let Some(m) = managed {
            ss.managed_execution = m;
        }
        if let Some(t) = new_tags {
            ss.tags = t;
        }
    })?;
    x.leaf("OperationId", &id);
    Ok(())
}

fn list_stack_sets(engine: &Engine, tokens: &Tokens, p: &Params, call_as: CallAs, x: &mut Xml) -> Result<(), SimError> {
    let max = p.max_results()?;
    let status = p.parse_enum::<StackSetStatus>("Status")?;
    let key = format!(
        "ListStackSets|{}|{}",
        call_as.as_str(),
        status.map(StackSetStatus::as_str).unwrap_or("")
    );
    let all: Vec<&StackSet> = engine
        .list_stack_sets(call_as)
        .into_iter()
        .filter(|s| status.is_none_or(|st| s.status == st))
        .collect();
    let offset = match p.get("NextToken") {
        Some(t) => tokens.decode(&key, t)?,
        None => 0,
    };
    if offset > all.len() {
        return Err(SimError::validation("Invalid NextToken: it is stale"));
    }
    let end = (offset + max).min(all.len());
    x.open("Summaries");
    for ss in &all[offset..end] {
        x.open("member");
        x.leaf("StackSetName", &ss.name)
            .leaf("StackSetId", &ss.id)
            .opt("Description", ss.description.as_deref())
            .leaf("Status", ss.status.as_str());
        if let Some((enabled, retain)) = ss.auto_deployment {
            x.open("AutoDeployment")
                .leaf("Enabled", bool_str(enabled))
                .leaf("RetainStacksOnAccountRemoval", bool_str(retain))
                .close("AutoDeployment");
        }
        x.leaf("PermissionModel", ss.permission_model.as_str())
            .leaf("DriftStatus", "NOT_CHECKED")
            .open("ManagedExecution")
            .leaf("Active", bool_str(ss.managed_execution))
            .close("ManagedExecution");
        x.close("member");
    }
    x.close("Summaries");
    if end < all.len() {
        x.leaf("NextToken", &tokens.encode(&key, end));
    }
    Ok(())
}

fn list_stack_instances(
    engine: &Engine,
    tokens: &Tokens,
    p: &Params,
    call_as: CallAs,
    x: &mut Xml,
) -> Result<(), SimError> {
    let name = p.required("StackSetName")?;
    let max = p.max_results()?;
    let ss = engine.stack_set(name, call_as)?;
    let account = account_param(p, "StackInstanceAccount")?;
    let region = region_param(p, "StackInstanceRegion")?;
    let filters = instance_filters(p)?;
    let key = format!(
        "ListStackInstances|{}|{}|{}|{:?}",
        ss.id,
        account.unwrap_or(""),
        region.unwrap_or(""),
        filters
    );
    let offset = match p.get("NextToken") {
        Some(t) => tokens.decode(&key, t)?,
        None => 0,
    };
    let total: usize = ss.instances.values().map(|m| m.len()).sum();
    if offset > total {
        return Err(SimError::validation("Invalid NextToken: it is stale"));
    }
    let mut emitted = 0;
    let mut next = None;
    x.open("Summaries");
    let flat = ss
        .instances
        .iter()
        .flat_map(|(a, m)| m.iter().map(move |(r, i)| (a, r, i)))
        .enumerate()
        .skip(offset);
    for (pos, (acct, reg, inst)) in flat {
        if emitted == max {
            next = Some(pos);
            break;
        }
        let keep = account.is_none_or(|a| a == acct)
            && region.is_none_or(|r| r == reg)
            && filters.iter().all(|(f, v)| match f.as_str() {
                "DETAILED_STATUS" => inst.detailed.as_str() == v,
                "LAST_OPERATION_ID" => &*inst.last_operation == v,
                _ => inst.drift_status() == v,
            });
        if !keep {
            continue;
        }
        emitted += 1;
        x.open("member");
        write_instance(x, ss, acct, reg, inst);
        x.close("member");
    }
    x.close("Summaries");
    if let Some(n) = next {
        x.leaf("NextToken", &tokens.encode(&key, n));
    }
    Ok(())
}

fn list_results(engine: &Engine, tokens: &Tokens, p: &Params, call_as: CallAs, x: &mut Xml) -> Result<(), SimError> {
    let name = p.required("StackSetName")?;
    let id = required_operation_id(p)?;
    let max = p.max_results()?;
    let filter = result_filter(p)?;
    let (_, op) = engine.operation(name, call_as, id)?;
    let key = format!(
        "ListStackSetOperationResults|{}|{}|{}",
        name,
        op.id,
        filter.map(ResultStatus::as_str).unwrap_or("")
    );
    let offset = match p.get("NextToken") {
        Some(t) => tokens.decode(&key, t)?,
        None => 0,
    };
    if offset > op.results.len() {
        return Err(SimError::validation("Invalid NextToken: it is stale"));
    }
    // The token holds a position in the full list, so a filtered chain scans it only once.
    let mut next = None;
    let mut emitted = 0;
    x.open("Summaries");
    for (pos, r) in op.results.iter().enumerate().skip(offset) {
        if emitted == max {
            next = Some(pos);
            break;
        }
        if filter.is_some_and(|f| r.status != f) {
            continue;
        }
        emitted += 1;
        let region = op.region_of(r);
        x.open("member")
            .leaf("Account", &r.account)
            .leaf("Region", region)
            .leaf("Status", r.status.as_str())
            .opt("StatusReason", r.reason.as_deref());
        if let Some(g) = r.gate {
            x.open("AccountGateResult")
                .leaf("Status", g.as_str())
                .opt("StatusReason", r.gate_reason(region).as_deref())
                .close("AccountGateResult");
        }
        x.opt("OrganizationalUnitId", r.ou.as_deref()).close("member");
    }
    x.close("Summaries");
    if let Some(n) = next {
        x.leaf("NextToken", &tokens.encode(&key, n));
    }
    Ok(())
}

/// The one filter ListStackSetOperationResults takes: OPERATION_RESULT_STATUS = one status.
fn result_filter(p: &Params) -> Result<Option<ResultStatus>, SimError> {
    let indices = p.member_indices("Filters")?;
    if indices.len() > 1 {
        return Err(SimError::validation(
            "1 validation error detected: Value at 'filters' failed to satisfy constraint: Member must have length less than or equal to 1",
        ));
    }
    let Some(n) = indices.first() else {
        return Ok(None);
    };
    let name = p
        .get(&format!("Filters.member.{n}.Name"))
        .ok_or_else(|| SimError::missing(&format!("Filters.member.{n}.Name")))?;
    if name != "OPERATION_RESULT_STATUS" {
        return Err(SimError::validation(format!(
            "1 validation error detected: Value '{name}' at 'filters.1.member.name' failed to satisfy constraint: Member must satisfy enum value set: [OPERATION_RESULT_STATUS]"
        )));
    }
    let value = p
        .get(&format!("Filters.member.{n}.Values"))
        .ok_or_else(|| SimError::missing(&format!("Filters.member.{n}.Values")))?;
    value.parse::<ResultStatus>().map(Some).map_err(|_| {
        SimError::validation(format!(
            "Invalid filter value {value} for OPERATION_RESULT_STATUS: expected one of PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED"
        ))
    })
}

/// One stack instance's fields, shared by ListStackInstances' summaries and
/// DescribeStackInstance (StackInstanceSummary and StackInstance carry the same ones here).
fn write_instance(x: &mut Xml, ss: &StackSet, account: &str, region: &str, inst: &Instance) {
    x.leaf("StackSetId", &ss.id)
        .leaf("Region", region)
        .leaf("Account", account)
        .opt("StackId", inst.stack_id.as_deref())
        .leaf("Status", inst.status.as_str())
        .opt("StatusReason", inst.reason.as_deref())
        .open("StackInstanceStatus")
        .leaf("DetailedStatus", inst.detailed.as_str())
        .close("StackInstanceStatus")
        .opt("OrganizationalUnitId", inst.ou.as_deref())
        .leaf("DriftStatus", inst.drift_status());
    if let Some((_, checked)) = inst.drift {
        x.time("LastDriftCheckTimestamp", checked);
    }
    x.leaf("LastOperationId", &inst.last_operation);
}

/// The model's ClientRequestToken: 1 to 128 characters matching `[a-zA-Z0-9][-a-zA-Z0-9]*`
/// as a whole (AWS matches patterns against the entire value).
fn operation_id(p: &Params, required: bool) -> Result<Option<&str>, SimError> {
    let Some(id) = p.get("OperationId") else {
        return if required {
            Err(SimError::missing("OperationId"))
        } else {
            Ok(None)
        };
    };
    if id.chars().count() > 128 {
        return Err(SimError::validation(format!(
            "1 validation error detected: Value '{id}' at 'operationId' failed to satisfy constraint: Member must have length less than or equal to 128"
        )));
    }
    let ok = id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !ok {
        return Err(SimError::validation(format!(
            "1 validation error detected: Value '{id}' at 'operationId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9][-a-zA-Z0-9]*"
        )));
    }
    Ok(Some(id))
}

fn required_operation_id(p: &Params) -> Result<&str, SimError> {
    operation_id(p, true).map(|id| id.unwrap_or_default())
}

/// An Account parameter: `^[0-9]{12}$`.
fn account_param<'a>(p: &'a Params, key: &str) -> Result<Option<&'a str>, SimError> {
    let Some(a) = p.get(key) else { return Ok(None) };
    if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SimError::validation(format!(
            "1 validation error detected: Value '{a}' at '{key}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[0-9]{{12}}$"
        )));
    }
    Ok(Some(a))
}

/// A Region parameter: `^[a-zA-Z0-9-]{1,128}$`.
fn region_param<'a>(p: &'a Params, key: &str) -> Result<Option<&'a str>, SimError> {
    let Some(r) = p.get(key) else { return Ok(None) };
    if r.len() > 128 || !r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(SimError::validation(format!(
            "1 validation error detected: Value '{r}' at '{key}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9-]{{1,128}}$"
        )));
    }
    Ok(Some(r))
}

/// ListStackInstances' Filters: at most 3; Name in StackInstanceFilterName; Values one string
/// `^\S{1,128}$`, and for DETAILED_STATUS / DRIFT_STATUS one of that enum's values.
fn instance_filters(p: &Params) -> Result<Vec<(String, String)>, SimError> {
    const DRIFT: [&str; 4] = ["DRIFTED", "IN_SYNC", "UNKNOWN", "NOT_CHECKED"];
    let indices = p.member_indices("Filters")?;
    if indices.len() > 3 {
        return Err(SimError::validation(
            "1 validation error detected: Value at 'filters' failed to satisfy constraint: Member must have length less than or equal to 3",
        ));
    }
    let mut filters = Vec::new();
    for (k, n) in indices.iter().enumerate() {
        let fname = p
            .get(&format!("Filters.member.{n}.Name"))
            .ok_or_else(|| SimError::missing(&format!("Filters.member.{n}.Name")))?;
        let value = p
            .get(&format!("Filters.member.{n}.Values"))
            .ok_or_else(|| SimError::missing(&format!("Filters.member.{n}.Values")))?;
        let at = k + 1;
        if value.chars().count() > 128 || value.chars().any(char::is_whitespace) {
            return Err(SimError::validation(format!(
                "1 validation error detected: Value '{value}' at 'filters.{at}.member.values' failed to satisfy constraint: Member must satisfy regular expression pattern: ^\\S{{1,128}}$"
            )));
        }
        let allowed: &[&str] = match fname {
            "DETAILED_STATUS" => &DetailedStatus::ALL,
            "DRIFT_STATUS" => &DRIFT,
            "LAST_OPERATION_ID" => &[],
            other => {
                return Err(SimError::validation(format!(
                    "1 validation error detected: Value '{other}' at 'filters.{at}.member.name' failed to satisfy constraint: Member must satisfy enum value set: [DETAILED_STATUS, LAST_OPERATION_ID, DRIFT_STATUS]"
                )))
            }
        };
        if !allowed.is_empty() && !allowed.contains(&value) {
            return Err(SimError::validation(format!(
                "Invalid value {value} for filter {fname}: expected one of {}",
                allowed.join(", ")
            )));
        }
        filters.push((fname.to_string(), value.to_string()));
    }
    Ok(filters)
}

/// Tags.member.N.Key / .Value: at most 50; Key 1-128 and Value 1-256 characters, both required.
fn tags(p: &Params) -> Result<Vec<(String, String)>, SimError> {
    let indices = p.member_indices("Tags")?;
    if indices.len() > 50 {
        return Err(SimError::validation(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50",
        ));
    }
    let mut out = Vec::new();
    for n in indices {
        let key = p
            .get(&format!("Tags.member.{n}.Key"))
            .ok_or_else(|| SimError::missing(&format!("Tags.member.{n}.Key")))?;
        let value = p
            .get(&format!("Tags.member.{n}.Value"))
            .ok_or_else(|| SimError::missing(&format!("Tags.member.{n}.Value")))?;
        for (field, text, max) in [("key", key, 128), ("value", value, 256)] {
            if text.chars().count() > max {
                return Err(SimError::validation(format!(
                    "1 validation error detected: Value at 'tags.{n}.member.{field}' failed to satisfy constraint: Member must have length less than or equal to {max}"
                )));
            }
        }
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

fn write_stack_set(x: &mut Xml, ss: &StackSet, mgmt: &str) {
    x.open("StackSet")
        .leaf("StackSetName", &ss.name)
        .leaf("StackSetId", &ss.id)
        .opt("Description", ss.description.as_deref())
        .leaf("Status", ss.status.as_str())
        .leaf("TemplateBody", &ss.template_body);
    x.open("Parameters");
    for (k, v) in &ss.parameters {
        x.open("member")
            .leaf("ParameterKey", k)
            .leaf("ParameterValue", v)
            .close("member");
    }
    x.close("Parameters");
    x.list("Capabilities", &ss.capabilities);
    if !ss.tags.is_empty() {
        x.open("Tags");
        for (k, v) in &ss.tags {
            x.open("member").leaf("Key", k).leaf("Value", v).close("member");
        }
        x.close("Tags");
    }
    x.leaf("StackSetARN", &ss.arn(mgmt));
    if ss.permission_model == PermissionModel::SelfManaged {
        x.leaf(
            "AdministrationRoleARN",
            &format!("arn:aws:iam::{mgmt}:role/AWSCloudFormationStackSetAdministrationRole"),
        )
        .leaf("ExecutionRoleName", "AWSCloudFormationStackSetExecutionRole");
    }
    if let Some((enabled, retain)) = ss.auto_deployment {
        x.open("AutoDeployment")
            .leaf("Enabled", bool_str(enabled))
            .leaf("RetainStacksOnAccountRemoval", bool_str(retain))
            .close("AutoDeployment");
    }
    x.leaf("PermissionModel", ss.permission_model.as_str());
    if ss.permission_model == PermissionModel::ServiceManaged {
        let mut ous: Vec<String> = ss
            .instances
            .values()
            .flat_map(|m| m.values().filter_map(|i| i.ou.clone()))
            .collect();
        ous.sort();
        ous.dedup();
        x.list("OrganizationalUnitIds", &ous);
    }
    x.open("ManagedExecution")
        .leaf("Active", bool_str(ss.managed_execution))
        .close("ManagedExecution");
    x.list("Regions", &ss.regions());
    x.close("StackSet");
}

fn write_preferences(x: &mut Xml, p: &OperationPreferences) {
    x.open("OperationPreferences");
    x.opt(
        "RegionConcurrencyType",
        p.region_concurrency.map(RegionConcurrency::as_str),
    );
    if !p.region_order.is_empty() {
        x.list("RegionOrder", &p.region_order);
    }
    if let Some(n) = p.failure_tolerance_count {
        x.num("FailureToleranceCount", n);
    }
    if let Some(n) = p.failure_tolerance_percentage {
        x.num("FailureTolerancePercentage", n);
    }
    if let Some(n) = p.max_concurrent_count {
        x.num("MaxConcurrentCount", n);
    }
    if let Some(n) = p.max_concurrent_percentage {
        x.num("MaxConcurrentPercentage", n);
    }
    x.opt("ConcurrencyMode", p.concurrency_mode.map(ConcurrencyMode::as_str));
    x.close("OperationPreferences");
}

fn write_operation_summary(x: &mut Xml, op: &Operation) {
    x.leaf("OperationId", &op.id)
        .leaf("Action", op.action.as_str())
        .leaf("Status", op.status.as_str())
        .time("CreationTimestamp", op.created);
    if let Some(e) = op.ended {
        x.time("EndTimestamp", e);
    }
    x.opt("StatusReason", op.status_reason.as_deref());
    x.open("StatusDetails")
        .num("FailedStackInstancesCount", op.failed_count)
        .close("StatusDetails");
    write_preferences(x, &op.prefs);
}

fn write_operation(x: &mut Xml, ss: &StackSet, op: &Operation, mgmt: &str) {
    x.open("StackSetOperation")
        .leaf("OperationId", &op.id)
        .leaf("StackSetId", &ss.id)
        .leaf("Action", op.action.as_str())
        .leaf("Status", op.status.as_str());
    write_preferences(x, &op.prefs);
    if let Some(retain) = op.retain_stacks {
        x.leaf("RetainStacks", bool_str(retain));
    }
    if ss.permission_model == PermissionModel::SelfManaged {
        x.leaf(
            "AdministrationRoleARN",
            &format!("arn:aws:iam::{mgmt}:role/AWSCloudFormationStackSetAdministrationRole"),
        )
        .leaf("ExecutionRoleName", "AWSCloudFormationStackSetExecutionRole");
    }
    x.time("CreationTimestamp", op.created);
    if let Some(e) = op.ended {
        x.time("EndTimestamp", e);
    }
    if let Some(t) = &op.targets {
        x.open("DeploymentTargets");
        if !t.accounts.is_empty() {
            x.list("Accounts", &t.accounts);
        }
        if !t.ous.is_empty() {
            x.list("OrganizationalUnitIds", &t.ous);
        }
        x.opt("AccountFilterType", t.account_filter_type.as_deref());
        x.close("DeploymentTargets");
    }
    x.opt("StatusReason", op.status_reason.as_deref());
    x.open("StatusDetails")
        .num("FailedStackInstancesCount", op.failed_count)
        .close("StatusDetails");
    x.close("StackSetOperation");
}

/// A complete response body (success or error envelope) with its HTTP status.
pub fn respond(action: &str, outcome: Result<String, SimError>, request_id: &str) -> (u16, String) {
    match outcome {
        Ok(inner) => (200, xml::envelope(action, &inner, request_id)),
        Err(e) => (e.status, xml::error(&e, request_id)),
    }
}
