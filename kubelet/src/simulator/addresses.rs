//! Addresses of simulated nodes: node `i` owns the pod CIDR 10.(64+i/256).(i%256).0/24
//! and the node IP 172.(16+i/65536).(i/256%256).(i%256) — room for 48k nodes.

use std::collections::BTreeSet;

pub fn pod_cidr(i: usize) -> String {
    format!("10.{}.{}.0/24", 64 + i / 256, i % 256)
}

pub fn node_ip(i: usize) -> String {
    format!("172.{}.{}.{}", 16 + i / 65536, (i / 256) % 256, i % 256)
}

/// Pod IPs of one node's /24: .2 to .254 (.1 would be the bridge).
#[derive(Debug, Default)]
pub struct PodIps {
    used: BTreeSet<u8>,
}

impl PodIps {
    pub fn allocate(&mut self, node: usize) -> Option<String> {
        let host = (2u8..=254).find(|h| !self.used.contains(h))?;
        self.used.insert(host);
        Some(format!("10.{}.{}.{host}", 64 + node / 256, node % 256))
    }

    /// Take an IP already in use (a pod that ran before a restart).
    pub fn claim(&mut self, ip: &str) {
        if let Some(h) = ip.rsplit('.').next().and_then(|h| h.parse().ok()) {
            self.used.insert(h);
        }
    }

    pub fn release(&mut self, ip: &str) {
        if let Some(h) = ip.rsplit('.').next().and_then(|h| h.parse::<u8>().ok()) {
            self.used.remove(&h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_get_disjoint_cidrs_and_pods_ips_inside() {
        assert_eq!(pod_cidr(0), "10.64.0.0/24");
        assert_eq!(pod_cidr(999), "10.67.231.0/24");
        let mut ips = PodIps::default();
        assert_eq!(ips.allocate(999).unwrap(), "10.67.231.2");
        assert_eq!(ips.allocate(999).unwrap(), "10.67.231.3");
        ips.release("10.67.231.2");
        assert_eq!(ips.allocate(999).unwrap(), "10.67.231.2");
        for _ in 0..251 {
            ips.allocate(999);
        }
        assert_eq!(ips.allocate(999), None, "a /24 holds 253 pods");
    }
}
