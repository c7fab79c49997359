//! Diehl & Cook configuration: every constant of the reproduction, with its source and unit,
//! the paper's presets `dc100`, `dc400`, `dc1600`, `dc6400`, and `dc400-short`, dc400
//! shortened for a first run on the embedded subset.
//!
//! A [`DcConfig`] is what a run directory's `config.json` holds; [`DcConfig::to_spec`]
//! turns it into the engine's [`CompetitiveSpec`]. Sources: Diehl & Cook 2015 and its code (`peter-u-diehl/stdp-mnist`); docs/diehl_cook.md.

use crate::error::{Result, SnnError};
use crate::experiments::diehl_cook::{
    CompetitiveSpec, Connectivity, Projection, RestMode, WeightInit,
};
use crate::model::neuron::{check_period, coarse_dt_warning, coarse_period_warning};
use crate::model::{NeuronKind, NeuronModel, StdpParams, Target};
use serde::{Deserialize, Serialize};

/// One Diehl & Cook experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcConfig {
    /// Preset name this config started from.
    pub preset: String,
    /// Excitatory (= inhibitory) neurons.
    pub n_exc: u32,
    /// Training epochs over the training images (paper: 1/3/7/15 for 100/400/1600/6400).
    pub epochs: u32,
    /// Time step (ms); code: 0.5.
    pub dt_ms: f32,
    /// Presentation length (ms); code: 350.
    pub present_ms: f32,
    /// Rest between presentations (ms); code: 150.
    pub rest_ms: f32,
    /// Simulate the rest (code) or reset the state instead.
    pub rest: RestMode,
    /// Starting input intensity: rate = pixel / 8 · intensity Hz; code: 2 (63.75 Hz max).
    pub intensity_start: f32,
    /// Intensity added per retry; code: 1 (+31.875 Hz max).
    pub intensity_step: f32,
    /// Fewer excitatory spikes than this in a presentation triggers a retry; code: 5.
    pub min_spikes: u32,
    /// Retries before giving up on an image (the code has no cap).
    pub max_retries: u32,
    /// Excitatory refractory clamp (ms): v held at v_reset and no spike. 0 in the original
    /// code as Brian 1 runs it (see [`Refractory::Brian1`]); 5 in the Brian2 ports.
    pub refractory_exc_ms: f32,
    /// Excitatory spike lockout (ms): no spike, v free. 4.5 in the original code as Brian 1
    /// runs it (its 5 ms `refractory`; [`Refractory::Brian1`]); 50 in the Brian2 ports (their
    /// `timer`, which caps a neuron at 20 Hz while v is clamped for 5 ms).
    pub lockout_exc_ms: f32,
    /// θ increment per spike (mV); code: 0.05.
    pub theta_plus_mv: f32,
    /// θ decay time constant (ms); code: 1e7.
    pub tau_theta_ms: f32,
    /// Column-sum target of the input weights; code: 78.
    pub norm_target: f32,
    /// Excitatory → inhibitory weight (added to ge); code: 10.4.
    pub w_exc_inh: f32,
    /// Inhibitory → excitatory weight (added to gi); code: 17.0.
    pub w_inh_exc: f32,
    /// STDP rule and rates; code: triplet, 1e-4 / 1e-2, τ 20/20/40 ms.
    pub stdp: StdpParams,
    /// Heterogeneous input delays, uniform in [0, this) ms per synapse; code: 10. 0 turns
    /// them off (every input spike arrives in the step it is drawn).
    pub input_delay_max_ms: f32,
    /// Upper bound of input weights; code: 1.
    pub w_max: f32,
    /// RNG seed (weights and input spikes).
    pub seed: u32,
    /// Keep both populations' v within [E_inh, E_exc] after each Euler step
    /// (`CondLifParams::clamp_v_to_reversal`); code: off (the "faithful step",
    /// `snn train --step faithful`). Every preset turns it on: a step in which many
    /// inhibitory neurons fire at once drives v far past E_inh under forward Euler (docs/diehl_cook.md,
    /// "Pitfalls"), θ then runs away and the layer goes silent (dc6400 without it: every
    /// neuron firing every 5 ms from its 52nd image on; dc100 on dense input: θ at 20 V).
    /// Steps that stay in range are unchanged. Optional in config files: a file without the
    /// key was written before it existed and means off, as then.
    #[serde(default)]
    pub clamp_v_to_reversal: bool,
    /// Scale each image's input rates so that they sum to this many Hz at `intensity_start`
    /// (retries raise it in proportion to the intensity); each rate stays at most
    /// 1000/dt Hz. 0 (the presets): off, the paper's `pixel / 8 · intensity`, whose total
    /// grows with the ink of the image (about 6,500 Hz on MNIST at intensity 2).
    /// Optional in config files (default 0).
    #[serde(default)]
    pub input_total_rate_hz: f32,
}

/// The paper's time step (ms), at which its model is defined.
pub const PAPER_DT_MS: f32 = 0.5;

/// Input rate (Hz) of a white pixel (255) per unit of intensity: 255 / 8.
const MAX_PIXEL_HZ: f32 = 255.0 / 8.0;

/// Preset names accepted by [`DcConfig::preset`]: the paper's four, then [`SHORT_PRESET`].
pub const PRESETS: [&str; 5] = ["dc100", "dc400", "dc1600", "dc6400", SHORT_PRESET];

/// dc400 shortened for two passes over 10,000 images (`snn train` with no flags: the
/// embedded subset): the same network and protocol, except two epochs instead of three and
/// the rest between presentations done by a reset of v, conductances and traces
/// ([`RestMode::Reset`]: the state the paper's 150 ms of silence lets them decay to, without
/// simulating the 300 steps), which makes a presentation about twice as fast (RESULTS.md,
/// "First run").
pub const SHORT_PRESET: &str = "dc400-short";

/// The excitatory neurons' refractoriness, as each implementation of Diehl & Cook has it
/// (it sets `refractory_exc_ms` and `lockout_exc_ms`; [`DcConfig::set_refractory`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refractory {
    /// The original code as Brian 1 (1.3.1–1.4.4) runs it, the presets' choice. Its reset is
    /// a string (`v = v_reset_e; theta += theta_plus_e; timer = 0*ms`), and Brian 1's
    /// `NeuronGroup` clamps v during `refractory` only for a scalar reset: for any other it
    /// keeps just the spike lockout, `next allowed spike = t + refractory − dt/2`
    /// (`brian/neurongroup.py`, "Reset and refractory period" and `update`). So v charges
    /// freely after the reset and the next spike may come 5 ms later: a lockout of the 9
    /// steps in between, `lockout_exc_ms = 5 − dt` (4.5 at dt = 0.5 ms), no clamp.
    Brian1,
    /// v held at v_reset for 5 ms, no spike meanwhile (Brian2's `(unless refractory)`; the
    /// earlier presets, from an earlier reading of Brian 1).
    Clamp,
    /// The Brian2 ports: the 5 ms clamp and their `timer`'s 50 ms lockout.
    Brian2Ports,
}

/// The most excitatory neurons of a run: a checkpoint holds the lateral inhibition's
/// n·(n − 1) weights in one array of at most 1 GiB (`io::MAX_ARRAY_BYTES`).
pub const MAX_N_EXC: u32 = 16_384;
const _: () =
    assert!(4 * (MAX_N_EXC as u64) * (MAX_N_EXC as u64 - 1) <= super::io::MAX_ARRAY_BYTES);

impl DcConfig {
    /// Sets `refractory_exc_ms` and `lockout_exc_ms` to `r`'s (the Brian 1 lockout from this
    /// config's `dt_ms`).
    pub fn set_refractory(&mut self, r: Refractory) {
        (self.refractory_exc_ms, self.lockout_exc_ms) = match r {
            Refractory::Brian1 => (0.0, 5.0 - self.dt_ms),
            Refractory::Clamp => (5.0, 0.0),
            Refractory::Brian2Ports => (5.0, 50.0),
        };
    }

    /// A run directory's `config.json`. Runs written by the first builds
    /// spelled the STDP rule `{"kind": "triplet"}` (or `"pair"`, or `"weight_dependent"`
    /// with `x_tar` and `mu` beside it); that form is read as today's `"triplet"` /
    /// `{"weight_dependent": {...}}`, so old runs can still be evaluated and plotted.
    ///
    /// # Errors
    /// The JSON error when the text is not a config in either form.
    pub fn from_run_json(json: &str) -> serde_json::Result<Self> {
        let mut v: serde_json::Value = serde_json::from_str(json)?;
        if let Some(rule) = v.pointer_mut("/stdp/rule") {
            if let Some(obj) = rule.as_object_mut() {
                if let Some(kind) = obj.remove("kind") {
                    *rule = if obj.is_empty() {
                        kind
                    } else {
                        let mut outer = serde_json::Map::new();
                        let name = kind.as_str().unwrap_or_default().to_string();
                        outer.insert(name, serde_json::Value::Object(obj.clone()));
                        serde_json::Value::Object(outer)
                    };
                }
            }
        }
        serde_json::from_value(v)
    }

    /// The configuration of preset `name`: the paper's, or [`SHORT_PRESET`].
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] for an unknown preset, listing the known ones.
    pub fn preset(name: &str) -> Result<Self> {
        if name == SHORT_PRESET {
            let mut c = Self::preset("dc400")?;
            c.preset = name.into();
            c.epochs = 2;
            c.rest = RestMode::Reset;
            return Ok(c);
        }
        let (n_exc, epochs) = match name {
            "dc100" => (100, 1),
            "dc400" => (400, 3),
            "dc1600" => (1600, 7),
            "dc6400" => (6400, 15),
            _ => {
                return Err(SnnError::invalid(
                    "preset",
                    name,
                    format!(
                        "one of {} (`snn presets` lists them; `snn presets --show dc100` \
                         prints one as a TOML file to edit)",
                        PRESETS.join(", ")
                    ),
                ))
            }
        };
        Ok(DcConfig {
            preset: name.into(),
            n_exc,
            epochs,
            dt_ms: 0.5,
            present_ms: 350.0,
            rest_ms: 150.0,
            rest: RestMode::Simulate,
            intensity_start: 2.0,
            intensity_step: 1.0,
            min_spikes: 5,
            max_retries: 30,
            refractory_exc_ms: 0.0,
            lockout_exc_ms: 4.5,
            theta_plus_mv: 0.05,
            tau_theta_ms: 1e7,
            norm_target: 78.0,
            w_exc_inh: 10.4,
            w_inh_exc: 17.0,
            stdp: StdpParams::diehl_cook(),
            w_max: 1.0,
            input_delay_max_ms: 10.0,
            seed: 0,
            // See the field: without it dc6400 runs away within its first 100 images, and
            // dc100 on dense input.
            clamp_v_to_reversal: true,
            input_total_rate_hz: 0.0,
        })
    }

    /// Steps with input on.
    pub fn steps_on(&self) -> u32 {
        (self.present_ms / self.dt_ms).round() as u32
    }

    /// Rest steps.
    pub fn steps_rest(&self) -> u32 {
        (self.rest_ms / self.dt_ms).round() as u32
    }

    /// Checks the protocol values; the network values are checked by the spec.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] naming the field.
    pub fn validate(&self) -> Result<()> {
        let pos = |f: &str, v: f32| {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(SnnError::invalid(f, v, "a finite value > 0"))
            }
        };
        if self.n_exc == 0 {
            return Err(SnnError::invalid(
                "n_exc",
                0,
                "at least 1 excitatory neuron",
            ));
        }
        if self.n_exc > MAX_N_EXC {
            return Err(SnnError::invalid(
                "n_exc",
                self.n_exc,
                format!(
                    "at most {MAX_N_EXC} excitatory neurons (a checkpoint holds the lateral \
                     inhibition's n·(n − 1) weights in an array of at most 1 GiB; the paper's \
                     largest network has 6,400)"
                ),
            ));
        }
        pos("dt_ms", self.dt_ms)?;
        pos("present_ms", self.present_ms)?;
        // Steps of one presentation and of one rest, each counted in a u32 and summed: past
        // this bound a presentation would wrap (a rest silently skipped) or run for hours.
        const MAX_STEPS: f64 = 10_000_000.0;
        for (f, v) in [("present_ms", self.present_ms), ("rest_ms", self.rest_ms)] {
            let steps = f64::from(v) / f64::from(self.dt_ms);
            if steps > MAX_STEPS {
                return Err(SnnError::invalid(
                    f,
                    v,
                    format!(
                        "at most {} ms ({MAX_STEPS} steps of dt = {} ms; the paper uses 350 ms \
                         on and 150 ms of rest)",
                        MAX_STEPS * f64::from(self.dt_ms),
                        self.dt_ms
                    ),
                ));
            }
        }
        pos("intensity_start", self.intensity_start)?;
        if !(self.rest_ms >= 0.0) || !(self.intensity_step >= 0.0) {
            return Err(SnnError::invalid(
                "rest_ms / intensity_step",
                format!("{} / {}", self.rest_ms, self.intensity_step),
                "values >= 0",
            ));
        }
        if self.epochs == 0 {
            return Err(SnnError::invalid("epochs", 0, "at least 1"));
        }
        if self.present_ms < self.dt_ms {
            return Err(SnnError::invalid(
                "present_ms",
                self.present_ms,
                format!("at least dt = {} ms", self.dt_ms),
            ));
        }
        // Keys whose spec field has another name are checked here, under their own name.
        check_period("refractory_exc_ms", self.refractory_exc_ms, self.dt_ms)?;
        check_period("lockout_exc_ms", self.lockout_exc_ms, self.dt_ms)?;
        for (f, v) in [
            ("input_total_rate_hz", self.input_total_rate_hz),
            ("theta_plus_mv", self.theta_plus_mv),
            ("w_exc_inh", self.w_exc_inh),
            ("w_inh_exc", self.w_inh_exc),
            ("input_delay_max_ms", self.input_delay_max_ms),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(SnnError::invalid(f, v, "a finite value >= 0"));
            }
        }
        let max_hz = 1000.0 / self.dt_ms;
        if self.intensity_start * MAX_PIXEL_HZ > max_hz {
            return Err(SnnError::invalid(
                "intensity_start",
                self.intensity_start,
                format!(
                    "at most {} (a white pixel gets {} Hz per unit of intensity, and rates \
                     must stay at or below 1000/dt = {max_hz} Hz)",
                    max_hz / MAX_PIXEL_HZ,
                    MAX_PIXEL_HZ
                ),
            ));
        }
        let most_spikes = u64::from(self.n_exc) * u64::from(self.steps_on());
        if u64::from(self.min_spikes) > most_spikes {
            return Err(SnnError::invalid(
                "min_spikes",
                self.min_spikes,
                format!(
                    "at most n_exc · steps on = {most_spikes}; more spikes can never be drawn, \
                     so every image would fail (the code uses 5)"
                ),
            ));
        }
        self.to_spec().validate()
    }

    /// Valid but suspicious values, each a message naming the key, to print before a run:
    /// time constants that `dt_ms` resolves coarsely (`dt > τ/5`,
    /// [`crate::model::neuron::coarse_dt_warning`]), and retries that would push the input
    /// rates past `1000/dt` Hz (an error when reached).
    ///
    /// The model's own constants (τ_ge = 1 ms, τ_gi = 2 ms, the inhibitory 2 ms refractory
    /// period) are coarse at the paper's dt = 0.5 ms already: that discretisation is the
    /// published model, so they are flagged only at a dt above [`PAPER_DT_MS`].
    pub fn warnings(&self) -> Vec<String> {
        let dt = self.dt_ms;
        let mut out: Vec<String> = vec![];
        out.extend(coarse_dt_warning("tau_theta_ms", self.tau_theta_ms, dt));
        out.extend(coarse_period_warning(
            "refractory_exc_ms",
            self.refractory_exc_ms,
            dt,
        ));
        out.extend(coarse_period_warning(
            "lockout_exc_ms",
            self.lockout_exc_ms,
            dt,
        ));
        out.extend(self.stdp.warnings(dt));
        if dt > PAPER_DT_MS {
            let spec = self.to_spec();
            for (pop, m) in [("exc", &spec.exc), ("inh", &spec.inh)] {
                for (field, msg) in m.warnings_by_field(dt) {
                    // The excitatory θ, refractory and lockout are keys of this config (above).
                    if pop == "exc" && !field.starts_with("cond_lif.") {
                        continue;
                    }
                    out.push(format!(
                        "{} (a fixed constant of the Diehl & Cook neuron: lower dt_ms)",
                        msg.replacen('`', &format!("`{pop}."), 1)
                    ));
                }
            }
        }
        let top = self.intensity_start + self.max_retries as f32 * self.intensity_step;
        let max_hz = 1000.0 / dt;
        if top * MAX_PIXEL_HZ > max_hz {
            out.push(format!(
                "`max_retries` = {} with `intensity_step` = {} can raise the intensity to {top} \
                 ({} Hz for a white pixel), above 1000/dt = {max_hz} Hz: an image that needs \
                 that many retries stops the run with an error; lower max_retries or \
                 intensity_step",
                self.max_retries,
                self.intensity_step,
                top * MAX_PIXEL_HZ
            ));
        }
        out
    }

    /// The engine's description of this network.
    pub fn to_spec(&self) -> CompetitiveSpec {
        let mut exc = NeuronModel::diehl_cook_excitatory()
            .with_refractory_ms(self.refractory_exc_ms)
            .with_lockout_ms(self.lockout_exc_ms);
        if let Some(t) = exc.theta.as_mut() {
            t.theta_plus_mv = self.theta_plus_mv;
            t.tau_theta_ms = self.tau_theta_ms;
        }
        let mut inh = NeuronModel::diehl_cook_inhibitory();
        for m in [&mut exc, &mut inh] {
            if let NeuronKind::CondLif(p) = &mut m.kind {
                p.clamp_v_to_reversal = self.clamp_v_to_reversal;
            }
        }
        CompetitiveSpec {
            n_input: 784,
            n_exc: self.n_exc,
            dt_ms: self.dt_ms,
            exc,
            inh,
            input: Projection {
                connectivity: Connectivity::Dense,
                target: Target::Ge,
                init: WeightInit::ScaledUniform {
                    scale: 0.3,
                    offset: 0.01,
                },
                w_min: 0.0,
                w_max: self.w_max,
            },
            stdp: Some(self.stdp),
            exc_to_inh: Projection::fixed(Connectivity::OneToOne, Target::Ge, self.w_exc_inh),
            inh_to_exc: Projection::fixed(Connectivity::AllButSelf, Target::Gi, self.w_inh_exc),
            norm_target: Some(self.norm_target),
            input_delay_max_ms: (self.input_delay_max_ms > 0.0).then_some(self.input_delay_max_ms),
            seed: self.seed,
        }
    }

    /// Input rates (Hz) of an image at `intensity`: pixel / 8 · intensity.
    pub fn rates(image: &[u8], intensity: f32) -> Vec<f32> {
        image.iter().map(|&p| p as f32 / 8.0 * intensity).collect()
    }

    /// Input rates (Hz) of an image at `intensity` under this config: [`DcConfig::rates`],
    /// or with `input_total_rate_hz` set, rates in proportion to the pixels that sum to
    /// `input_total_rate_hz · intensity / intensity_start`, each at most 1000/dt Hz. A blank
    /// image gets no input either way.
    pub fn input_rates(&self, image: &[u8], intensity: f32) -> Vec<f32> {
        if self.input_total_rate_hz <= 0.0 {
            return Self::rates(image, intensity);
        }
        let ink: u64 = image.iter().map(|&p| u64::from(p)).sum();
        if ink == 0 {
            return vec![0.0; image.len()];
        }
        let per_unit = self.input_total_rate_hz * intensity / self.intensity_start / ink as f32;
        let max_hz = 1000.0 / self.dt_ms;
        image
            .iter()
            .map(|&p| (p as f32 * per_unit).min(max_hz))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_round_trip_through_toml_and_json() {
        for p in PRESETS {
            let c = DcConfig::preset(p).unwrap();
            c.validate().unwrap();
            let t = toml::to_string(&c).unwrap();
            assert_eq!(toml::from_str::<DcConfig>(&t).unwrap(), c, "{p} via TOML");
            let j = serde_json::to_string(&c).unwrap();
            assert_eq!(
                serde_json::from_str::<DcConfig>(&j).unwrap(),
                c,
                "{p} via JSON"
            );
        }
    }

    /// The presets follow Brian 1 (a spike lockout up to 5 ms after a spike, v never
    /// clamped): in steps, no spike in the 9 steps after one, and no clamp at all.
    #[test]
    fn presets_refractoriness_is_brian_1s_lockout() {
        for p in PRESETS {
            let c = DcConfig::preset(p).unwrap();
            assert_eq!((c.refractory_exc_ms, c.lockout_exc_ms), (0.0, 4.5), "{p}");
            let d = c.to_spec().exc.derive(c.dt_ms);
            assert_eq!(d.refractory_steps, 9, "{p}: blocked steps after a spike");
            assert_eq!(d.clamp_above_steps, 9, "{p}: v is never clamped");
        }
        let mut c = DcConfig::preset("dc100").unwrap();
        c.set_refractory(Refractory::Clamp);
        let d = c.to_spec().exc.derive(c.dt_ms);
        assert_eq!((d.refractory_steps, d.clamp_above_steps), (10, 0));
        c.set_refractory(Refractory::Brian2Ports);
        let d = c.to_spec().exc.derive(c.dt_ms);
        assert_eq!((d.refractory_steps, d.clamp_above_steps), (100, 90));
        c.dt_ms = 0.25;
        c.set_refractory(Refractory::Brian1);
        assert_eq!(c.lockout_exc_ms, 4.75);
        assert_eq!(c.to_spec().exc.derive(c.dt_ms).refractory_steps, 19);
    }

    /// The short preset is dc400 but for its epochs and rest.
    #[test]
    fn the_short_preset_is_dc400_with_two_changes() {
        let short = DcConfig::preset(SHORT_PRESET).unwrap();
        let mut c = DcConfig::preset("dc400").unwrap();
        assert_ne!(short, c);
        c.preset = SHORT_PRESET.into();
        c.epochs = 2;
        c.rest = RestMode::Reset;
        assert_eq!(short, c);
    }

    #[test]
    fn old_run_configs_with_a_tagged_rule_still_load() {
        let c = DcConfig::preset("dc400").unwrap();
        let now = serde_json::to_string_pretty(&c).unwrap();
        assert_eq!(DcConfig::from_run_json(&now).unwrap(), c);
        let old = now.replace("\"rule\": \"triplet\"", "\"rule\": {\"kind\": \"triplet\"}");
        assert_ne!(old, now);
        assert!(serde_json::from_str::<DcConfig>(&old).is_err());
        assert_eq!(DcConfig::from_run_json(&old).unwrap(), c);
        let wd = now.replace(
            "\"rule\": \"triplet\"",
            "\"rule\": {\"kind\": \"weight_dependent\", \"x_tar\": 0.4, \"mu\": 0.9}",
        );
        let got = DcConfig::from_run_json(&wd).unwrap();
        assert_eq!(
            got.stdp.rule,
            crate::model::StdpRule::WeightDependent {
                x_tar: 0.4,
                mu: 0.9
            }
        );
        assert!(DcConfig::from_run_json(&now.replace("\"triplet\"", "\"tripplet\"")).is_err());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let t = toml::to_string(&DcConfig::preset("dc100").unwrap()).unwrap();
        let err = toml::from_str::<DcConfig>(&format!("extra = 1\n{t}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `extra`"), "{err}");
        let err =
            toml::from_str::<DcConfig>(&t.replace("rule = \"triplet\"", "rule = \"tripplet\""))
                .unwrap_err()
                .to_string();
        assert!(err.contains("unknown variant"), "{err}");
        assert!(DcConfig::preset("dc200")
            .unwrap_err()
            .to_string()
            .contains("dc100, dc400"));
        let mut c = DcConfig::preset("dc100").unwrap();
        c.dt_ms = 0.0;
        assert!(c.validate().unwrap_err().to_string().contains("dt_ms"));
        let mut c = DcConfig::preset("dc100").unwrap();
        c.w_max = -1.0;
        assert!(c.validate().unwrap_err().to_string().contains("w_max"));
    }

    /// Experiment files written before the reversal clamp became every preset's default
    /// hold the key explicitly, and still mean what they said; a file without the key (older
    /// still) means off.
    #[test]
    fn files_from_before_the_clamp_default_keep_their_meaning() {
        let now = toml::to_string(&DcConfig::preset("dc100").unwrap()).unwrap();
        assert!(now.contains("clamp_v_to_reversal = true"), "{now}");
        let old = now.replace("clamp_v_to_reversal = true", "clamp_v_to_reversal = false");
        let c: DcConfig = toml::from_str(&old).unwrap();
        assert!(!c.clamp_v_to_reversal);
        let older = now.replace("clamp_v_to_reversal = true\n", "");
        assert_ne!(older, now);
        let c: DcConfig = toml::from_str(&older).unwrap();
        assert!(!c.clamp_v_to_reversal);
        // Files from before `input_total_rate_hz` existed: off.
        let c: DcConfig = toml::from_str(&old.replace("input_total_rate_hz = 0.0\n", "")).unwrap();
        assert_eq!(c.input_total_rate_hz, 0.0);
    }

    #[test]
    fn input_rates_scale_to_a_fixed_total_when_asked() {
        let mut c = DcConfig::preset("dc100").unwrap();
        let img: Vec<u8> = (0..784).map(|i| if i % 3 == 0 { 200 } else { 0 }).collect();
        assert_eq!(c.input_rates(&img, 2.0), DcConfig::rates(&img, 2.0));
        c.input_total_rate_hz = 5000.0;
        let sum = |r: Vec<f32>| r.iter().sum::<f32>();
        assert!((sum(c.input_rates(&img, 2.0)) - 5000.0).abs() < 1.0);
        assert!((sum(c.input_rates(&img, 3.0)) - 7500.0).abs() < 1.0);
        let dense = vec![255u8; 784];
        assert!((sum(c.input_rates(&dense, 2.0)) - 5000.0).abs() < 1.0);
        // One lit pixel cannot take the whole total: capped at 1000/dt.
        let mut one = vec![0u8; 784];
        one[5] = 10;
        assert_eq!(c.input_rates(&one, 2.0)[5], 2000.0);
        assert_eq!(sum(c.input_rates(&[0u8; 784], 2.0)), 0.0);
        c.input_total_rate_hz = -1.0;
        assert!(c.validate().is_err());
    }

    #[test]
    fn every_key_is_documented_in_docs_diehl_cook() {
        let doc = include_str!("../../../docs/diehl_cook.md");
        let v = toml::Value::try_from(DcConfig::preset("dc100").unwrap()).unwrap();
        let mut keys = vec![];
        for (k, x) in v.as_table().unwrap() {
            match x.as_table() {
                Some(t) => keys.extend(t.keys().map(|s| format!("| `[{k}] {s}` |"))),
                None => keys.push(format!("| `{k}` |")),
            }
        }
        assert!(keys.len() > 20);
        for k in keys {
            assert!(
                doc.contains(&k),
                "docs/diehl_cook.md has no table row for {k}"
            );
        }
    }
}
