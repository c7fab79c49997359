//! EXPERIMENTS: reproductions built on `model` and the `Backend` trait only.
pub mod benchmarks;
pub mod diehl_cook;
