//! The configurations of a many-network run (`snn train --networks K`, `--sweep FILE`): one
//! [`DcConfig`] per network, from a base config and optional per-network overrides.
//!
//! Network `k` starts as the base config with `seed = base.seed + k`; a sweep file then
//! overrides any of its keys. The file is a TOML list of partial experiment configs, one
//! `[[network]]` table per network, in the key names of `snn presets --show dc100`:
//!
//! ```toml
//! [[network]]                 # network 0: the base config, seed + 0
//! [[network]]
//! theta_plus_mv = 0.1         # network 1: seed + 1, θ⁺ = 0.1 mV
//! [[network]]
//! seed = 0                    # network 2: the base seed, a faster STDP
//! stdp = { nu_post = 0.02 }   # nested tables are merged key by key
//! ```
//!
//! A key that the experiment config does not have is an error naming the network and key;
//! so is a value of the wrong type or one that fails [`DcConfig::validate`].

use super::config::DcConfig;
use crate::error::{Result, SnnError};

/// Parses a sweep file: the `[[network]]` tables, in order.
///
/// # Errors
/// [`SnnError::InvalidParam`] for invalid TOML, a top-level key other than `network`, or no
/// `[[network]]` table.
pub fn parse_sweep(text: &str) -> Result<Vec<toml::Table>> {
    let mut doc: toml::Table =
        toml::from_str(text).map_err(|e| SnnError::invalid("sweep file", e, "valid TOML"))?;
    if let Some(k) = doc.keys().find(|k| *k != "network") {
        return Err(SnnError::invalid(
            "sweep file",
            format!("top-level key `{k}`"),
            "only [[network]] tables",
        ));
    }
    let nets = match doc.remove("network") {
        Some(toml::Value::Array(a)) => a,
        _ => {
            return Err(SnnError::invalid(
                "sweep file",
                "no [[network]] table",
                "one [[network]] table per network",
            ))
        }
    };
    nets.into_iter()
        .enumerate()
        .map(|(k, v)| match v {
            toml::Value::Table(t) => Ok(t),
            other => Err(SnnError::invalid(
                format!("network[{k}]"),
                other,
                "a table of config overrides",
            )),
        })
        .collect()
}

/// One config per network: `networks` copies of `base` with seeds `base.seed + k`, then the
/// sweep's overrides of network `k` (if any). With a sweep, `networks` may be omitted; if
/// given, it must equal the number of `[[network]]` tables.
///
/// # Errors
/// [`SnnError::InvalidParam`]: zero networks, a count that disagrees with the sweep, an
/// unknown key, a value of the wrong type, or a config that fails [`DcConfig::validate`].
pub fn network_configs(
    base: &DcConfig,
    networks: Option<usize>,
    sweep: Option<&[toml::Table]>,
) -> Result<Vec<DcConfig>> {
    let k = match (networks, sweep) {
        (Some(n), Some(s)) if n != s.len() => {
            return Err(SnnError::invalid(
                "--networks",
                n,
                format!(
                    "the number of [[network]] tables in the sweep ({})",
                    s.len()
                ),
            ))
        }
        (_, Some(s)) => s.len(),
        (Some(n), None) => n,
        (None, None) => 1,
    };
    if k == 0 {
        return Err(SnnError::invalid("--networks", 0, "at least 1"));
    }
    // The seeds run base.seed .. base.seed + k - 1: refused where that passes u32::MAX, as
    // it would wrap round to seeds another run uses.
    let last_seed = u32::try_from(k - 1)
        .ok()
        .and_then(|d| base.seed.checked_add(d))
        .ok_or_else(|| {
            SnnError::invalid(
                "--seed",
                base.seed,
                format!(
                    "at most {} with {k} networks (seeds --seed to --seed + {}, at most {})",
                    u64::from(u32::MAX).saturating_sub(k as u64 - 1),
                    k - 1,
                    u32::MAX
                ),
            )
        })?;
    debug_assert!(last_seed >= base.seed);
    (0..k)
        .map(|i| {
            let mut cfg = base.clone();
            cfg.seed = base.seed + i as u32;
            if let Some(over) = sweep.and_then(|s| s.get(i)) {
                cfg = apply_overrides(&cfg, over, i)?;
            }
            cfg.validate()
                .map_err(|e| e.in_field(&format!("network[{i}]")))?;
            Ok(cfg)
        })
        .collect()
}

/// `cfg` with the keys of `over` replaced (nested tables merged key by key).
fn apply_overrides(cfg: &DcConfig, over: &toml::Table, net: usize) -> Result<DcConfig> {
    let mut v = toml::Value::try_from(cfg)
        .map_err(|e| SnnError::invalid("config", e, "a config that serialises to TOML"))?;
    let toml::Value::Table(t) = &mut v else {
        return Err(SnnError::invalid("config", "not a table", "a TOML table"));
    };
    merge(t, over, &format!("network[{net}]"))?;
    v.try_into().map_err(|e: toml::de::Error| {
        SnnError::invalid(
            format!("network[{net}]"),
            e.message(),
            "valid config values",
        )
    })
}

fn merge(base: &mut toml::Table, over: &toml::Table, path: &str) -> Result<()> {
    for (key, val) in over {
        let here = format!("{path}.{key}");
        let Some(slot) = base.get_mut(key) else {
            let known: Vec<&str> = base.keys().map(String::as_str).collect();
            return Err(SnnError::invalid(
                here,
                "unknown key",
                format!("one of {}", known.join(", ")),
            ));
        };
        match (slot, val) {
            (toml::Value::Table(b), toml::Value::Table(o)) => merge(b, o, &here)?,
            // An integer where a float goes is the float (`theta_plus_mv = 1`).
            (slot @ toml::Value::Float(_), toml::Value::Integer(i)) => {
                *slot = toml::Value::Float(*i as f64)
            }
            // A value of another type names its key (a message from the deserialiser would
            // name only the network).
            (slot, val) if slot.type_str() != val.type_str() => {
                return Err(SnnError::invalid(
                    here,
                    val,
                    format!("a {} (like {slot})", slot.type_str()),
                ))
            }
            (slot, val) => *slot = val.clone(),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> DcConfig {
        let mut c = DcConfig::preset("dc100").unwrap();
        c.seed = 7;
        c
    }

    #[test]
    fn seeds_count_up_without_a_sweep() {
        let cfgs = network_configs(&base(), Some(3), None).unwrap();
        let seeds: Vec<u32> = cfgs.iter().map(|c| c.seed).collect();
        assert_eq!(seeds, [7, 8, 9]);
        assert!(cfgs
            .iter()
            .all(|c| c.n_exc == 100 && c.theta_plus_mv == 0.05));
    }

    #[test]
    fn overrides_apply_per_network_and_merge_nested_tables() {
        let s = parse_sweep(
            "[[network]]\n[[network]]\ntheta_plus_mv = 0.1\n\
             [[network]]\nseed = 0\nn_exc = 20\nstdp = { nu_post = 0.02 }\n",
        )
        .unwrap();
        let cfgs = network_configs(&base(), None, Some(&s)).unwrap();
        assert_eq!(cfgs.len(), 3);
        assert_eq!(cfgs[0], DcConfig { seed: 7, ..base() });
        assert_eq!(cfgs[1].theta_plus_mv, 0.1);
        assert_eq!(cfgs[1].seed, 8);
        assert_eq!((cfgs[2].seed, cfgs[2].n_exc), (0, 20));
        assert_eq!(cfgs[2].stdp.nu_post, 0.02);
        assert_eq!(cfgs[2].stdp.nu_pre, base().stdp.nu_pre);
    }

    #[test]
    fn bad_sweeps_are_refused_with_the_network_and_key() {
        let err = |text: &str| {
            let s = parse_sweep(text)?;
            network_configs(&base(), None, Some(&s)).map(|_| ())
        };
        let e = err("[[network]]\n[[network]]\ntheta_plus = 0.1\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("network[1].theta_plus") && e.contains("unknown key"),
            "{e}"
        );
        let e = err("[[network]]\nstdp = { nu = 1 }\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("network[0].stdp.nu"), "{e}");
        let e = err("[[network]]\ntheta_plus_mv = \"big\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("network[0]"), "{e}");
        let e = err("[[network]]\ndt_ms = 0.0\n").unwrap_err().to_string();
        assert!(e.contains("network[0]") && e.contains("dt_ms"), "{e}");
        assert!(err("seed = 1\n").unwrap_err().to_string().contains("seed"));
        assert!(err("").unwrap_err().to_string().contains("[[network]]"));
        let s = parse_sweep("[[network]]\n[[network]]\n").unwrap();
        let e = network_configs(&base(), Some(3), Some(&s)).unwrap_err();
        assert!(e.to_string().contains("--networks"), "{e}");
        assert!(network_configs(&base(), Some(0), None).is_err());
    }
}
