//! The integration suite: one test binary, one module per area (as ripgrep and xh do), so the
//! library is linked once. Two separate binaries: `capture_alsa` sets ALSA's config path in its
//! own process before anything touches ALSA; `realtime` holds the calls judged by what is heard
//! in real time that keep both cores busy (echo cancelling, Chromium's handset), which cargo
//! runs on its own (test binaries run one after another), so the rest of the suite does not
//! starve them.

// Shared with `realtime`: each binary uses part of the helpers.
#[allow(dead_code)]
mod util;

mod call;
mod capture_errors;
mod chaos;
mod check;
mod codec_ffmpeg;
mod config_e2e;
mod doorbell;
mod generated;
mod halfdead;
mod hostile;
mod lifecycle;
mod listen;
mod mqtt;
mod negotiation;
mod paging;
mod play;
mod producer;
mod reporting;
mod say;
mod serve;
mod signals;
mod sim_auth;
mod sim_doorbell;
mod sim_faults;
mod sim_fidelity;
mod sim_independent_clients;
mod sim_mic;
mod sim_profiles;
mod sim_robustness;
mod sim_sessions;
mod speak;
mod status_close;
mod terminal;
mod tls;
