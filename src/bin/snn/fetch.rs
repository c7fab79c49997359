//! `snn fetch-mnist --to DIR`: downloads and verifies the four MNIST files.
//!
//! Arguments in, files in `DIR` out, through `snn_wgpu::data::fetch::fetch`. Progress goes to
//! stderr (a bar per file on a terminal), one JSON line per file to stdout under `--json`.

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use snn_wgpu::data::fetch::{fetch, FetchOptions, Fetched, Progress};
use std::path::PathBuf;

/// Options of `snn fetch-mnist`.
#[derive(clap::Args)]
pub struct FetchArgs {
    /// Directory to put the four .gz files in (created if missing); pass it to `--data`.
    #[arg(long)]
    to: PathBuf,
    /// Base URL of a mirror holding the four files; repeat to try several in order.
    /// Default: <https://ossci-datasets.s3.amazonaws.com/mnist/>, then
    /// <https://storage.googleapis.com/cvdf-datasets/mnist/>.
    #[arg(long = "mirror", value_name = "URL")]
    mirrors: Vec<String>,
    /// Print nothing on stderr (errors excepted).
    #[arg(long)]
    quiet: bool,
    /// One JSON line per file on stdout: name, bytes, sha256, status, path.
    #[arg(long)]
    json: bool,
}

/// Runs `snn fetch-mnist`.
pub fn run(args: FetchArgs) -> Result<()> {
    let mut opts = FetchOptions::default();
    if !args.mirrors.is_empty() {
        opts.mirrors = args.mirrors.clone();
    }
    let quiet = args.quiet;
    let mut bar: Option<ProgressBar> = None;
    let mut report = |p: Progress<'_>| match p {
        Progress::Start {
            name,
            url,
            offset,
            total,
        } => {
            if quiet {
                return;
            }
            let pb = match total {
                Some(t) => ProgressBar::new(t),
                None => ProgressBar::new_spinner(),
            };
            pb.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            pb.set_prefix(name.to_string());
            pb.set_position(offset);
            if offset > 0 {
                pb.println(format!("{name}: resuming at byte {offset} from {url}"));
            }
            if let Some(old) = bar.replace(pb) {
                old.finish_and_clear();
            }
        }
        Progress::Bytes { done, .. } => {
            if let Some(pb) = &bar {
                pb.set_position(done);
            }
        }
        Progress::MirrorFailed { name, url, error } => {
            if let Some(pb) = bar.take() {
                pb.finish_and_clear();
            }
            if !quiet {
                eprintln!("{name}: {url} failed: {error}");
            }
        }
        Progress::Replaced { name, actual, kept } => {
            // Said even under --quiet: a file of the user's was moved.
            eprintln!(
                "{name}: the file present had other content (sha256 {actual}); it is kept as \
                 {} and the verified download takes its place",
                kept.display()
            );
        }
        Progress::Done(f) => {
            if let Some(pb) = bar.take() {
                pb.finish_and_clear();
            }
            if !quiet && !args.json {
                eprintln!(
                    "{}: {} ({} bytes, sha256 {} verified)",
                    f.name,
                    f.status.as_str(),
                    f.bytes,
                    f.sha256
                );
            }
            if args.json {
                crate::stdout::line(json_line(f));
            }
        }
    };
    fetch(&args.to, &opts, &mut report)
        .with_context(|| format!("fetching MNIST into {}", args.to.display()))?;
    if !quiet && !args.json {
        eprintln!(
            "MNIST is in {0}; use it with `snn train --data {0}`",
            args.to.display()
        );
    }
    Ok(())
}

/// The JSON line of one file.
fn json_line(f: &Fetched) -> serde_json::Value {
    serde_json::json!({
        "command": "fetch-mnist",
        "name": f.name,
        "bytes": f.bytes,
        "sha256": f.sha256,
        "status": f.status.as_str(),
        "path": f.path.display().to_string(),
        "url": f.url,
    })
}
