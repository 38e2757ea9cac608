//! NodePorts: a pod's host ports must be free on the node.

use super::Status;
use crate::node_info::{NodeInfo, PodInfo};

pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    let clash = pod
        .host_ports
        .iter()
        .any(|want| node.used_ports.iter().any(|used| used.conflicts(want)));
    if clash {
        Err(Status::unschedulable(REASON))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;
    use std::sync::Arc;

    #[test]
    fn host_ports_conflict_on_same_port_and_protocol() {
        let with_port = |ip: &str, proto: &str| {
            pod(json!({"spec": {"containers": [{"name": "c", "ports": [
                {"containerPort": 80, "hostPort": 8080, "hostIP": ip, "protocol": proto}
            ]}]}}))
        };
        let mut n = node(json!({"metadata": {"name": "a"}}));
        n.add_pod(Arc::new(with_port("", "TCP")));
        assert_eq!(
            filter(&with_port("10.0.0.1", "TCP"), &n)
                .unwrap_err()
                .reasons,
            vec![REASON]
        );
        assert!(filter(&with_port("", "UDP"), &n).is_ok());
    }
}
