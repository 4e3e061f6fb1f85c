//! One device's session from open to confirmed close, and the reconnect loop around it: open
//! once, stream from the clock on one upload and/or listen to the device's microphone on the
//! same session, close explicitly on every way out, and reconnect only after a fault the user did
//! not ask for, as `retry::Policy` allows.

use super::clock::Clock;
use super::hear::{Heard, hear};
use super::negotiate::{Negotiation, restore, switch_to_aac, wants_aac};
use super::retry::Policy;
use super::stream::{Streamed, stream};
use super::{Report, Stop, TalkOptions, unless_stopped};
use crate::isapi::Download;
use crate::isapi::xml::Channel;
use crate::isapi::{Device, IsapiError, Upload};
use crate::listen::Inlet;
use crate::outcome::Ending;
use std::time::Duration;
use tokio::time::{Instant, timeout};

/// The pause between closing another client's session and opening ours (the known workaround).
const TAKE_OVER_PAUSE: Duration = Duration::from_millis(500);

/// A session the device holds (or may hold) for us, which must be closed.
struct Held {
    /// The device's sessionId, when it gave one (a lost answer is closed without one).
    session_id: Option<String>,
    /// The open's answer never came: the device may still be opening the session.
    lost: bool,
}

/// How an open turned out.
enum Opened {
    /// The device granted a session.
    Granted(Option<String>),
    /// The device refused: nothing to close.
    Refused(IsapiError),
    /// The answer was lost or unreadable: a session may exist, and is closed without an id.
    Unknown(IsapiError),
}

/// What a session carries: talk from a clock, the device's microphone into an inlet, or both
/// (a call).
#[derive(Clone, Copy)]
pub struct Media<'a> {
    pub talk: Option<&'a Clock>,
    pub listen: Option<&'a Inlet>,
}

impl<'a> Media<'a> {
    /// Talk only (`play`).
    pub fn talk(clock: &'a Clock) -> Media<'a> {
        Media { talk: Some(clock), listen: None }
    }
}

/// Runs sessions on `neg`'s channel until the source ends, the user stops, or the device ends
/// it for good: opens, talks and/or listens, closes, and reconnects after unasked faults while
/// allowed.
pub async fn talk(device: &Device, neg: &mut Negotiation, opts: &TalkOptions, media: Media<'_>, stop: &Stop, report: &mut Report) {
    report.channel = Some(neg.channel.id.clone());
    let mut policy = Policy::new(opts.retries, opts.backoff_base);
    let mut announced = false;
    loop {
        // Following the voice: no session until someone speaks.
        if let Some(voice) = &opts.voice
            && let Err(stopped) = unless_stopped(stop, voice.spoken()).await
        {
            report.end(stopped);
            break;
        }
        let (mut done, mut heard) = (Streamed::default(), Heard::default());
        // From the open's request to the confirmed close, an exit could leave a session behind.
        let left = stop.hold(format!(
            "{name}: a talk session on channel {id} may stay open until the device expires it: `hiktalk close {name} --channel {id}` clears it",
            name = report.device,
            id = neg.channel.id
        ));
        // Boxed, as the phases below: only the phase running holds memory (see `job::fleet`).
        let (ending, held) = Box::pin(attempt(device, neg, opts, media, stop, report, &mut announced, (&mut done, &mut heard))).await;
        report.add(&done);
        report.add_heard(&heard);
        if let Some(held) = held {
            // A device slow to answer an open still opens the session after the client gave
            // up, and a close sent before that is a no-op: the blind close waits one more
            // `--timeout` for the device to finish what it was asked (after a stop, the open
            // has had that time already, in `open_or_stop`).
            if held.lost && stop.requested().is_none() {
                tokio::time::sleep(device.timeouts.request).await;
            }
            close(device, &neg.channel.id, held.session_id.as_deref(), report).await;
        }
        drop(left);
        let ending = match ending {
            hangup @ Ending::DeviceHangup { .. } => {
                report.device_hangups += 1;
                explain_hangup(device, hangup).await
            }
            quiet @ Ending::Quiet { .. } => {
                // Closed on purpose: no fault, no retry used; wait for the next words.
                (opts.announce)(&format!("channel {}: {}", neg.channel.id, quiet.describe()));
                continue;
            }
            other => other,
        };
        report.end(ending);
        let delay = policy.after(&report.ending, opts.reconnect, stop.requested().is_some(), done.audio.max(heard.audio));
        let Some(delay) = delay else { break };
        (opts.announce)(&format!(
            "{}; reconnecting in {:.1} s (attempt {} of {})",
            report.message,
            delay.as_secs_f64(),
            policy.used(),
            opts.retries
        ));
        if let Err(stopped) = unless_stopped(stop, tokio::time::sleep(delay)).await {
            report.end(stopped);
            break;
        }
        // Counted once made: a stop during the backoff reopens nothing.
        report.retries += 1;
        *report.retry_reasons.entry(report.ending.reason()).or_default() += 1;
    }
    report.codec = Some(neg.params);
    if media.listen.is_some() {
        report.heard_codec = Some(neg.inbound);
    }
    restore(device, neg, opts, report).await;
    neg.changed = None;
}

/// One session: open, upload, stream. Returns how it ended and what must be closed.
#[allow(clippy::too_many_arguments)]
async fn attempt(
    device: &Device,
    neg: &mut Negotiation,
    opts: &TalkOptions,
    media: Media<'_>,
    stop: &Stop,
    report: &mut Report,
    announced: &mut bool,
    figures: (&mut Streamed, &mut Heard),
) -> (Ending, Option<Held>) {
    let id = neg.channel.id.clone();
    if let Some(s) = stop.requested() {
        return (Ending::UserStop { signal: s.to_string() }, None);
    }
    // The encoder is built here, once per stream: a codec hiktalk cannot encode is found
    // before a session is opened.
    if let Some(clock) = media.talk
        && let Err(e) = clock.prepare(neg.params).await
    {
        return (e, None);
    }
    if opts.take_over {
        // A device does not say whose session it holds, only whether one is open: said as such.
        let open = match unless_stopped(stop, device.channel(&id)).await {
            Ok(r) => r.ok().and_then(|c| c.enabled),
            Err(e) => return (e, None),
        };
        let closed = match unless_stopped(stop, device.close(&id, None)).await {
            Ok(r) => r,
            Err(e) => return (e, None),
        };
        (opts.announce)(&match (open, closed) {
            (Some(false), _) => format!("--take-over: channel {id} had no session open; nothing to close"),
            (_, Ok(st)) if st.is_ok() => {
                format!(
                    "--take-over: closed the session another client (the device does not say which) had open on channel {id}; the device confirmed"
                )
            }
            (_, Ok(st)) => format!("--take-over: the device answered the close of channel {id}'s session with {}", st.summary()),
            (_, Err(e)) => format!("--take-over: closing channel {id}'s session failed: {e}"),
        });
        if let Err(e) = unless_stopped(stop, tokio::time::sleep(TAKE_OVER_PAUSE)).await {
            return (e, None);
        }
    }
    let (mut opened, mut stopped) = open_or_stop(device, &neg.channel, stop).await;
    if let (Opened::Refused(e), None) = (&opened, &stopped)
        && !*announced
        && wants_aac(device, neg, opts, e).await
    {
        // The words come from the quirks table, as `check` reports the same firmware.
        let quirk = crate::quirks::get(crate::quirks::QuirkId::AacOnly);
        (opts.announce)(&format!(
            "channel {id} refused to open a {} session (HTTP 403): this firmware {}; switching it to AAC{}; to avoid the switch, {}",
            neg.params.codec,
            quirk.symptom,
            if opts.keep_codec { "" } else { " (restored afterwards)" },
            quirk.advice
        ));
        if let Err(e) = switch_to_aac(device, neg, opts, stop).await {
            return (e, None);
        }
        if let Some(clock) = media.talk
            && let Err(e) = clock.prepare(neg.params).await
        {
            return (e, None);
        }
        (opened, stopped) = open_or_stop(device, &neg.channel, stop).await;
    }
    let session_id = match opened {
        Opened::Granted(session_id) => {
            report.sessions_opened += 1;
            session_id
        }
        Opened::Unknown(e) => {
            return (
                stopped.unwrap_or_else(|| Ending::from_isapi(&e)),
                Some(Held { session_id: None, lost: matches!(e, IsapiError::Timeout { .. }) }),
            );
        }
        Opened::Refused(e) => {
            let ending = match stopped {
                Some(stopped) => stopped,
                None => open_refusal(device, &id, &e).await,
            };
            return (ending, None);
        }
    };
    let held = Some(Held { session_id: session_id.clone(), lost: false });
    if let Some(stopped) = stopped {
        return (stopped, held);
    }
    if !*announced {
        *announced = true;
        (opts.on_open)(&neg.channel.id, neg.params);
    }
    // Whatever happens once a session is open, it gets closed: a panic while streaming becomes
    // an internal error here, and the caller closes the session as after any other ending.
    let ending = unless_panic(Box::pin(stream_on(device, neg, opts, media, session_id.as_deref(), stop, figures))).await;
    (ending, held)
}

/// `f`'s ending, or an internal error if it panics.
async fn unless_panic(f: impl Future<Output = Ending>) -> Ending {
    futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(f))
        .await
        .unwrap_or_else(|_| Ending::Internal { detail: crate::outcome::take_panic().unwrap_or_else(|| "a panic while streaming".into()) })
}

/// The open session's streams: the upload with the frames the clock delivers, the device's
/// microphone into the listener, or both at once. In a call, a device that gives no microphone
/// stream (or ends it) is said once and the talk goes on.
async fn stream_on(
    device: &Device,
    neg: &Negotiation,
    opts: &TalkOptions,
    media: Media<'_>,
    session_id: Option<&str>,
    stop: &Stop,
    (done, heard): (&mut Streamed, &mut Heard),
) -> Ending {
    let id = &neg.channel.id;
    let mut upload = match media.talk {
        None => None,
        Some(_) => match unless_stopped(stop, Box::pin(Upload::start(device, id, session_id, neg.params.bytes_per_second()))).await {
            Err(stopped) => return stopped,
            Ok(Err(e)) => return Ending::from_isapi(&e),
            Ok(Ok(u)) => Some(u),
        },
    };
    let mut download = match media.listen {
        None => None,
        Some(_) => match unless_stopped(stop, Box::pin(Download::start(device, id, session_id))).await {
            Err(stopped) => return stopped,
            Ok(Ok(d)) => Some(d),
            Ok(Err(e)) if media.talk.is_some() => {
                (opts.announce)(&format!("channel {id} gives no microphone stream ({e}); talking only"));
                None
            }
            Ok(Err(e)) => return Ending::from_isapi(&e),
        },
    };
    // Attached only now: frames are not queued for an upload that is still being set up.
    let mut outlet = match media.talk {
        None => None,
        Some(clock) => match clock.attach(neg.params).await {
            Ok(o) => Some(o),
            Err(e) => return e,
        },
    };
    let talks = upload.is_some();
    let ending = {
        let talking = async {
            match (upload.as_mut(), outlet.as_mut()) {
                (Some(u), Some(o)) => stream(u, o, stop, opts.progress.as_deref(), done).await,
                _ => std::future::pending().await,
            }
        };
        let listening = async {
            match (download.as_mut(), media.listen) {
                (Some(d), Some(inlet)) => Box::pin(hear(d, neg.inbound, inlet, stop, opts.until, &opts.announce, heard)).await,
                _ => std::future::pending().await,
            }
        };
        let quiet = async {
            match &opts.voice {
                Some(voice) => {
                    voice.quiet().await;
                    Ending::Quiet { hold_secs: voice.hold.as_secs_f64() }
                }
                None => std::future::pending().await,
            }
        };
        tokio::pin!(talking, listening);
        tokio::select! {
            e = quiet => e,
            e = &mut talking => e,
            e = &mut listening => match e {
                // The microphone stream ended while talking goes on: say so, keep talking.
                Ending::DeviceHangup { .. } | Ending::Stalled { .. } | Ending::ConnectionReset { .. } if talks => {
                    (opts.announce)(&format!("the device's microphone stream ended ({}); talking only", e.describe()));
                    talking.await
                }
                e => e,
            },
        }
    };
    if let Some(o) = outlet {
        done.dropped += o.dropped();
    }
    if let Some(u) = upload {
        u.finish().await;
    }
    ending
}

/// Opens the channel unless the user stops first; the stop, if one came, is returned beside
/// how the open turned out. A stop while the open is in flight does not abandon it: a device
/// that is slow to answer still opens the session after the client has gone, and a close sent
/// before that is a no-op, so the session would leak until it expires (a minute or more,
/// blocking the channel). Instead the open gets up to `--timeout` to answer, so that its
/// session is closed by id; with no answer by then it is closed blind, as a lost answer is.
async fn open_or_stop(device: &Device, channel: &Channel, stop: &Stop) -> (Opened, Option<Ending>) {
    let open = device.open(&channel.id);
    tokio::pin!(open);
    let signal = tokio::select! {
        biased;
        s = stop.wait() => s,
        r = &mut open => return (opened(r, channel), None),
    };
    let stopped = Ending::UserStop { signal: signal.to_string() };
    let deadline = device.timeouts.request;
    let answer = timeout(deadline, open).await.unwrap_or_else(|_| Err(IsapiError::Timeout { step: "PUT open".into(), after: deadline }));
    (opened(answer, channel), Some(stopped))
}

/// What an open's answer means for the session. A clear refusal (a status, an auth answer)
/// opened nothing; an unreadable 2xx answer did; a lost answer may have, and counts as open
/// only when the channel was idle, so that another client's session is never closed by mistake.
fn opened(answer: Result<Option<String>, IsapiError>, channel: &Channel) -> Opened {
    match answer {
        Ok(session_id) => Opened::Granted(session_id),
        Err(e) => {
            let maybe = match &e {
                IsapiError::Xml { .. } => true,
                IsapiError::NotIsapi { http, .. } => (200..300).contains(http),
                IsapiError::Timeout { .. } | IsapiError::Network { .. } => channel.enabled != Some(true),
                _ => false,
            };
            if maybe { Opened::Unknown(e) } else { Opened::Refused(e) }
        }
    }
}

/// What a refused open means, from what the device's answer shows: one cause, not a list.
async fn open_refusal(device: &Device, id: &str, e: &IsapiError) -> Ending {
    let status =
        |status: &Option<Box<crate::isapi::xml::ResponseStatus>>| status.as_ref().map(|s| format!(": {}", s.summary())).unwrap_or_default();
    match e {
        // The credentials worked for the channel list a moment ago, so this 401 is the
        // firmware's way of saying the channel is taken.
        IsapiError::AuthRejected { .. } => Ending::Busy {
            detail: format!(
                "channel {id} is in use: the device refused the open with 401 although it accepted the password a moment ago, as this firmware does while another session is open"
            ),
        },
        _ if e.is_busy() => Ending::Busy { detail: format!("channel {id} is in use: {e}") },
        // A bare 403: the channel's own state tells a session from another refusal.
        IsapiError::Status { http: 403, status: st, .. } => match device.channel(id).await.map(|c| c.enabled) {
            Ok(Some(false)) => Ending::Refused {
                detail: format!(
                    "the device refused to open channel {id} (HTTP 403{}) although no session is open on it; check that the user may use two-way audio, and the codec (`hiktalk status` lists the channel's; --set-codec switches it)",
                    status(st)
                ),
            },
            Ok(Some(true)) => Ending::Busy {
                detail: format!(
                    "channel {id} is in use: the device refused the open (HTTP 403{}) and its channel shows a session open",
                    status(st)
                ),
            },
            _ => Ending::Busy {
                detail: format!(
                    "channel {id} is probably in use: the device refused the open (HTTP 403{}) and does not say whether a session is open",
                    status(st)
                ),
            },
        },
        _ => Ending::from_isapi(e),
    }
}

/// A doorbell hangs up talk when a visitor rings; ask it, so the user hears why.
async fn explain_hangup(device: &Device, ending: Ending) -> Ending {
    match ending {
        Ending::DeviceHangup { status, idle, call: None } => {
            let call = timeout(Duration::from_secs(2), device.call_status()).await.ok().and_then(Result::ok).flatten();
            let call = call.filter(|c| c != "idle");
            Ending::DeviceHangup { status, idle, call }
        }
        other => other,
    }
}

/// Closes the session and records the device's confirmation, within `--timeout`: an unclosed
/// session blocks the channel for a minute or more, so a close that fails, or gets no answer in
/// three quarters of the time, is sent once more (on a new connection) in the rest.
async fn close(device: &Device, id: &str, session: Option<&str>, report: &mut Report) {
    let limit = device.timeouts.request;
    let deadline = Instant::now() + limit;
    let mut last = String::new();
    for attempt in 0..2 {
        let until = if attempt == 0 { Instant::now() + limit * 3 / 4 } else { deadline };
        match tokio::time::timeout_at(until, device.close(id, session)).await {
            Ok(Ok(status)) if status.is_ok() => {
                report.closes_confirmed += 1;
                report.close_error = None;
                return;
            }
            Ok(Ok(status)) => {
                report.close_error = Some(format!("the device answered the close with {}", status.summary()));
                return;
            }
            Ok(Err(e)) if e.is_transient() => last = format!("closing the session failed: {e}"),
            Ok(Err(e)) => {
                report.close_error = Some(format!("closing the session failed: {e}"));
                return;
            }
            Err(_) => last = format!("the device did not confirm the close within {} s (--timeout)", limit.as_secs_f32()),
        }
        if attempt == 0 {
            tokio::time::sleep(Duration::from_millis(200).min(deadline.saturating_duration_since(Instant::now()))).await;
        }
    }
    report.close_error = Some(last);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_while_streaming_is_an_internal_error_not_an_unwind() {
        let ending = unless_panic(async { panic!("a test panic") }).await;
        assert!(matches!(ending, Ending::Internal { .. }), "{ending:?}");
        assert!(matches!(unless_panic(async { Ending::EndOfInput }).await, Ending::EndOfInput));
    }

    #[test]
    fn a_lost_open_answer_counts_as_open_only_on_an_idle_channel() {
        let idle = Channel { id: "1".into(), enabled: Some(false), ..Default::default() };
        let busy = Channel { enabled: Some(true), ..idle.clone() };
        let lost = || IsapiError::Timeout { step: "PUT open".into(), after: Duration::from_secs(1) };
        assert!(matches!(opened(Err(lost()), &idle), Opened::Unknown(_)));
        assert!(matches!(opened(Err(lost()), &busy), Opened::Refused(_)));
        let refused = IsapiError::Status { method: "PUT".into(), path: "/open".into(), http: 403, status: None };
        assert!(matches!(opened(Err(refused), &idle), Opened::Refused(_)));
        assert!(matches!(opened(Ok(Some("s".into())), &idle), Opened::Granted(Some(_))));
    }
}
