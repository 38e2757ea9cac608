//! Leader election: controller managers share the `kube-system/kube-controller-manager`
//! Lease, so exactly one acts at a time and another takes over when it dies.

use std::process::Command;
use std::time::Duration;

use k8rs_conformance::{k8rs_bin, poll_until, Background, Server, ServerOpts, WAIT_TIMEOUT};
use serde_json::Value;

/// Long enough for a dead holder's 15s lease to expire and a 2s retry to notice.
const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(60);

const ACQUIRED: &str = "successfully acquired lease";

const RS: &str = r#"{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web"},
  "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
    "template":{"metadata":{"labels":{"app":"web"}},
      "spec":{"containers":[{"name":"c","image":"busybox"}]}}}}"#;

fn controller_manager(server: &Server) -> Background {
    let mut cmd = Command::new(k8rs_bin());
    cmd.args(["controller-manager", "--kubeconfig"])
        .arg(server.kubeconfig())
        .env("K8RS_LOG", "info");
    Background::spawn(cmd)
}

fn lease(server: &Server) -> Value {
    server.kubectl_json(&[
        "get",
        "lease",
        "-n",
        "kube-system",
        "kube-controller-manager",
    ])
}

fn pod_count(server: &Server) -> usize {
    let list = server.kubectl_json(&["get", "pods", "-l", "app=web"]);
    list["items"].as_array().map_or(0, Vec::len)
}

#[test]
fn leader_election_lets_exactly_one_of_two_controller_managers_act() {
    // The server runs no controllers of its own, so it takes no lease.
    let server = Server::start_with(ServerOpts {
        extra_args: vec!["--controllers=-*".into()],
        ..ServerOpts::default()
    });
    let mut managers = [controller_manager(&server), controller_manager(&server)];
    let leader = poll_until(TAKEOVER_TIMEOUT, "one controller manager to lead", || {
        managers.iter().position(|m| m.stderr().contains(ACQUIRED))
    });
    let follower = 1 - leader;
    let first = lease(&server);
    let holder = first["spec"]["holderIdentity"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(holder.contains('_'), "hostname_uuid identity: {first}");
    assert_eq!(first["spec"]["leaseDurationSeconds"], 15, "{first}");

    // The leader acts...
    server.kubectl_stdin(&["create", "-f", "-"], RS).ok();
    poll_until(WAIT_TIMEOUT, "two pods", || {
        (pod_count(&server) == 2).then_some(())
    });
    // ...while the other waits, alive, without the lease.
    assert!(managers[follower].is_running());
    assert!(
        !managers[follower].stderr().contains(ACQUIRED),
        "{}",
        managers[follower].stderr()
    );
    assert_eq!(lease(&server)["spec"]["holderIdentity"], holder.as_str());

    // Kill the leader: the follower takes over once the lease expires, and acts.
    managers[leader].kill();
    managers[follower].wait_for_stderr("the follower to take over", TAKEOVER_TIMEOUT, |s| {
        s.contains(ACQUIRED)
    });
    let after = lease(&server);
    assert_ne!(after["spec"]["holderIdentity"], holder.as_str(), "{after}");
    assert_eq!(after["spec"]["leaseTransitions"], 1, "{after}");
    server.kubectl(&["scale", "rs", "web", "--replicas=3"]).ok();
    poll_until(WAIT_TIMEOUT, "three pods", || {
        (pod_count(&server) == 3).then_some(())
    });
}

#[test]
fn server_controllers_hold_the_controller_manager_lease() {
    let server = Server::start();
    let lease = poll_until(WAIT_TIMEOUT, "the controller-manager lease", || {
        let out = server.kubectl(&[
            "get",
            "lease",
            "-n",
            "kube-system",
            "kube-controller-manager",
            "-o",
            "json",
        ]);
        out.success().then(|| out.json())
    });
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 15, "{lease}");
    // A standalone controller manager next to it waits rather than acting twice.
    let mut standby = controller_manager(&server);
    standby.wait_for_stderr("the standby to try", WAIT_TIMEOUT, |s| {
        s.contains("attempting to acquire leader lease")
    });
    let renewed = poll_until(WAIT_TIMEOUT, "a renewal", || {
        let l = server.kubectl_json(&[
            "get",
            "lease",
            "-n",
            "kube-system",
            "kube-controller-manager",
        ]);
        (l["spec"]["renewTime"] != lease["spec"]["renewTime"]).then_some(l)
    });
    assert_eq!(
        renewed["spec"]["holderIdentity"],
        lease["spec"]["holderIdentity"]
    );
    assert!(standby.is_running());
    assert!(!standby.stderr().contains(ACQUIRED), "{}", standby.stderr());
}

#[test]
fn controller_manager_exits_when_its_lease_is_taken() {
    let server = Server::start_with(ServerOpts {
        extra_args: vec!["--controllers=-*".into()],
        ..ServerOpts::default()
    });
    let mut manager = controller_manager(&server);
    manager.wait_for_stderr("the lease", TAKEOVER_TIMEOUT, |s| s.contains(ACQUIRED));
    // Another holder writes itself into the lease, as a leader after a partition would.
    server
        .kubectl(&[
            "patch",
            "lease",
            "-n",
            "kube-system",
            "kube-controller-manager",
            "--type=merge",
            "-p",
            r#"{"spec":{"holderIdentity":"elsewhere_1"}}"#,
        ])
        .ok();
    poll_until(WAIT_TIMEOUT, "the manager to exit", || {
        (!manager.is_running()).then_some(())
    });
    let stderr = manager.stderr();
    assert!(stderr.contains("leaderelection lost"), "{stderr}");
}
