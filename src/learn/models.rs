//! The classifiers a project can train, and one fold's fit and prediction with each: the
//! project's forest and its extra-trees variant ([`super::forest`]), linfa-trees' decision
//! tree, our CART as one tree, and a stratified random guess as the baseline every model
//! is read against.

use linfa::dataset::AsSingleTargets;
use linfa::traits::{Fit, Predict};
use linfa::Dataset;
use linfa_trees::{DecisionTree, SplitQuality};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::forest::{self, ForestParams, MaxFeatures};
use crate::project::TrainSettings;

/// Which model to fit (`forest`, `extra-trees`, `tree`, `cart` or `random` in the project
/// file and on the command line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    Forest,
    /// Extremely randomised trees: the forest with one random threshold per sampled feature.
    #[serde(rename = "extra-trees")]
    ExtraTrees,
    /// linfa-trees' decision tree.
    Tree,
    /// Our CART as a single tree (all features, no bootstrap): the cross-check of `Tree`.
    Cart,
    /// A guess drawn from the training fold's class frequencies (scikit-learn's
    /// `DummyClassifier(strategy="stratified")`): what a model must beat to have learned.
    Random,
}

impl Model {
    pub const ALL: [Model; 5] = [
        Model::Tree,
        Model::Forest,
        Model::ExtraTrees,
        Model::Cart,
        Model::Random,
    ];

    pub fn parse(s: &str) -> Option<Model> {
        Model::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Model::Forest => "forest",
            Model::ExtraTrees => "extra-trees",
            Model::Tree => "tree",
            Model::Cart => "cart",
            Model::Random => "random",
        }
    }

    /// Whether the model's class probabilities mean something (for possible mislabels).
    pub fn gives_confidence(self) -> bool {
        matches!(self, Model::Forest | Model::ExtraTrees | Model::Cart)
    }
}

/// One fold's out-of-fold predictions.
pub(crate) struct FoldFit {
    pub predicted: Vec<usize>,
    /// Probability of the predicted class (1 where the model has none).
    pub confidence: Vec<f64>,
    /// Feature importances normalised to sum to 1 (all zero for the random guess).
    pub importances: Vec<f64>,
}

/// Fits `model` on `train` and predicts `test`; `Ok(None)` when `stop` said to stop.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit_fold(
    model: Model,
    ts: &TrainSettings,
    mf: MaxFeatures,
    n_classes: usize,
    fold: usize,
    train: Dataset<f64, usize, ndarray::Ix1>,
    test: &Array2<f64>,
    stop: &(dyn Fn() -> bool + Sync),
) -> crate::Result<Option<FoldFit>> {
    let nf = test.ncols();
    match model {
        Model::Forest | Model::ExtraTrees | Model::Cart => {
            let p = if model == Model::Cart {
                ForestParams {
                    trees: 1,
                    max_depth: Some(ts.max_depth.max(1)),
                    max_features: MaxFeatures::All,
                    bootstrap: false,
                    min_samples_leaf: ts.min_samples_leaf.max(1),
                    balanced: ts.class_weight_balanced,
                    seed: ts.seed,
                    n_classes,
                    ..Default::default()
                }
            } else {
                ForestParams {
                    trees: ts.trees,
                    max_depth: (ts.max_depth != 0).then_some(ts.max_depth),
                    max_features: mf,
                    bootstrap: ts.bootstrap,
                    min_samples_leaf: ts.min_samples_leaf.max(1),
                    balanced: ts.class_weight_balanced,
                    random_splits: model == Model::ExtraTrees,
                    seed: ts.seed.wrapping_add(fold as u64),
                    n_classes,
                    ..Default::default()
                }
            };
            let Some(m) = p
                .fit_unless(&train, stop)
                .map_err(|e| crate::Error::Other(e.to_string()))?
            else {
                return Ok(None);
            };
            let pr = m.predict_proba(test);
            let predicted: Vec<usize> = pr
                .rows()
                .into_iter()
                .map(|r| forest::argmax(&r.to_vec()))
                .collect();
            let confidence = predicted
                .iter()
                .enumerate()
                .map(|(r, &c)| pr[[r, c]])
                .collect();
            Ok(Some(FoldFit {
                predicted,
                confidence,
                importances: m.importances,
            }))
        }
        Model::Tree => {
            let m = DecisionTree::params()
                .split_quality(SplitQuality::Entropy)
                .max_depth(Some(ts.max_depth.max(1)))
                .fit(&train)
                .map_err(|e| crate::Error::Other(e.to_string()))?;
            let p: Array1<usize> = m.predict(test);
            let fi = m.feature_importance();
            let s: f64 = fi.iter().sum();
            Ok(Some(FoldFit {
                predicted: p.to_vec(),
                confidence: vec![1.0; test.nrows()],
                importances: fi
                    .iter()
                    .map(|v| if s > 0.0 { v / s } else { 0.0 })
                    .collect(),
            }))
        }
        Model::Random => {
            let mut freq = vec![0usize; n_classes];
            train.as_single_targets().iter().for_each(|&c| freq[c] += 1);
            let total: usize = freq.iter().sum();
            let mut rng = ChaCha8Rng::seed_from_u64(ts.seed.wrapping_add(fold as u64));
            let predicted = (0..test.nrows())
                .map(|_| {
                    let mut draw = rng.gen_range(0..total.max(1));
                    freq.iter()
                        .position(|&f| {
                            let hit = draw < f;
                            draw = draw.saturating_sub(f);
                            hit
                        })
                        .unwrap_or(0)
                })
                .collect();
            Ok(Some(FoldFit {
                predicted,
                confidence: vec![1.0; test.nrows()],
                importances: vec![0.0; nf],
            }))
        }
    }
}
