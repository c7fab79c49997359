//! MNIST files: missing, damaged, disagreeing or oddly sized files name the file.

use super::helpers::*;

pub fn mnist_missing_folder_or_file_says_how_to_get_it() {
    let t = TempDir::new("missing");
    let gone = t.path("no-such-dir");
    let e = err_text(mnist::load_mnist(&gone, Split::Train));
    has_all(
        &e,
        &[
            "no-such-dir",
            &format!("snn fetch-mnist --to {}", gone.display()),
            "--data",
        ],
    );
    t.write("train-images-idx3-ubyte", &idx_images(2, 28, 28));
    let e = err_text(mnist::load_mnist(&t.0, Split::Train));
    has_all(
        &e,
        &[
            "no MNIST labels file",
            "train-labels-idx1-ubyte.gz",
            "snn fetch-mnist --to",
        ],
    );
}

pub fn mnist_damaged_files_name_the_file_and_say_fetch_again() {
    let t = TempDir::new("damaged");
    let images = idx_images(3, 28, 28);
    // Wrong magic: a labels file where images belong.
    let p = t.write("wrong-magic", &idx_labels(&[1, 2, 3]));
    let e = err_text(mnist::read_idx_images(&p));
    has_all(
        &e,
        &[
            "wrong-magic",
            "found 2049",
            "expected 2051",
            "snn fetch-mnist --to",
        ],
    );
    // Truncated body and header.
    let p = t.write("cut-images", &images[..images.len() - 100]);
    let e = err_text(mnist::read_idx_images(&p));
    has_all(
        &e,
        &["cut-images", "truncated", "2352 bytes", "snn fetch-mnist"],
    );
    let p = t.write("cut-header", &images[..9]);
    has_all(
        &err_text(mnist::read_idx_images(&p)),
        &[
            "cut-header",
            "truncated IDX images header",
            "snn fetch-mnist",
        ],
    );
    // A corrupt .gz: cut in the middle, and a flipped CRC.
    let good = gz(&images);
    let p = t.write("cut.gz", &good[..good.len() / 2]);
    has_all(
        &err_text(mnist::read_idx_images(&p)),
        &["cut.gz", "corrupt gzip", "snn fetch-mnist"],
    );
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 8] ^= 0x55;
    let p = t.write("crc.gz", &bad);
    has_all(
        &err_text(mnist::read_idx_images(&p)),
        &["crc.gz", "corrupt gzip"],
    );
    // An empty file.
    let p = t.write("empty", &[]);
    has_all(
        &err_text(mnist::read_idx_labels(&p)),
        &["empty", "truncated"],
    );
}

pub fn mnist_counts_that_disagree_name_both_files() {
    let t = TempDir::new("counts");
    t.write("t10k-images-idx3-ubyte", &idx_images(3, 28, 28));
    t.write("t10k-labels-idx1-ubyte", &idx_labels(&[1, 2]));
    let e = err_text(mnist::load_mnist(&t.0, Split::Test));
    has_all(
        &e,
        &[
            "t10k-images-idx3-ubyte holds 3 images",
            "t10k-labels-idx1-ubyte holds 2 labels",
            "same split",
            "snn fetch-mnist",
        ],
    );
}

pub fn mnist_images_that_are_not_28x28_are_refused() {
    let t = mnist_dir("size", 4, 14, 14);
    // A generic IDX reader accepts them...
    assert_eq!(mnist::load_split(&t.0, Split::Train).unwrap().rows, 14);
    // ...but not as MNIST for the 784-input network.
    let e = err_text(mnist::load_mnist(&t.0, Split::Train));
    has_all(
        &e,
        &[
            "train-images-idx3-ubyte.gz",
            "14x14",
            "196 inputs",
            "28x28",
            "784 inputs",
            "--data",
        ],
    );
    // Labels that are not digits.
    let t = TempDir::new("labels");
    t.write("train-images-idx3-ubyte", &idx_images(2, 28, 28));
    t.write("train-labels-idx1-ubyte", &idx_labels(&[3, 12]));
    let e = err_text(mnist::load_mnist(&t.0, Split::Train));
    has_all(
        &e,
        &["train-labels-idx1-ubyte", "label 12 of example 1", "0..=9"],
    );
}

pub fn cli_bad_mnist_folders_fail_with_the_file_named() {
    let t = mnist_dir("cli-size", 3, 14, 14);
    let mut c = snn(&["train", "--quiet", "--data"]);
    c.arg(&t.0);
    let e = fails(c);
    has_all(&e, &["train-images-idx3-ubyte.gz", "14x14", "28x28"]);
    // `snn plot --data` takes MNIST only too, before it draws anything.
    let out = t.path("pictures");
    let mut c = snn(&["plot", "--quiet", "--run", "/nonexistent-run", "--out"]);
    c.arg(&out).arg("--data").arg(&t.0);
    has_all(&fails(c), &["t10k-images-idx3-ubyte.gz", "14x14", "28x28"]);
    assert!(
        !out.exists(),
        "pictures drawn from images that are not MNIST"
    );

    let t = mnist_dir("cli-gz", 3, 28, 28);
    let good = std::fs::read(t.path("t10k-images-idx3-ubyte.gz")).unwrap();
    t.write("t10k-images-idx3-ubyte.gz", &good[..good.len() - 20]);
    let mut c = snn(&["evaluate", "--quiet", "--run", "/nonexistent-run", "--data"]);
    c.arg(&t.0);
    // The run is checked first; train reads the data.
    has_all(&fails(c), &["network.npz"]);
    let mut c = snn(&["train", "--quiet", "--data"]);
    c.arg(&t.0);
    let e = fails(c);
    has_all(
        &e,
        &[
            "t10k-images-idx3-ubyte.gz",
            "corrupt gzip",
            "snn fetch-mnist --to",
        ],
    );
}

pub fn cli_raw_and_gz_files_that_differ_and_an_empty_test_split_are_refused() {
    // Raw and .gz of one file, with different contents: neither wins silently.
    let t = mnist_dir("twins", 20, 28, 28);
    let labels: Vec<u8> = (0..20).map(|i| ((i + 1) % 10) as u8).collect();
    t.write("train-labels-idx1-ubyte.gz", &gz(&idx_labels(&labels)));
    let mut c = snn(&["train", "--data", t.0.to_str().unwrap()]);
    c.args(TINY).arg("--out").arg(t.path("run"));
    let e = fails(c);
    has_all(
        &e,
        &[
            "train-labels-idx1-ubyte",
            "train-labels-idx1-ubyte.gz",
            "different data",
        ],
    );
    // The same data in both is fine (the raw file is read).
    let same: Vec<u8> = (0..20).map(|i| (i % 10) as u8).collect();
    t.write("train-labels-idx1-ubyte.gz", &gz(&idx_labels(&same)));
    let mut c = snn(&["train", "--data", t.0.to_str().unwrap()]);
    c.args(TINY).arg("--out").arg(t.path("run"));
    succeeds(c);

    // A test split of 0 images gives no accuracy of 0.0, but an error.
    let t = mnist_dir("emptytest", 20, 28, 28);
    t.write("t10k-images-idx3-ubyte.gz", &gz(&idx_images(0, 28, 28)));
    t.write("t10k-labels-idx1-ubyte", &idx_labels(&[]));
    let mut c = snn(&["train", "--data", t.0.to_str().unwrap()]);
    c.args(TINY).arg("--out").arg(t.path("run"));
    let e = fails(c);
    has_all(&e, &["test set", "holds no images"]);
    assert!(!t.path("run").exists());
}
