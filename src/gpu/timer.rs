//! Device time of the engine's step passes, from timestamp queries: each submission of steps
//! writes a timestamp at the start and at the end of its compute pass, resolved into a small
//! buffer that is read back with what the submission reads anyway (no extra wait).
//! `GpuEngineOptions::device_timing` turns it on; adapters without `TIMESTAMP_QUERY` have none.

use super::context::GpuContext;

/// Bytes of the two resolved timestamps (u64 ticks each).
const RESOLVED_BYTES: u64 = 16;

/// The timestamps of one compute pass per submission and what they add up to.
pub(crate) struct PassTimer {
    set: wgpu::QuerySet,
    resolved: wgpu::Buffer,
    /// Nanoseconds per tick (`Queue::get_timestamp_period`).
    period_ns: f64,
    total_ns: f64,
    passes: u64,
}

impl PassTimer {
    /// A timer on `ctx`, or None where its device has no timestamp queries.
    pub(crate) fn new(ctx: &GpuContext) -> Option<Self> {
        if !ctx.has_timestamps() {
            return None;
        }
        let set = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("engine.timer"),
            ty: wgpu::QueryType::Timestamp,
            count: 2,
        });
        let resolved = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("engine.timer.resolved"),
            size: RESOLVED_BYTES,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        Some(PassTimer {
            set,
            resolved,
            period_ns: f64::from(ctx.queue.get_timestamp_period()),
            total_ns: 0.0,
            passes: 0,
        })
    }

    /// The timestamp writes of a timed compute pass.
    pub(crate) fn writes(&self) -> wgpu::ComputePassTimestampWrites<'_> {
        wgpu::ComputePassTimestampWrites {
            query_set: &self.set,
            beginning_of_pass_write_index: Some(0),
            end_of_pass_write_index: Some(1),
        }
    }

    /// Resolves the pass's timestamps, after the pass, in the same encoder.
    pub(crate) fn resolve(&self, enc: &mut wgpu::CommandEncoder) {
        enc.resolve_query_set(&self.set, 0..2, &self.resolved, 0);
    }

    /// The readback range of the resolved timestamps.
    pub(crate) fn range(&self) -> (&wgpu::Buffer, u64, u64) {
        (&self.resolved, 0, RESOLVED_BYTES)
    }

    /// Adds the pass whose resolved timestamps are `bytes` (read from [`Self::range`]).
    pub(crate) fn add(&mut self, bytes: &[u8]) {
        let tick = |i: usize| {
            let b: [u8; 8] = bytes.get(8 * i..8 * i + 8)?.try_into().ok()?;
            Some(u64::from_le_bytes(b))
        };
        if let (Some(start), Some(end)) = (tick(0), tick(1)) {
            self.total_ns += end.saturating_sub(start) as f64 * self.period_ns;
            self.passes += 1;
        }
    }

    /// Seconds of device time of the passes timed so far.
    pub(crate) fn seconds(&self) -> f64 {
        self.total_ns * 1e-9
    }

    /// Timed passes so far.
    pub(crate) fn passes(&self) -> u64 {
        self.passes
    }
}
