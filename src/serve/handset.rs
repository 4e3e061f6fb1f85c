//! The handset: a call to one camera over a WebSocket (`GET /api/cameras/{camera}/call`), as the
//! page at `/` makes it. What the browser's microphone sends is a live source like `speak`'s
//! microphone, through the same feed, clock and session (`job::live_clock`, `fleet::Talk`);
//! what the device's microphone sends comes back on the same socket. The call is a session of
//! the registry, in the camera's queue: one per camera, shown on `/api/events`, closed (and
//! confirmed) when the socket closes, goes quiet for [`QUIET`], or the page hangs up. Nothing
//! reconnects it.
//!
//! Messages. Binary, both ways: an 8-byte little-endian f64 stamp (milliseconds since the Unix
//! epoch: when the browser captured the first sample; when the service handed the piece on),
//! then mono S16LE PCM at the page's `rate`, at most [`MAX_MESSAGE`] bytes. Text from the page:
//! `{"type":"hangup"}`. Text to the page: `{"type":"ended","outcome":{...}}` (the session's
//! outcome, `--json`'s shape), then the close.
//!
//! A browser cannot set `Authorization` on a WebSocket: the token goes as a subprotocol,
//! `hiktalk.bearer.HEX` (the token's bytes in hex, so any token fits a protocol name), beside
//! `hiktalk`, the one the service answers with; it is compared in constant time as the header.

use super::App;
use super::native::{answer, refusal, usage};
use super::registry::{Refused, Session};
use crate::audio::resample::Resampler;
use crate::feed::{Chunk, Pace, Source, SourceItem};
use crate::isapi::intercom::CallCmd;
use crate::job::connect::connect_target;
use crate::job::{self, Context, Events, SimAs, door, fleet};
use crate::listen::Heard;
use crate::outcome::{Ending, Outcome};
use crate::session::{Progress, TalkOptions};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// The subprotocol the service speaks (and answers with).
pub const PROTOCOL: &str = "hiktalk";
/// The subprotocol that carries the token.
const TOKEN_PROTOCOL: &str = "hiktalk.bearer.";
/// A socket that sends nothing (no audio, no message) for this long is gone: the call ends.
/// The page sends audio all the time, silence when it does not talk.
pub const QUIET: Duration = Duration::from_secs(3);
/// The largest message either way: 100 ms at 48 kHz and its stamp, with room to spare.
pub const MAX_MESSAGE: usize = 16 * 1024;
/// The rates a page may send and hear.
const RATES: [u32; 7] = [8000, 16000, 22050, 24000, 32000, 44100, 48000];
/// Pieces of the page's audio queued for the clock before the newest are dropped (as the
/// microphone's capture thread does).
const QUEUE: usize = 64;
const STAMP: usize = 8;

/// The token a WebSocket request carries in its subprotocols, as bytes.
pub fn subprotocol_token(headers: &HeaderMap) -> Option<Vec<u8>> {
    let offered = headers.get_all(axum::http::header::SEC_WEBSOCKET_PROTOCOL);
    let hex =
        offered.iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).find_map(|p| p.trim().strip_prefix(TOKEN_PROTOCOL))?;
    unhex(hex)
}

fn unhex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || hex.len() > 1024 {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

#[derive(Deserialize)]
pub struct CallQuery {
    /// The page's sample rate, both ways.
    rate: Option<u32>,
    /// Answer the ringing doorbell first, and hang the call up at the end.
    #[serde(default)]
    answer: bool,
}

/// `GET /api/cameras/{camera}/call[?rate=48000][&answer=true]`: the WebSocket of a call. 409
/// when the camera is in a call or plays an announcement.
pub async fn call(State(app): State<Arc<App>>, Path(camera): Path<String>, Query(q): Query<CallQuery>, ws: WebSocketUpgrade) -> Response {
    if !app.cameras.iter().any(|c| c == &camera) && app.groups.iter().any(|g| g == &camera) {
        return refusal(&camera, usage(format!("{camera} is a group: a call goes to one camera")));
    }
    let target = match app.targets(&camera) {
        Ok(mut t) => t.remove(0),
        Err(r) => return r,
    };
    let rate = q.rate.unwrap_or(48_000);
    if !RATES.contains(&rate) {
        return refusal(&camera, usage(format!("rate={rate} is not one of {RATES:?}")));
    }
    let (tx, rx) = mpsc::channel(QUEUE);
    let (inlet, heard) = crate::listen::tap();
    let source = Source { rx, rate, pace: Pace::Live, duration: None, playout: None };
    let (login, talk_args, answering) = (app.registry.login.clone(), app.talk.clone(), q.answer);
    let job = move |ctx: Context, events: Events, progress: Arc<Progress>| async move {
        let c = connect_target(target, &login, None, &ctx, SimAs::Camera).await?;
        let (control, name) = (c.device.share(), c.name.clone());
        if answering && let Err(ending) = door::signal(&control, CallCmd::Answer).await {
            return Ok(Outcome::new(Some(name), ending));
        }
        let clock = job::live_clock(source, &talk_args, 1);
        let talk = fleet::Talk {
            clock: &clock,
            listen: Some(&inlet),
            verb: "talked",
            ending: Ending::UserStop { signal: "hangup".into() },
            stop_is_normal: true,
            stall: Duration::from_secs_f64(talk_args.session.stall_timeout),
            stop_ring: talk_args.stop_ring,
            events,
        };
        let opts = TalkOptions { reconnect: true, ..job::talk_options(&talk_args, c.channel.clone(), c.codec, progress) };
        // The talk has a stop of its own, asked once: the session's (a hang-up, the socket
        // gone), or an answered call's doorbell leaving the call (the visitor went, the indoor
        // station took it). Either way the talk is closed as any stop closes it.
        let talk_ctx = Context { config: ctx.config.clone(), out: ctx.out, stop: ctx.stop.child() };
        let talking = talk.run(c, opts, &talk_ctx);
        tokio::pin!(talking);
        let (mut far_side, mut stopped) = (None, false);
        let outcome = loop {
            tokio::select! {
                o = &mut talking => break o,
                s = ctx.stop.wait(), if !stopped => {
                    stopped = true;
                    talk_ctx.stop.trigger(s);
                }
                s = left_the_call(&control), if answering && !stopped => {
                    (far_side, stopped) = (Some(s), true);
                    talk_ctx.stop.trigger(FAR_SIDE);
                }
            }
        };
        if !answering {
            return Ok(outcome);
        }
        // The talk is closed; the call it answered is ended too, confirmed idle.
        let hung_up = door::hang_up(&control).await;
        let call = serde_json::json!({
            "answered": true,
            "ended_by": if far_side.is_some() { "device" } else { "hiktalk" },
            "hung_up": matches!(hung_up, Ok((true, _))),
            "call_state": hung_up.as_ref().ok().map(|(_, s)| s.to_string()),
            "hang_up_error": hung_up.as_ref().err(),
        });
        Ok(outcome.with_figures(&serde_json::json!({ "call": call })))
    };
    let session = match app.registry.call(&camera, job) {
        Ok(s) => s,
        Err(Refused::ShuttingDown) => {
            return answer(
                503,
                serde_json::json!({ "reason": "shutting_down", "message": "hiktalk serve is closing its sessions to exit" }),
            );
        }
        Err(_) => {
            let detail = format!("{camera} is in a call or plays an announcement; hang up or stop it first");
            return refusal(&camera, Ending::Busy { detail });
        }
    };
    // If the upgrade never completes, the guard in the dropped callback ends the session.
    let guard = Hangs(session);
    let close_within = app.close_within;
    ws.protocols([PROTOCOL])
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| run(socket, guard, tx, heard, rate, close_within))
}

/// How often an answered call's state is read, and what its stop is called when the doorbell
/// left it.
const CALL_POLL: Duration = Duration::from_secs(1);
const FAR_SIDE: &str = "the far side hanging up";

/// Resolves with the doorbell's state once it is no longer on a call.
async fn left_the_call(control: &crate::isapi::Device) -> crate::isapi::intercom::CallState {
    let mut tick = tokio::time::interval(CALL_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Ok(state) = control.call_state().await
            && state != crate::isapi::intercom::CallState::OnCall
        {
            return state;
        }
    }
}

/// Ends its session when dropped, whatever way the socket's task ends.
struct Hangs(Arc<Session>);

impl Drop for Hangs {
    fn drop(&mut self) {
        self.0.stop_for("the handset going away");
    }
}

/// The socket's life: the page's audio to the feed, the device's back, until one side ends.
async fn run(
    socket: WebSocket,
    call: Hangs,
    tx: mpsc::Sender<SourceItem>,
    mut heard: mpsc::Receiver<Heard>,
    rate: u32,
    close_within: Duration,
) {
    let session = call.0.clone();
    let (mut to_page, mut from_page) = socket.split();
    let mut back: Option<(u32, Resampler)> = None;
    let (mut pcm, mut out) = (Vec::new(), Vec::new());
    let ended = session.ended();
    tokio::pin!(ended);
    let mut quiet_at = tokio::time::Instant::now() + QUIET;
    let (why, close): (&'static str, Option<u16>) = loop {
        tokio::select! {
            _ = tokio::time::sleep_until(quiet_at) => break ("the handset going quiet", Some(1001)),
            m = from_page.next() => {
                quiet_at = tokio::time::Instant::now() + QUIET;
                match m {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break ("the handset closing", None),
                    Some(Ok(Message::Binary(b))) => {
                        let Some(samples) = samples(&b) else { break ("a malformed handset frame", Some(1003)) };
                        // A full queue: the clock stalled; the newest audio goes, as the microphone's.
                        let _ = tx.try_send(SourceItem::Chunk(Chunk { samples, captured: Some(Instant::now()) }));
                    }
                    Some(Ok(Message::Text(t))) if t.contains("\"hangup\"") => break ("hangup", Some(1000)),
                    Some(Ok(_)) => {}
                }
            }
            Some(h) = heard.recv() => {
                let r = match &mut back {
                    Some((from, r)) if *from == h.rate => r,
                    slot => match Resampler::live(h.rate, rate) {
                        Ok(r) => &mut slot.insert((h.rate, r)).1,
                        Err(_) => continue,
                    },
                };
                pcm.clear();
                pcm.extend(h.pcm.iter().map(|&s| f32::from(s) / 32768.0));
                out.clear();
                if r.process(&pcm, &mut out).is_err() || out.is_empty() {
                    continue;
                }
                if to_page.send(Message::Binary(frame(&out).into())).await.is_err() {
                    break ("the handset closing", None);
                }
            }
            _ = &mut ended => break ("the device ending the call", Some(1000)),
        }
    };
    session.stop_for(why);
    drop(tx);
    let Some(code) = close else { return };
    // The page hears how the call ended once the device confirmed the close (or did not).
    if let Ok(o) = tokio::time::timeout(close_within, session.ended()).await {
        let text = serde_json::json!({ "type": "ended", "outcome": o.to_json() }).to_string();
        let _ = to_page.send(Message::Text(text.into())).await;
    }
    let _ = to_page.send(Message::Close(Some(CloseFrame { code, reason: why.into() }))).await;
}

/// The PCM of a page's message, or `None` if it is not stamp + whole S16LE samples.
fn samples(b: &[u8]) -> Option<Vec<f32>> {
    let pcm = b.get(STAMP..).filter(|p| !p.is_empty() && p.len() % 2 == 0)?;
    Some(pcm.chunks_exact(2).map(|s| f32::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0).collect())
}

/// A message to the page: now, and the PCM.
fn frame(pcm: &[f32]) -> Vec<u8> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0);
    let mut b = Vec::with_capacity(STAMP + pcm.len() * 2);
    b.extend_from_slice(&now.to_le_bytes());
    for s in pcm {
        b.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes());
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_rides_in_a_subprotocol_as_hex() {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::SEC_WEBSOCKET_PROTOCOL, "hiktalk, hiktalk.bearer.6869".parse().unwrap());
        assert_eq!(subprotocol_token(&h), Some(b"hi".to_vec()));
        for bad in ["hiktalk.bearer.686", "hiktalk.bearer.zz", "hiktalk"] {
            h.insert(axum::http::header::SEC_WEBSOCKET_PROTOCOL, bad.parse().unwrap());
            assert_eq!(subprotocol_token(&h), None, "{bad}");
        }
    }

    #[test]
    fn a_page_frame_is_a_stamp_and_whole_samples() {
        assert_eq!(samples(&[0; 8]), None);
        assert_eq!(samples(&[0; 9]), None);
        assert_eq!(samples(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40]), Some(vec![0.5]));
    }
}
