//! The checks, in order: the login (one attempt: every later request only runs if it worked),
//! the device's description, its talk channels, one talk session through `session` (its
//! negotiation, its switch to AAC where the firmware wants it, its confirmed close), a second
//! session opened here (the channel is free again; the microphone; whether audioData wants the
//! sessionId; a fixed-length upload), `--idle`, the doorbell's parts, and the event stream
//! (read meanwhile). Every session opened is closed and the channel's codec restored.

use super::doorbell;
use super::{Check, Options, Report};
use crate::codec::{self, CodecParams};
use crate::feed::{Chunk, Feed, Pace, Source, SourceItem};
use crate::isapi::tls::Trust;
use crate::isapi::xml::DeviceInfo;
use crate::isapi::{Device, Download, Framing, IsapiError, Upload};
use crate::outcome::Ending;
use crate::quirks::{self, QuirkId};
use crate::session::{self, Clock, Media, Negotiation, Stop, TalkOptions};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{Instant, timeout};

/// The quiet tone's level and pitch: audible if someone stands by, not startling.
const TONE_HZ: f32 = 440.0;
const TONE_LEVEL: f32 = 0.02;
const TONE_RATE: u32 = 8000;
/// How far the microphone's byte rate may be from the codec's before it is a warning.
const RATE_TOLERANCE: f64 = 0.25;
/// Seconds of audio a fixed-length upload announces (an hour, as other clients send).
const FIXED_LENGTH_SECS: u64 = 3600;
/// What each tried upload style carries.
const SILENCE_TRY: Duration = Duration::from_millis(500);
/// How long a tried upload waits for the device to end it before the next one starts.
const UPLOAD_END_WAIT: Duration = Duration::from_secs(1);

/// Runs every check on `device` (named `name` in the report).
pub async fn run(device: &Device, name: &str, opts: &Options, stop: &Stop) -> Report {
    let mut report = Report::new(name);
    let Some(info) = login(device, &mut report).await else { return report };
    if let Some(i) = &info {
        report.model = i.model.clone();
        report.firmware = i.firmware_version.clone();
        report.firmware_build = i.firmware_released_date.clone();
        report.device_type = i.device_type.clone();
        for q in quirks::known(i.model.as_deref().unwrap_or(""), i.firmware_version.as_deref().unwrap_or("")) {
            report.quirk(q.id);
        }
    }
    // The event stream is read while the sessions run: its heartbeat takes its own time. A
    // stop ends the wait (the sessions see the stop themselves, and close what they opened).
    let events = async {
        tokio::select! {
            c = doorbell::events(device, opts) => c,
            s = stop.wait() => Check::skipped("events", format!("stopped by {s}")),
        }
    };
    let rest = async {
        let mut checks = Vec::new();
        let mut found = Vec::new();
        sessions(device, name, opts, stop, &mut checks, &mut found, &mut report.sessions_opened, &mut report.sessions_closed).await;
        checks.extend(doorbell::call_and_doors(device, info.as_ref(), &mut found).await);
        (checks, found)
    };
    let (events, (checks, found)) = tokio::join!(events, rest);
    for c in checks {
        report.push(c);
    }
    report.push(events);
    for id in found {
        report.quirk(id);
    }
    report.push(quirks_check(&report.quirks));
    let left = left_behind(&report, name);
    report.push(left);
    report
}

/// The first request, alone: reachable, TLS, the schemes offered, the login, deviceInfo.
/// `None`: nothing more may be asked (unreachable, or the login failed: a second request with
/// the same password would count against the account). `Some(None)`: logged in, but the
/// device's description is not readable.
async fn login(device: &Device, report: &mut Report) -> Option<Option<DeviceInfo>> {
    let first = device.device_info().await;
    let addr = device.endpoint.authority();
    let unreachable = |e: &IsapiError| matches!(e, IsapiError::Connect { .. } | IsapiError::Timeout { .. } | IsapiError::Network { .. });
    match &first {
        Err(e) if unreachable(e) => {
            report.push(Check::fail("reachable", e.to_string(), "check the address and port, and that the device is on"));
            skip_rest(report, "the device did not answer");
            return None;
        }
        _ => report.push(Check::pass("reachable", format!("{addr} answers"))),
    }
    report.push(tls(device, first.as_ref().err()));
    if matches!(first, Err(IsapiError::Tls { .. })) {
        skip_rest(report, "no TLS connection");
        return None;
    }
    let schemes = device.auth_schemes();
    let auth = if schemes.iter().any(|s| s.eq_ignore_ascii_case("Digest")) {
        Check::pass("auth", format!("offers {}", schemes.join(", ")))
    } else if schemes.is_empty() && first.is_ok() {
        Check::warn("auth", "asked for no login at all", "set a password on the device: anyone on the network can talk through it")
    } else {
        Check::fail(
            "auth",
            format!("offers {} but not Digest", list(&schemes)),
            "hiktalk logs in with Digest only; enable Digest in the device's security settings",
        )
    };
    report.push(auth.with(json!({ "schemes": schemes })));
    let user = &device.creds.user;
    match first {
        Err(e) if e.is_auth() => {
            report.push(Check::fail(
                "login",
                format!("{e} (one attempt made)"),
                "check the user and password; hiktalk never tries a password twice, as devices lock accounts after a few failures",
            ));
            skip_rest(report, "the login failed, and a second attempt could lock the account");
            None
        }
        Err(e) => {
            report.push(Check::pass("login", format!("user {user:?} logged in (one attempt)")));
            report.push(Check::fail(
                "device_info",
                e.to_string(),
                "is this a Hikvision ISAPI device? `hiktalk status -v` shows each request",
            ));
            Some(None)
        }
        Ok(info) => {
            report.push(Check::pass("login", format!("user {user:?} logged in (one attempt)")));
            let token = device.offers_token().await.ok();
            let mut d = Check::pass(
                "device_info",
                format!(
                    "{} firmware {} {} ({})",
                    or(info.model.as_deref()),
                    or(info.firmware_version.as_deref()),
                    info.firmware_released_date.as_deref().unwrap_or(""),
                    info.device_type.as_deref().unwrap_or("type not given")
                ),
            );
            d.figures = json!({ "info": info, "token_auth": token });
            report.push(d);
            Some(Some(info))
        }
    }
}

fn tls(device: &Device, error: Option<&IsapiError>) -> Check {
    if !device.endpoint.https {
        return Check::skipped("tls", "plain HTTP: no TLS (Digest keeps the password off the wire, not the audio)");
    }
    match (error, &device.trust) {
        (Some(e @ IsapiError::Tls { .. }), _) => {
            Check::fail("tls", e.to_string(), "pin the certificate: tls_fingerprint in the config, or --tls-fingerprint")
        }
        (_, Trust::Pinned(fp)) => Check::pass("tls", "the certificate matches its pin").with(json!({ "fingerprint": fp })),
        (_, Trust::Any) => Check::warn("tls", "any certificate is accepted (--insecure)", "pin it instead: tls_fingerprint in the config"),
        (_, Trust::Unpinned) => Check::pass("tls", "the certificate is trusted"),
    }
}

/// Every check after the login, skipped for `why`.
fn skip_rest(report: &mut Report, why: &str) {
    for name in
        ["device_info", "channels", "talk", "close", "codec_switch", "channel_free", "session_id", "upload_styles", "listen", "idle"]
    {
        if report.check(name).is_none() {
            report.push(Check::skipped(name, format!("not tried: {why}")));
        }
    }
}

/// The talk checks: channels, one session through `session`, a second one here, `--idle`, and
/// the codec put back. Sessions opened and closes confirmed are counted into `opened`/`closed`.
#[allow(clippy::too_many_arguments)]
async fn sessions(
    device: &Device,
    name: &str,
    opts: &Options,
    stop: &Stop,
    checks: &mut Vec<Check>,
    found: &mut Vec<QuirkId>,
    opened: &mut u32,
    closed: &mut u32,
) {
    // A doorbell in a call (or ringing) is left alone: a talk session would cut into it.
    if let Ok(Some(state)) = device.call_status().await
        && state != "idle"
    {
        for n in ["channels", "talk", "close", "codec_switch", "channel_free", "session_id", "upload_styles", "listen", "idle"] {
            checks.push(Check::skipped(
                n,
                format!(
                    "not tried: the doorbell's call state is {state}, and a session would cut into the call; check again when it is idle"
                ),
            ));
        }
        return;
    }
    let notes: Arc<Mutex<Vec<String>>> = Arc::default();
    let heard = notes.clone();
    let topts = TalkOptions {
        channel: opts.channel.clone(),
        retries: 0,
        // The channel stays switched (if the firmware needs AAC) until the last session here
        // is closed; it is put back at the end.
        keep_codec: true,
        announce: Arc::new(move |m| heard.lock().unwrap_or_else(|p| p.into_inner()).push(m.to_string())),
        ..TalkOptions::default()
    };
    let mut neg = match session::negotiate(device, name, &topts, stop).await {
        Ok(neg) => neg,
        Err(ending) => {
            checks.push(channels_failed(&ending));
            for n in ["talk", "close", "codec_switch", "channel_free", "session_id", "upload_styles", "listen", "idle"] {
                checks.push(Check::skipped(n, "not tried: no usable talk channel"));
            }
            return;
        }
    };
    checks.push(channels(device, &neg).await);
    let clock = Clock::start(Feed::new(quiet_tone(opts.tone), 0.0), Duration::from_millis(100), Duration::from_millis(60));
    let mut rep = session::Report::new(name, Ending::EndOfInput);
    session::talk(device, &mut neg, &topts, Media::talk(&clock), stop, &mut rep).await;
    *opened += rep.sessions_opened;
    *closed += rep.closes_confirmed;
    let notes = std::mem::take(&mut *notes.lock().unwrap_or_else(|p| p.into_inner()));
    let talked = rep.sessions_opened > 0 && matches!(rep.ending, Ending::EndOfInput);
    let figures = json!({
        "codec": neg.params.codec, "sample_rate": neg.params.sample_rate, "audio_seconds": rep.audio_seconds,
        "bytes_sent": rep.bytes_sent, "sessions_opened": rep.sessions_opened, "notes": notes,
    });
    checks.push(
        if talked {
            Check::pass(
                "talk",
                format!(
                    "opened, {:.1} s of a quiet tone sent ({} at {} Hz, Content-Length 0 upload)",
                    rep.audio_seconds, neg.params.codec, neg.params.sample_rate
                ),
            )
        } else {
            let advice = match rep.ending {
                Ending::Busy { .. } => "another client holds the channel: check again when nobody talks (check never takes a session over)",
                _ => "`hiktalk play -v FILE CAMERA` shows each request and answer",
            };
            Check::fail("talk", rep.ending.describe(), advice)
        }
        .with(figures),
    );
    checks.push(match (rep.sessions_opened, &rep.close_error) {
        (0, _) => Check::skipped("close", "no session was opened"),
        (_, None) => Check::pass("close", "the device confirmed the close"),
        (_, Some(e)) => {
            Check::fail("close", e.clone(), format!("run `hiktalk close {name}`; the session may block the channel until it expires"))
        }
    });
    let second =
        if talked { second_session(device, &neg, opts, found, opened, closed).await } else { no_second("the talk session failed") };
    checks.extend(second);
    checks.push(if !opts.idle {
        Check::skipped("idle", "not measured; --idle measures it (the device then plays its \"call ended\" prompt once)")
    } else if !talked {
        Check::skipped("idle", "not measured: the talk session failed")
    } else {
        idle(device, name, &neg, opts, stop, opened, closed).await
    });
    checks.push(codec_switch(device, &neg, &topts).await);
}

fn channels_failed(ending: &Ending) -> Check {
    let advice = match ending {
        Ending::Codec { .. } => "switch the channel to a codec hiktalk speaks (G.711) in the web UI, or use `hiktalk play --set-codec`",
        Ending::Auth { .. } => "the account may not use two-way audio: give it the permission in the web UI",
        _ => "is two-way audio enabled on the device? `hiktalk status -v` shows each request",
    };
    Check::fail("channels", ending.describe(), advice)
}

async fn channels(device: &Device, neg: &Negotiation) -> Check {
    let ch = &neg.channel;
    let options = device.capabilities(&ch.id).await.map(|c| c.codec_options).unwrap_or_default();
    let listed = device.channels().await.map(|l| l.iter().map(|c| c.id.clone()).collect::<Vec<_>>()).unwrap_or_default();
    Check::pass(
        "channels",
        format!(
            "{} talk channel{}; channel {} uses {}{}",
            listed.len(),
            if listed.len() == 1 { "" } else { "s" },
            ch.id,
            ch.codec,
            if options.is_empty() { String::new() } else { format!(", offers {}", options.join(", ")) }
        ),
    )
    .with(json!({ "channels": listed, "channel": ch.id, "codec": ch.codec, "codec_options": options, "inbound_codec": ch.inbound_codec }))
}

/// The channel's codec as `session` left it: switched (and to be put back here) or never touched.
async fn codec_switch(device: &Device, neg: &Negotiation, topts: &TalkOptions) -> Check {
    let Some(previous) = &neg.restore else {
        return Check::pass("codec_switch", format!("open works with the channel's own codec ({}): no switch needed", neg.channel.codec));
    };
    let put_back = TalkOptions { keep_codec: false, ..topts.clone() };
    let mut rep = session::Report::new("", Ending::Done);
    session::restore(device, neg, &put_back, &mut rep).await;
    let quirk = quirks::get(QuirkId::AacOnly);
    let figures = json!({ "switched_to": neg.channel.codec, "was": previous.codec, "restored": rep.codec_restored.is_some() });
    match rep.codec_restored {
        Some(c) => Check::warn(
            "codec_switch",
            format!("open needs {}: this firmware {}; switched for the check and restored to {c}", neg.channel.codec, quirk.symptom),
            quirk.advice,
        ),
        None => Check::fail(
            "codec_switch",
            format!("the channel was switched to {} and could not be put back to {}", neg.channel.codec, previous.codec),
            format!("put it back in the web UI, or `hiktalk play --set-codec {} --keep-codec FILE CAMERA`", previous.codec),
        ),
    }
    .with(figures)
}

fn no_second(why: &str) -> Vec<Check> {
    ["channel_free", "session_id", "upload_styles", "listen"].into_iter().map(|n| Check::skipped(n, format!("not tried: {why}"))).collect()
}

/// Opens the channel again right after the confirmed close (once more after a second's pause
/// if refused): the channel is free again. On that session: the microphone, audioData without
/// the sessionId, and a fixed-length upload; then it is closed.
async fn second_session(
    device: &Device,
    neg: &Negotiation,
    opts: &Options,
    found: &mut Vec<QuirkId>,
    opened: &mut u32,
    closed: &mut u32,
) -> Vec<Check> {
    let id = &neg.channel.id;
    let (sid, paused) = match device.open(id).await {
        Ok(sid) => (sid, false),
        Err(e) if !refused_as_busy(&e) => {
            let mut checks = vec![Check::fail(
                "channel_free",
                format!("a second open failed: {e}"),
                "`hiktalk play -v FILE CAMERA` shows each request and answer",
            )];
            checks.extend(no_second("the second open failed").into_iter().skip(1));
            return checks;
        }
        Err(_) => {
            tokio::time::sleep(Duration::from_secs(1)).await;
            match device.open(id).await {
                Ok(sid) => (sid, true),
                Err(e) => {
                    found.push(QuirkId::CloseKeepsChannel);
                    let q = quirks::get(QuirkId::CloseKeepsChannel);
                    let mut checks = vec![Check::fail(
                        "channel_free",
                        format!("a second open was refused after a confirmed close ({e}): this firmware {}", q.symptom),
                        q.advice,
                    )];
                    checks.extend(no_second("the channel is not free").into_iter().skip(1));
                    return checks;
                }
            }
        }
    };
    *opened += 1;
    let mut checks = vec![if paused {
        Check::warn(
            "channel_free",
            "a second open worked only after a second's pause",
            "leave a second between sessions (hiktalk never reopens at once)",
        )
    } else {
        Check::pass("channel_free", "a second open works right after the close")
    }];
    checks.push(listen(device, id, sid.as_deref(), neg.inbound, opts.listen).await);
    checks.push(session_id(device, id, sid.as_deref(), neg.params).await);
    checks.push(upload_styles(device, id, sid.as_deref(), neg.params).await);
    match timeout(device.timeouts.request, device.close(id, sid.as_deref())).await {
        Ok(Ok(st)) if st.is_ok() => *closed += 1,
        _ => checks.push(Check::fail("close", "the second session's close was not confirmed", "run `hiktalk close CAMERA`")),
    }
    checks
}

/// An open refused the ways devices refuse a busy channel (401, 403, 503, Device Busy).
fn refused_as_busy(e: &IsapiError) -> bool {
    e.is_busy() || matches!(e, IsapiError::AuthRejected { .. } | IsapiError::Status { http: 401 | 403, .. })
}

/// The microphone for `secs` from its first byte: its byte rate against the codec's.
async fn listen(device: &Device, id: &str, sid: Option<&str>, inbound: CodecParams, secs: Duration) -> Check {
    let mut d = match Download::start(device, id, sid).await {
        Ok(d) => d,
        Err(e) => {
            return Check::fail(
                "listen",
                format!("no microphone stream: {e}"),
                "`hiktalk listen` will not work; check the device's audio input settings",
            );
        }
    };
    let mut buf = Vec::new();
    let started = match timeout(secs + Duration::from_secs(2), d.next(&mut buf)).await {
        Ok(Ok(())) => Instant::now(),
        Ok(Err(e)) => {
            return Check::fail("listen", format!("the microphone stream ended at once: {e:?}"), "check the device's audio input settings");
        }
        Err(_) => return Check::fail("listen", "the microphone stream sent nothing", "check the device's audio input settings"),
    };
    let first = buf.len();
    let until = started + secs;
    while let Ok(Ok(())) = tokio::time::timeout_at(until, d.next(&mut buf)).await {}
    let rate = (buf.len() - first) as f64 / started.elapsed().as_secs_f64().max(0.001);
    let expected = f64::from(inbound.bytes_per_second());
    let figures = json!({ "bytes": buf.len(), "bytes_per_second": rate.round(), "expected_bytes_per_second": expected, "codec": inbound.codec, "content_type": d.content_type });
    let meaning = format!("{:.0} B/s from the microphone, {} needs {expected:.0} B/s", rate, inbound.codec);
    if (rate / expected - 1.0).abs() <= RATE_TOLERANCE {
        Check::pass("listen", meaning)
    } else {
        Check::warn(
            "listen",
            meaning,
            "the microphone's rate does not match its codec: `hiktalk listen` may stutter or lag; check the channel's audio settings",
        )
    }
    .with(figures)
}

/// Whether audioData wants the sessionId that open returned.
async fn session_id(device: &Device, id: &str, sid: Option<&str>, params: CodecParams) -> Check {
    if sid.is_none() {
        return Check::pass("session_id", "open gives no sessionId; audioData is sent without one")
            .with(json!({ "given": false, "required": false }));
    }
    match Upload::start(device, id, None, params.bytes_per_second()).await {
        Err(e) => Check::pass("session_id", format!("audioData needs the sessionId (refused without: {e}); hiktalk sends it"))
            .with(json!({ "given": true, "required": true })),
        Ok(u) => {
            u.finish_seen(UPLOAD_END_WAIT).await;
            Check::pass("session_id", "open gives a sessionId; audioData takes the session without it too")
                .with(json!({ "given": true, "required": false }))
        }
    }
}

/// The upload styles: Content-Length 0 (the talk session used it), a fixed length and chunked,
/// each tried here with a moment of silence (a device that took chunked would play the few
/// bytes of its markers, a click at most).
async fn upload_styles(device: &Device, id: &str, sid: Option<&str>, params: CodecParams) -> Check {
    let bps = params.bytes_per_second();
    let fixed = try_upload(device, id, sid, params, Framing::Length(u64::from(bps) * FIXED_LENGTH_SECS)).await;
    let chunked = try_upload(device, id, sid, params, Framing::Chunked).await;
    let figures = json!({ "content_length_0": true, "fixed_length": fixed.is_ok(), "chunked": chunked.is_ok() });
    let fixed = match fixed {
        Ok(()) => "a fixed Content-Length".to_string(),
        Err(e) => format!("not a fixed Content-Length ({e})"),
    };
    let chunked = match chunked {
        Ok(()) => "chunked too (hiktalk never sends it)".to_string(),
        Err(e) => format!("not chunked, as devices do not ({e})"),
    };
    Check::pass("upload_styles", format!("takes Content-Length 0 (what hiktalk sends), {fixed}; {chunked}")).with(figures)
}

/// One upload in `framing` carrying `SILENCE_TRY` of silence; Ok when the device took it all.
async fn try_upload(device: &Device, id: &str, sid: Option<&str>, params: CodecParams, framing: Framing) -> Result<(), String> {
    let bytes = silence(params, SILENCE_TRY)?;
    let mut u = Upload::start_announcing(device, id, sid, params.bytes_per_second(), framing).await.map_err(|e| e.to_string())?;
    let sent = match framing {
        Framing::Length(_) => u.send(&bytes).await,
        Framing::Chunked => {
            let mut body = format!("{:x}\r\n", bytes.len()).into_bytes();
            body.extend_from_slice(&bytes);
            body.extend_from_slice(b"\r\n0\r\n\r\n");
            u.send(&body).await
        }
    };
    u.finish_seen(UPLOAD_END_WAIT).await;
    sent.map_err(|e| format!("{e:?}"))
}

/// `--idle`: a session with no audio, until the device hangs up (at most `idle_limit`).
async fn idle(device: &Device, name: &str, neg: &Negotiation, opts: &Options, stop: &Stop, opened: &mut u32, closed: &mut u32) -> Check {
    (opts.announce)(&format!(
        "{name}: --idle: measuring how long the device waits without audio before it hangs up; it will play its \"call ended\" prompt once (up to {} s)",
        opts.idle_limit.as_secs()
    ));
    let id = &neg.channel.id;
    let sid = match device.open(id).await {
        Ok(sid) => sid,
        Err(e) => return Check::fail("idle", format!("could not open a session: {e}"), "try again when the channel is free"),
    };
    *opened += 1;
    let started = Instant::now();
    let measured = match Upload::start(device, id, sid.as_deref(), neg.params.bytes_per_second()).await {
        Err(e) => Err(e.to_string()),
        Ok(mut u) => {
            // A stop ends the wait like the limit does; the session is closed either way.
            let ended = tokio::select! {
                e = timeout(opts.idle_limit, u.ended()) => e.ok().map(|_| started.elapsed()),
                _ = stop.wait() => None,
            };
            u.finish().await;
            Ok(ended)
        }
    };
    if let Ok(Ok(st)) = timeout(device.timeouts.request, device.close(id, sid.as_deref())).await
        && st.is_ok()
    {
        *closed += 1;
    }
    match measured {
        Err(e) => Check::fail("idle", format!("the upload was refused: {e}"), "`hiktalk play -v` shows each request"),
        Ok(Some(after)) => Check::pass("idle", format!("the device hangs up after {:.1} s without audio", after.as_secs_f64()))
            .with(json!({ "idle_hangup_secs": (after.as_secs_f64() * 10.0).round() / 10.0 })),
        Ok(None) => Check::warn(
            "idle",
            format!("the device did not hang up within {} s without audio", opts.idle_limit.as_secs()),
            "a client that dies may leave this device's channel busy for long: close sessions with `hiktalk close`",
        )
        .with(json!({ "idle_hangup_secs": null })),
    }
}

fn quirks_check(found: &[QuirkId]) -> Check {
    if found.is_empty() {
        return Check::pass("quirks", "no known quirk for this model and firmware");
    }
    let entries: Vec<_> = found.iter().map(|&id| quirks::get(id)).collect();
    let meaning = entries.iter().map(|q| format!("{}: {}; {}", name_of(q.id), q.symptom, q.behaviour)).collect::<Vec<_>>().join("; ");
    let advice = entries.iter().map(|q| q.advice).collect::<Vec<_>>().join("; ");
    Check::warn("quirks", meaning, advice).with(json!({ "quirks": found }))
}

fn name_of(id: QuirkId) -> String {
    serde_json::to_value(id).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// Every session the checks opened was closed, and the codec put back.
fn left_behind(report: &Report, name: &str) -> Check {
    let codec_left = report.check("codec_switch").is_some_and(|c| c.verdict == super::Verdict::Fail);
    let figures =
        json!({ "sessions_opened": report.sessions_opened, "sessions_closed": report.sessions_closed, "codec_left_switched": codec_left });
    if report.sessions_closed >= report.sessions_opened && !codec_left {
        Check::pass("left_behind", format!("nothing: {} sessions opened, all closed; every setting restored", report.sessions_opened))
    } else if codec_left {
        Check::fail("left_behind", "the channel's codec was left switched", "see codec_switch for how to put it back")
    } else {
        Check::fail(
            "left_behind",
            format!("{} of {} sessions not confirmed closed", report.sessions_opened - report.sessions_closed, report.sessions_opened),
            format!("run `hiktalk close {name}`"),
        )
    }
    .with(figures)
}

/// `secs` of a quiet 440 Hz tone as a file-paced source.
fn quiet_tone(secs: Duration) -> Source {
    let n = (secs.as_secs_f64() * f64::from(TONE_RATE)) as usize;
    let samples = (0..n).map(|i| TONE_LEVEL * (std::f32::consts::TAU * TONE_HZ * i as f32 / TONE_RATE as f32).sin()).collect();
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    // The channel holds both items, so the sends cannot wait.
    let _ = tx.try_send(SourceItem::Chunk(Chunk { samples, captured: None }));
    let _ = tx.try_send(SourceItem::End);
    Source { rx, rate: TONE_RATE, pace: Pace::File, duration: Some(secs), playout: None }
}

/// `length` of silence in `params`' codec.
fn silence(params: CodecParams, length: Duration) -> Result<Vec<u8>, String> {
    let mut enc = codec::encoder(params).map_err(|e| e.to_string())?;
    let frame = vec![0i16; enc.frame_samples()];
    let frames = (length.as_secs_f64() * f64::from(params.sample_rate) / frame.len() as f64).ceil() as usize;
    let mut out = Vec::new();
    for _ in 0..frames {
        enc.encode(&frame, &mut out).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

fn or(s: Option<&str>) -> &str {
    s.filter(|s| !s.is_empty()).unwrap_or("-")
}

fn list(v: &[String]) -> String {
    if v.is_empty() { "no scheme".into() } else { v.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;

    #[test]
    fn silence_is_as_long_as_asked() {
        let g711 = silence(CodecParams::new(Codec::G711Ulaw), Duration::from_millis(500)).unwrap();
        assert!((4000..4200).contains(&g711.len()), "{}", g711.len());
        assert!(g711.iter().all(|&b| b == 0xFF));
    }
}
