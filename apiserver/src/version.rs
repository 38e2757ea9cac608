//! The version this server reports.

use serde_json::{json, Value};

/// Kubernetes API version served, with the k8rs version as a suffix.
pub const GIT_VERSION: &str = concat!("v1.33.0-k8rs.", env!("CARGO_PKG_VERSION"));

pub fn info() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": GIT_VERSION,
        "gitCommit": option_env!("K8RS_GIT_COMMIT").unwrap_or(""),
        "gitTreeState": "clean",
        "buildDate": option_env!("K8RS_BUILD_DATE").unwrap_or("1970-01-01T00:00:00Z"),
        "goVersion": "n/a (rust)",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    })
}

/// Architecture in Go's spelling, as clients expect it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
