//! Links into the AWS console for what sstop shows, for `Y` (copy the URL) to hand to a
//! colleague or a ticket. Pure string building.

use crate::model::PermissionModel;

/// `permissions=` of the console's StackSets pages: `service` for service-managed stack sets.
fn permissions(model: Option<PermissionModel>) -> &'static str {
    match model {
        Some(PermissionModel::ServiceManaged) => "service",
        _ => "self",
    }
}

/// Percent-encodes what is not unreserved (RFC 3986), so a name cannot break the URL.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn base(region: &str) -> String {
    let region = encode(region);
    format!("https://{region}.console.aws.amazon.com/cloudformation/home?region={region}")
}

/// The stack set's operation in the console (its Operations tab, the operation selected).
pub fn operation_url(region: &str, stack_set: &str, operation_id: &str, model: Option<PermissionModel>) -> String {
    format!(
        "{}#/stacksets/{}/operations?permissions={}&operationId={}",
        base(region),
        encode(stack_set),
        permissions(model),
        encode(operation_id)
    )
}

/// The stack set's stack instances in the console, narrowed to one account and Region.
pub fn stack_instance_url(
    region: &str,
    stack_set: &str,
    account: &str,
    instance_region: &str,
    model: Option<PermissionModel>,
) -> String {
    format!(
        "{}#/stacksets/{}/stacks?permissions={}&account={}&stackRegion={}",
        base(region),
        encode(stack_set),
        permissions(model),
        encode(account),
        encode(instance_region)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_region_stack_set_and_operation_encoded() {
        let url = operation_url("eu-west-1", "a b/c", "op-1", Some(PermissionModel::ServiceManaged));
        assert_eq!(
            url,
            "https://eu-west-1.console.aws.amazon.com/cloudformation/home?region=eu-west-1#/stacksets/a%20b%2Fc/operations?permissions=service&operationId=op-1"
        );
        let url = stack_instance_url("us-east-1", "set", "111122223333", "ap-south-1", None);
        assert!(url.ends_with("#/stacksets/set/stacks?permissions=self&account=111122223333&stackRegion=ap-south-1"));
    }
}
