//! A producer (the decoder or capture thread) that panics or vanishes ends the session as an
//! internal error, never as end of input, and the open session is still closed; the same for a
//! panic while the session streams. In process, against the simulator.

use crate::util::*;
use hiktalk::codec::{self, CodecParams};
use hiktalk::isapi::{Credentials, Device, Endpoint, Timeouts, tls::Trust};
use hiktalk::session::{self, Ending, Feed, FeedItem, MakeFeed, Report, Stop, TalkOptions};

/// Frames of silence from a thread that then panics (or just drops its sender).
fn dying_feed(panics: bool) -> MakeFeed<'static> {
    Box::new(move |params: CodecParams| {
        let mut enc = codec::encoder(params).map_err(|e| Ending::Codec { detail: e.to_string() })?;
        let frame = codec::frame_duration(enc.as_ref());
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        std::thread::spawn(move || {
            for _ in 0..10 {
                let mut out = Vec::new();
                enc.encode(&vec![0; enc.frame_samples()], &mut out).unwrap();
                if tx.blocking_send(FeedItem::Frame(out, None)).is_err() {
                    return;
                }
            }
            if panics {
                panic!("the decoder broke (a test panic)");
            }
        });
        Ok(Feed { rx, frame, silence: None, max_queue: None })
    })
}

async fn talk(make: MakeFeed<'static>) -> (Report, SimHandle) {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let endpoint = Endpoint { https: false, host: "127.0.0.1".into(), port: sim.addr().port() };
    let device = Device::new(endpoint, Credentials::new("admin", PASSWORD), Trust::Unpinned, Timeouts::default()).unwrap();
    let (stop, opts) = (Stop::manual(), TalkOptions { announce: |_| {}, ..TalkOptions::default() });
    let mut report = Report::new("sim", Ending::EndOfInput);
    let mut neg = session::negotiate(&device, &opts, &stop).await.unwrap();
    session::talk(&device, &mut neg, &opts, make, &stop, &mut report).await;
    (report, sim)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_that_dies_is_an_internal_error_and_the_session_is_closed() {
    for panics in [true, false] {
        let (report, sim) = talk(dying_feed(panics)).await;
        assert!(matches!(report.ending, Ending::Internal { .. }), "panics {panics}: {report:?}");
        assert_eq!(report.ending.exit_code(false), 1);
        assert_eq!((report.sessions_opened, report.closes_confirmed), (1, 1), "{report:?}");
        let ev = sim.events();
        assert_eq!(count(&ev, opened), 1);
        assert_eq!(count(&ev, closed_by_client), 1, "the session must be closed by hiktalk");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_while_streaming_still_closes_the_session() {
    let make: MakeFeed<'static> = Box::new(|_| panic!("building the feed broke (a test panic)"));
    let (report, sim) = talk(make).await;
    assert!(matches!(report.ending, Ending::Internal { .. }), "{report:?}");
    assert_eq!(count(&sim.events(), closed_by_client), 1, "{:?}", sim.events());
}
