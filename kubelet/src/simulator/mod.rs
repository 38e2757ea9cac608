//! Simulated nodes, as kwok plays them: `count` Nodes registered with capacity,
//! conditions, addresses and a pod CIDR; their Leases renewed in `kube-node-lease`; pods
//! bound to them reported Running and Ready (IP from the node's CIDR), finishing after
//! `run_duration` when their restartPolicy is Never/OnFailure; graceful deletions
//! confirmed. One pod watcher serves every node.

mod addresses;
mod nodes;
mod pods;

use std::time::Duration;

use kube::Client;

#[derive(Debug, Clone)]
pub struct Config {
    pub count: usize,
    pub prefix: String,
    pub cpu: String,
    pub memory: String,
    pub pods: String,
    pub run_duration: Duration,
}

impl Config {
    pub fn node_name(&self, i: usize) -> String {
        format!("{}{i}", self.prefix)
    }
}

/// A `--run-duration` value: `1s`, `500ms`, `2m`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let n: f64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("invalid duration unit in {s:?}")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

/// Register the nodes, then keep their leases and pods until stopped.
pub async fn run(client: Client, config: Config) -> anyhow::Result<()> {
    nodes::register(&client, &config).await?;
    tracing::info!(count = config.count, prefix = %config.prefix, "simulated nodes registered");
    let leases = tokio::spawn(nodes::renew_leases(client.clone(), config.clone()));
    let pods = tokio::spawn(pods::run(client, config));
    tokio::select! {
        r = leases => r??,
        r = pods => r??,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_durations_parse_like_go_durations() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("1x").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("s").is_err());
    }
}
