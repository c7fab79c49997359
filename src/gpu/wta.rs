//! GPU backend of the competitive layer (being written): see `cpu::wta` for the semantics.

use super::context::GpuContext;
use crate::backend::CompetitiveBackend;
use crate::error::{Result, SnnError};
use crate::model::{CompetitiveSpec, PresentOptions};
use std::sync::Arc;

/// The competitive layer on a wgpu device.
pub struct GpuCompetitive {
    _ctx: Arc<GpuContext>,
}

impl GpuCompetitive {
    /// Not available yet.
    ///
    /// # Errors
    /// Always [`SnnError::Unsupported`] in this version.
    pub fn new(ctx: Arc<GpuContext>, spec: &CompetitiveSpec) -> Result<Self> {
        spec.validate()?;
        let _ = ctx;
        Err(SnnError::Unsupported("the GPU competitive layer is not implemented yet; use --backend cpu".into()))
    }
}

impl CompetitiveBackend for GpuCompetitive {
    fn describe(&self) -> String {
        "gpu".into()
    }
    fn present(&mut self, _: &[f32], _: &PresentOptions) -> Result<Vec<u32>> {
        Err(SnnError::Unsupported("gpu present".into()))
    }
    fn present_frozen_batch(&mut self, _: &[Vec<f32>], _: &PresentOptions) -> Result<Vec<Vec<u32>>> {
        Err(SnnError::Unsupported("gpu present_frozen_batch".into()))
    }
    fn weights(&mut self) -> Result<Vec<f32>> {
        Err(SnnError::Unsupported("gpu weights".into()))
    }
    fn theta(&mut self) -> Result<Vec<f32>> {
        Err(SnnError::Unsupported("gpu theta".into()))
    }
    fn load(&mut self, _: &[f32], _: &[f32]) -> Result<()> {
        Err(SnnError::Unsupported("gpu load".into()))
    }
}
