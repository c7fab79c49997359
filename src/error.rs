//! Errors: the one typed error of the library (`SnnError`) and its `Result` alias.
//!
//! Every fallible public function returns [`Result`]. Variants are grouped by where the
//! problem lies: the user's spec, the GPU, or data and files. Each carries the offending
//! name and the expected and actual values, so its message says what to change.

use std::path::PathBuf;

/// The library's result type.
pub type Result<T> = std::result::Result<T, SnnError>;

/// Everything that can go wrong in snn-wgpu.
#[derive(Debug, thiserror::Error)]
pub enum SnnError {
    // ---- spec: the user's description of the model ----
    /// A parameter has a value the model cannot use.
    #[error("invalid parameter `{field}` = {value}: {expected}")]
    InvalidParam {
        /// Dotted path of the field, e.g. `population.lif.tau_m_ms`.
        field: String,
        /// The value given, as text.
        value: String,
        /// What a valid value looks like.
        expected: String,
    },
    /// A name (state variable, monitor target) is not known.
    #[error("unknown {kind} `{name}`; known: {known}")]
    UnknownName {
        /// What kind of name (e.g. "state variable").
        kind: &'static str,
        /// The name given.
        name: String,
        /// The names that would have been accepted.
        known: String,
    },
    /// The operation is not supported by this backend or configuration.
    #[error("unsupported: {0}")]
    Unsupported(String),

    // ---- GPU ----
    /// No wgpu adapter could be found.
    #[error(
        "no GPU adapter found ({detail}). Install a Vulkan driver (on Debian/Ubuntu: \
         `apt-get install -y mesa-vulkan-drivers` gives the llvmpipe software adapter), \
         or use the CPU backend (`cpu::engine::Engine`, `--backend cpu`)"
    )]
    NoAdapter {
        /// Which backends and adapter filter were tried.
        detail: String,
    },
    /// The network needs more than the adapter offers.
    #[error(
        "GPU limit exceeded: {limit} is {available} on adapter `{adapter}`, but {needed} are \
         needed. Use the CPU backend (`--backend cpu`; `cpu::engine::Engine`, `DcEngine`), which \
         has no such limit, or a smaller network (fewer neurons N, e.g. a smaller n_exc)"
    )]
    LimitExceeded {
        /// Name of the wgpu limit.
        limit: &'static str,
        /// What the network needs.
        needed: u64,
        /// What the adapter allows.
        available: u64,
        /// The adapter's name.
        adapter: String,
    },
    /// wgpu reported an error while creating or running GPU objects.
    #[error("GPU error in `{label}`: {message}")]
    Gpu {
        /// Label of the shader, pipeline or buffer involved.
        label: String,
        /// wgpu's message.
        message: String,
    },

    // ---- simulation state ----
    /// A state variable became NaN or infinite.
    #[error(
        "non-finite value in population `{population}`, variable `{variable}`, neuron {neuron}, \
         by step {step}: check dt against the time constants and the input magnitudes"
    )]
    NonFinite {
        /// Population name.
        population: String,
        /// State variable name.
        variable: String,
        /// Neuron index (batch-major).
        neuron: usize,
        /// Step count at which the value was seen.
        step: u64,
    },

    /// An image kept drawing too few spikes, retry after retry.
    #[error(
        "image {image}: fewer than {min_spikes} excitatory spikes after {retries} retries (input \
         intensity reached {intensity}): the network is silent. {diagnosis}"
    )]
    NoResponse {
        /// Index of the image in its data set.
        image: usize,
        /// The spike threshold of the retry rule.
        min_spikes: u32,
        /// Retries made.
        retries: u32,
        /// The last intensity tried.
        intensity: f32,
        /// What the state says about why, and what to do
        /// (`experiments::diehl_cook::train::silence_diagnosis`).
        diagnosis: String,
    },

    /// Training met a whole window of silent images in a row: each skipped after its
    /// retries, until too many to go on.
    #[error(
        "training images {first} to {last}, {images} in a row, all drew fewer than \
         {min_spikes} excitatory spikes after {retries} retries each: the network is silent, \
         and training stops. {diagnosis}",
        first = (last + 1).saturating_sub(*images)
    )]
    SilentWindow {
        /// Silent images in a row.
        images: usize,
        /// The last of them, counted from 1 over all epochs.
        last: usize,
        /// The spike threshold of the retry rule.
        min_spikes: u32,
        /// Retries made per image.
        retries: u32,
        /// What the state says about why, and what to do
        /// (`experiments::diehl_cook::train::silence_diagnosis`).
        diagnosis: String,
    },

    // ---- data and files ----
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A data file has the wrong contents.
    #[error("{path}: {message}")]
    Data {
        /// The file involved.
        path: PathBuf,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A download failed on every mirror tried (network, HTTP status, cut transfer).
    #[error("downloading {file} failed: {message}")]
    Download {
        /// The file being downloaded (its name, e.g. `train-images-idx3-ubyte.gz`).
        file: String,
        /// What each mirror answered, and what to do (resume, another mirror).
        message: String,
    },
    /// A downloaded file's content does not have the expected SHA-256.
    #[error(
        "{path}: SHA-256 mismatch: expected {expected}, got {actual}. The download was deleted; \
         re-run the same command to download it again, or try another mirror \
         (`snn fetch-mnist --mirror URL`)"
    )]
    Checksum {
        /// The file being fetched, at its final path (which it never reached).
        path: PathBuf,
        /// The expected SHA-256, lowercase hex.
        expected: String,
        /// The SHA-256 found, lowercase hex (or why none could be computed).
        actual: String,
    },
    /// Another process holds the lock of a directory this operation writes.
    #[error(
        "{path}: another `{what}` (process {pid}) is writing into this directory. Wait for it \
         to finish (its lock ends with its process)"
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The operation that holds it (e.g. `snn fetch-mnist`).
        what: &'static str,
        /// The holder's process id, as the lock file gives it.
        pid: String,
    },

    // ---- networks (model::net) ----
    /// A population, projection or monitor of a network has a field the engine cannot use.
    #[error("{element}: invalid `{field}` = {value}: {expected}")]
    InvalidNetwork {
        /// The element, e.g. ``projection `ee` `` or ``population `exc` ``.
        element: String,
        /// The field within it, e.g. `connectivity.p`.
        field: String,
        /// The value given, as text.
        value: String,
        /// What a valid value looks like.
        expected: String,
    },
}

impl SnnError {
    /// Shorthand for [`SnnError::InvalidParam`].
    pub fn invalid(
        field: impl Into<String>,
        value: impl ToString,
        expected: impl Into<String>,
    ) -> Self {
        SnnError::InvalidParam {
            field: field.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    /// The same error with the field of an [`SnnError::InvalidParam`] put under `prefix`
    /// (`tau_m_ms` → `exc.tau_m_ms`), so a nested spec names the whole path; others unchanged.
    pub fn in_field(self, prefix: &str) -> Self {
        match self {
            SnnError::InvalidParam {
                field,
                value,
                expected,
            } => SnnError::InvalidParam {
                field: format!("{prefix}.{field}"),
                value,
                expected,
            },
            other => other,
        }
    }
}
