//! Networks too large for the GPU, bad engine tuning variables, no adapter.

use super::helpers::*;

/// The smallest `n_exc` whose input weights do not fit one storage binding of `ctx`.
fn too_many(ctx: &GpuContext) -> u32 {
    let max = ctx.limits.max_storage_buffer_binding_size / (784 * 4);
    u32::try_from(max + 1).expect("a binding limit under 16 TiB")
}

pub fn a_layer_too_large_for_the_gpu_names_the_limit_and_the_ways_out() {
    let ctx = crate::common::gpu_ctx();
    let mut spec = small_config().to_spec();
    spec.n_exc = too_many(&ctx);
    // Refused before anything is built: no weights are drawn.
    let e = err_text(on_gpu(ctx.clone(), &spec));
    has_all(
        &e,
        &[
            "n_exc",
            &format!("{}", spec.n_exc),
            &format!("at most {}", spec.n_exc - 1),
            "max_storage_buffer_binding_size",
            "--backend cpu",
            "smaller network",
        ],
    );
}

pub fn bad_kernel_tuning_variables_name_the_variable_and_what_it_takes() {
    // Refused while the arguments are parsed, before any adapter is looked for.
    let t = TempDir::new("wg");
    let cases = [
        ("SNN_WORKGROUP_SIZE", "3", "a power of two from 1 to 1024"),
        (
            "SNN_WORKGROUP_SIZE",
            "2048",
            "a power of two from 1 to 1024",
        ),
        (
            "SNN_WORKGROUP_SIZE",
            "many",
            "a power of two from 1 to 1024",
        ),
        ("SNN_CPU_SIMD", "bogus", "baseline, avx2, avx512"),
        ("SNN_CPU_DEPRESSION_QUEUE", "maybe", "1 or 0"),
        ("SNN_GPU_SCHEDULE", "fast", "auto, fused or passes"),
    ];
    for (k, (var, bad, expected)) in cases.into_iter().enumerate() {
        let mut c = snn(&["train", "--backend", "gpu"]);
        c.args(TINY)
            .arg("--out")
            .arg(t.path(&format!("run{k}")))
            .env(var, bad);
        let e = fails(c);
        has_all(&e, &[var, bad, expected]);
    }
}

pub fn no_adapter_says_what_to_install_and_how_to_go_on() {
    // A filter that matches nothing.
    let e = err_text(GpuContext::new(&GpuOptions {
        backends: None,
        adapter_name: Some("nonexistent-adapter-42".into()),
    }));
    has_all(
        &e,
        &[
            "no GPU adapter found",
            "nonexistent-adapter-42",
            "mesa-vulkan-drivers",
            "--backend cpu",
        ],
    );
    // No backend at all.
    let e = err_text(GpuContext::new(&GpuOptions {
        backends: Some(wgpu::Backends::empty()),
        ..Default::default()
    }));
    has_all(
        &e,
        &["no wgpu backend selected", "vulkan, gl", "--backend cpu"],
    );
}

pub fn cli_no_adapter() {
    let mut c = snn(&["train", "--backend", "gpu"]);
    c.args(TINY)
        .env("WGPU_ADAPTER_NAME", "nonexistent-adapter-42");
    let e = fails(c);
    has_all(
        &e,
        &[
            "nonexistent-adapter-42",
            "mesa-vulkan-drivers",
            "--backend cpu",
        ],
    );
    let mut c = snn(&["train", "--backend", "gpu"]);
    c.args(TINY)
        .env("SNN_WGPU_BACKEND", "vulcan")
        .env_remove("WGPU_BACKEND");
    let e = fails(c);
    has_all(
        &e,
        &[
            "no known wgpu backend",
            "SNN_WGPU_BACKEND",
            "\"vulcan\"",
            "vulkan, gl",
            "--backend cpu",
        ],
    );
    assert!(!e.contains("Install"), "{e}");
}

pub fn cli_removed_tuning_variables_are_named_in_a_warning() {
    let out = snn(&["presets"])
        .env("SNN_UNROLL", "1")
        .env("SNN_ARRIVAL_QUEUE", "0")
        .output()
        .unwrap();
    assert!(out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    has_all(
        &e,
        &[
            "warning: SNN_UNROLL",
            "warning: SNN_ARRIVAL_QUEUE",
            "no longer read",
        ],
    );
    assert!(!e.contains("SNN_WORKGROUP_RING"), "{e}");
}

pub fn cli_an_unknown_simd_level_is_refused() {
    let mut c = snn(&["train"]);
    c.args(TINY).env("SNN_CPU_SIMD", "bogus");
    let e = fails(c);
    has_all(
        &e,
        &["SNN_CPU_SIMD", "\"bogus\"", "baseline", "avx2", "avx512"],
    );
}
