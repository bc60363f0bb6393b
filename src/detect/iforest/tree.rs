//! One isolation tree, grown as scikit-learn's `ExtraTreeRegressor(max_features=1,
//! splitter="random")` grows it inside `IsolationForest`.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::average_path_length;

/// A feature whose range in a node is at most this is constant there (scikit-learn's
/// `FEATURE_THRESHOLD`).
const CONSTANT_RANGE: f64 = 1e-7;

/// Marks a leaf in [`Node::feature`].
const LEAF: u32 = u32::MAX;

/// A node of a grown tree. A split sends `x[feature] <= threshold` left; a leaf holds the path
/// length `depth + c(n_samples)` of every point that reaches it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Node {
    pub feature: u32,
    pub left: u32,
    pub right: u32,
    pub n_samples: u32,
    /// Threshold (split) or path length (leaf).
    pub value: f64,
}

impl Node {
    pub fn is_leaf(&self) -> bool {
        self.feature == LEAF
    }

    pub fn leaf(n_samples: u32, depth: u32) -> Node {
        let path = f64::from(depth) + average_path_length(n_samples as usize);
        Node { feature: LEAF, left: 0, right: 0, n_samples, value: path }
    }

    pub fn split(feature: u32, threshold: f64, left: u32, right: u32, n_samples: u32) -> Node {
        Node { feature, left, right, n_samples, value: threshold }
    }
}

/// A grown tree: nodes with the root first and every child after its parent.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    /// Path length of `x` (float32 values, as scikit-learn casts its input).
    #[inline]
    pub fn path_length(&self, x: &[f32]) -> f64 {
        let mut node = &self.nodes[0];
        while !node.is_leaf() {
            let next = if f64::from(x[node.feature as usize]) <= node.value { node.left } else { node.right };
            node = &self.nodes[next as usize];
        }
        node.value
    }
}

/// Training data laid out for growing trees: float32, one contiguous column per feature.
pub(super) struct Columns {
    n_rows: usize,
    values: Vec<f32>,
}

impl Columns {
    pub fn new(n_rows: usize, n_features: usize, value: impl Fn(usize, usize) -> f64) -> Columns {
        let mut values = Vec::with_capacity(n_rows * n_features);
        for feature in 0..n_features {
            values.extend((0..n_rows).map(|row| value(row, feature) as f32));
        }
        Columns { n_rows, values }
    }

    fn column(&self, feature: usize) -> &[f32] {
        &self.values[feature * self.n_rows..(feature + 1) * self.n_rows]
    }

    fn n_features(&self) -> usize {
        self.values.len() / self.n_rows.max(1)
    }
}

/// Grows a tree on the rows listed in `rows` (permuted in place), up to `max_depth` edges.
pub(super) fn grow(columns: &Columns, rows: &mut [u32], max_depth: u32, rng: &mut ChaCha8Rng) -> Tree {
    let n_features = columns.n_features();
    let mut features: Vec<u32> = (0..n_features as u32).collect();
    let mut nodes = vec![Node::leaf(0, 0)];
    // (node index, rows start, rows end, depth)
    let mut stack = vec![(0_usize, 0_usize, rows.len(), 0_u32)];
    while let Some((id, start, end, depth)) = stack.pop() {
        let node_rows = &mut rows[start..end];
        let n = node_rows.len() as u32;
        let split = if depth < max_depth && n >= 2 {
            choose_split(columns, node_rows, &mut features, rng)
        } else {
            None
        };
        let Some((feature, threshold)) = split else {
            nodes[id] = Node::leaf(n, depth);
            continue;
        };
        let column = columns.column(feature as usize);
        let mid = partition(node_rows, |row| f64::from(column[row as usize]) <= threshold);
        let left = nodes.len();
        nodes.push(Node::leaf(0, 0));
        nodes.push(Node::leaf(0, 0));
        nodes[id] = Node::split(feature, threshold, left as u32, left as u32 + 1, n);
        stack.push((left + 1, start + mid, end, depth + 1));
        stack.push((left, start, start + mid, depth + 1));
    }
    Tree { nodes }
}

/// Draws features uniformly without replacement until one is not constant over `rows`, then a
/// threshold uniform in [min, max) of it. `None` when every feature is constant.
fn choose_split(
    columns: &Columns,
    rows: &[u32],
    features: &mut [u32],
    rng: &mut ChaCha8Rng,
) -> Option<(u32, f64)> {
    let n_features = features.len();
    for k in 0..n_features {
        features.swap(k, rng.random_range(k..n_features));
        let feature = features[k];
        let column = columns.column(feature as usize);
        let (min, max) = rows.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &r| {
            let v = column[r as usize];
            (lo.min(v), hi.max(v))
        });
        let (min, max) = (f64::from(min), f64::from(max));
        if max <= min + CONSTANT_RANGE {
            continue;
        }
        let threshold = min + (max - min) * rng.random::<f64>();
        // As scikit-learn: a threshold equal to the maximum would send every row left.
        let threshold = if threshold >= max { min } else { threshold };
        return Some((feature, threshold));
    }
    None
}

/// Moves rows satisfying `goes_left` to the front; returns how many there are.
fn partition(rows: &mut [u32], goes_left: impl Fn(u32) -> bool) -> usize {
    let mut mid = 0;
    for i in 0..rows.len() {
        if goes_left(rows[i]) {
            rows.swap(mid, i);
            mid += 1;
        }
    }
    mid
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn columns(data: &[[f64; 2]]) -> Columns {
        Columns::new(data.len(), 2, |r, f| data[r][f])
    }

    #[test]
    fn identical_rows_make_a_single_leaf() {
        let c = columns(&[[1.0, 2.0]; 6]);
        let mut rows: Vec<u32> = (0..6).collect();
        let tree = grow(&c, &mut rows, 3, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(tree.nodes.len(), 1);
        assert_eq!(tree.nodes[0].n_samples, 6);
        assert_eq!(tree.nodes[0].value, average_path_length(6));
    }

    #[test]
    fn never_splits_on_a_constant_feature() {
        let data: Vec<[f64; 2]> = (0..16).map(|i| [7.0, f64::from(i)]).collect();
        let c = columns(&data);
        let mut rows: Vec<u32> = (0..16).collect();
        let tree = grow(&c, &mut rows, 4, &mut ChaCha8Rng::seed_from_u64(3));
        assert!(tree.nodes.iter().filter(|n| !n.is_leaf()).all(|n| n.feature == 1));
    }

    #[test]
    fn respects_the_depth_limit_and_counts_every_row_once() {
        let data: Vec<[f64; 2]> = (0..40).map(|i| [f64::from(i), f64::from(i * i % 7)]).collect();
        let c = columns(&data);
        let mut rows: Vec<u32> = (0..40).collect();
        let tree = grow(&c, &mut rows, 3, &mut ChaCha8Rng::seed_from_u64(9));
        let leaves: Vec<&Node> = tree.nodes.iter().filter(|n| n.is_leaf()).collect();
        assert_eq!(leaves.iter().map(|n| n.n_samples).sum::<u32>(), 40);
        assert!(leaves.iter().all(|n| n.value <= 3.0 + average_path_length(n.n_samples as usize)));
        assert!(leaves.len() <= 8);
    }

    #[test]
    fn split_thresholds_lie_within_the_node_range() {
        let data: Vec<[f64; 2]> = (0..10).map(|i| [f64::from(i) * 0.5, 1.0]).collect();
        let c = columns(&data);
        let mut rows: Vec<u32> = (0..10).collect();
        let tree = grow(&c, &mut rows, 4, &mut ChaCha8Rng::seed_from_u64(5));
        let root = tree.nodes[0];
        assert!(!root.is_leaf());
        assert!((0.0..4.5).contains(&root.value));
    }
}
