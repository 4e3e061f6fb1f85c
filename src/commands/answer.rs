//! `hiktalk answer`: answer a ringing doorbell (now, or at its next ring with `--wait`), run the
//! call exactly as `speak` does (or play a message as `play` does), and end it properly on
//! every way out (Ctrl-C, SIGTERM, SIGHUP, the end of the message, the far side hanging up):
//! the talk session closed, `hangUp` sent, the doorbell confirmed idle from callStatus.

use super::doorbell::watch_options;
use super::{Context, fleet, play, speak};
use crate::audio::decode::Input;
use crate::cli::AnswerArgs;
use crate::isapi::intercom::{CallCmd, CallState};
use crate::isapi::{Device, IsapiError};
use crate::job::door::{confirm, hang_up};
use crate::outcome::{Ending, Outcome};
use crate::session::Stop;
use std::time::Duration;

/// What the call carries: the microphone (as `speak`), or a message (as `play`).
enum Media {
    Call(speak::Local),
    Message(crate::feed::file::Opened),
}

/// The name the call's own stop is given when the far side ends the call.
const FAR_SIDE: &str = "the far side hanging up";

pub async fn run(args: AnswerArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    if args.play.as_deref() == Some("-") && args.login.password_stdin {
        anyhow::bail!(crate::config::ConfigError::Invalid {
            camera: crate::config::display_name(&args.camera),
            message: "--password-stdin cannot be used while stdin carries the message (`--play -`); use HIKTALK_PASSWORD or the config"
                .into(),
        });
    }
    // Everything local is opened before the call is answered: a bad file, no microphone or no
    // output must not pick up a call.
    let media = match &args.play {
        None => {
            speak::check_keys(&args.mic, std::slice::from_ref(&args.camera))?;
            Media::Call(speak::prepare(&args.mic, 1, ctx.out).await?)
        }
        Some(f) => {
            let input = if f == "-" { Input::Stdin } else { Input::Path(f.into()) };
            Media::Message(play::open_input(&input, None, ctx).await?)
        }
    };
    let mut c = super::connect_as(&args.camera, &args.login, ctx, super::SimAs::DoorStation(super::SimCall::Ringing)).await?;
    // The simulated door station (`answer sim`) must outlive the talk: the call is hung up after it.
    let sim = c.sim.take();
    let name = c.name.clone();
    let control = c.device.share();
    let isapi = |e: IsapiError| anyhow::Error::from(Ending::from_isapi(&e));

    let mut state = control.call_state().await.map_err(isapi)?;
    let mut ring = None;
    if state != CallState::Ring {
        let Some(wait) = args.wait else {
            return Ok(Outcome::new(Some(name), Ending::NotRinging { call_state: state.to_string() }));
        };
        let limit = (wait > 0.0).then(|| Duration::from_secs_f64(wait));
        ctx.out.note(&format!(
            "{name}: call state {state}; waiting for a ring{}",
            limit.map(|l| format!(" (at most {:.0} s)", l.as_secs_f64())).unwrap_or_default()
        ));
        let seen = crate::watch::wait_ring(&control, &watch_options(&args.watch), &ctx.stop, limit).await?;
        ring = Some(seen);
        state = CallState::Ring;
    }

    // From the answer on, an exit could leave the call up.
    let call_up = ctx.stop.hold(format!("{name}: the call may stay up: `hiktalk hangup {name}` ends it"));
    // Answer, and make sure the door unit stops ringing (talk is not played while it rings).
    if let Err(e) = control.call_signal(CallCmd::Answer).await {
        if !e.is_invalid_operation() {
            return Err(isapi(e));
        }
        let now = control.call_state().await.map(|s| s.to_string()).unwrap_or_else(|_| state.to_string());
        let detail = format!(
            "the doorbell refused to answer ({e}); call state now {now}: the call was answered elsewhere, rejected, or the visitor gave up"
        );
        return Ok(Outcome::new(Some(name), Ending::Refused { detail }));
    }
    let mut answered = confirm(&control, &CallState::OnCall, Duration::from_secs(1)).await.map_err(isapi)?;
    if answered == CallState::Ring {
        let _ = control.stop_ring().await;
        answered = control.call_state().await.map_err(isapi)?;
    }
    if answered == CallState::Idle {
        let detail = "the doorbell accepted the answer but went idle at once (the visitor gave up, or the indoor station took the call)";
        return Ok(Outcome::new(Some(name), Ending::Refused { detail: detail.into() }));
    }
    ctx.out.note(&format!("{name}: answered; call state {answered}; Ctrl-C hangs up"));

    // The call has a stop of its own: the user's signals, or the far side hanging up.
    let call_stop = ctx.stop.child();
    let call_ctx = Context { config: ctx.config.clone(), out: ctx.out, stop: call_stop.clone() };
    let member = fleet::Member { name: name.clone(), connected: Ok(c) };
    let talk = async {
        match media {
            Media::Message(m) => play::send(m, vec![member], &args.talk, false, &call_ctx).await,
            Media::Call(local) => speak::call(vec![member], &args.talk, &args.mic, local, &call_ctx).await,
        }
    };
    let mut far_side: Option<CallState> = None;
    let poll = Duration::from_secs_f64(args.watch.poll_interval);
    let watching = watch_call(&control, &ctx.stop, &call_stop, poll, &mut far_side);
    let talked = tokio::select! {
        r = talk => r,
        never = watching => match never {},
    };
    let mut outcome = match talked {
        Ok(o) => o,
        Err(e) => Outcome::failed(Some(name.clone()), &e),
    };

    // Whatever ended the talk, the call is ended too, and confirmed.
    let hang_up = hang_up(&control).await;
    drop(call_up);
    if let Some(sim) = sim {
        let summary = sim.shutdown().await;
        ctx.out.note(&format!("simulated door station: {summary}"));
        outcome = outcome.with_figures(&serde_json::json!({ "simulated_device": summary }));
    }
    let old = outcome.ending.clone();
    if let Some(state) = &far_side {
        outcome.ending = Ending::CallEnded { call_state: state.to_string() };
        outcome.figures.remove("signal");
    }
    outcome.exit_code = outcome.ending.exit_code(true);
    let summary = match &hang_up {
        Ok((true, s)) => format!("hung up; call state {s} (confirmed)"),
        Ok((false, s)) => format!("call state {s} (confirmed)"),
        Err(e) => format!("{e}; run `hiktalk hangup {name}`"),
    };
    if let Some(line) = outcome.line.take() {
        outcome.line = Some(format!("{}; {summary}", line.replacen(&old.describe(), &outcome.ending.describe(), 1)));
    }
    let call = serde_json::json!({
        "answered": true,
        "ring": ring,
        "ended_by": if far_side.is_some() { "device" } else { "hiktalk" },
        "hung_up": matches!(hang_up, Ok((true, _))),
        "call_state": hang_up.as_ref().ok().map(|(_, s)| s.to_string()),
        "hang_up_error": hang_up.as_ref().err(),
    });
    outcome = outcome.with_figures(&serde_json::json!({ "call": call }));
    if hang_up.is_err() && outcome.exit_code == 0 {
        outcome.ending = Ending::Refused { detail: summary };
        outcome.exit_code = outcome.ending.exit_code(true);
    }
    Ok(outcome)
}

/// Forwards the user's stop to the call, and watches callStatus: when the doorbell leaves the
/// call (idle, or a new ring), the call is stopped with [`FAR_SIDE`]. Never returns.
async fn watch_call(
    control: &Device,
    user: &Stop,
    call: &Stop,
    poll: Duration,
    far_side: &mut Option<CallState>,
) -> std::convert::Infallible {
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            s = user.wait() => {
                call.trigger(s);
                break;
            }
            _ = tick.tick() => {
                if let Ok(state) = control.call_state().await
                    && state != CallState::OnCall
                {
                    *far_side = Some(state);
                    call.trigger(FAR_SIDE);
                    // A later signal from the user goes on to the call (a second one exits).
                    let s = user.wait().await;
                    call.trigger(s);
                    break;
                }
            }
        }
    }
    std::future::pending().await
}
