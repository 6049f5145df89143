//! Tools for developing and measuring labelbench, apart from the pipeline's stages: the lab
//! simulator ([`sim`], which `demo-data` and the bundled sample come from), the benchmarks
//! behind `labelbench bench` ([`bench`]) and evaluation against independent definitions
//! ([`evaluate`]). The stages never use this module.

pub mod bench;
pub mod evaluate;
pub mod sim;
