//! The JSON form of a fitted isolation forest, and its validation on load.
//!
//! Trees are stored as scikit-learn stores them (`tree_.children_left`, `children_right`,
//! `feature`, `threshold`, `n_node_samples`; −1 for a leaf's children, −2 for its feature and
//! threshold), so a Python user can read them. Loading checks everything scoring relies on: a
//! tree whose children come after their parent, each node the child of exactly one parent,
//! siblings adjacent (right = left + 1, as this program writes them), features in range,
//! finite thresholds.

use serde::{Deserialize, Serialize};

use super::tree::{Node, NodeSpec, Tree};
use super::{Contamination, IsolationForest, IsolationForestParams, MaxSamples};

const TREE_LEAF: i64 = -1;
const TREE_UNDEFINED: i64 = -2;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IsolationForestRepr {
    params: IsolationForestParams,
    n_features: usize,
    max_samples: usize,
    offset: f64,
    trees: Vec<TreeRepr>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TreeRepr {
    children_left: Vec<i64>,
    children_right: Vec<i64>,
    feature: Vec<i64>,
    threshold: Vec<f64>,
    n_node_samples: Vec<u64>,
}

impl From<IsolationForest> for IsolationForestRepr {
    fn from(forest: IsolationForest) -> Self {
        let trees = forest.trees.iter().map(TreeRepr::from).collect();
        IsolationForestRepr {
            params: forest.params,
            n_features: forest.n_features,
            max_samples: forest.max_samples,
            offset: forest.offset,
            trees,
        }
    }
}

impl From<&Tree> for TreeRepr {
    fn from(tree: &Tree) -> Self {
        let nodes = tree.nodes();
        let child = |n: &Node, offset: u32| {
            if n.is_leaf() {
                TREE_LEAF
            } else {
                i64::from(n.left + offset)
            }
        };
        TreeRepr {
            children_left: nodes.iter().map(|n| child(n, 0)).collect(),
            children_right: nodes.iter().map(|n| child(n, 1)).collect(),
            feature: nodes
                .iter()
                .map(|n| {
                    if n.is_leaf() {
                        TREE_UNDEFINED
                    } else {
                        i64::from(n.feature)
                    }
                })
                .collect(),
            threshold: nodes
                .iter()
                .map(|n| {
                    if n.is_leaf() {
                        TREE_UNDEFINED as f64
                    } else {
                        n.threshold
                    }
                })
                .collect(),
            n_node_samples: tree.n_samples().iter().map(|&n| u64::from(n)).collect(),
        }
    }
}

impl TryFrom<IsolationForestRepr> for IsolationForest {
    type Error = String;

    fn try_from(repr: IsolationForestRepr) -> Result<Self, String> {
        repr.params.validate().map_err(|e| e.to_string())?;
        if repr.n_features == 0 {
            return Err("n_features must be at least 1".into());
        }
        if repr.max_samples == 0 || repr.max_samples > u32::MAX as usize {
            return Err(format!("max_samples {} is out of range", repr.max_samples));
        }
        if !repr.offset.is_finite() {
            return Err("offset is not finite".into());
        }
        if repr.trees.is_empty() {
            return Err("the forest has no trees".into());
        }
        if repr.trees.len() != repr.params.get_n_trees() {
            return Err(format!(
                "the forest has {} trees, its params say {}",
                repr.trees.len(),
                repr.params.get_n_trees()
            ));
        }
        let trees = repr
            .trees
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                t.into_tree(repr.n_features, repr.max_samples)
                    .map_err(|e| format!("tree {i}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(IsolationForest {
            params: repr.params,
            n_features: repr.n_features,
            max_samples: repr.max_samples,
            offset: repr.offset,
            trees,
        })
    }
}

impl TreeRepr {
    fn into_tree(self, n_features: usize, max_samples: usize) -> Result<Tree, String> {
        let len = self.children_left.len();
        if len == 0 {
            return Err("no nodes".into());
        }
        for (name, other) in [
            ("children_right", self.children_right.len()),
            ("feature", self.feature.len()),
            ("threshold", self.threshold.len()),
            ("n_node_samples", self.n_node_samples.len()),
        ] {
            if other != len {
                return Err(format!(
                    "{name} has {other} entries, children_left has {len}"
                ));
            }
        }
        let mut depth = vec![0_u32; len];
        let mut has_parent = vec![false; len];
        let mut nodes = Vec::with_capacity(len);
        for i in 0..len {
            if i > 0 && !has_parent[i] {
                return Err(format!("node {i} has no parent"));
            }
            let n = u32::try_from(self.n_node_samples[i])
                .ok()
                .filter(|&n| n >= 1 && n as usize <= max_samples)
                .ok_or_else(|| {
                    format!(
                        "node {i}: n_node_samples {} is out of range",
                        self.n_node_samples[i]
                    )
                })?;
            let (left, right) = (self.children_left[i], self.children_right[i]);
            if left == TREE_LEAF && right == TREE_LEAF {
                nodes.push((NodeSpec::Leaf, depth[i], n));
                continue;
            }
            if right != left.wrapping_add(1) {
                return Err(format!(
                    "node {i}: children {left} and {right} are not adjacent"
                ));
            }
            let feature = usize::try_from(self.feature[i])
                .ok()
                .filter(|&f| f < n_features)
                .ok_or_else(|| format!("node {i}: feature {} is out of range", self.feature[i]))?;
            let threshold = self.threshold[i];
            if !threshold.is_finite() {
                return Err(format!("node {i}: threshold is not finite"));
            }
            let mut child = |c: i64| -> Result<u32, String> {
                let c = usize::try_from(c)
                    .ok()
                    .filter(|&c| c > i && c < len && !has_parent[c])
                    .ok_or_else(|| format!("node {i}: child {c} is not a later, unclaimed node"))?;
                has_parent[c] = true;
                depth[c] = depth[i] + 1;
                Ok(c as u32)
            };
            let left = child(left)?;
            child(right)?;
            nodes.push((
                NodeSpec::Split {
                    feature: feature as u32,
                    threshold,
                    left,
                },
                depth[i],
                n,
            ));
        }
        Ok(Tree::from_nodes(nodes))
    }
}

/// `"auto"` or a fraction.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum AutoOr<T> {
    Name(String),
    Value(T),
}

fn expect_auto(name: String, what: &str) -> Result<(), String> {
    if name == "auto" {
        Ok(())
    } else {
        Err(format!("{what} must be \"auto\" or a number, got {name:?}"))
    }
}

impl TryFrom<AutoOr<f64>> for Contamination {
    type Error = String;
    fn try_from(value: AutoOr<f64>) -> Result<Self, String> {
        match value {
            AutoOr::Name(name) => expect_auto(name, "contamination").map(|()| Contamination::Auto),
            AutoOr::Value(f) => Ok(Contamination::Fraction(f)),
        }
    }
}

impl From<Contamination> for AutoOr<f64> {
    fn from(value: Contamination) -> Self {
        match value {
            Contamination::Auto => AutoOr::Name("auto".into()),
            Contamination::Fraction(f) => AutoOr::Value(f),
        }
    }
}

impl TryFrom<AutoOr<usize>> for MaxSamples {
    type Error = String;
    fn try_from(value: AutoOr<usize>) -> Result<Self, String> {
        match value {
            AutoOr::Name(name) => expect_auto(name, "max_samples").map(|()| MaxSamples::Auto),
            AutoOr::Value(k) => Ok(MaxSamples::Count(k)),
        }
    }
}

impl From<MaxSamples> for AutoOr<usize> {
    fn from(value: MaxSamples) -> Self {
        match value {
            MaxSamples::Auto => AutoOr::Name("auto".into()),
            MaxSamples::Count(k) => AutoOr::Value(k),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::detect::{Detector, IsolationForest, Scorer};
    use ndarray::Array2;
    use serde_json::{Value, json};

    fn fitted() -> IsolationForest {
        let x = Array2::from_shape_fn((12, 4), |(r, c)| ((r * 5 + c * 3) % 7) as f64 + r as f64);
        IsolationForest::params().n_trees(5).fit(x.view()).unwrap()
    }

    fn load(value: Value) -> Result<IsolationForest, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    #[test]
    fn round_trips_through_json_exactly() {
        let forest = fitted();
        let json = serde_json::to_string(&forest).unwrap();
        let back: IsolationForest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, forest);
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(back.score(&x).unwrap(), forest.score(&x).unwrap());
    }

    #[test]
    fn stores_scikit_learn_style_arrays() {
        let v = serde_json::to_value(fitted()).unwrap();
        let tree = &v["trees"][0];
        assert!(tree["children_left"].is_array());
        assert_eq!(v["params"]["contamination"], json!(0.1));
        assert_eq!(v["params"]["max_samples"], json!("auto"));
    }

    #[test]
    fn rejects_a_cycle() {
        let mut v = serde_json::to_value(fitted()).unwrap();
        v["trees"][0]["children_left"][0] = json!(0);
        v["trees"][0]["children_right"][0] = json!(1);
        let err = load(v).unwrap_err();
        assert!(
            err.contains("tree 0: node 0: child 0 is not a later, unclaimed node"),
            "{err}"
        );
    }

    #[test]
    fn rejects_non_adjacent_children() {
        let mut v = serde_json::to_value(fitted()).unwrap();
        v["trees"][0]["children_right"][0] = json!(5);
        assert!(load(v).unwrap_err().contains("are not adjacent"));
    }

    #[test]
    fn rejects_out_of_range_feature() {
        let mut v = serde_json::to_value(fitted()).unwrap();
        v["trees"][1]["feature"][0] = json!(4);
        assert!(
            load(v)
                .unwrap_err()
                .contains("tree 1: node 0: feature 4 is out of range")
        );
    }

    #[test]
    fn rejects_mismatched_arrays_and_unknown_fields() {
        let mut v = serde_json::to_value(fitted()).unwrap();
        v["trees"][0]["threshold"].as_array_mut().unwrap().pop();
        assert!(load(v).unwrap_err().contains("threshold has"));
        let mut v = serde_json::to_value(fitted()).unwrap();
        v["extra"] = json!(1);
        assert!(load(v).unwrap_err().contains("unknown field"));
    }

    #[test]
    fn rejects_bad_contamination_name() {
        let mut v = serde_json::to_value(fitted()).unwrap();
        v["params"]["contamination"] = json!("some");
        assert!(load(v).is_err());
    }
}
