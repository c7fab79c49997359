//! Large CPU buffers (the input weights) backed by 2 MB pages where the OS offers them.
//!
//! The potentiation of a firing neuron walks its weight column, one weight per `n`-float row:
//! with 4 KB pages every step of that walk is a new page (a TLB miss) once the weights
//! outgrow what the TLB maps (dc6400: 20 MB). Linux backs a region with 2 MB pages when the
//! program asks (`madvise(MADV_HUGEPAGE)`; transparent huge pages in `madvise` mode, the
//! common default), which maps the same 20 MB with 10 pages. Elsewhere this is a plain copy.

/// `data` in a fresh buffer that Linux may back with 2 MB pages: the advice is given before
/// the first write, so the pages are huge from the start. Same contents either way.
pub(crate) fn huge_page_vec(data: &[f32]) -> Vec<f32> {
    let mut v: Vec<f32> = Vec::with_capacity(data.len());
    #[cfg(target_os = "linux")]
    advise_huge_pages(v.as_mut_ptr() as usize, std::mem::size_of_val(data));
    v.extend_from_slice(data);
    v
}

#[cfg(target_os = "linux")]
fn advise_huge_pages(addr: usize, len: usize) {
    const HUGE: usize = 2 << 20;
    let start = addr.next_multiple_of(HUGE);
    let end = (addr + len) / HUGE * HUGE;
    if end > start {
        // SAFETY: [start, end) lies inside the allocation of `len` bytes at `addr` that the
        // caller owns and has not used yet; MADV_HUGEPAGE changes only how the kernel backs
        // those pages, never their contents, and a failure (no THP support) leaves them as
        // they were, so the result is ignored.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_contents_small_and_large() {
        for n in [0, 3, 1 << 20, (5 << 20) + 7] {
            let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
            assert_eq!(huge_page_vec(&data), data);
        }
    }
}
