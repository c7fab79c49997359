//! Every composed shader module parses and validates with naga (all flags), and every host
//! struct that crosses to the GPU has the same size and field offsets as its WGSL twin.
//! Needs no adapter.

use snn_wgpu::gpu::layout::mirrored_layouts;
use snn_wgpu::gpu::shaders::builtin_modules;

fn parse_and_validate(label: &str, source: &str) -> (naga::Module, naga::valid::ModuleInfo) {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{label}: {}", e.emit_to_string(source)));
    // Subgroup operations only in the module made for a device with them.
    let caps = match label.ends_with(".subgroups") {
        true => naga::valid::Capabilities::SUBGROUP,
        false => naga::valid::Capabilities::default(),
    };
    let info = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{label}: {}", e.emit_to_string(source)));
    (module, info)
}

#[test]
fn every_composed_module_validates() {
    let modules = builtin_modules();
    assert!(
        modules.len() >= 5,
        "expected a module per built-in model and a custom one"
    );
    for m in &modules {
        let (module, _) = parse_and_validate(&m.label, &m.source);
        let entries: Vec<&str> = module
            .entry_points
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        let wanted: &[&str] = if m.label == "engine" {
            &[
                "source_0",
                "source_1",
                "neurons_2",
                "neurons_3",
                "propagate_0",
                "propagate_1",
                "propagate_2",
                "potentiate_0",
                "potentiate_1",
                "normalize_sum_0",
                "normalize_scale_0",
                "monitor_state",
            ]
        } else if m.label.starts_with("engine.fused") {
            &["fused", "normalize_sum_0", "normalize_scale_0"]
        } else {
            // `engine.<model>`: a Poisson source driving one population.
            &["source_0", "neurons_1", "propagate_0"]
        };
        for &want in wanted {
            assert!(
                entries.contains(&want),
                "{}: missing entry point {want}",
                m.label
            );
        }
    }
}

#[test]
fn every_wgsl_file_is_used_by_a_composed_module() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let all: String = builtin_modules().iter().map(|m| m.source.clone()).collect();
    let mut files = vec![];
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "wgsl") {
                files.push(p);
            }
        }
    }
    assert!(!files.is_empty());
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            all.contains(text.trim()),
            "{} is not part of any composed module",
            f.display()
        );
    }
}

#[test]
fn host_structs_match_wgsl_layout() {
    let parsed: Vec<naga::Module> = builtin_modules()
        .iter()
        .map(|m| parse_and_validate(&m.label, &m.source).0)
        .collect();
    for (name, size, fields) in mirrored_layouts() {
        let (_, ty) = parsed
            .iter()
            .flat_map(|module| module.types.iter())
            .find(|(_, t)| t.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("struct {name} not found in WGSL"));
        let naga::TypeInner::Struct { members, span } = &ty.inner else {
            panic!("{name} is not a struct")
        };
        assert_eq!(
            *span as usize, size,
            "{name}: WGSL size {span} vs Rust {size}"
        );
        for (field, offset) in fields {
            let member = members
                .iter()
                .find(|mm| mm.name.as_deref() == Some(field))
                .unwrap_or_else(|| panic!("{name}.{field} missing in WGSL"));
            assert_eq!(
                member.offset as usize, offset,
                "{name}.{field}: WGSL offset {} vs Rust {offset}",
                member.offset
            );
        }
    }
}

#[test]
fn a_broken_custom_model_is_named_beside_its_code_and_refused() {
    use snn_wgpu::model::net::Network;
    use snn_wgpu::model::*;
    let bad = CustomModel::new("broken", "o.v = s.v + undefined_name;", |_, _, _| {});
    let net = Network::new(0.5).neurons("p", 4, NeuronModel::custom(bad, 1.0, ResetMode::Soft));
    let module = snn_wgpu::gpu::engine::compose_module(&net).unwrap();
    let at = module.source.find("custom model `broken`").expect("named");
    assert!(module.source[at..].contains("o.v = s.v + undefined_name;"));
    assert!(naga::front::wgsl::parse_str(&module.source).is_err());
}
