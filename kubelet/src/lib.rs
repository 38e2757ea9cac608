//! The kubelet. For now only its simulated form ([`simulator`]): kwok-style nodes that
//! register, renew their leases and report pods Running without running containers.

pub mod simulator;
