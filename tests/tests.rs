//! The integration suite: one test binary, one module per area (as ripgrep and xh do), so the
//! library is linked once. `capture_alsa` is the only separate binary: it sets ALSA's config
//! path in its own process before anything touches ALSA.

mod util;

mod call;
mod capture_errors;
mod chaos;
mod check;
mod codec_ffmpeg;
mod config_e2e;
mod doorbell;
mod echo;
mod generated;
mod halfdead;
mod handset;
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
