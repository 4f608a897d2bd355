//! Sweeps: `[sweep]` names a numeric key (`cluster.shards`) and its values, and optionally
//! the protocols to run at each; every point is the same file with that key (and
//! `cluster.consensus`) set, checked like a file of its own. Setting keys in the parsed TOML
//! rather than in the checked structs means any numeric key can be swept and every point
//! gets the same validation as a single run.

use std::path::Path;

use super::validate::Ctx;
use super::{ConfigError, Experiment, from_value};

/// What a file asks for.
#[derive(Debug)]
pub enum Expanded {
    /// One run.
    One(Box<Experiment>),
    /// A sweep.
    Sweep {
        /// The experiment's name.
        name: String,
        /// The dotted key varied.
        key: String,
        /// `(value, protocol, experiment)` per point, protocols inner.
        points: Vec<(f64, String, Experiment)>,
    },
}

/// Parse `text` (the file `path`) and expand its sweep, if any.
pub fn expand(path: &Path, text: &str) -> Result<Expanded, ConfigError> {
    let syntax = |e: toml::de::Error| ConfigError::Syntax {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    // Parse into the typed file first: its errors carry the line.
    let _: super::file::ExperimentFile = toml::from_str(text).map_err(syntax)?;
    let mut value: toml::Table = toml::from_str(text).map_err(syntax)?;
    let Some(sweep) = value.remove("sweep") else {
        return Ok(Expanded::One(Box::new(from_value(path, text, toml::Value::Table(value))?)));
    };
    let sweep: super::file::SweepSection = sweep.try_into().map_err(|e: toml::de::Error| {
        ConfigError::Syntax { path: path.to_path_buf(), message: format!("sweep: {e}") }
    })?;
    let cx = Ctx { path };
    if sweep.values.is_empty() {
        return Err(cx.invalid("sweep.values", "needs at least one value"));
    }
    if sweep.key == "cluster.consensus" || sweep.key.starts_with("sweep") || sweep.key.is_empty() {
        return Err(cx.invalid(
            "sweep.key",
            format!("{:?}: sweep a numeric key; protocols go in sweep.consensus", sweep.key),
        ));
    }
    let protocols = match sweep.consensus {
        Some(list) if list.is_empty() => {
            return Err(
                cx.invalid("sweep.consensus", "needs at least one protocol, or leave it out")
            );
        }
        Some(list) => list,
        None => {
            let current = value
                .get("cluster")
                .and_then(|c| c.get("consensus"))
                .and_then(|c| c.as_str())
                .unwrap_or("pbft");
            vec![current.to_string()]
        }
    };
    let mut points = Vec::new();
    let mut name = None;
    for v in &sweep.values {
        for p in &protocols {
            let mut point = value.clone();
            set(&cx, &mut point, &sweep.key, *v)?;
            set_str(&mut point, "cluster", "consensus", p);
            let experiment =
                from_value(path, text, toml::Value::Table(point)).map_err(|e| match e {
                    ConfigError::Invalid { path, key, reason } => ConfigError::Invalid {
                        path,
                        key,
                        reason: format!(
                            "{reason} (at sweep point {} = {v}, consensus {p})",
                            sweep.key
                        ),
                    },
                    ConfigError::Syntax { path, message } => ConfigError::Syntax {
                        path,
                        message: format!(
                            "{message} (at sweep point {} = {v}, consensus {p})",
                            sweep.key
                        ),
                    },
                    other => other,
                })?;
            name.get_or_insert_with(|| experiment.name.clone());
            points.push((*v, p.clone(), experiment));
        }
    }
    Ok(Expanded::Sweep { name: name.unwrap_or_default(), key: sweep.key, points })
}

/// Set the dotted `key` of `table` to `v`: an integer when `v` is whole (TOML's integers
/// also read as floats, not the other way round).
fn set(cx: &Ctx<'_>, table: &mut toml::Table, key: &str, v: f64) -> Result<(), ConfigError> {
    if !v.is_finite() {
        return Err(cx.invalid("sweep.values", format!("{v} is not a number")));
    }
    let parts: Vec<&str> = key.split('.').collect();
    let (last, tables) = parts.split_last().ok_or_else(|| cx.invalid("sweep.key", "empty"))?;
    let mut t = table;
    for part in tables {
        let entry =
            t.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| cx.invalid("sweep.key", format!("{key:?}: {part} is not a table")))?;
    }
    let value = if v.fract() == 0.0 && v.abs() < 9.0e15 {
        toml::Value::Integer(v as i64)
    } else {
        toml::Value::Float(v)
    };
    t.insert(last.to_string(), value);
    Ok(())
}

fn set_str(table: &mut toml::Table, section: &str, key: &str, v: &str) {
    let entry =
        table.entry(section.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let Some(t) = entry.as_table_mut() {
        t.insert(key.to_string(), toml::Value::String(v.to_string()));
    }
}
