//! The scheduling queue (upstream's `PriorityQueue`): an active queue ordered by priority
//! then arrival, a backoff queue (1s doubling to 10s per attempt), and the unschedulable
//! pods, which move back when a cluster event may help them or after five minutes.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;

use crate::node_info::pod_key;

const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// `podMaxInUnschedulablePodsDuration`.
const MAX_UNSCHEDULABLE: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
pub struct QueuedPod {
    pub pod: Arc<Pod>,
    pub attempts: u32,
    /// When the last attempt ended (backoff counts from here).
    pub last_attempt: Option<Instant>,
}

impl QueuedPod {
    fn priority(&self) -> i32 {
        self.pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
    }

    fn backoff_until(&self) -> Option<Instant> {
        let last = self.last_attempt?;
        let exp = self.attempts.saturating_sub(1).min(8);
        let d = (INITIAL_BACKOFF * 2u32.pow(exp)).min(MAX_BACKOFF);
        Some(last + d)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Place {
    Active(Reverse<i32>, u64),
    Backoff,
    Unschedulable(Instant),
    InFlight,
}

#[derive(Default)]
pub struct Queue {
    active: BTreeSet<(Reverse<i32>, u64, String)>,
    pods: HashMap<String, (QueuedPod, Place)>,
    seq: u64,
    scheduling_cycle: u64,
    move_request_cycle: u64,
    /// Pods updated while in flight: requeue them with their newest object.
    updated_in_flight: HashMap<String, Arc<Pod>>,
}

/// Does an update change what scheduling sees? (upstream's `isPodUpdated`: status and
/// bookkeeping metadata don't count, so our own status writes don't requeue.)
fn relevant_change(old: &Pod, new: &Pod) -> bool {
    old.spec != new.spec
        || old.metadata.labels != new.metadata.labels
        || old.metadata.annotations != new.metadata.annotations
}

impl Queue {
    fn push_active(&mut self, key: String, qp: QueuedPod) {
        self.seq += 1;
        let prio = Reverse(qp.priority());
        self.active.insert((prio, self.seq, key.clone()));
        self.pods.insert(key, (qp, Place::Active(prio, self.seq)));
    }

    fn take(&mut self, key: &str) -> Option<QueuedPod> {
        let (qp, place) = self.pods.remove(key)?;
        if let Place::Active(p, s) = place {
            self.active.remove(&(p, s, key.to_string()));
        }
        Some(qp)
    }

    /// A new or updated unscheduled pod.
    pub fn add_or_update(&mut self, pod: Arc<Pod>, now: Instant) {
        let key = pod_key(&pod);
        let Some((qp, place)) = self.pods.get_mut(&key) else {
            self.push_active(
                key,
                QueuedPod {
                    pod,
                    attempts: 0,
                    last_attempt: None,
                },
            );
            return;
        };
        if *place == Place::InFlight {
            self.updated_in_flight.insert(key, pod);
            return;
        }
        let changed = relevant_change(&qp.pod, &pod);
        qp.pod = pod;
        if changed && matches!(place, Place::Unschedulable(_) | Place::Backoff) {
            if let Some(qp) = self.take(&key) {
                self.requeue_ready(key, qp, now);
            }
        }
    }

    pub fn delete(&mut self, key: &str) {
        self.take(key);
        self.updated_in_flight.remove(key);
    }

    fn requeue_ready(&mut self, key: String, qp: QueuedPod, now: Instant) {
        if qp.backoff_until().is_some_and(|t| t > now) {
            self.pods.insert(key, (qp, Place::Backoff));
        } else {
            self.push_active(key, qp);
        }
    }

    /// The next pod to schedule, with its scheduling cycle.
    pub fn pop(&mut self) -> Option<(QueuedPod, u64)> {
        let first = self.active.pop_first()?;
        let (_, _, key) = first;
        let (mut qp, _) = self.pods.remove(&key)?;
        qp.attempts += 1;
        self.scheduling_cycle += 1;
        self.pods.insert(key, (qp.clone(), Place::InFlight));
        Some((qp, self.scheduling_cycle))
    }

    /// The pod got a node (or left): forget it.
    pub fn done(&mut self, key: &str) {
        self.pods.remove(key);
        self.updated_in_flight.remove(key);
    }

    /// A failed attempt: back to backoff if something moved meanwhile (or on errors),
    /// else to the unschedulable pods. False if the pod was bound or deleted meanwhile.
    pub fn requeue(&mut self, key: &str, cycle: u64, unschedulable: bool, now: Instant) -> bool {
        let Some((mut qp, place)) = self.pods.remove(key) else {
            return false;
        };
        if place != Place::InFlight {
            self.pods.insert(key.to_string(), (qp, place));
            return false;
        }
        qp.last_attempt = Some(now);
        if let Some(newer) = self.updated_in_flight.remove(key) {
            qp.pod = newer;
            self.pods.insert(key.to_string(), (qp, Place::Backoff));
            return true;
        }
        if !unschedulable || self.move_request_cycle >= cycle {
            self.pods.insert(key.to_string(), (qp, Place::Backoff));
        } else {
            self.pods
                .insert(key.to_string(), (qp, Place::Unschedulable(now)));
        }
        true
    }

    /// A cluster event that may make unschedulable pods fit; `which` picks the pods.
    pub fn move_unschedulable(&mut self, now: Instant, which: impl Fn(&Pod) -> bool) {
        self.move_request_cycle = self.scheduling_cycle;
        let keys: Vec<String> = self
            .pods
            .iter()
            .filter(|(_, (qp, place))| matches!(place, Place::Unschedulable(_)) && which(&qp.pod))
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            if let Some(qp) = self.take(&key) {
                self.requeue_ready(key, qp, now);
            }
        }
    }

    /// Backoff expiry and the unschedulable timeout.
    pub fn flush(&mut self, now: Instant) {
        let keys: Vec<String> = self
            .pods
            .iter()
            .filter(|(_, (qp, place))| match place {
                Place::Backoff => qp.backoff_until().is_none_or(|t| t <= now),
                Place::Unschedulable(since) => now.duration_since(*since) >= MAX_UNSCHEDULABLE,
                _ => false,
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            if let Some(qp) = self.take(&key) {
                self.requeue_ready(key, qp, now);
            }
        }
    }

    pub fn has_active(&self) -> bool {
        !self.active.is_empty()
    }

    pub fn len(&self) -> usize {
        self.pods.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, prio: i32) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "d"},
                "spec": {"containers": [], "priority": prio}}))
            .unwrap(),
        )
    }

    #[test]
    fn pops_by_priority_then_arrival() {
        let mut q = Queue::default();
        let now = Instant::now();
        q.add_or_update(pod("low", 0), now);
        q.add_or_update(pod("high", 10), now);
        q.add_or_update(pod("low2", 0), now);
        let names: Vec<String> = std::iter::from_fn(|| q.pop())
            .map(|(p, _)| p.pod.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, vec!["high", "low", "low2"]);
    }

    #[test]
    fn unschedulable_pods_wait_for_an_event_then_back_off() {
        let mut q = Queue::default();
        let now = Instant::now();
        q.add_or_update(pod("p", 0), now);
        let (_, cycle) = q.pop().unwrap();
        q.requeue("d/p", cycle, true, now);
        q.flush(now + Duration::from_secs(60));
        assert!(!q.has_active(), "stays unschedulable without an event");
        q.move_unschedulable(now, |_| true);
        assert!(!q.has_active(), "backing off first");
        q.flush(now + INITIAL_BACKOFF);
        assert!(q.has_active());
    }

    #[test]
    fn an_event_during_the_attempt_sends_the_pod_to_backoff() {
        let mut q = Queue::default();
        let now = Instant::now();
        q.add_or_update(pod("p", 0), now);
        let (_, cycle) = q.pop().unwrap();
        q.move_unschedulable(now, |_| true);
        q.requeue("d/p", cycle, true, now);
        q.flush(now + INITIAL_BACKOFF);
        assert!(q.has_active());
    }

    #[test]
    fn status_only_updates_do_not_requeue() {
        let mut q = Queue::default();
        let now = Instant::now();
        q.add_or_update(pod("p", 0), now);
        let (_, cycle) = q.pop().unwrap();
        q.requeue("d/p", cycle, true, now);
        let mut with_status = (*pod("p", 0)).clone();
        with_status.status = Some(Default::default());
        q.add_or_update(Arc::new(with_status), now + MAX_BACKOFF);
        assert!(!q.has_active());
        q.add_or_update(pod("p", 5), now + MAX_BACKOFF);
        assert!(q.has_active(), "a spec change moves it");
        q.delete("d/p");
        assert!(q.is_empty());
    }
}
