//! A producer (the decoder or capture thread) that panics or vanishes ends the session as an
//! internal error, never as end of input, and the open session is still closed. In process,
//! against the simulator.

use crate::util::*;
use hiktalk::feed::{Chunk, Feed, Pace, Source, SourceItem};
use hiktalk::isapi::{Credentials, Device, Endpoint, Timeouts, tls::Trust};
use hiktalk::session::{self, Clock, Ending, Report, Stop, TalkOptions};
use std::time::Duration;

/// Half a second of audio from a thread that then panics (or just drops its sender).
fn dying_source(panics: bool) -> Source {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    std::thread::spawn(move || {
        for _ in 0..25 {
            if tx.blocking_send(SourceItem::Chunk(Chunk { samples: vec![0.1; 160], captured: None })).is_err() {
                return;
            }
        }
        if panics {
            panic!("the decoder broke (a test panic)");
        }
    });
    Source { rx, rate: 8000, pace: Pace::File, duration: None, playout: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_that_dies_is_an_internal_error_and_the_session_is_closed() {
    for panics in [true, false] {
        let sim = sim::start(binary_sim_config()).await.unwrap();
        let endpoint = Endpoint { https: false, host: "127.0.0.1".into(), port: sim.addr().port() };
        let device = Device::new(endpoint, Credentials::new("admin", PASSWORD), Trust::Unpinned, Timeouts::default()).unwrap();
        let (stop, opts) = (Stop::manual(), TalkOptions { announce: std::sync::Arc::new(|_| {}), ..TalkOptions::default() });
        let clock = Clock::start(Feed::new(dying_source(panics), 0.0), Duration::from_millis(160), Duration::ZERO);
        let mut report = Report::new("sim", Ending::EndOfInput);
        let mut neg = session::negotiate(&device, "producer", &opts, &stop).await.unwrap();
        session::talk(&device, &mut neg, &opts, session::Media::talk(&clock), &stop, &mut report).await;
        assert!(matches!(report.ending, Ending::Internal { .. }), "panics {panics}: {report:?}");
        assert_eq!(report.ending.exit_code(false), 1);
        assert_eq!((report.sessions_opened, report.closes_confirmed), (1, 1), "{report:?}");
        assert!((report.audio_seconds - 0.5).abs() < 0.05, "the audio before the end was sent: {report:?}");
        let ev = sim.events();
        assert_eq!(count(&ev, opened), 1);
        assert_eq!(count(&ev, closed_by_client), 1, "the session must be closed by hiktalk");
    }
}
