//! EXPERIMENTS: reproductions built on `model` and the `backend` traits only.
pub mod benchmarks;
pub mod diehl_cook;
