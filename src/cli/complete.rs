//! What shells complete: closed choices (codecs, profiles, styles) as clap possible values, so
//! the generated scripts offer them, and camera names read from the config when completing
//! (`COMPLETE=bash hiktalk`, clap_complete's dynamic completion).

use clap::ValueHint;
use clap::builder::{PossibleValue, StringValueParser, TypedValueParser};
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use std::ffi::{OsStr, OsString};
use std::marker::PhantomData;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::OnceLock;

/// The codec names `--codec` and friends offer (every spelling `Codec::from_str` knows works).
pub const CODECS: &[&str] = &["ulaw", "alaw", "g726", "aac", "pcm", "opus"];

/// A value parsed by `T::from_str`, so that every spelling it accepts works, with `names`
/// offered to help and to completion.
#[derive(Clone)]
pub struct Choices<T> {
    names: &'static [&'static str],
    parsed: PhantomData<fn() -> T>,
}

pub fn choices<T>(names: &'static [&'static str]) -> Choices<T> {
    Choices { names, parsed: PhantomData }
}

impl<T> TypedValueParser for Choices<T>
where
    T: FromStr + Clone + Send + Sync + 'static,
    T::Err: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Value = T;

    fn parse_ref(&self, cmd: &clap::Command, arg: Option<&clap::Arg>, value: &OsStr) -> Result<T, clap::Error> {
        StringValueParser::new().try_map(|s| s.parse::<T>()).parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.names.iter().map(|n| PossibleValue::new(*n))))
    }
}

/// Free values (a user, a number, a device) complete to nothing rather than to file names:
/// only arguments that take a path say so (`ValueHint::FilePath`, `DirPath`).
pub fn no_file_names(cmd: clap::Command) -> clap::Command {
    cmd.mut_args(|a| {
        let free = a.get_action().takes_values() && a.get_value_hint() == ValueHint::Unknown && a.get_possible_values().is_empty();
        if free { a.value_hint(ValueHint::Other) } else { a }
    })
    .mut_subcommands(no_file_names)
}

/// The `--config` given on the line being completed, if any (see [`config_on_line`]).
static LINE_CONFIG: OnceLock<PathBuf> = OnceLock::new();

/// Remembers the `--config FILE` (or `--config=FILE`) among the words of the line being
/// completed (`words`: what the shell passes after `--`), so the camera names offered are the
/// ones that command line would use. The shell passes words as typed: `~/` is expanded here.
pub fn config_on_line(words: &[OsString]) {
    let words: Vec<&str> = words.iter().filter_map(|w| w.to_str()).collect();
    let given = words.windows(2).rev().find_map(|w| match w {
        ["--config", path] => Some(*path),
        [_, word] => word.strip_prefix("--config="),
        _ => None,
    });
    let path = given.filter(|p| !p.is_empty()).map(|p| match (p.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(p),
    });
    if let Some(path) = path {
        let _ = LINE_CONFIG.set(path);
    }
}

/// Completes a camera argument with the config's cameras and groups, and `sim`. The config is
/// the one `--config` names on the line being completed, else `HIKTALK_CONFIG`, else the
/// default, as when the line runs.
pub fn cameras() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        let config = LINE_CONFIG.get().cloned().or_else(|| std::env::var_os("HIKTALK_CONFIG").map(PathBuf::from));
        let (cameras, groups) = crate::config::names(config.as_deref());
        let tagged =
            |names: Vec<String>, what: &'static str| names.into_iter().map(move |n| CompletionCandidate::new(n).help(Some(what.into())));
        tagged(cameras, "camera")
            .chain(tagged(groups, "group"))
            .chain(tagged(vec![crate::config::SIM.into()], "the simulated camera"))
            .collect()
    })
}
