//! One isolation tree, grown as scikit-learn's `ExtraTreeRegressor(max_features=1,
//! splitter="random")` grows it inside `IsolationForest`.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::average_path_length;

/// A feature whose range in a node is at most this is constant there (scikit-learn's
/// `FEATURE_THRESHOLD`).
const CONSTANT_RANGE: f64 = 1e-7;

/// Rows traversed together: independent chains of loads the processor overlaps.
const BLOCK: usize = 8;

/// A node of a grown tree, 16 bytes. A split sends `x[feature] > threshold` to `left + 1` and
/// the rest to `left` (siblings are adjacent, so traversal needs no branch). A leaf points to
/// itself with an infinite threshold, so a walk of the tree's full depth ends on it whatever
/// the row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Node {
    /// Split threshold; +∞ for a leaf.
    pub threshold: f64,
    /// Split feature (0 for a leaf).
    pub feature: u32,
    /// Index of the left child (the right one follows it); a leaf's own index.
    pub left: u32,
}

impl Node {
    pub fn is_leaf(&self) -> bool {
        self.threshold == f64::INFINITY
    }

    fn leaf(index: usize) -> Node {
        Node {
            threshold: f64::INFINITY,
            feature: 0,
            left: index as u32,
        }
    }
}

/// A grown tree: nodes with the root first and every child after its parent, the number of
/// training rows that reached each node, and each leaf's path length `depth + c(n_samples)`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Tree {
    nodes: Vec<Node>,
    n_samples: Vec<u32>,
    path_length: Vec<f64>,
    depth: u32,
}

/// A node as built or loaded: a split (feature, threshold, left child) or a leaf.
pub(super) enum NodeSpec {
    Split {
        feature: u32,
        threshold: f64,
        left: u32,
    },
    Leaf,
}

impl Tree {
    /// Builds a tree from nodes listed root first, children after parents, siblings adjacent,
    /// with the depth and training-row count of each. The caller checks that structure.
    pub fn from_nodes(specs: Vec<(NodeSpec, u32, u32)>) -> Tree {
        let mut tree = Tree {
            nodes: Vec::new(),
            n_samples: Vec::new(),
            path_length: Vec::new(),
            depth: 0,
        };
        for (index, (spec, depth, n_samples)) in specs.into_iter().enumerate() {
            let (node, path) = match spec {
                NodeSpec::Split {
                    feature,
                    threshold,
                    left,
                } => (
                    Node {
                        threshold,
                        feature,
                        left,
                    },
                    0.0,
                ),
                NodeSpec::Leaf => {
                    tree.depth = tree.depth.max(depth);
                    (
                        Node::leaf(index),
                        f64::from(depth) + average_path_length(n_samples as usize),
                    )
                }
            };
            tree.nodes.push(node);
            tree.n_samples.push(n_samples);
            tree.path_length.push(path);
        }
        tree
    }

    /// Approximate heap size, in bytes.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(self.nodes.as_slice())
            + std::mem::size_of_val(self.n_samples.as_slice())
            + std::mem::size_of_val(self.path_length.as_slice())
            + std::mem::size_of::<Tree>()
    }

    /// The nodes, root first.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Training rows that reached each node.
    pub fn n_samples(&self) -> &[u32] {
        &self.n_samples
    }

    /// Adds the path length of each row of `x` (rows of `n_features` float32 values, as
    /// scikit-learn casts its input) to `totals`.
    pub fn add_path_lengths(
        &self,
        x: &[f32],
        n_features: usize,
        totals: &mut [super::CompensatedSum],
    ) {
        for (rows, totals) in x.chunks(BLOCK * n_features).zip(totals.chunks_mut(BLOCK)) {
            let mut at = [0_u32; BLOCK];
            for _ in 0..self.depth {
                for (r, at) in at.iter_mut().enumerate().take(totals.len()) {
                    let node = self.nodes[*at as usize];
                    let value = rows[r * n_features + node.feature as usize];
                    *at = node.left + u32::from(f64::from(value) > node.threshold);
                }
            }
            for (total, at) in totals.iter_mut().zip(at) {
                total.add(self.path_length[at as usize]);
            }
        }
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
pub(super) fn grow(
    columns: &Columns,
    rows: &mut [u32],
    max_depth: u32,
    rng: &mut ChaCha8Rng,
) -> Tree {
    let n_features = columns.n_features();
    let mut features: Vec<u32> = (0..n_features as u32).collect();
    let mut specs = vec![(NodeSpec::Leaf, 0, 0)];
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
            specs[id] = (NodeSpec::Leaf, depth, n);
            continue;
        };
        let column = columns.column(feature as usize);
        let mid = partition(node_rows, |row| {
            f64::from(column[row as usize]) <= threshold
        });
        let left = specs.len();
        specs.extend([(NodeSpec::Leaf, 0, 0), (NodeSpec::Leaf, 0, 0)]);
        specs[id] = (
            NodeSpec::Split {
                feature,
                threshold,
                left: left as u32,
            },
            depth,
            n,
        );
        stack.push((left + 1, start + mid, end, depth + 1));
        stack.push((left, start, start + mid, depth + 1));
    }
    Tree::from_nodes(specs)
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
        // Values are finite (checked before fitting), so plain comparisons suffice.
        let (mut min, mut max) = (f32::INFINITY, f32::NEG_INFINITY);
        for &r in rows {
            let v = column[r as usize];
            min = if v < min { v } else { min };
            max = if v > max { v } else { max };
        }
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

/// Moves rows satisfying `goes_left` to the front; returns how many there are. Branch-free:
/// every row is swapped to the boundary, which advances only past rows that go left.
fn partition(rows: &mut [u32], goes_left: impl Fn(u32) -> bool) -> usize {
    let mut mid = 0;
    for i in 0..rows.len() {
        rows.swap(mid, i);
        mid += usize::from(goes_left(rows[mid]));
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
        assert_eq!(tree.n_samples, [6]);
        assert_eq!(tree.path_length, [average_path_length(6)]);
    }

    #[test]
    fn never_splits_on_a_constant_feature() {
        let data: Vec<[f64; 2]> = (0..16).map(|i| [7.0, f64::from(i)]).collect();
        let c = columns(&data);
        let mut rows: Vec<u32> = (0..16).collect();
        let tree = grow(&c, &mut rows, 4, &mut ChaCha8Rng::seed_from_u64(3));
        assert!(
            tree.nodes
                .iter()
                .filter(|n| !n.is_leaf())
                .all(|n| n.feature == 1)
        );
    }

    #[test]
    fn respects_the_depth_limit_and_counts_every_row_once() {
        let data: Vec<[f64; 2]> = (0..40)
            .map(|i| [f64::from(i), f64::from(i * i % 7)])
            .collect();
        let c = columns(&data);
        let mut rows: Vec<u32> = (0..40).collect();
        let tree = grow(&c, &mut rows, 3, &mut ChaCha8Rng::seed_from_u64(9));
        let leaves: Vec<usize> = (0..tree.nodes.len())
            .filter(|&i| tree.nodes[i].is_leaf())
            .collect();
        assert_eq!(leaves.iter().map(|&i| tree.n_samples[i]).sum::<u32>(), 40);
        assert!(
            leaves
                .iter()
                .all(|&i| tree.path_length[i]
                    <= 3.0 + average_path_length(tree.n_samples[i] as usize))
        );
        assert!(leaves.len() <= 8);
        assert!(tree.depth <= 3);
    }

    #[test]
    fn partition_moves_left_rows_first() {
        let mut rows = [5, 2, 8, 1, 9, 4];
        let mid = partition(&mut rows, |r| r < 5);
        assert_eq!(mid, 3);
        let (mut left, mut right) = (rows[..3].to_vec(), rows[3..].to_vec());
        left.sort();
        right.sort();
        assert_eq!((left, right), (vec![1, 2, 4], vec![5, 8, 9]));
    }

    #[test]
    fn split_thresholds_lie_within_the_node_range() {
        let data: Vec<[f64; 2]> = (0..10).map(|i| [f64::from(i) * 0.5, 1.0]).collect();
        let c = columns(&data);
        let mut rows: Vec<u32> = (0..10).collect();
        let tree = grow(&c, &mut rows, 4, &mut ChaCha8Rng::seed_from_u64(5));
        let root = tree.nodes[0];
        assert!(!root.is_leaf());
        assert!((0.0..4.5).contains(&root.threshold));
    }
}
