//! Label assignment, voting and the confusion matrix (Diehl & Cook 2015, "Training and classification"): pure functions on spike counts.
//!
//! Training and test passes produce one row of excitatory spike counts per image. The labelling
//! pass goes to [`assign_labels`], which gives each neuron the class it answers most strongly;
//! [`evaluate`] then classifies every test row with both votes ([`vote_all_activity`], the
//! original's, and [`vote_proportion`], BindsNET's) and tallies a [`Confusion`] for each.

use std::fmt::Write as _;

use ndarray::{Array2, ArrayView2};

use crate::error::{Result, SnnError};

/// Number of digit classes (MNIST: 0 to 9).
pub const N_CLASSES: usize = 10;

/// Mean response of each neuron to each class, and each neuron's class (argmax), -1 if the neuron
/// never fired on any of the labelling images.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignments {
    /// Class of each neuron: the class with the highest mean count, ties to the lowest class;
    /// -1 for a neuron with no spike on any labelling image. Values outside `0..N_CLASSES` are
    /// treated as unassigned by the votes.
    pub assignment: Vec<i32>,
    /// `[class][neuron]`: mean spike count of the neuron over the labelling images of the class
    /// (0 for a class with no labelling image).
    pub class_rates: Array2<f32>,
    /// Number of labelling images of each class.
    pub class_counts: [u32; N_CLASSES],
}

impl Assignments {
    /// Number of neurons.
    pub fn n_neurons(&self) -> usize {
        self.assignment.len()
    }

    /// Number of neurons assigned to each class (unassigned neurons are not counted).
    pub fn neurons_per_class(&self) -> [u32; N_CLASSES] {
        let mut n = [0u32; N_CLASSES];
        for &c in &self.assignment {
            if let Some(slot) = class_index(c).and_then(|c| n.get_mut(c)) {
                *slot += 1;
            }
        }
        n
    }
}

/// The class of an assignment value, `None` for -1 or anything outside `0..N_CLASSES`.
fn class_index(assignment: i32) -> Option<usize> {
    usize::try_from(assignment).ok().filter(|&c| c < N_CLASSES)
}

/// Checks that every label is a class in `0..N_CLASSES`.
fn check_labels(labels: &[u8]) -> Result<()> {
    match labels.iter().position(|&l| usize::from(l) >= N_CLASSES) {
        Some(i) => Err(SnnError::invalid(
            format!("labels[{i}]"),
            labels[i],
            format!("a class in 0..{N_CLASSES}"),
        )),
        None => Ok(()),
    }
}

/// The (images, neurons) of `counts`, after checking them against `labels`.
fn check_shapes(counts: ArrayView2<u32>, labels: &[u8]) -> Result<(usize, usize)> {
    let (n_images, n_neurons) = counts.dim();
    if labels.len() != n_images {
        return Err(SnnError::invalid(
            "labels.len()",
            labels.len(),
            format!("equal to the number of count rows ({n_images})"),
        ));
    }
    if n_neurons == 0 {
        return Err(SnnError::invalid(
            "counts.ncols()",
            0,
            "at least one neuron",
        ));
    }
    Ok((n_images, n_neurons))
}

/// Assigns each neuron the class to which it responds most on average (Diehl & Cook 2015: the class of highest average response).
///
/// `counts` is `[image][neuron]` (spike counts of the labelling pass), `labels` the class of each
/// image. `class_rates[c][i]` is the MEAN count of neuron `i` over the images labelled `c` (the
/// sum would favour frequent classes); means are computed in f64 and stored as f32, and the argmax
/// is taken on the f64 means with ties to the lowest class (the original's strict `>` scan).
/// A neuron that never fired keeps -1, as in the original evaluation script. So does, unlike
/// the original, a neuron whose mean is the same for every class that has labelling images
/// (two or more): it tells no class from another, and the original's scan gives it the lowest
/// class, whose all-activity mean it would then lift on every image. (In a one-epoch dc6400,
/// 4,349 of 6,400 neurons whose θ had decayed below the rest-to-threshold gap fired exactly
/// once at the onset of every image, and took the all-activity vote to class 0 for every test
/// image: RESULTS.md, "dc6400, one epoch".)
///
/// Errors: `labels.len()` differs from the number of count rows, a label is 10 or more, or
/// `counts` has no columns (zero neurons). Zero images is allowed: every neuron is then -1.
pub fn assign_labels(counts: ArrayView2<u32>, labels: &[u8]) -> Result<Assignments> {
    let (_, n_neurons) = check_shapes(counts, labels)?;
    check_labels(labels)?;

    let mut sums = Array2::<f64>::zeros((N_CLASSES, n_neurons));
    let mut class_counts = [0u32; N_CLASSES];
    for (row, &label) in counts.outer_iter().zip(labels) {
        let c = usize::from(label);
        class_counts[c] = class_counts[c].saturating_add(1);
        let mut sum_row = sums.row_mut(c);
        sum_row.zip_mut_with(&row, |s, &k| *s += f64::from(k));
    }
    for (mut sum_row, &n) in sums.outer_iter_mut().zip(&class_counts) {
        if n > 0 {
            sum_row.mapv_inplace(|s| s / f64::from(n));
        }
    }
    let means = sums;
    let labelled: Vec<usize> = (0..N_CLASSES).filter(|&c| class_counts[c] > 0).collect();

    let assignment = means
        .columns()
        .into_iter()
        .map(|col| {
            if let [first, rest @ ..] = &labelled[..] {
                if !rest.is_empty() && rest.iter().all(|&c| col[c] == col[*first]) {
                    return -1;
                }
            }
            let mut best = -1i32;
            let mut best_rate = 0.0f64;
            for (c, &r) in col.iter().enumerate() {
                // Strict `>` from 0: a neuron with all-zero rates stays -1, ties go to the lowest.
                if r > best_rate {
                    best_rate = r;
                    best = c as i32;
                }
            }
            best
        })
        .collect();

    Ok(Assignments {
        assignment,
        class_rates: means.mapv(|m| m as f32),
        class_counts,
    })
}

/// Index of the largest score, ties to the lowest index (the class both votes pick from
/// their scores).
pub fn argmax_lowest(scores: &[f64; N_CLASSES]) -> usize {
    let mut best = 0;
    for (c, &s) in scores.iter().enumerate() {
        if s > scores[best] {
            best = c;
        }
    }
    best
}

/// Divides each class's score by the number of neurons assigned to it (0 if none).
fn per_assigned_neuron(mut scores: [f64; N_CLASSES], a: &Assignments) -> [f64; N_CLASSES] {
    for (s, &n) in scores.iter_mut().zip(&a.neurons_per_class()) {
        *s = if n > 0 { *s / f64::from(n) } else { 0.0 };
    }
    scores
}

/// The original Diehl & Cook vote (Diehl & Cook 2015; BindsNET's `all_activity`): for each class,
/// the mean count over the neurons assigned to it (0 if none), and the argmax.
///
/// Ties go to the lowest class, so an image with no spike at all is classed 0. (The original's
/// `np.argsort(...)[::-1][0]` breaks ties the other way on its 10-element array.) Unassigned
/// neurons are ignored. `counts` must have one entry per neuron; extra entries on either side
/// are ignored ([`evaluate`] checks the lengths).
pub fn vote_all_activity(counts: &[u32], a: &Assignments) -> usize {
    argmax_lowest(&scores_all_activity(counts, a))
}

/// The per-class scores of [`vote_all_activity`]: the mean count over the neurons assigned to
/// each class (0 if none).
pub fn scores_all_activity(counts: &[u32], a: &Assignments) -> [f64; N_CLASSES] {
    let mut sums = [0f64; N_CLASSES];
    for (&k, &c) in counts.iter().zip(&a.assignment) {
        if let Some(s) = class_index(c).and_then(|c| sums.get_mut(c)) {
            *s += f64::from(k);
        }
    }
    per_assigned_neuron(sums, a)
}

/// BindsNET's `proportion_weighting` vote: for each class `c`, the sum over the neurons `i`
/// assigned to `c` of `counts[i] * proportion[c][i]`, divided by the number of neurons assigned
/// to `c` (0 if none); the argmax, ties to the lowest class.
///
/// `proportion[c][i] = class_rates[c][i] / Σ_c' class_rates[c'][i]` (0 if that sum is 0): how
/// selective neuron `i` was for its own class during labelling, so a neuron that fired almost as
/// much for other classes counts less. Unassigned neurons are ignored; lengths as in
/// [`vote_all_activity`]. A `class_rates` entry missing from a malformed [`Assignments`] counts 0.
pub fn vote_proportion(counts: &[u32], a: &Assignments) -> usize {
    argmax_lowest(&scores_proportion(counts, a))
}

/// The per-class scores of [`vote_proportion`].
pub fn scores_proportion(counts: &[u32], a: &Assignments) -> [f64; N_CLASSES] {
    let mut sums = [0f64; N_CLASSES];
    for (i, (&k, &c)) in counts.iter().zip(&a.assignment).enumerate() {
        let Some(c) = class_index(c) else { continue };
        let rate = |class: usize| f64::from(a.class_rates.get((class, i)).copied().unwrap_or(0.0));
        let total: f64 = (0..N_CLASSES).map(rate).sum();
        if total > 0.0 {
            sums[c] += f64::from(k) * rate(c) / total;
        }
    }
    per_assigned_neuron(sums, a)
}

/// A confusion matrix over the ten classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confusion {
    /// `[true][predicted]` number of images.
    pub matrix: [[u32; N_CLASSES]; N_CLASSES],
}

impl Default for Confusion {
    fn default() -> Self {
        Self::new()
    }
}

impl Confusion {
    /// An empty matrix.
    pub fn new() -> Self {
        Confusion {
            matrix: [[0; N_CLASSES]; N_CLASSES],
        }
    }

    /// Counts one image. A `truth` or `predicted` outside `0..N_CLASSES` is ignored (the
    /// functions of this module never produce one; [`evaluate`] rejects such labels).
    pub fn add(&mut self, truth: u8, predicted: usize) {
        if let Some(cell) = self
            .matrix
            .get_mut(usize::from(truth))
            .and_then(|row| row.get_mut(predicted))
        {
            *cell = cell.saturating_add(1);
        }
    }

    /// Number of images counted.
    pub fn total(&self) -> u64 {
        self.matrix.iter().flatten().map(|&n| u64::from(n)).sum()
    }

    /// Number of images classified correctly (the diagonal).
    pub fn correct(&self) -> u64 {
        (0..N_CLASSES).map(|c| u64::from(self.matrix[c][c])).sum()
    }

    /// Fraction of images classified correctly, in [0, 1]; 0 for an empty matrix.
    pub fn accuracy(&self) -> f64 {
        match self.total() {
            0 => 0.0,
            n => self.correct() as f64 / n as f64,
        }
    }

    /// For each true class, the fraction of its images classified correctly (recall), in [0, 1];
    /// 0 for a class with no image.
    pub fn per_class_accuracy(&self) -> [f64; N_CLASSES] {
        let mut acc = [0.0; N_CLASSES];
        for (c, (a, row)) in acc.iter_mut().zip(&self.matrix).enumerate() {
            let n: u64 = row.iter().map(|&k| u64::from(k)).sum();
            if n > 0 {
                *a = f64::from(row[c]) / n as f64;
            }
        }
        acc
    }

    /// The matrix as an aligned text table: one row per true class, one column per predicted
    /// class, then each row's total and recall in percent, and a last line with the accuracy.
    pub fn to_text(&self) -> String {
        let max = self.matrix.iter().flatten().copied().max().unwrap_or(0);
        let totals: Vec<u64> = self
            .matrix
            .iter()
            .map(|row| row.iter().map(|&k| u64::from(k)).sum())
            .collect();
        let w = max.to_string().len().max(4);
        let wt = self.total().to_string().len().max(5);
        let recall = self.per_class_accuracy();

        let mut s = String::new();
        let _ = write!(s, "{:>9}", "true\\pred");
        for c in 0..N_CLASSES {
            let _ = write!(s, " {c:>w$}");
        }
        let _ = writeln!(s, " | {:>wt$} {:>7}", "total", "recall%");
        for (c, row) in self.matrix.iter().enumerate() {
            let _ = write!(s, "{c:>9}");
            for k in row {
                let _ = write!(s, " {k:>w$}");
            }
            let _ = writeln!(s, " | {:>wt$} {:>7.2}", totals[c], 100.0 * recall[c]);
        }
        let _ = writeln!(
            s,
            "accuracy {:.2}% ({} / {})",
            100.0 * self.accuracy(),
            self.correct(),
            self.total()
        );
        s
    }
}

/// The confusion matrices of both votes over one set of images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// With [`vote_all_activity`] (the paper's vote).
    pub all_activity: Confusion,
    /// With [`vote_proportion`] (BindsNET's alternative).
    pub proportion: Confusion,
}

/// Classifies every row of `counts` (`[image][neuron]`, spike counts of the test pass) with both
/// votes and tallies them against `labels`.
///
/// Errors: `labels.len()` differs from the number of rows, a label is 10 or more, `counts` has
/// zero columns, or its column count or `a.class_rates`'s shape does not match the number of
/// assigned neurons.
pub fn evaluate(counts: ArrayView2<u32>, labels: &[u8], a: &Assignments) -> Result<Evaluation> {
    let (_, n_neurons) = check_shapes(counts, labels)?;
    if n_neurons != a.assignment.len() {
        return Err(SnnError::invalid(
            "counts.ncols()",
            n_neurons,
            format!("the number of assigned neurons ({})", a.assignment.len()),
        ));
    }
    if a.class_rates.dim() != (N_CLASSES, n_neurons) {
        return Err(SnnError::invalid(
            "assignments.class_rates shape",
            format!("{:?}", a.class_rates.dim()),
            format!("({N_CLASSES}, {n_neurons})"),
        ));
    }
    check_labels(labels)?;

    let mut all_activity = Confusion::new();
    let mut proportion = Confusion::new();
    let mut row_buf = Vec::with_capacity(n_neurons);
    for (row, &label) in counts.outer_iter().zip(labels) {
        row_buf.clear();
        row_buf.extend(row.iter().copied());
        all_activity.add(label, vote_all_activity(&row_buf, a));
        proportion.add(label, vote_proportion(&row_buf, a));
    }
    Ok(Evaluation {
        all_activity,
        proportion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    /// Builds an `Assignments` by hand from class rates (`[class][neuron]`).
    fn from_rates(assignment: Vec<i32>, rates: Array2<f32>) -> Assignments {
        Assignments {
            assignment,
            class_rates: rates,
            class_counts: [1; N_CLASSES],
        }
    }

    #[test]
    fn assignment_uses_mean_not_sum() {
        // Neuron 0: class 0 has 3 images with 2 spikes each (sum 6, mean 2);
        // class 1 has 1 image with 5 spikes (sum 5, mean 5). Sum says 0, mean says 1.
        // Neuron 1 fires only for class 0.
        let counts = array![[2u32, 1], [2, 1], [2, 1], [5, 0]];
        let labels = [0u8, 0, 0, 1];
        let a = assign_labels(counts.view(), &labels).unwrap();
        assert_eq!(a.assignment, vec![1, 0]);
        assert_eq!(a.class_counts[0], 3);
        assert_eq!(a.class_counts[1], 1);
        assert_eq!(a.class_counts[2..], [0; 8]);
        assert_eq!(a.class_rates.dim(), (N_CLASSES, 2));
        assert_eq!(a.class_rates[[0, 0]], 2.0);
        assert_eq!(a.class_rates[[1, 0]], 5.0);
        assert_eq!(a.class_rates[[0, 1]], 1.0);
        assert_eq!(a.class_rates[[1, 1]], 0.0);
        assert_eq!(
            a.class_rates[[5, 0]],
            0.0,
            "class without images has rate 0"
        );
    }

    #[test]
    fn silent_neuron_is_unassigned_and_ignored_by_votes() {
        let counts = array![[3u32, 0, 0], [0, 4, 0]];
        let a = assign_labels(counts.view(), &[2, 7]).unwrap();
        assert_eq!(a.assignment, vec![2, 7, -1]);
        assert_eq!(a.neurons_per_class()[2], 1);
        assert_eq!(a.neurons_per_class()[7], 1);
        assert_eq!(a.neurons_per_class().iter().sum::<u32>(), 2);
        // A huge count on the unassigned neuron changes nothing.
        assert_eq!(vote_all_activity(&[1, 0, 1000], &a), 2);
        assert_eq!(vote_proportion(&[1, 0, 1000], &a), 2);
        assert_eq!(vote_all_activity(&[0, 1, 1000], &a), 7);
        assert_eq!(vote_proportion(&[0, 1, 1000], &a), 7);
    }

    #[test]
    fn assignment_ties_go_to_lowest_class() {
        let counts = array![[4u32], [4], [1]];
        let a = assign_labels(counts.view(), &[6, 3, 1]).unwrap();
        assert_eq!(a.assignment, vec![3]);
    }

    /// A neuron with the same mean for every labelled class (one spike at every onset) is
    /// left unassigned, so it cannot lift the lowest class's all-activity mean; with one
    /// labelled class only, a firing neuron is still assigned to it.
    #[test]
    fn a_neuron_alike_for_every_class_is_unassigned() {
        let counts = array![[1u32, 5], [1, 0], [1, 0]];
        let a = assign_labels(counts.view(), &[4, 0, 0]).unwrap();
        assert_eq!(a.assignment, vec![-1, 4]);
        // Neuron 0 fires once on every test image; the image still goes to neuron 1's class.
        assert_eq!(vote_all_activity(&[1, 3], &a), 4);
        let one_class = assign_labels(counts.view(), &[4, 4, 4]).unwrap();
        assert_eq!(one_class.assignment, vec![4, 4]);
    }

    #[test]
    fn zero_images_leave_all_unassigned() {
        let counts = Array2::<u32>::zeros((0, 4));
        let a = assign_labels(counts.view(), &[]).unwrap();
        assert_eq!(a.assignment, vec![-1; 4]);
        assert_eq!(a.class_counts, [0; N_CLASSES]);
    }

    #[test]
    fn all_activity_uses_mean_over_group() {
        // Neurons 0,1,2 assigned to class 0; neuron 3 to class 1.
        // Counts: class 0 group sums to 9 (mean 3), class 1 sums to 4 (mean 4).
        let a = from_rates(vec![0, 0, 0, 1], Array2::zeros((N_CLASSES, 4)));
        assert_eq!(vote_all_activity(&[3, 3, 3, 4], &a), 1);
        // And with the sum larger and the mean smaller for class 1 the other way round.
        assert_eq!(vote_all_activity(&[5, 5, 5, 4], &a), 0);
    }

    #[test]
    fn votes_ties_go_to_lowest_class() {
        let a = from_rates(vec![4, 2, 8], Array2::ones((N_CLASSES, 3)));
        assert_eq!(vote_all_activity(&[3, 3, 3], &a), 2);
        assert_eq!(vote_proportion(&[3, 3, 3], &a), 2);
        // No spike at all: every class scores 0, the lowest class wins.
        assert_eq!(vote_all_activity(&[0, 0, 0], &a), 0);
        assert_eq!(vote_proportion(&[0, 0, 0], &a), 0);
    }

    #[test]
    fn proportion_differs_from_all_activity() {
        // Neuron 0 -> class 0 but unselective: rates 1.0 for class 0 and 0.9 for class 1.
        // Neuron 1 -> class 1 and selective: rate 1.0 for class 1 only.
        let mut rates = Array2::<f32>::zeros((N_CLASSES, 2));
        rates[[0, 0]] = 1.0;
        rates[[1, 0]] = 0.9;
        rates[[1, 1]] = 1.0;
        let a = from_rates(vec![0, 1], rates);
        let counts = [10u32, 8];
        // All activity: class 0 scores 10, class 1 scores 8.
        assert_eq!(vote_all_activity(&counts, &a), 0);
        // Proportion: class 0 scores 10 * 1/1.9 ≈ 5.26, class 1 scores 8 * 1 = 8.
        assert_eq!(vote_proportion(&counts, &a), 1);
    }

    #[test]
    fn proportion_divides_by_group_size() {
        // Class 0: two fully selective neurons with 3 spikes each -> (3 + 3) / 2 = 3.
        // Class 1: one fully selective neuron with 4 spikes -> 4. Sum would pick class 0.
        let mut rates = Array2::<f32>::zeros((N_CLASSES, 3));
        rates[[0, 0]] = 1.0;
        rates[[0, 1]] = 1.0;
        rates[[1, 2]] = 1.0;
        let a = from_rates(vec![0, 0, 1], rates);
        assert_eq!(vote_proportion(&[3, 3, 4], &a), 1);
        // A neuron whose rates are all zero contributes nothing (no division by zero).
        let a = from_rates(vec![0, 1], Array2::zeros((N_CLASSES, 2)));
        assert_eq!(vote_proportion(&[5, 9], &a), 0);
    }

    #[test]
    fn malformed_assignments_do_not_panic() {
        // Out-of-range classes, short class_rates, length mismatches: ignored, no panic.
        let a = from_rates(vec![12, -3, 1], Array2::ones((2, 1)));
        assert_eq!(vote_all_activity(&[9, 9, 1], &a), 1);
        assert_eq!(vote_proportion(&[9, 9, 1], &a), 0);
        assert_eq!(vote_all_activity(&[9], &a), 0);
    }

    #[test]
    fn confusion_arithmetic() {
        let mut c = Confusion::new();
        assert_eq!(c.total(), 0);
        assert_eq!(c.accuracy(), 0.0);
        for _ in 0..3 {
            c.add(1, 1);
        }
        c.add(1, 7);
        c.add(4, 4);
        c.add(9, 0);
        c.add(10, 0); // ignored
        c.add(0, 10); // ignored
        assert_eq!(c.total(), 6);
        assert_eq!(c.correct(), 4);
        assert!((c.accuracy() - 4.0 / 6.0).abs() < 1e-12);
        let pc = c.per_class_accuracy();
        assert!((pc[1] - 0.75).abs() < 1e-12);
        assert_eq!(pc[4], 1.0);
        assert_eq!(pc[9], 0.0);
        assert_eq!(pc[2], 0.0, "class without images");
        assert_eq!(c.matrix[1][7], 1);
        assert_eq!(c, {
            let mut d = Confusion::default();
            d.matrix[1][1] = 3;
            d.matrix[1][7] = 1;
            d.matrix[4][4] = 1;
            d.matrix[9][0] = 1;
            d
        });
    }

    #[test]
    fn confusion_text_is_aligned() {
        let mut c = Confusion::new();
        for _ in 0..12345 {
            c.add(3, 3);
        }
        c.add(3, 5);
        let text = c.to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + N_CLASSES + 1, "{text}");
        let width = lines[0].len();
        for line in &lines[..=N_CLASSES] {
            assert_eq!(line.len(), width, "misaligned:\n{text}");
        }
        assert!(lines[0].starts_with("true\\pred"));
        assert!(lines[4].contains("12345"));
        assert!(lines[4].contains("99.99"), "{}", lines[4]);
        assert!(
            lines[N_CLASSES + 1].starts_with("accuracy 99.99%"),
            "{text}"
        );
    }

    #[test]
    fn evaluate_tallies_both_votes() {
        // Labelling: neuron 0 <- class 0, neuron 1 <- class 1 (unselective: rates 2 for class 0,
        // 3 for class 1, so its class-1 proportion is 0.6), neuron 2 <- class 2 (selective).
        let train = array![[4u32, 2, 0], [0, 3, 0], [1, 0, 6]];
        let a = assign_labels(train.view(), &[0, 1, 2]).unwrap();
        assert_eq!(a.assignment, vec![0, 1, 2]);
        let test = array![[5u32, 0, 0], [0, 3, 0], [0, 3, 2], [0, 0, 0]];
        let e = evaluate(test.view(), &[0, 1, 2, 5], &a).unwrap();
        assert_eq!(e.all_activity.total(), 4);
        assert_eq!(e.all_activity.matrix[0][0], 1);
        assert_eq!(e.all_activity.matrix[1][1], 1);
        assert_eq!(
            e.all_activity.matrix[2][1], 1,
            "3 spikes on class 1 beat 2 on class 2"
        );
        assert_eq!(
            e.all_activity.matrix[5][0], 1,
            "silent image goes to class 0"
        );
        assert!((e.all_activity.accuracy() - 0.5).abs() < 1e-12);
        // Proportion: class 1 scores 3 * 0.6 = 1.8 < class 2's 2 * 1, so image 2 is classed 2.
        assert_eq!(e.proportion.matrix[2][2], 1);
        assert_eq!(e.proportion.matrix[1][1], 1);
        assert!((e.proportion.accuracy() - 0.75).abs() < 1e-12);
    }

    #[test]
    fn evaluate_accepts_non_contiguous_views() {
        let train = array![[3u32, 0], [0, 3]];
        let a = assign_labels(train.t(), &[1, 0]).unwrap();
        assert_eq!(a.assignment, vec![1, 0]);
        let e = evaluate(train.t(), &[1, 0], &a).unwrap();
        assert_eq!(e.all_activity.accuracy(), 1.0);
    }

    #[test]
    fn errors() {
        let counts = array![[1u32, 2], [3, 4]];
        let err = assign_labels(counts.view(), &[0]).unwrap_err().to_string();
        assert!(err.contains("labels.len()"), "{err}");
        let err = assign_labels(counts.view(), &[0, 10])
            .unwrap_err()
            .to_string();
        assert!(err.contains("labels[1]") && err.contains("10"), "{err}");
        let empty = Array2::<u32>::zeros((2, 0));
        let err = assign_labels(empty.view(), &[0, 1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("neuron"), "{err}");

        let a = assign_labels(counts.view(), &[0, 1]).unwrap();
        assert!(evaluate(counts.view(), &[0, 1, 2], &a).is_err());
        assert!(evaluate(counts.view(), &[0, 11], &a).is_err());
        assert!(evaluate(empty.view(), &[0, 1], &a).is_err());
        let wide = array![[1u32, 2, 3]];
        let err = evaluate(wide.view(), &[0], &a).unwrap_err().to_string();
        assert!(err.contains("counts.ncols()"), "{err}");
        let mut bad = a.clone();
        bad.class_rates = Array2::zeros((3, 2));
        let err = evaluate(counts.view(), &[0, 1], &bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("class_rates"), "{err}");
    }
}
