//! The project's random forest: histogram CART with a fresh feature sample at every split,
//! bootstrap on or off, class weights, class probabilities and impurity importances, trees
//! fitted in parallel. With `random_splits` it is Geurts et al.'s extremely randomised trees:
//! each sampled feature gets one threshold drawn at random within the node's range, and the
//! best of those is kept. It sits behind linfa's `Fit` / `Predict` so it composes with linfa.
//! (linfa-ensemble 0.8.1 cannot express this model: see DESIGN.md "Learning".)

use linfa::dataset::{AsSingleTargets, DatasetBase};
use linfa::traits::{Fit, PredictInplace};
use ndarray::{Array1, Array2, ArrayBase, Data, Ix2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// How many features each split may look at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaxFeatures {
    Sqrt,
    Log2,
    All,
    N(usize),
}

impl MaxFeatures {
    pub fn parse(s: &str) -> Option<MaxFeatures> {
        match s {
            "sqrt" => Some(MaxFeatures::Sqrt),
            "log2" => Some(MaxFeatures::Log2),
            "all" | "none" => Some(MaxFeatures::All),
            n => n.parse().ok().filter(|&n| n > 0).map(MaxFeatures::N),
        }
    }
    fn count(&self, p: usize) -> usize {
        let k = match self {
            MaxFeatures::Sqrt => (p as f64).sqrt() as usize,
            MaxFeatures::Log2 => (p as f64).log2() as usize,
            MaxFeatures::All => p,
            MaxFeatures::N(n) => *n,
        };
        k.clamp(1, p.max(1))
    }
}

/// Hyper-parameters (defaults: the paper's best forest).
#[derive(Clone, Debug, PartialEq)]
pub struct ForestParams {
    pub trees: usize,
    pub max_depth: Option<usize>,
    pub max_features: MaxFeatures,
    pub bootstrap: bool,
    pub min_samples_leaf: usize,
    pub min_samples_split: usize,
    pub balanced: bool,
    /// Extra-trees: one random threshold per sampled feature instead of the best one.
    pub random_splits: bool,
    pub seed: u64,
    /// Classes the labels index into (fixes the probability layout).
    pub n_classes: usize,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            trees: 60,
            max_depth: None,
            max_features: MaxFeatures::Sqrt,
            bootstrap: false,
            min_samples_leaf: 1,
            min_samples_split: 2,
            balanced: false,
            random_splits: false,
            seed: 1,
            n_classes: 0,
        }
    }
}

#[derive(Clone, Debug)]
enum Node {
    Leaf(Vec<f32>),
    Split {
        feature: u16,
        threshold: f64,
        left: u32,
        right: u32,
    },
}

#[derive(Clone, Debug)]
pub struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    fn leaf(&self, x: &[f64]) -> &[f32] {
        let mut n = 0usize;
        loop {
            match &self.nodes[n] {
                Node::Leaf(d) => return d,
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    n = if x[*feature as usize] <= *threshold {
                        *left as usize
                    } else {
                        *right as usize
                    };
                }
            }
        }
    }
    pub fn depth(&self) -> usize {
        fn d(t: &Tree, n: usize) -> usize {
            match &t.nodes[n] {
                Node::Leaf(_) => 0,
                Node::Split { left, right, .. } => {
                    1 + d(t, *left as usize).max(d(t, *right as usize))
                }
            }
        }
        d(self, 0)
    }
}

/// A fitted forest.
#[derive(Clone, Debug)]
pub struct Forest {
    pub trees: Vec<Tree>,
    pub n_classes: usize,
    /// Mean decrease in impurity per feature, normalised to sum to 1.
    pub importances: Vec<f64>,
}

impl Forest {
    /// Class probabilities (mean of the trees' leaf distributions), one row per sample.
    pub fn predict_proba<D: Data<Elem = f64>>(&self, x: &ArrayBase<D, Ix2>) -> Array2<f64> {
        let mut out = Array2::<f64>::zeros((x.nrows(), self.n_classes));
        let rows: Vec<Vec<f64>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
        let probs: Vec<Vec<f64>> = rows
            .par_iter()
            .map(|r| {
                let mut p = vec![0f64; self.n_classes];
                for t in &self.trees {
                    for (k, v) in t.leaf(r).iter().enumerate() {
                        p[k] += *v as f64;
                    }
                }
                let n = self.trees.len().max(1) as f64;
                p.iter_mut().for_each(|v| *v /= n);
                p
            })
            .collect();
        for (i, p) in probs.into_iter().enumerate() {
            for (k, v) in p.into_iter().enumerate() {
                out[[i, k]] = v;
            }
        }
        out
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<usize>> for Forest {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<usize>) {
        let p = self.predict_proba(x);
        for (i, row) in p.rows().into_iter().enumerate() {
            y[i] = argmax(row.as_slice().unwrap_or(&row.to_vec()));
        }
    }
    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<usize> {
        Array1::zeros(x.nrows())
    }
}

pub fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// Features quantised to at most 256 bins per feature (exact when a feature has ≤ 256
/// distinct values), column-major; split thresholds are midpoints between adjacent bins.
struct Binned {
    n: usize,
    bins: Vec<u8>,
    /// Per feature: threshold after each bin (len = bins − 1).
    cuts: Vec<Vec<f64>>,
}

fn bin_features<D: Data<Elem = f64> + Sync>(x: &ArrayBase<D, Ix2>) -> Binned {
    let (n, p) = x.dim();
    let cols: Vec<(Vec<u8>, Vec<f64>)> = (0..p)
        .into_par_iter()
        .map(|f| {
            let col: Vec<f64> = x.column(f).to_vec();
            let mut u = col.clone();
            u.sort_by(|a, b| a.total_cmp(b));
            u.dedup();
            // Bin upper values: distinct values, or quantiles when there are too many.
            let uppers: Vec<f64> = if u.len() <= 256 {
                u.clone()
            } else {
                let mut q: Vec<f64> = (1..=256)
                    .map(|k| u[(k * u.len() / 256).min(u.len()) - 1])
                    .collect();
                q.dedup();
                q
            };
            let cuts: Vec<f64> = uppers
                .windows(2)
                .map(|w| {
                    // Midpoint between the bin's largest value and the next distinct value.
                    let next = u[u.partition_point(|&v| v <= w[0])];
                    (w[0] + next) / 2.0
                })
                .collect();
            let b: Vec<u8> = col
                .iter()
                .map(|v| cuts.partition_point(|c| c < v) as u8)
                .collect();
            (b, cuts)
        })
        .collect();
    let mut bins = Vec::with_capacity(n * p);
    let mut cuts = Vec::with_capacity(p);
    for (b, c) in cols {
        bins.extend(b);
        cuts.push(c);
    }
    Binned { n, bins, cuts }
}

/// x * log2(x), 0 at 0.
#[inline]
fn xlog(x: f64) -> f64 {
    if x > 1e-12 {
        x * x.log2()
    } else {
        0.0
    }
}

fn entropy(counts: &[f64], total: f64) -> f64 {
    if total <= 0.0 {
        return 0.0;
    }
    let mut h = 0.0;
    for &c in counts {
        if c > 0.0 {
            let p = c / total;
            h -= p * p.log2();
        }
    }
    h
}

struct TreeFit<'a> {
    b: &'a Binned,
    y: &'a [usize],
    cw: &'a [f64],
    k: usize,
    p: &'a ForestParams,
    importances: Vec<f64>,
}

impl TreeFit<'_> {
    /// The extra-trees split of feature `f` in a node whose samples fall in bins with counts
    /// `cnt`: a threshold drawn uniformly between the node's smallest and largest cut, as the
    /// cut at or above it (`None` when the node holds one bin only).
    fn random_cut(&self, f: usize, cnt: &[u32], rng: &mut ChaCha8Rng) -> Option<usize> {
        let lo = cnt.iter().position(|&c| c > 0)?;
        let hi = cnt.iter().rposition(|&c| c > 0)?;
        if hi <= lo {
            return None;
        }
        let cuts = &self.b.cuts[f][lo..hi];
        let t = rng.gen_range(cuts[0]..=cuts[cuts.len() - 1]);
        Some(lo + cuts.partition_point(|&c| c < t).min(cuts.len() - 1))
    }

    /// Grows one tree on `idx` (sample indices; repeated for bootstrap duplicates).
    fn grow(&mut self, idx: &mut [u32], rng: &mut ChaCha8Rng) -> Tree {
        let mut nodes: Vec<Node> = vec![Node::Leaf(vec![])];
        let mut stack: Vec<(usize, usize, usize, usize)> = vec![(0, 0, idx.len(), 0)];
        let nf = self.b.cuts.len();
        let mtry = self.p.max_features.count(nf);
        let mut feats: Vec<usize> = (0..nf).collect();
        let mut cnt = vec![0u32; 256];
        let mut start = vec![0u32; 256];
        let mut pos = vec![0u32; 256];
        let mut buf = vec![0u32; idx.len()];
        let mut left = vec![0f64; self.k];
        let total_w: f64 = idx.iter().map(|&i| self.cw[self.y[i as usize]]).sum();
        while let Some((node, s, e, depth)) = stack.pop() {
            let part = &mut idx[s..e];
            let mut counts = vec![0f64; self.k];
            for &i in part.iter() {
                let c = self.y[i as usize];
                counts[c] += self.cw[c];
            }
            let w: f64 = counts.iter().sum();
            let h = entropy(&counts, w);
            let s_node: f64 = counts.iter().map(|&c| xlog(c)).sum();
            let n = part.len();
            let stop = h <= 1e-12
                || n < self.p.min_samples_split.max(2)
                || n < 2 * self.p.min_samples_leaf
                || self.p.max_depth.is_some_and(|d| depth >= d);
            let mut best: Option<(f64, usize, usize)> = None; // (child impurity, feature, bin)
            if !stop {
                // A fresh feature sample at every split; keep drawing while all are constant.
                let mut drawn = 0;
                while drawn < nf {
                    let j = rng.gen_range(drawn..nf);
                    feats.swap(drawn, j);
                    let f = feats[drawn];
                    drawn += 1;
                    let nb = self.b.cuts[f].len() + 1;
                    if nb < 2 {
                        if drawn >= mtry && best.is_some() {
                            break;
                        }
                        continue;
                    }
                    // Counting sort of the node's samples by bin, then one pass that moves
                    // samples left bin by bin, keeping sum(c * log2 c) of both sides, so each
                    // candidate split costs O(1) however many classes there are.
                    cnt[..nb].iter_mut().for_each(|v| *v = 0);
                    let col = &self.b.bins[f * self.b.n..(f + 1) * self.b.n];
                    for &i in part.iter() {
                        cnt[col[i as usize] as usize] += 1;
                    }
                    let mut off = 0u32;
                    for b in 0..nb {
                        start[b] = off;
                        pos[b] = off;
                        off += cnt[b];
                    }
                    for &i in part.iter() {
                        let b = col[i as usize] as usize;
                        buf[pos[b] as usize] = i;
                        pos[b] += 1;
                    }
                    let target = if self.p.random_splits {
                        match self.random_cut(f, &cnt[..nb], rng) {
                            Some(c) => Some(c),
                            None => continue, // constant within this node
                        }
                    } else {
                        None
                    };
                    let (mut wl, mut sl, mut wr, mut sr) = (0.0f64, 0.0f64, w, s_node);
                    let mut nl = 0usize;
                    for bin in 0..nb - 1 {
                        if cnt[bin] == 0 && target != Some(bin) {
                            continue;
                        }
                        for &i in &buf[start[bin] as usize..(start[bin] + cnt[bin]) as usize] {
                            let c = self.y[i as usize];
                            let wc = self.cw[c];
                            let l0 = left[c];
                            let r0 = counts[c] - l0;
                            sl += xlog(l0 + wc) - xlog(l0);
                            sr += xlog(r0 - wc) - xlog(r0);
                            left[c] = l0 + wc;
                            wl += wc;
                            wr -= wc;
                        }
                        nl += cnt[bin] as usize;
                        let nr = n - nl;
                        if nr == 0 {
                            break;
                        }
                        if nl < self.p.min_samples_leaf || nr < self.p.min_samples_leaf {
                            continue;
                        }
                        match target {
                            Some(t) if t > bin => continue,
                            Some(t) if t < bin => break,
                            _ => {}
                        }
                        let imp = (xlog(wl) - sl + xlog(wr) - sr) / w;
                        if best.is_none_or(|b| imp < b.0 - 1e-12) {
                            best = Some((imp, f, bin));
                        }
                    }
                    for &i in part.iter() {
                        left[self.y[i as usize]] = 0.0;
                    }
                    if drawn >= mtry && best.is_some() {
                        break;
                    }
                }
            }
            match best {
                Some((imp, f, bin)) if imp < h - 1e-12 => {
                    self.importances[f] += w / total_w * (h - imp);
                    let col = &self.b.bins[f * self.b.n..(f + 1) * self.b.n];
                    // Partition in place: bins <= `bin` go left.
                    let mut l = 0;
                    for r in 0..part.len() {
                        if col[part[r] as usize] as usize <= bin {
                            part.swap(l, r);
                            l += 1;
                        }
                    }
                    let li = nodes.len();
                    nodes.push(Node::Leaf(vec![]));
                    nodes.push(Node::Leaf(vec![]));
                    nodes[node] = Node::Split {
                        feature: f as u16,
                        threshold: self.b.cuts[f][bin],
                        left: li as u32,
                        right: li as u32 + 1,
                    };
                    stack.push((li + 1, s + l, e, depth + 1));
                    stack.push((li, s, s + l, depth + 1));
                }
                _ => {
                    nodes[node] =
                        Node::Leaf(counts.iter().map(|c| (c / w.max(1e-300)) as f32).collect());
                }
            }
        }
        Tree { nodes }
    }
}

impl<D, T> Fit<ArrayBase<D, Ix2>, T, linfa::Error> for ForestParams
where
    D: Data<Elem = f64> + Sync,
    T: AsSingleTargets<Elem = usize>,
{
    type Object = Forest;

    fn fit(&self, ds: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<Forest, linfa::Error> {
        self.fit_unless(ds, &|| false)
            .map(|f| f.expect("never stopped"))
    }
}

impl ForestParams {
    /// [`Fit::fit`] that asks `stop` before growing each tree and gives up (`Ok(None)`) once
    /// it says yes, so cancelling a large forest does not wait for the whole fold.
    pub fn fit_unless<D, T>(
        &self,
        ds: &DatasetBase<ArrayBase<D, Ix2>, T>,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<Option<Forest>, linfa::Error>
    where
        D: Data<Elem = f64> + Sync,
        T: AsSingleTargets<Elem = usize>,
    {
        let x = ds.records();
        let y: Vec<usize> = ds.as_single_targets().to_vec();
        if y.is_empty() {
            return Err(linfa::Error::NotEnoughSamples);
        }
        let k = self
            .n_classes
            .max(y.iter().max().map(|m| m + 1).unwrap_or(1));
        let b = bin_features(x);
        let n = y.len();
        let mut cw = vec![1.0; k];
        if self.balanced {
            let mut nc = vec![0usize; k];
            y.iter().for_each(|&c| nc[c] += 1);
            let present = nc.iter().filter(|&&c| c > 0).count().max(1);
            for c in 0..k {
                if nc[c] > 0 {
                    cw[c] = n as f64 / (present as f64 * nc[c] as f64);
                }
            }
        }
        let fitted: Option<Vec<(Tree, Vec<f64>)>> = (0..self.trees.max(1))
            .into_par_iter()
            .map(|t| {
                if stop() {
                    return None;
                }
                let mut rng = ChaCha8Rng::seed_from_u64(
                    self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ t as u64,
                );
                let mut idx: Vec<u32> = if self.bootstrap {
                    let mut v: Vec<u32> = (0..n).map(|_| rng.gen_range(0..n) as u32).collect();
                    v.sort_unstable();
                    v
                } else {
                    (0..n as u32).collect()
                };
                let mut tf = TreeFit {
                    b: &b,
                    y: &y,
                    cw: &cw,
                    k,
                    p: self,
                    importances: vec![0.0; b.cuts.len()],
                };
                let tree = tf.grow(&mut idx, &mut rng);
                let s: f64 = tf.importances.iter().sum();
                let imp = if s > 0.0 {
                    tf.importances.iter().map(|v| v / s).collect()
                } else {
                    tf.importances
                };
                Some((tree, imp))
            })
            .collect();
        let Some(fitted) = fitted else {
            return Ok(None);
        };
        let nf = b.cuts.len();
        let mut importances = vec![0.0; nf];
        for (_, imp) in &fitted {
            for f in 0..nf {
                importances[f] += imp[f] / fitted.len() as f64;
            }
        }
        Ok(Some(Forest {
            trees: fitted.into_iter().map(|t| t.0).collect(),
            n_classes: k,
            importances,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::traits::Predict;
    use linfa::Dataset;

    #[test]
    fn separable_data_is_learned_and_seeded() {
        let mut x = Array2::<f64>::zeros((200, 3));
        let mut y = Array1::<usize>::zeros(200);
        for i in 0..200 {
            let c = i % 3;
            x[[i, 0]] = c as f64 * 10.0 + (i % 7) as f64;
            x[[i, 1]] = (i * 31 % 17) as f64;
            x[[i, 2]] = 5.0;
            y[i] = c;
        }
        let ds = Dataset::new(x.clone(), y.clone());
        let p = ForestParams {
            trees: 10,
            n_classes: 3,
            ..Default::default()
        };
        let f = p.fit(&ds).unwrap();
        let pred = f.predict(&x);
        assert_eq!(pred, y);
        assert!(f.importances[0] > 0.5, "{:?}", f.importances);
        assert_eq!(f.importances[2], 0.0);
        let f2 = p.fit(&ds).unwrap();
        assert_eq!(f.predict_proba(&x), f2.predict_proba(&x));
        let pr = f.predict_proba(&x);
        for r in pr.rows() {
            assert!((r.sum() - 1.0).abs() < 1e-5);
        }
    }

    /// A forest asked to stop gives up before growing all its trees; one never asked to stop
    /// is the forest `fit` grows.
    #[test]
    fn a_forest_stops_between_trees_when_asked() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let x = Array2::from_shape_fn((300, 4), |(i, j)| ((i * (j + 5)) % 89) as f64);
        let y = Array1::from_shape_fn(300, |i| i % 4);
        let ds = Dataset::new(x.clone(), y);
        let p = ForestParams {
            trees: 200,
            n_classes: 4,
            ..Default::default()
        };
        let asked = AtomicUsize::new(0);
        let after_five = || asked.fetch_add(1, Ordering::Relaxed) >= 5;
        assert!(p.fit_unless(&ds, &after_five).unwrap().is_none());
        let asked_then = asked.load(Ordering::Relaxed);
        assert!(asked_then < 200, "stopped after {asked_then} of 200 trees");
        let whole = p.fit_unless(&ds, &|| false).unwrap().expect("not stopped");
        assert_eq!(whole.trees.len(), 200);
        assert_eq!(
            whole.predict_proba(&x),
            p.fit(&ds).unwrap().predict_proba(&x)
        );
    }

    /// Extra-trees learn what is separable, are seeded, and split differently from the forest
    /// (random thresholds give other trees on the same data and seed).
    #[test]
    fn extra_trees_learn_with_random_thresholds() {
        let n = 300;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| match j {
            0 => (i % 3) as f64 * 10.0 + (i % 7) as f64,
            1 => (i * 31 % 17) as f64,
            _ => (i * 13 % 101) as f64,
        });
        let y = Array1::from_shape_fn(n, |i| i % 3);
        let ds = Dataset::new(x.clone(), y.clone());
        let extra = ForestParams {
            trees: 20,
            random_splits: true,
            n_classes: 3,
            ..Default::default()
        };
        let f = extra.fit(&ds).unwrap();
        assert_eq!(f.predict(&x), y);
        assert_eq!(
            f.predict_proba(&x),
            extra.fit(&ds).unwrap().predict_proba(&x)
        );
        let best = ForestParams {
            random_splits: false,
            ..extra.clone()
        };
        let thresholds = |f: &Forest| -> Vec<f64> {
            f.trees
                .iter()
                .flat_map(|t| t.nodes.iter())
                .filter_map(|n| match n {
                    Node::Split { threshold, .. } => Some(*threshold),
                    Node::Leaf(_) => None,
                })
                .collect()
        };
        assert_ne!(thresholds(&f), thresholds(&best.fit(&ds).unwrap()));
    }

    #[test]
    fn max_depth_is_respected() {
        let n = 500;
        let x = Array2::from_shape_fn((n, 2), |(i, j)| ((i * (j + 3)) % 97) as f64);
        let y = Array1::from_shape_fn(n, |i| (i * 7919 % 13) % 4);
        let ds = Dataset::new(x, y);
        let p = ForestParams {
            trees: 3,
            max_depth: Some(4),
            max_features: MaxFeatures::All,
            n_classes: 4,
            ..Default::default()
        };
        let f = p.fit(&ds).unwrap();
        assert!(f.trees.iter().all(|t| t.depth() <= 4));
    }
}
