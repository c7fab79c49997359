//! Data in, and the presets trained on it, in one test binary: downloading MNIST (`fetch`,
//! against a local server), property tests of the readers of untrusted files (`fuzz_idx`,
//! `fuzz_checkpoint`; `fuzz_support` makes this binary's global allocator note each thread's
//! largest allocation), the smoke run of the training protocol on 20 embedded images
//! (`diehl_cook_smoke`) and the large presets on the embedded subset (`large_presets`). CPU
//! only, so the standard harness.

#[path = "../common/mod.rs"]
mod common;

mod diehl_cook_smoke;
mod fetch;
mod fuzz_checkpoint;
mod fuzz_idx;
mod fuzz_support;
mod large_presets;
