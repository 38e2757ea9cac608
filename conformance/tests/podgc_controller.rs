//! The pod garbage collector force-deletes pods bound to a node that does not exist,
//! once the node has stayed missing through the quarantine.

use std::time::Duration;

use k8rs_conformance::{poll_until, Server};

/// Quarantine (40s) plus up to two 20s sweeps.
const GC_TIMEOUT: Duration = Duration::from_secs(120);

const POD: &str = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"stranded"},
  "spec":{"nodeName":"ghost","containers":[{"name":"c","image":"busybox"}]}}"#;

#[test]
fn pods_on_missing_nodes_are_force_deleted() {
    let server = Server::start();
    server.kubectl_stdin(&["create", "-f", "-"], POD).ok();
    poll_until(GC_TIMEOUT, "the orphaned pod gone", || {
        (!server.kubectl(&["get", "pod", "stranded"]).success()).then_some(())
    });
}
