//! NodeName: a pod that names a node fits only there.

use super::Status;
use crate::node_info::{NodeInfo, PodInfo};

pub const REASON: &str = "node(s) didn't match the requested node name";

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    match pod.node_name() {
        Some(n) if n != node.name => Err(Status::unresolvable(REASON)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;

    #[test]
    fn only_the_named_node_fits() {
        let p = pod(json!({"spec": {"nodeName": "a", "containers": []}}));
        assert!(filter(&p, &node(json!({"metadata": {"name": "a"}}))).is_ok());
        let err = filter(&p, &node(json!({"metadata": {"name": "b"}}))).unwrap_err();
        assert_eq!(err.reasons, vec![REASON]);
    }
}
