//! Device selection errors; needs no audio device at all.

use hiktalk::audio::capture::{Capture, CaptureError};
use hiktalk::audio::devices::Lookup;

#[test]
fn unknown_device_is_a_typed_error_that_says_what_to_do() {
    for selector in ["alsa:no-such-device", "no such microphone", "999"] {
        match Capture::open(Some(selector)) {
            Err(e @ CaptureError::Lookup(Lookup::NotFound { .. })) => {
                let CaptureError::Lookup(Lookup::NotFound { selector: ref s, ref available, flag }) = e else { unreachable!() };
                assert_eq!(s, selector);
                assert_eq!(flag, "--input");
                assert!(!available.iter().any(|id| id == selector));
                let message = e.to_string();
                assert!(message.contains(selector) && message.contains("hiktalk devices"), "{message}");
            }
            other => panic!("{selector}: expected NotFound, got {other:?}"),
        }
    }
}
