//! Which engine runs a network: [`EngineChoice`] names the CPU or the GPU engine with its
//! options and builds either for any `Network`, so the layers above reach a backend only
//! through the [`Simulator`] it returns.

use super::Simulator;
use crate::cpu::engine::{Engine, EngineOptions};
use crate::error::Result;
use crate::gpu::{GpuContext, GpuEngine, GpuEngineOptions};
use crate::model::net::Network;
use std::sync::Arc;

/// Which general engine runs a network, launched how (speed only: both give the same bits
/// on a device that rounds as the CPU does, llvmpipe for one).
#[derive(Clone)]
pub enum EngineChoice {
    /// The CPU engine, with its step choices.
    Cpu(EngineOptions),
    /// The GPU engine on a device, with its launch choices.
    Gpu(Arc<GpuContext>, GpuEngineOptions),
}

impl Default for EngineChoice {
    /// The CPU engine with its default options.
    fn default() -> Self {
        EngineChoice::Cpu(EngineOptions::default())
    }
}

impl EngineChoice {
    /// `"cpu"` or `"gpu"`.
    pub fn kind(&self) -> &'static str {
        match self {
            EngineChoice::Cpu(_) => "cpu",
            EngineChoice::Gpu(..) => "gpu",
        }
    }

    /// The engine this choice names, running `net` at its initial state (step 0, learning
    /// on).
    ///
    /// # Errors
    /// `Engine::with_options`'s (an invalid network, a SIMD level this CPU lacks, bad chunk
    /// sizes) or `GpuEngine::with_options`'s (an invalid network, device limits, what the GPU
    /// program cannot express, shader errors).
    pub fn simulator(&self, net: &Network) -> Result<Box<dyn Simulator>> {
        Ok(match self {
            EngineChoice::Cpu(opts) => Box::new(Engine::with_options(net, opts)?),
            EngineChoice::Gpu(ctx, opts) => {
                Box::new(GpuEngine::with_options(ctx.clone(), net, *opts)?)
            }
        })
    }
}
