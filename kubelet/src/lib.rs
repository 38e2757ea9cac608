//! The kubelet: pod workers over CRI. Not built yet.
