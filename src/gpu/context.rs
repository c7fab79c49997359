//! GPU context: instance, adapter, device and queue, created once and shared by backends.
//!
//! Headless. The adapter is picked automatically (Vulkan first, then any backend; a real
//! GPU before a software one) or forced with [`GpuOptions`]. The library reads no environment
//! variable; the `snn` programs map `SNN_WGPU_BACKEND` and `WGPU_ADAPTER_NAME` onto these
//! options.

use crate::error::{Result, SnnError};
use crate::model::net::Network;
use std::future::Future;

/// llvmpipe silently ends every loop once a SIMD group of invocations has passed 65,535 loop
/// headers in one dispatch, all loops together; a `for` loop of k trips passes k + 1 (the last
/// pass leaves it; `tests/gpu/llvmpipe_loop_cap.rs` pins this down). The general engine
/// refuses, on a software adapter, a network with a pass that could make more loop passes
/// than this.
pub const LOOP_ITERATION_BUDGET: u32 = 60_000;

/// The most invocations per workgroup that the engine takes by default on hardware
/// ([`hardware_workgroup_size`]).
pub const MAX_DEFAULT_WORKGROUP_SIZE: u32 = 512;

/// The engine's default workgroup size on hardware for a network whose largest population
/// (sources included) has `largest` neurons, on an adapter that takes at most `limit`
/// invocations per workgroup: `largest` rounded up to a power of two, at least
/// [`crate::gpu::engine::DEFAULT_WORKGROUP_SIZE`] (64) and at most
/// [`MAX_DEFAULT_WORKGROUP_SIZE`] (512) and `limit` (rounded down to a power of two). One
/// invocation per neuron where the largest population fits (Diehl & Cook's 784 inputs take
/// 512: two draws per invocation and step, and one neuron per invocation up to dc400); a
/// larger one strides 2 to 16 neurons per invocation (dc6400: 13), within the fused
/// schedule's limit of 16. The first, Diehl & Cook-only GPU kernels, one workgroup per
/// network as here, trained dc400 on an NVIDIA H200 at 150 ms per image at 64 invocations,
/// 49 at 256, 30 at 512 and 31 at 1024 (RESULTS.md, "On a real GPU"); the general engine has
/// not been timed on hardware at any size yet (`benches/gpu_check.sh` does).
pub fn hardware_workgroup_size(largest: u32, limit: u32) -> u32 {
    let floor_pow2 = |x: u32| match x {
        0 => 1,
        x => 1u32 << (31 - x.leading_zeros()),
    };
    let cap = MAX_DEFAULT_WORKGROUP_SIZE.min(floor_pow2(limit));
    let wanted = largest
        .max(1)
        .checked_next_power_of_two()
        .unwrap_or(1 << 31);
    wanted.clamp(crate::gpu::engine::DEFAULT_WORKGROUP_SIZE.min(cap), cap)
}

/// How to choose the adapter.
#[derive(Debug, Clone, Default)]
pub struct GpuOptions {
    /// Backends to consider; `None` tries Vulkan first, then every backend.
    pub backends: Option<wgpu::Backends>,
    /// Keep only adapters whose name contains this (case-insensitive).
    pub adapter_name: Option<String>,
}

/// A device and queue on a chosen adapter.
pub struct GpuContext {
    /// The wgpu device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// Adapter name, backend, driver.
    pub info: wgpu::AdapterInfo,
    /// The limits the device was created with (the adapter's).
    pub limits: wgpu::Limits,
    /// Serialises error scopes: their stack is per device, and tests share one device.
    scope_lock: std::sync::Mutex<()>,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.info.name)
            .field("backend", &self.info.backend)
            .finish()
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    pollster::block_on(f)
}

impl GpuContext {
    /// A context on the adapter chosen by `opts`.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`] when `opts.backends` names no backend; [`SnnError::NoAdapter`]
    /// when no adapter matches; [`SnnError::Gpu`] if the device cannot be created.
    pub fn new(opts: &GpuOptions) -> Result<Self> {
        if opts.backends.is_some_and(|b| b.is_empty()) {
            return Err(SnnError::NoAdapter {
                detail: "no wgpu backend selected (GpuOptions::backends is empty): name \
                         vulkan, gl, metal or dx12, or leave it None"
                    .into(),
            });
        }
        let tries: Vec<wgpu::Backends> = match opts.backends {
            Some(b) => vec![b],
            None => vec![wgpu::Backends::VULKAN, wgpu::Backends::all()],
        };
        let mut seen = Vec::new();
        for backends in &tries {
            let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
            desc.backends = *backends;
            let instance = wgpu::Instance::new(desc);
            let mut adapters = block_on(instance.enumerate_adapters(*backends));
            for a in &adapters {
                let i = a.get_info();
                seen.push(format!("{} ({:?})", i.name, i.backend));
            }
            if let Some(name) = &opts.adapter_name {
                let name = name.to_lowercase();
                adapters.retain(|a| a.get_info().name.to_lowercase().contains(&name));
            }
            // Real GPUs first, then software; Vulkan before GL within a kind.
            adapters.sort_by_key(|a| {
                let i = a.get_info();
                let kind = match i.device_type {
                    wgpu::DeviceType::DiscreteGpu => 0,
                    wgpu::DeviceType::IntegratedGpu => 1,
                    wgpu::DeviceType::VirtualGpu => 2,
                    wgpu::DeviceType::Cpu => 3,
                    wgpu::DeviceType::Other => 4,
                };
                (kind, i.backend != wgpu::Backend::Vulkan)
            });
            if let Some(adapter) = adapters.into_iter().next() {
                return Self::open(adapter);
            }
        }
        seen.dedup();
        let filter_hint = match (&opts.adapter_name, seen.is_empty()) {
            (Some(_), false) => {
                "; the filter (WGPU_ADAPTER_NAME) matched none of them: unset it or name one"
            }
            _ => "",
        };
        Err(SnnError::NoAdapter {
            detail: format!(
                "backends tried: {}; adapter filter: {}; adapters seen: {}{filter_hint}",
                tries
                    .iter()
                    .map(|b| format!("{b:?}"))
                    .collect::<Vec<_>>()
                    .join(" then "),
                opts.adapter_name.as_deref().unwrap_or("none"),
                if seen.is_empty() {
                    "none".to_string()
                } else {
                    seen.join(", ")
                }
            ),
        })
    }

    fn open(adapter: wgpu::Adapter) -> Result<Self> {
        let info = adapter.get_info();
        if info.backend != wgpu::Backend::Vulkan {
            log::warn!(
                "using {} through {:?}; Vulkan is faster and better tested",
                info.name,
                info.backend
            );
        }
        let limits = adapter.limits();
        let (device, queue) = block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("snn-wgpu"),
            // Timestamp queries (`GpuEngineOptions::device_timing`) and subgroup operations
            // (`GpuEngineOptions::subgroups`) where the adapter has them.
            required_features: adapter.features()
                & (wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SUBGROUP),
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| SnnError::Gpu {
            label: format!("device on {}", info.name),
            message: e.to_string(),
        })?;
        Ok(GpuContext {
            device,
            queue,
            info,
            limits,
            scope_lock: std::sync::Mutex::new(()),
        })
    }

    /// `"<adapter name> (<backend>)"`, as printed in logs and JSON lines.
    pub fn adapter_description(&self) -> String {
        format!("{} ({:?})", self.info.name, self.info.backend)
    }

    /// Whether the device runs subgroup operations (`wgpu::Features::SUBGROUP`, requested
    /// where the adapter has it), whatever its lane count: llvmpipe's subgroups have 8 lanes
    /// on a 256-bit build, NVIDIA's 32, AMD's 32 or 64.
    pub fn has_subgroups(&self) -> bool {
        self.device.features().contains(wgpu::Features::SUBGROUP)
    }

    /// Whether the device takes timestamp queries (`wgpu::Features::TIMESTAMP_QUERY`), which
    /// time the engine's passes on the device (`GpuEngineOptions::device_timing`).
    pub fn has_timestamps(&self) -> bool {
        self.device
            .features()
            .contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// True on a software adapter (llvmpipe/lavapipe, WARP): one with the loop cap and one
    /// thread per workgroup.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// The engine's workgroup size for `net` where [`crate::gpu::engine::GpuEngineOptions`]
    /// leaves it to the adapter. On a software adapter 32 invocations, where they measured
    /// faster than 64 for Diehl & Cook training (one network 7 % for dc400 and 17 % for dc100;
    /// four as the copies of one engine 4 % and 13 %) and frozen evaluation (dc100 batches of
    /// 64 30 %, the rest alike; RESULTS.md, "The workgroup size by adapter"): llvmpipe runs a
    /// workgroup on one thread, and every invocation more is a lane more to step through at
    /// each barrier. On hardware, [`hardware_workgroup_size`] of the largest population: under
    /// the fused schedule a copy is one workgroup, so its invocations are all the parallelism
    /// a step of one network gets (the engine takes it where the network runs fused at it,
    /// and [`crate::gpu::engine::DEFAULT_WORKGROUP_SIZE`] under the passes:
    /// [`crate::gpu::engine::GpuEngineOptions::workgroup_size`]).
    pub fn default_workgroup_size(&self, net: &Network) -> u32 {
        if self.is_software() {
            return 32;
        }
        let largest = net.populations.iter().map(|p| p.size).max().unwrap_or(1);
        let limit = self
            .limits
            .max_compute_invocations_per_workgroup
            .min(self.limits.max_compute_workgroup_size_x);
        hardware_workgroup_size(largest, limit)
    }

    /// Checks that `needed` fits under the limit `available`.
    ///
    /// # Errors
    /// [`SnnError::LimitExceeded`] naming the limit, both values and the adapter.
    pub fn check_limit(&self, limit: &'static str, needed: u64, available: u64) -> Result<()> {
        if needed > available {
            return Err(SnnError::LimitExceeded {
                limit,
                needed,
                available,
                adapter: self.info.name.clone(),
            });
        }
        Ok(())
    }

    /// The workgroups of `wg` invocations that cover `items` items in one dimension of a
    /// dispatch.
    ///
    /// # Errors
    /// [`SnnError::LimitExceeded`] past `max_compute_workgroups_per_dimension`, named with
    /// `what` (the dispatch).
    pub(crate) fn workgroups(&self, what: &'static str, items: u64, wg: u32) -> Result<u32> {
        let groups = items.div_ceil(u64::from(wg.max(1)));
        self.check_limit(
            what,
            groups,
            u64::from(self.limits.max_compute_workgroups_per_dimension),
        )?;
        Ok(groups as u32)
    }

    /// Compiles WGSL `source` into a module labelled `label`.
    ///
    /// # Errors
    /// [`SnnError::Gpu`] naming the shader, with naga's message.
    pub(crate) fn shader_module(&self, label: &str, source: &str) -> Result<wgpu::ShaderModule> {
        self.scoped(label, || {
            self.device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(label),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                })
        })
    }

    /// A compute pipeline for `entry` of `module`, with the workgroup size override set,
    /// labelled `<module label>::<entry>`.
    ///
    /// # Errors
    /// [`SnnError::Gpu`] naming the pipeline.
    pub(crate) fn compute_pipeline(
        &self,
        module_label: &str,
        layout: &wgpu::PipelineLayout,
        module: &wgpu::ShaderModule,
        entry: &str,
        workgroup_size: u32,
    ) -> Result<wgpu::ComputePipeline> {
        let label = format!("{module_label}::{entry}");
        let constants = [(
            super::shaders::WORKGROUP_SIZE_OVERRIDE,
            workgroup_size as f64,
        )];
        self.scoped(&label, || {
            self.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&label),
                    layout: Some(layout),
                    module,
                    entry_point: Some(entry),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants: &constants,
                        ..Default::default()
                    },
                    cache: None,
                })
        })
    }

    /// Runs `f` inside a validation error scope and turns a captured error into
    /// [`SnnError::Gpu`] labelled `label`.
    ///
    /// # Errors
    /// The captured validation or out-of-memory error.
    pub fn scoped<T>(&self, label: &str, f: impl FnOnce() -> T) -> Result<T> {
        let _guard = self.scope_lock.lock().unwrap_or_else(|p| p.into_inner());
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let v = block_on(validation.pop());
        let o = block_on(oom.pop());
        match v.or(o) {
            Some(e) => Err(SnnError::Gpu {
                label: label.to_string(),
                message: e.to_string(),
            }),
            None => Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::hardware_workgroup_size;

    #[test]
    fn the_hardware_workgroup_follows_the_largest_population() {
        // (largest population, the adapter's limit) → invocations.
        for (largest, limit, wg) in [
            (1, 1024, 64),
            (64, 1024, 64),
            (65, 1024, 128),
            (400, 1024, 512),
            (784, 1024, 512),
            (6400, 1024, 512),
            (u32::MAX, 1024, 512),
            (400, 256, 256),
            (400, 300, 256),
            (100, 256, 128),
            (10, 32, 32),
        ] {
            assert_eq!(
                hardware_workgroup_size(largest, limit),
                wg,
                "largest {largest}, limit {limit}"
            );
        }
    }
}
