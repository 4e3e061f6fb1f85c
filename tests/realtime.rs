//! Calls judged by what is heard in real time that keep both cores of a small machine busy: the
//! echo cancellers against a room and a door that hears itself, and the handset page in
//! Chromium. A binary of their own, which cargo runs apart from the main suite (test binaries run
//! one after another), so that nothing else competes with them; inside it they take turns
//! (`util::realtime_turn`), lighter tests running beside them. Side by side with the whole
//! suite on 2 cores the device ran dry several times a call and the echo's path moved.

// This binary uses part of the helpers only.
#[allow(dead_code)]
mod util;

mod echo;
mod handset;
