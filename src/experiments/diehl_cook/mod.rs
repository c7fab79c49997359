//! The Diehl & Cook 2015 reproduction: training, label assignment, voting, evaluation.
pub mod checkpoint;
pub mod config;
pub mod engine;
pub mod evaluate;
pub mod io;
pub mod model;
pub mod multi;
#[cfg(feature = "plots")]
pub mod plots;
pub mod projection;
pub mod record;
pub mod spec;
pub mod sweep;
pub mod train;

pub use projection::{Connectivity, Projection, WeightInit};
pub use spec::{CompetitiveSpec, PresentOptions, RestMode};
