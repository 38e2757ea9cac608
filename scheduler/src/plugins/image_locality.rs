//! ImageLocality: prefer nodes that already hold the pod's images, weighted by how widely
//! each image is spread (so one node holding everything does not attract every pod).

use std::collections::HashMap;

use super::MAX_NODE_SCORE;
use crate::node_info::{NodeInfo, PodInfo};

const MB: i64 = 1024 * 1024;
const MIN_THRESHOLD: i64 = 23 * MB;
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// Image name with a default `:latest` tag, as node status lists them.
fn normalized(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || last.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

fn images(pod: &PodInfo) -> Vec<String> {
    pod.pod
        .spec
        .iter()
        .flat_map(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
        })
        .filter_map(|c| c.image.as_deref())
        .map(normalized)
        .collect()
}

/// How many of `nodes` hold each image of the pod.
pub fn spread(pod: &PodInfo, nodes: &[&NodeInfo]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for image in images(pod) {
        let n = nodes
            .iter()
            .filter(|n| n.images.contains_key(&image))
            .count();
        out.insert(image, n);
    }
    out
}

pub fn score(pod: &PodInfo, node: &NodeInfo, spread: &HashMap<String, usize>, total: usize) -> i64 {
    let imgs = images(pod);
    if imgs.is_empty() || total == 0 {
        return 0;
    }
    let mut sum = 0i64;
    for image in &imgs {
        if let Some(size) = node.images.get(image) {
            let have = spread.get(image).copied().unwrap_or(0) as f64;
            sum += (*size as f64 * (have / total as f64)) as i64;
        }
    }
    let max = MAX_CONTAINER_THRESHOLD * imgs.len() as i64;
    let clamped = sum.clamp(MIN_THRESHOLD, max);
    MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) / (max - MIN_THRESHOLD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;

    #[test]
    fn nodes_with_the_image_score_higher() {
        let with = node(json!({"metadata": {"name": "a"}, "status": {"images": [
            {"names": ["nginx:latest"], "sizeBytes": 500 * MB}]}}));
        let without = node(json!({"metadata": {"name": "b"}}));
        let p = pod(json!({"spec": {"containers": [{"name": "c", "image": "nginx"}]}}));
        let s = spread(&p, &[&with, &without]);
        assert!(score(&p, &with, &s, 2) > 0);
        assert_eq!(score(&p, &without, &s, 2), 0);
    }
}
