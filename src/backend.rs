//! The seams between experiments and engines: [`Simulator`] for any `model::net::Network`
//! (the CPU `cpu::engine::Engine`, the GPU `gpu::GpuEngine`), and [`CompetitiveBackend`] for
//! the Diehl & Cook protocol on either (`experiments::diehl_cook::engine::DcEngine`), with
//! its [`Snapshot`].
//!
//! Experiments and tests drive a simulation only through these traits, so the CPU and the
//! GPU are interchangeable. Results come back as plain host data.

use crate::error::{Result, SnnError};

pub(crate) mod simulator;
pub(crate) use simulator::impl_simulator;
pub use simulator::{Simulator, Trial};

/// The whole dynamic state of a network (weights, θ, potentials, conductances, traces, delay
/// lines, clocks), as named arrays of raw 32-bit words (f32 by their bits, so a round trip is
/// exact). Written by [`CompetitiveBackend::snapshot`] and read by
/// [`CompetitiveBackend::restore`] of either engine; checkpoints store it.
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

/// A simulation engine for a [`crate::model::CompetitiveSpec`] (the Diehl & Cook layer),
/// driven presentation by presentation.
pub trait CompetitiveBackend {
    /// `"cpu"` or `"gpu:<adapter>"`.
    fn describe(&self) -> String;

    /// Presents one input (rates in Hz, one per input) to the network, carrying its state
    /// on from the last presentation, and returns each excitatory neuron's spike count over
    /// the `steps_on` window. With `opts.learn`, normalises first, runs STDP and adapts θ.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] for a wrong number of rates; GPU errors;
    /// [`SnnError::NonFinite`] if a state variable became NaN or infinite.
    fn present(
        &mut self,
        rates_hz: &[f32],
        opts: &crate::model::PresentOptions,
    ) -> Result<Vec<u32>>;

    /// Presents many inputs to frozen copies of the network (no learning, θ fixed), each
    /// starting from the rest state, input `k` with key `opts.key + k`. The result equals
    /// presenting them one at a time, in any order.
    ///
    /// # Errors
    /// As [`Self::present`].
    fn present_frozen_batch(
        &mut self,
        rates_hz: &[Vec<f32>],
        opts: &crate::model::PresentOptions,
    ) -> Result<Vec<Vec<u32>>>;

    /// The input weights, `[input][exc]`.
    ///
    /// # Errors
    /// GPU errors while reading back.
    fn weights(&mut self) -> Result<Vec<f32>>;

    /// θ of every excitatory neuron (mV).
    ///
    /// # Errors
    /// GPU errors while reading back.
    fn theta(&mut self) -> Result<Vec<f32>>;

    /// Replaces the input weights and θ (loading a saved network).
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] for wrong lengths.
    fn load(&mut self, weights: &[f32], theta_mv: &[f32]) -> Result<()>;

    /// The learning network's whole state, for checkpoints. Restoring it into a backend of
    /// the same kind built from the same spec continues bit for bit as if never stopped.
    ///
    /// # Errors
    /// GPU errors while reading back.
    fn snapshot(&mut self) -> Result<Snapshot>;

    /// Replaces the learning network's whole state with `s`.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] for a snapshot of another backend kind or network size.
    fn restore(&mut self, s: &Snapshot) -> Result<()>;
}
