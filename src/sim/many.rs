//! Many simulated devices in one process (`hiktalk sim --devices N`): each its own port, state
//! and log, as many separate devices would be; what they heard is added up, and when each first
//! heard audio is compared on one clock (the spread a page's listeners would notice).

use super::config::SimConfig;
use super::events::{EventKind, Summary};
use super::faults::Fault;
use super::handle::{self, SimHandle};
use super::profile::{ParseNameError, Profile};
use super::server::StartError;
use serde::Serialize;
use std::time::{Duration, Instant};

/// Which profiles the devices play, in proportion: `modern:3,doorbell:1` makes devices 1-3
/// cameras, 4 a doorbell, 5-7 cameras again, and so on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileMix(Vec<(Profile, u32)>);

impl ProfileMix {
    /// The profile of device `index` (from 0).
    pub fn of(&self, index: usize) -> Profile {
        let round: u32 = self.0.iter().map(|(_, n)| n).sum();
        let mut at = (index as u64 % u64::from(round)) as u32;
        for (profile, n) in &self.0 {
            if at < *n {
                return *profile;
            }
            at -= n;
        }
        unreachable!("the position is within one round")
    }
}

impl std::str::FromStr for ProfileMix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut mix = Vec::new();
        for part in s.split(',') {
            let (name, count) = part.split_once(':').unwrap_or((part, "1"));
            let profile: Profile = name.trim().parse().map_err(|e: ParseNameError| e.to_string())?;
            let count: u32 =
                count.trim().parse().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
                    format!("{:?} is not a count from 1 to 1000 in the profile mix (e.g. modern:3,doorbell:1)", count.trim())
                })?;
            mix.push((profile, count));
        }
        Ok(ProfileMix(mix))
    }
}

/// A setting for one device of many, `N:VALUE` (N from 1).
#[derive(Debug, Clone, PartialEq)]
pub struct ForDevice<T> {
    pub device: usize,
    pub value: T,
}

impl<T: std::str::FromStr<Err: std::fmt::Display>> std::str::FromStr for ForDevice<T> {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (n, value) = s.split_once(':').ok_or_else(|| format!("{s:?} names no device; write N:VALUE, e.g. 3:{}", "..."))?;
        let device = n.trim().parse().ok().filter(|&n| n >= 1).ok_or_else(|| format!("{n:?} is not a device number (from 1)"))?;
        let value = value.parse().map_err(|e: T::Err| e.to_string())?;
        Ok(ForDevice { device, value })
    }
}

/// How the devices differ from the one configuration they share.
#[derive(Debug, Clone, Default)]
pub struct Variation {
    pub mix: Option<ProfileMix>,
    pub faults: Vec<ForDevice<Fault>>,
    pub passwords: Vec<ForDevice<String>>,
}

impl Variation {
    /// Device `index`'s (from 0) configuration. Files it writes get its number, so devices do
    /// not write over each other.
    fn config(&self, base: &SimConfig, index: usize, count: usize) -> SimConfig {
        let number = index + 1;
        let mut config = base.clone();
        if let Some(mix) = &self.mix {
            config.profile = mix.of(index);
        }
        config.faults.extend(self.faults.iter().filter(|f| f.device == number).map(|f| f.value.clone()));
        if let Some(p) = self.passwords.iter().rev().find(|p| p.device == number) {
            config.password = p.value.clone();
        }
        if count > 1 {
            // Consecutive ports from a fixed one; port 0 lets each pick its own.
            if base.listen.port() != 0 {
                config.listen.set_port(base.listen.port().saturating_add(index as u16));
            }
            config.events_path = base.events_path.as_ref().map(|p| numbered(p, number));
            config.record_dir = base.record_dir.as_ref().map(|d| d.join(format!("device-{number}")));
        }
        config
    }

    /// Names a device number outside `1..=count`, if any setting does.
    fn check(&self, count: usize) -> Result<(), String> {
        let numbers = self.faults.iter().map(|f| f.device).chain(self.passwords.iter().map(|p| p.device));
        match numbers.into_iter().find(|&n| n > count) {
            Some(n) => Err(format!("device {n} is named, but there are only {count}; number them from 1")),
            None => Ok(()),
        }
    }
}

/// `events.jsonl` for device 3 is `events-3.jsonl`; `-` (stdout) stays shared.
fn numbered(path: &std::path::Path, number: usize) -> std::path::PathBuf {
    if path.as_os_str() == "-" {
        return path.to_path_buf();
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{number}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{number}"),
    };
    path.with_file_name(name)
}

/// The running devices, in order.
pub struct Many {
    pub devices: Vec<(Profile, SimHandle)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceSummary {
    pub device: usize,
    pub address: String,
    pub profile: String,
    #[serde(flatten)]
    pub summary: Summary,
}

/// All devices' figures: each device's, the totals, and how far apart in time the devices
/// first heard audio.
#[derive(Debug, Clone, Serialize)]
pub struct ManySummary {
    pub devices: Vec<DeviceSummary>,
    pub total: Summary,
    pub first_audio_spread_ms: Option<f64>,
}

impl std::fmt::Display for ManySummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for d in &self.devices {
            writeln!(f, "device {} ({}, {}): {}", d.device, d.profile, d.address, d.summary)?;
        }
        write!(f, "{} devices: {}", self.devices.len(), self.total)?;
        if let Some(ms) = self.first_audio_spread_ms {
            write!(f, "; first audio at all devices within {ms:.1} ms")?;
        }
        Ok(())
    }
}

/// Starts `count` devices from `base`, varied by `variation`; all or none.
pub async fn start(base: &SimConfig, count: usize, variation: &Variation) -> Result<Many, StartError> {
    variation.check(count).map_err(StartError::Config)?;
    let mut devices = Vec::with_capacity(count);
    for index in 0..count {
        let config = variation.config(base, index, count);
        let profile = config.profile;
        // A failure drops the ones already started, which stops them.
        devices.push((profile, handle::start(config).await?));
    }
    Ok(Many { devices })
}

impl Many {
    /// Stops every device (each as [`SimHandle::shutdown`] does) and adds up what they heard.
    pub async fn shutdown(self) -> ManySummary {
        let mut devices = Vec::with_capacity(self.devices.len());
        let mut first: Vec<Instant> = Vec::new();
        let mut all_events = Vec::new();
        for (index, (profile, handle)) in self.devices.into_iter().enumerate() {
            let (address, origin) = (format!("http://{}", handle.addr()), handle.origin());
            let summary = handle.shutdown_with_events().await;
            first.extend(summary.1.iter().filter_map(|e| match &e.kind {
                EventKind::AudioEnded { listened, .. } => listened.first_audio_at.map(|t| origin + Duration::from_secs_f64(t)),
                _ => None,
            }));
            all_events.extend(summary.1);
            devices.push(DeviceSummary { device: index + 1, address, profile: profile.to_string(), summary: summary.0 });
        }
        // Each device's clock has its own zero: the totals add up, the spread is taken here.
        let mut total = Summary::from_events(&all_events);
        total.first_audio_spread_ms = None;
        let spread = match (first.iter().min(), first.iter().max()) {
            (Some(a), Some(b)) => Some(b.duration_since(*a).as_secs_f64() * 1000.0),
            _ => None,
        };
        ManySummary { devices, total, first_audio_spread_ms: spread }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_repeats_in_proportion() {
        let mix: ProfileMix = "modern:3,doorbell:1".parse().unwrap();
        let profiles: Vec<Profile> = (0..8).map(|i| mix.of(i)).collect();
        use Profile::*;
        assert_eq!(profiles, [Modern, Modern, Modern, Doorbell, Modern, Modern, Modern, Doorbell]);
        assert!("modern:0".parse::<ProfileMix>().is_err());
        assert!("toaster:2".parse::<ProfileMix>().is_err());
        assert_eq!("legacy".parse::<ProfileMix>().unwrap().of(5), Legacy);
    }

    #[test]
    fn per_device_settings_name_their_device() {
        let f: ForDevice<String> = "3:secret:with:colons".parse().unwrap();
        assert_eq!((f.device, f.value.as_str()), (3, "secret:with:colons"));
        assert!("0:x".parse::<ForDevice<String>>().is_err());
        assert!("x".parse::<ForDevice<String>>().is_err());
        let v = Variation { passwords: vec![f], ..Default::default() };
        assert!(v.check(2).is_err());
        assert!(v.check(3).is_ok());
        let base = SimConfig { events_path: Some("/tmp/ev.jsonl".into()), ..SimConfig::default() };
        let c = v.config(&base, 2, 3);
        assert_eq!(c.password, "secret:with:colons");
        assert_eq!(c.events_path.unwrap(), std::path::PathBuf::from("/tmp/ev-3.jsonl"));
        assert_eq!(v.config(&base, 1, 3).password, base.password);
    }
}
