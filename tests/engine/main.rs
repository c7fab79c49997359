//! The CPU engine and what it runs, in one test binary (they link once): the general engine
//! on small networks, its closed-form reference, its SIMD copies and depression queue, the
//! STDP rules, and the WGSL modules checked by naga. None needs a GPU adapter.

#[path = "../common/mod.rs"]
mod common;

mod depression_queue;
mod general;
mod naga_validate;
mod reference;
mod simd_levels;
mod stdp_rule;
