//! The seam between experiments and engines: [`Simulator`] for any `model::net::Network`
//! (the CPU `cpu::engine::Engine`, the GPU `gpu::GpuEngine`), [`EngineChoice`], which builds
//! either for a network, and the [`Snapshot`] of a network's whole state that checkpoints
//! store.
//!
//! Experiments and tests build an engine through [`EngineChoice`] and drive it only through
//! [`Simulator`], so the CPU and the GPU are interchangeable. Results come back as plain host
//! data.

use crate::error::{Result, SnnError};

mod choice;
pub(crate) mod simulator;
pub use choice::EngineChoice;
pub(crate) use simulator::impl_simulator;
pub use simulator::{DeviceWaits, Presentation, Series, SeriesRun, Shown, Simulator, Trial};

/// The whole dynamic state of a network (weights, θ, potentials, conductances, traces, delay
/// lines, clocks), as named arrays of raw 32-bit words (f32 by their bits, so a round trip is
/// exact), the same from either engine (`model::net::state::NetworkState::to_snapshot`);
/// checkpoints store it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// The layout of `arrays`: `model::net::state::SNAPSHOT_KIND` (either engine's), or
    /// `"cpu"`, the first CPU engine's, which is still read.
    pub backend: String,
    /// `(name, words)`, in the backend's order.
    pub arrays: Vec<(String, Vec<u32>)>,
}

impl Snapshot {
    /// A snapshot of backend kind `backend` with no arrays yet.
    pub fn new(backend: &str) -> Self {
        Snapshot {
            backend: backend.into(),
            arrays: vec![],
        }
    }

    /// Appends f32 values as their bits.
    pub fn push_f32(&mut self, name: &str, v: &[f32]) {
        self.arrays
            .push((name.into(), v.iter().map(|x| x.to_bits()).collect()));
    }

    /// Appends u32 words.
    pub fn push_u32(&mut self, name: &str, v: &[u32]) {
        self.arrays.push((name.into(), v.to_vec()));
    }

    /// The words of `name`, which must hold `len` of them (`None`: any length).
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] naming the array when it is missing or has another length
    /// (a snapshot of another network).
    pub fn u32s(&self, name: &str, len: Option<usize>) -> Result<&[u32]> {
        let (_, v) = self.arrays.iter().find(|(n, _)| n == name).ok_or_else(|| {
            SnnError::invalid(
                "snapshot",
                format!("no array `{name}`"),
                "a snapshot written by the same backend kind and version",
            )
        })?;
        match len {
            Some(l) if v.len() != l => Err(SnnError::invalid(
                format!("snapshot array `{name}` length"),
                v.len(),
                format!("{l} (the same network size and options)"),
            )),
            _ => Ok(v),
        }
    }

    /// Whether the snapshot holds an array `name`.
    pub fn has(&self, name: &str) -> bool {
        self.arrays.iter().any(|(n, _)| n == name)
    }

    /// The f32 values of `name` (see [`Self::u32s`]).
    ///
    /// # Errors
    /// As [`Self::u32s`].
    pub fn f32s(&self, name: &str, len: Option<usize>) -> Result<Vec<f32>> {
        Ok(self
            .u32s(name, len)?
            .iter()
            .map(|&b| f32::from_bits(b))
            .collect())
    }

    /// Fails unless this snapshot was written by backend kind `kind`.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] saying which kind wrote it.
    pub fn expect_backend(&self, kind: &str) -> Result<()> {
        if self.backend == kind {
            Ok(())
        } else {
            Err(SnnError::invalid(
                "snapshot backend",
                &self.backend,
                format!("`{kind}` (a snapshot of the same kind of network)"),
            ))
        }
    }
}
