//! Output that cannot be written: bad paths, failing writes, a full disk.

use super::helpers::*;

pub fn an_output_path_through_a_regular_file_fails_before_training() {
    let t = TempDir::new("out-file");
    let file = t.write("a-file", b"not a folder");
    let out = file.join("run");
    let e = err_text(check_writable_dir(&out));
    has_all(&e, &[&out.display().to_string(), "regular file", "--out"]);
    let mut c = snn(&["train"]);
    c.args(TINY).arg("--out").arg(&out);
    let t0 = std::time::Instant::now();
    let e = fails(c);
    has_all(&e, &[&out.display().to_string(), "regular file", "--out"]);
    assert!(
        t0.elapsed().as_secs() < 30,
        "it should fail before training"
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"not a folder");
    assert_eq!(t.entries(""), vec!["a-file"]);
}

pub fn a_failing_write_leaves_no_temp_file_and_the_old_file_untouched() {
    let t = TempDir::new("full");
    let path = t.write("network.npz", b"old network");
    // A writer that fails as a full disk does, after writing part of the file.
    let e = write_atomic(&path, |w| {
        w.write_all(&[7u8; 100_000]).unwrap();
        Err(SnnError::Io {
            path: path.clone(),
            source: std::io::Error::from(std::io::ErrorKind::StorageFull),
        })
    })
    .unwrap_err();
    has_all(&e.to_string(), &["network.npz"]);
    assert_eq!(std::fs::read(&path).unwrap(), b"old network");
    assert_eq!(t.entries(""), vec!["network.npz"]);
}

/// A 32 KiB tmpfs mounted for the test (root only; `None` where mounting is not allowed).
struct TinyFs(PathBuf);

impl TinyFs {
    fn mount(tag: &str) -> Option<TinyFs> {
        let dir = std::env::temp_dir().join(format!("snn-tinyfs-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=32k", "tmpfs"])
            .arg(&dir)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            let _ = std::fs::remove_dir(&dir);
            println!("SKIPPED: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(TinyFs(dir))
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Names in `dir` that look like leftovers of an interrupted write.
fn temp_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp") || n.contains("probe"))
        .collect()
}

pub fn a_full_disk_fails_naming_the_file_and_leaves_no_partial_file() {
    let Some(fs) = TinyFs::mount("full") else {
        return;
    };
    // The library: saving over an older run on a full disk.
    let run = fs.0.join("old-run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join(NETWORK_FILE), b"old network").unwrap();
    let n_exc = 100;
    let net = SavedNetwork {
        n_input: 784,
        n_exc,
        // Random weights: about 300 KB that do not compress into 32 KiB.
        weights: ndarray::Array2::from_shape_fn((784, n_exc), |(j, i)| {
            snn_wgpu::encode::rng::rng_u32(1, j as u32, i as u32) as f32 / u32::MAX as f32
        }),
        theta_mv: vec![20.0; n_exc],
        assignments: vec![-1; n_exc],
        config_json: "{}".into(),
    };
    let e = save_network(&run, &net).unwrap_err().to_string();
    has_all(
        &e,
        &[
            &run.join(NETWORK_FILE).display().to_string(),
            "No space left on device",
            "disk is full",
            "--out",
        ],
    );
    assert_eq!(
        std::fs::read(run.join(NETWORK_FILE)).unwrap(),
        b"old network",
        "the older file must be untouched"
    );
    assert!(temp_files(&run).is_empty(), "{:?}", temp_files(&run));
    // The CLI: a fresh run on the full disk.
    let run = fs.0.join("run");
    let mut c = snn(&["train"]);
    c.args(TINY).arg("--out").arg(&run);
    let e = fails(c);
    has_all(
        &e,
        &[
            &run.display().to_string(),
            "No space left on device",
            "--out",
        ],
    );
    // No stray line from the zip writer's drop, and the directory the run made and could
    // not fill is removed again.
    assert!(!e.contains("ZipWriter"), "{e}");
    assert!(!run.exists(), "left behind: {:?}", temp_files(&run));
}

pub fn saved_runs_with_bad_labels_or_mismatched_files_are_refused_naming_the_files() {
    let t = TempDir::new("saved");
    let run = t.path("run");
    let mut c = snn(&["train", "--preset", "dc100"]);
    c.args(TINY).arg("--out").arg(&run);
    succeeds(c);
    // config.json from another run: n_exc disagrees with network.npz.
    let config = run.join("config.json");
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, good.replace("\"n_exc\": 100", "\"n_exc\": 50")).unwrap();
    let mut c = snn(&["evaluate", "--run", run.to_str().unwrap()]);
    c.args(["--label-samples", "2", "--test-samples", "2"]);
    let e = fails(c);
    has_all(
        &e,
        &[NETWORK_FILE, "config.json", "n_exc = 50", "different runs"],
    );
    std::fs::write(&config, good).unwrap();
    // Labels outside 0..=9 (and -1) in network.npz.
    for bad in [42, -7] {
        let net = SavedNetwork {
            n_input: 784,
            n_exc: 100,
            weights: ndarray::Array2::zeros((784, 100)),
            theta_mv: vec![0.0; 100],
            assignments: (0..100).map(|i| if i == 3 { bad } else { 1 }).collect(),
            config_json: std::fs::read_to_string(&config).unwrap(),
        };
        save_network(&run, &net).unwrap();
        let mut c = snn(&["plot", "--run", run.to_str().unwrap(), "--no-presentation"]);
        c.arg("--quiet");
        let e = fails(c);
        has_all(
            &e,
            &[NETWORK_FILE, "neuron 3", &format!("label {bad}"), "0..=9"],
        );
    }
}
