//! Reading a device buffer back to the host: a copy into a mappable staging buffer, one
//! wait. Used by the engines at run and presentation boundaries, never inside a time loop.

use super::context::GpuContext;
use crate::error::{Result, SnnError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// A mappable staging buffer kept between read-backs (grown to the largest one so far), so
/// that a read-back creates no buffer.
#[derive(Debug, Default)]
pub(crate) struct Staging(Mutex<Option<wgpu::Buffer>>);

impl Staging {
    /// The bytes of several `(buffer, offset, size)` ranges (multiples of 4), in one
    /// staging buffer and one wait (more where together they pass the adapter's
    /// `max_buffer_size`); the copies are appended to `enc` where given (after the work it
    /// holds, in one submission). Adds the nanoseconds spent waiting for the device (from
    /// the submission to the bytes mapped) to `waited_ns`.
    ///
    /// # Errors
    /// [`SnnError::LimitExceeded`] for one range past `max_buffer_size`; [`SnnError::Gpu`]
    /// if the staging buffer cannot be made or the device fails.
    pub(crate) fn read(
        &self,
        ctx: &GpuContext,
        enc: Option<wgpu::CommandEncoder>,
        ranges: &[(&wgpu::Buffer, u64, u64)],
        label: &str,
        waited_ns: &AtomicU64,
    ) -> Result<Vec<Vec<u8>>> {
        let size: u64 = ranges.iter().map(|r| r.2).sum();
        if size == 0 {
            if let Some(e) = enc {
                ctx.queue.submit([e.finish()]);
            }
            return Ok(ranges.iter().map(|_| vec![]).collect());
        }
        let max = ctx.limits.max_buffer_size;
        if size > max {
            // The ranges that fit one staging buffer, then the rest.
            let mut n = 0;
            let mut fit = 0;
            while n < ranges.len() && fit + ranges[n].2 <= max {
                fit += ranges[n].2;
                n += 1;
            }
            if n == 0 {
                ctx.check_limit("max_buffer_size (one read-back)", ranges[0].2, max)?;
            }
            let n = n.max(1);
            let mut parts = self.read(ctx, enc, &ranges[..n], label, waited_ns)?;
            parts.extend(self.read(ctx, None, &ranges[n..], label, waited_ns)?);
            return Ok(parts);
        }
        // A read-back that failed may have left its buffer mapped: the next one makes its own.
        let kept = self.0.lock().ok().and_then(|mut s| s.take());
        let staging = match kept {
            Some(b) if b.size() >= size => b,
            _ => ctx.scoped("engine.staging", || {
                ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("engine.staging"),
                    size: size.next_power_of_two().min(max),
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            })?,
        };
        let mut enc = enc.unwrap_or_else(|| {
            ctx.device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) })
        });
        let mut at = 0;
        for &(buf, offset, len) in ranges {
            if len > 0 {
                enc.copy_buffer_to_buffer(buf, offset, &staging, at, len);
            }
            at += len;
        }
        ctx.queue.submit([enc.finish()]);
        // The wait: from the submission to the bytes mapped (the encoding and the submission
        // are the host's own work).
        let t0 = std::time::Instant::now();
        let gpu_err = |e: &dyn std::fmt::Display| SnnError::Gpu {
            label: label.into(),
            message: e.to_string(),
        };
        let slice = staging.slice(..size);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        ctx.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| gpu_err(&e))?;
        rx.recv()
            .map_err(|e| gpu_err(&e))?
            .map_err(|e| gpu_err(&e))?;
        waited_ns.fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
        let parts = {
            let bytes = slice.get_mapped_range().map_err(|e| gpu_err(&e))?;
            let mut at = 0;
            ranges
                .iter()
                .map(|r| {
                    let part = bytes[at as usize..(at + r.2) as usize].to_vec();
                    at += r.2;
                    part
                })
                .collect()
        };
        staging.unmap();
        if let Ok(mut s) = self.0.lock() {
            *s = Some(staging);
        }
        Ok(parts)
    }
}
