//! Audio devices for capture and playback, by direction: listing (for `hiktalk devices`) and
//! finding one from what the user typed (`--input`, `--output`): an exact id, an index into the
//! listing, or a unique part of an id or description.

use cpal::traits::{DeviceTrait, HostTrait};

/// Which way a device carries sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Input,
    Output,
}

impl Direction {
    fn flag(self) -> &'static str {
        match self {
            Direction::Input => "--input",
            Direction::Output => "--output",
        }
    }
}

/// One device as `hiktalk devices` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AudioDevice {
    pub direction: Direction,
    /// cpal device id, e.g. `alsa:hw:CARD=0,DEV=0`; accepted by `--input` / `--output`.
    pub id: String,
    pub description: String,
    pub default_rate: u32,
    /// Sample format of the default config: `i16`, `f32`, ...
    pub default_format: String,
    pub channels: u16,
    pub is_default: bool,
}

/// Why a device could not be found.
#[derive(Debug, thiserror::Error)]
pub enum Lookup {
    #[error("device {selector:?} was not found; available: {}; run `hiktalk devices` and pass an id or index with {flag}", list_or_none(.available))]
    NotFound { selector: String, available: Vec<String>, flag: &'static str },
    #[error("selector {selector:?} matches several devices ({}); pass the full id instead", .matches.join(", "))]
    Ambiguous { selector: String, matches: Vec<String> },
    #[error("devices cannot be listed: {reason}")]
    Enumerate { reason: String },
}

fn list_or_none(ids: &[String]) -> String {
    if ids.is_empty() { "none".to_owned() } else { ids.join(", ") }
}

/// Devices that can go `direction` and report a default config. Devices that fail to open
/// (e.g. ALSA `default` with no card) are left out: they could not be used.
pub fn list(direction: Direction) -> Result<Vec<AudioDevice>, Lookup> {
    let _quiet = Quiet::new();
    let host = cpal::default_host();
    let enumerate = |e: cpal::Error| Lookup::Enumerate { reason: e.to_string() };
    let (default, devices): (Option<cpal::Device>, Vec<cpal::Device>) = match direction {
        Direction::Input => (host.default_input_device(), host.input_devices().map_err(enumerate)?.collect()),
        Direction::Output => (host.default_output_device(), host.output_devices().map_err(enumerate)?.collect()),
    };
    let default_id = default.and_then(|d| d.id().ok()).map(|id| id.to_string());
    Ok(devices
        .into_iter()
        .filter_map(|device| {
            let id = device.id().ok()?.to_string();
            let config = match direction {
                Direction::Input => device.default_input_config().ok()?,
                Direction::Output => device.default_output_config().ok()?,
            };
            Some(AudioDevice {
                direction,
                is_default: default_id.as_deref() == Some(id.as_str()),
                description: describe(&device),
                default_rate: config.sample_rate(),
                default_format: config.sample_format().to_string(),
                channels: config.channels(),
                id,
            })
        })
        .collect())
}

/// A device's description on one line (ALSA's are two: "Card, Device\nPurpose").
pub fn describe(device: &cpal::Device) -> String {
    device.description().map(|d| d.to_string().lines().map(str::trim).collect::<Vec<_>>().join(" - ")).unwrap_or_default()
}

/// Resolves a selector: exact id, index into [`list`], or a unique case-insensitive substring
/// of an id or description.
pub fn find(direction: Direction, selector: &str) -> Result<cpal::Device, Lookup> {
    let listed = list(direction)?;
    let pick = if let Some(d) = listed.iter().find(|d| d.id == selector) {
        Some(d.id.clone())
    } else if let Ok(index) = selector.parse::<usize>() {
        listed.get(index).map(|d| d.id.clone())
    } else {
        let needle = selector.to_lowercase();
        let matches: Vec<&AudioDevice> =
            listed.iter().filter(|d| d.id.to_lowercase().contains(&needle) || d.description.to_lowercase().contains(&needle)).collect();
        match matches.as_slice() {
            [one] => Some(one.id.clone()),
            [] => None,
            many => {
                return Err(Lookup::Ambiguous { selector: selector.to_owned(), matches: many.iter().map(|d| d.id.clone()).collect() });
            }
        }
    };
    // An id can name a device the enumeration does not list (e.g. a bare `alsa:hw:1,0`).
    let id = pick.as_deref().unwrap_or(selector);
    id.parse::<cpal::DeviceId>().ok().and_then(|id| cpal::host_from_id(id.host()).ok()?.device_by_id(&id)).ok_or_else(|| Lookup::NotFound {
        selector: selector.to_owned(),
        available: listed.into_iter().map(|d| d.id).collect(),
        flag: direction.flag(),
    })
}

pub(crate) use alsa_quiet::Guard as Quiet;

/// Mutes alsa-lib's stderr messages (it complains about every PCM it cannot open while
/// probing) on the current thread for the guard's lifetime. A no-op off ALSA platforms.
mod alsa_quiet {
    #[cfg(any(target_os = "linux", target_os = "dragonfly", target_os = "freebsd", target_os = "netbsd"))]
    pub use alsa::Guard;
    #[cfg(not(any(target_os = "linux", target_os = "dragonfly", target_os = "freebsd", target_os = "netbsd")))]
    pub use other::Guard;

    #[cfg(any(target_os = "linux", target_os = "dragonfly", target_os = "freebsd", target_os = "netbsd"))]
    mod alsa {
        pub struct Guard(alsa_sys::snd_local_error_handler_t);

        impl Guard {
            pub fn new() -> Self {
                unsafe extern "C" fn ignore(
                    _file: *const std::ffi::c_char,
                    _line: std::ffi::c_int,
                    _func: *const std::ffi::c_char,
                    _err: std::ffi::c_int,
                    _fmt: *const std::ffi::c_char,
                    _args: *mut alsa_sys::__va_list_tag,
                ) {
                }
                // SAFETY: sets a thread-local pointer in alsa-lib; `ignore` touches none of its arguments.
                Guard(unsafe { alsa_sys::snd_lib_error_set_local(Some(ignore)) })
            }
        }

        impl Drop for Guard {
            fn drop(&mut self) {
                // SAFETY: restores the handler that was installed before (usually none).
                unsafe {
                    alsa_sys::snd_lib_error_set_local(self.0);
                }
            }
        }
    }

    #[cfg(not(any(target_os = "linux", target_os = "dragonfly", target_os = "freebsd", target_os = "netbsd")))]
    mod other {
        pub struct Guard;

        impl Guard {
            pub fn new() -> Self {
                Guard
            }
        }
    }
}
