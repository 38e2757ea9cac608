//! DefaultTolerationSeconds: pods tolerate a not-ready or unreachable node for five minutes
//! before eviction, unless they say otherwise (plugin/pkg/admission/defaulttolerationseconds).

use serde_json::{json, Value};

const DEFAULT_SECONDS: i64 = 300;
const KEYS: [&str; 2] = [
    "node.kubernetes.io/not-ready",
    "node.kubernetes.io/unreachable",
];

pub fn admit(pod: &mut Value) {
    let spec = &mut pod["spec"];
    if !spec.is_object() {
        return;
    }
    let existing = spec["tolerations"].as_array().cloned().unwrap_or_default();
    // A toleration of the key for NoExecute (or for every effect) is the pod's own choice.
    let covers = |key: &str| {
        existing.iter().any(|t| {
            t["key"] == key && matches!(t["effect"].as_str(), None | Some("") | Some("NoExecute"))
        })
    };
    let mut add = Vec::new();
    for key in KEYS {
        if !covers(key) {
            add.push(json!({
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_SECONDS,
            }));
        }
    }
    if add.is_empty() {
        return;
    }
    let mut all = existing;
    all.extend(add);
    spec["tolerations"] = json!(all);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_both_unless_the_pod_tolerates_the_key() {
        let mut pod = json!({"spec": {}});
        admit(&mut pod);
        assert_eq!(pod["spec"]["tolerations"].as_array().unwrap().len(), 2);
        assert_eq!(pod["spec"]["tolerations"][0]["key"], KEYS[0]);
        assert_eq!(pod["spec"]["tolerations"][1]["tolerationSeconds"], 300);

        let own = json!({"key": KEYS[1], "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5});
        let mut pod = json!({"spec": {"tolerations": [own]}});
        admit(&mut pod);
        let t = pod["spec"]["tolerations"].as_array().unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0]["tolerationSeconds"], 5);
        assert_eq!(t[1]["key"], KEYS[0]);
    }
}
