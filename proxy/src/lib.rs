//! Services to iptables rules. Not built yet.
