//! [`CompetitiveMulti`]: several independent learning networks of the competitive layer,
//! advanced together presentation by presentation (on the GPU, one network per workgroup in
//! one dispatch: `gpu::wta_multi`). `experiments::diehl_cook::lockstep` drives one through
//! the training protocol of each network.

use super::Snapshot;
use crate::error::{Result, SnnError};
use crate::model::PresentOptions;

/// K independent networks, each with its own weights, θ and state; network `k` behaves as a
/// [`super::CompetitiveBackend`] built from its own spec and given the same presentations.
pub trait CompetitiveMulti {
    /// `"gpu:<adapter>, multi"` or similar.
    fn describe(&self) -> String;

    /// Number of networks K.
    fn networks(&self) -> usize;

    /// Presents `inputs[k]` (rates in Hz, options) to network `k`, carrying its state on, as
    /// [`super::CompetitiveBackend::present`]; a `None` leaves network `k` untouched. Returns
    /// the spike counts of the networks presented (`None` for the others). Backends may ask
    /// the presented networks to share their options except `key`.
    ///
    /// # Errors
    /// [`crate::SnnError::InvalidParam`] for `inputs.len() != K`, wrong rates or options
    /// that differ; backend errors; [`crate::SnnError::NonFinite`].
    fn present(
        &mut self,
        inputs: &[Option<(&[f32], PresentOptions)>],
    ) -> Result<Vec<Option<Vec<u32>>>>;

    /// The input weights of network `k`, `[input][exc]`.
    ///
    /// # Errors
    /// [`crate::SnnError::InvalidParam`] for `k >= K`; read-back errors.
    fn weights(&mut self, k: usize) -> Result<Vec<f32>>;

    /// θ of network `k` (mV).
    ///
    /// # Errors
    /// As [`Self::weights`].
    fn theta(&mut self, k: usize) -> Result<Vec<f32>>;

    /// Network `k`'s whole state (weights, θ, neuron state, traces, input rings, clocks),
    /// taken between its presentations, for a checkpoint; [`Self::restore`] puts it back
    /// into network `k` of a backend built from the same specs, which then continues bit for
    /// bit. The default: [`SnnError::Unsupported`].
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] for `k >= K`; read-back errors.
    fn snapshot(&mut self, k: usize) -> Result<Snapshot> {
        let _ = k;
        Err(SnnError::Unsupported(format!(
            "snapshots of {}",
            self.describe()
        )))
    }

    /// Puts `s` (from [`Self::snapshot`]) into network `k`.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] for `k >= K` or a snapshot of another kind or size (the
    /// state is left as it was).
    fn restore(&mut self, k: usize, s: &Snapshot) -> Result<()> {
        let _ = (k, s);
        Err(SnnError::Unsupported(format!(
            "restoring {}",
            self.describe()
        )))
    }
}
